"""`--dry_run`: build every network and the train step abstractly, report sizes and cost."""

from __future__ import annotations

import os
import time
from typing import Any

import jax
import numpy as np

from jaxgan import sharding
from jaxgan.train.loop import write_json
from jaxgan.train.program import Program

CYCLE = 64  # steps scanned for the phases a run uses (lazy regularizers, n_critic)


def param_table(name: str, params: Any) -> list[str]:
    """Rows 'module  shape  count' for each parameter, grouped under its top-level module."""
    rows, total = [], 0
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        keys = "/".join(str(getattr(k, "key", k)) for k in path)
        rows.append(f"  {keys:<40} {tuple(leaf.shape)!s:<22} {int(np.prod(leaf.shape)):>12,}")
        total += int(np.prod(leaf.shape))
    return [f"{name}: {total:,} trainable parameters", *rows]


def state_memory(program: Program) -> dict[str, int]:
    """Bytes of the trainable state (parameters, optimizer state, EMA copies; not frozen
    networks) that one device holds under the run's sharding, and in all."""
    state = program.abstract_state
    trainable = state.replace(nets={name: net for name, net in state.nets.items()
                                    if net.trainable})
    return {"state_bytes_per_device": sharding.per_device_bytes(trainable),
            "state_bytes_total": sharding.total_bytes(trainable)}


def run(config, workdir: str) -> dict[str, Any]:
    mesh = sharding.make_mesh(config.mesh)
    sharding.check_batch_size(config.batch_size, mesh, config.accumulate_steps)
    start = time.perf_counter()
    program = Program(config, mesh)
    state = program.abstract_state
    lines = []
    for name, net in state.nets.items():
        title = name if net.trainable else f"{name} (frozen)"
        lines += param_table(title, net.variables["params"])
    schedule = [program.phases(s) for s in range(CYCLE)]
    names = sorted({name for step in schedule for name in step})
    summary: dict[str, Any] = dict(program.param_counts())
    summary.update({"batch_size": config.batch_size, "devices": mesh.size, "phases": names,
                    "mesh": dict(mesh.shape), "accumulate_steps": config.accumulate_steps,
                    "sharding_rules": config.sharding.rules})
    summary.update(state_memory(program))
    # XLA's cost analysis counts a loop's body once: with accumulation, one micro-batch's work.
    loop_note = (f" (XLA counts a micro-batch loop body once: about x{config.accumulate_steps} "
                 f"for the batch)" if config.accumulate_steps > 1 else "")
    summary["gflop_counts_one_micro_batch"] = config.accumulate_steps > 1
    lines.append(
        f"train state (parameters, optimizer state, EMA) on a {dict(mesh.shape)} mesh with "
        f"sharding rules {config.sharding.rules or '(none: replicated)'!r}: "
        f"{summary['state_bytes_per_device'] / 2**20:.1f} MiB per device of "
        f"{summary['state_bytes_total'] / 2**20:.1f} MiB "
        f"({summary['state_bytes_per_device'] / summary['state_bytes_total']:.3f})")
    gflop = {}
    for name in names:
        compiled = program.phase(name).lower(state, program.abstract_batch()).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        gflop[name] = float(cost.get("flops", 0.0)) / 1e9 if cost else 0.0
        summary[f"phase/{name}/gflop"] = gflop[name]
        memory = compiled.memory_analysis()
        if memory is not None:
            for field in ("argument_size_in_bytes", "output_size_in_bytes",
                          "alias_size_in_bytes", "temp_size_in_bytes",
                          "generated_code_size_in_bytes"):
                summary[f"phase/{name}/memory/{field}"] = int(getattr(memory, field, 0))
        # Live at once on one device: arguments, outputs not written over donated arguments,
        # temporaries.
        size = {f: summary.get(f"phase/{name}/memory/{f}_size_in_bytes", 0)
                for f in ("argument", "output", "alias", "temp")}
        peak = size["argument"] + size["output"] - size["alias"] + size["temp"]
        summary[f"phase/{name}/memory/per_device_bytes"] = peak
        lines.append(
            f"train phase {name!r} (global batch {config.batch_size}"
            + (f" as {config.accumulate_steps} micro-batches" if config.accumulate_steps > 1
               else "") + f", {mesh.size} devices): "
            f"{gflop[name]:.2f} GFLOP{loop_note}; per device: arguments "
            f"{summary.get(f'phase/{name}/memory/argument_size_in_bytes', 0) / 2**20:.1f} MiB, "
            f"temporaries "
            f"{summary.get(f'phase/{name}/memory/temp_size_in_bytes', 0) / 2**20:.1f} MiB, "
            f"{peak / 2**30:.3f} GiB in all with the outputs not aliased to donated arguments")
    summary["step_gflop"] = sum(gflop[n] for step in schedule for n in step) / CYCLE
    summary["build_and_compile_s"] = round(time.perf_counter() - start, 2)
    lines.append(f"train step, phases amortised over {CYCLE} steps: "
                 f"{summary['step_gflop']:.2f} GFLOP per step{loop_note}")
    if jax.process_index() == 0:
        print("\n".join(lines), flush=True)
        os.makedirs(workdir, exist_ok=True)
        write_json(os.path.join(workdir, "summary.json"), summary)
    return summary
