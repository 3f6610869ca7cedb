"""The package layout's promises: no import cycles, and the tools that read checkpoints (the
evaluator, the sampler, `jaxgan.load`) import nothing of the training loop."""

import ast
import subprocess
import sys

from conftest import REPO

PACKAGE = REPO / "src" / "jaxgan"


def _import_graph() -> dict[str, set[str]]:
    """module -> the jaxgan modules it imports (at module level or inside functions)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxgan"):
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    graph[name].add(child if child in modules else node.module)
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name.startswith("jaxgan")}
    return graph


def test_no_import_cycles():
    graph, cycles, state = _import_graph(), [], {}

    def visit(module, stack):
        state[module] = "open"
        stack.append(module)
        for child in sorted(graph[module] & graph.keys()):
            if state.get(child) == "open":
                cycles.append(stack[stack.index(child):] + [child])
            elif child not in state:
                visit(child, stack)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_the_checkpoint_readers_import_nothing_of_training():
    for module in ("jaxgan.evaluate", "jaxgan.sample", "jaxgan.api"):
        code = (f"import sys, {module}\n"
                "print(sorted(m for m in sys.modules if m.startswith('jaxgan.train')))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout
        assert out.strip() == "[]", (module, out)
