"""Test set-up: a 4-device CPU backend in this process, one tfds directory and one XLA
compilation cache per test session (shared with the CLI subprocesses the tests start, and with
the pytest-xdist workers: the controller loads this file first and the workers inherit its
environment; `jaxgan.filelock` makes the one-time work happen once)."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if "JAXGAN_TEST_SESSION_DIR" not in os.environ:  # set once, by the controller
    os.environ["JAXGAN_TEST_SESSION_DIR"] = tempfile.mkdtemp(prefix="jaxgan-tests-")
_SESSION_DIR = pathlib.Path(os.environ["JAXGAN_TEST_SESSION_DIR"])
os.environ.setdefault("JAXGAN_TFDS_DIR", str(_SESSION_DIR / "tfds"))
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_SESSION_DIR / "xla_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# Every test program, in this process and in the CLI subprocesses (test_cli.run_cli), is
# compiled with LLVM at -O0: compiling is most of the suite's time and -O0 roughly halves it for
# these small programs (a StyleGAN2 --dry_run: 98 -> 56 s), while convolutions and matrix
# products still run in XLA's precompiled library kernels (the 70,000-image LeNet pass behind
# the evaluator's reference statistics: 53 -> 61 s). Numbers are compared only between programs
# compiled the same way. The benchmarks, not the tests, measure speed. Two more flags cut
# compiling further: XLA's older loop emitters for fusions instead of its MLIR fusion emitters,
# and each program's LLVM module compiled in one piece (one worker per core already uses both
# cores). On the 2-core AMD EPYC the whole suite went from 772 to 569 s with them.
FAST_COMPILE_FLAGS = ("--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false "
                      "--xla_cpu_parallel_codegen_split_count=1")
for _flag in FAST_COMPILE_FLAGS.split():
    if _flag not in os.environ.get("XLA_FLAGS", ""):  # workers inherit them
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_flag}".strip()

import chex  # only now: jax reads the cache settings above when first imported

chex.set_n_cpu_devices(4)


def load_experiment(name: str, variant: str | None = "smoke"):
    """get_config(variant) of experiments/<name>.py, as the CLI would load it."""
    spec = importlib.util.spec_from_file_location(name, REPO / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(variant)


def override(config, **overrides):
    """`config` with flat 'a.b' keys set (as --config.a.b=value would), returned for chaining."""
    from jaxgan import config_lib

    config_lib.set_keys(config, overrides)
    return config


def preflight(config, traced: list[str] | None = None) -> dict[str, int]:
    """What `--dry_run` checks, traced instead of compiled (seconds, not tens of seconds, for
    the 256-pixel presets): the networks built on one device, and every train phase the run's
    first steps use traced on the abstract state and batch, giving back a state of the same
    shapes and dtypes. Returns the trainable parameter counts ("params/G", ...); the names of
    the phases traced are appended to `traced`."""
    import jax

    from jaxgan import sharding
    from jaxgan.train import dry_run
    from jaxgan.train.program import Program

    config = override(config.copy_and_resolve_references(), **{"mesh.data": 1})
    program = Program(config, sharding.make_mesh(config.mesh))
    state = program.abstract_state
    first_step = {}
    for step in range(dry_run.CYCLE):
        for name in program.phases(step):
            first_step.setdefault(name, step)
    for name, step in first_step.items():
        new_state, metrics = jax.eval_shape(program.phase(name), state,
                                            program.abstract_batch(step))
        chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
        assert all(m.shape == () for m in jax.tree.leaves(metrics)), name
    if traced is not None:
        traced.extend(sorted(first_step))
    return program.param_counts()


@pytest.fixture(scope="session")
def tiny_lenet(tmp_path_factory):
    """(classifier_dir, env) of a 5-step MNIST LeNet and one evaluator cache for the session:
    the evaluator tests need real weights with a sha256, not accuracy, and share the reference
    statistics (features of the 70,000 MNIST images) computed with them."""
    from jaxgan.evaluation import classifier

    root = tmp_path_factory.mktemp("tiny_lenet")
    classifier.run("mnist", out=str(root / "lenet"), max_train_examples=512, max_steps=5)
    # Deterministic training: every xdist worker builds the same weights (same sha256), so the
    # reference statistics in the shared cache are computed once for the whole run.
    return root / "lenet", {"JAXGAN_CACHE_DIR": str(_SESSION_DIR / "evaluator_cache")}


@pytest.fixture(scope="package")
def image_folder(tmp_path_factory):
    """A folder of 16 random 8x8 gray PNGs: the smallest real image data a growing or style
    network trains on in-process."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("images8")
    pixels = np.random.default_rng(0).integers(0, 256, (16, 8, 8), np.uint8)
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"{i}.png")
    return folder


# pytest-xdist's loadscope hands whole modules to the workers in collection order: the longest
# modules (by `pytest --durations=0`) go first, so that the short ones even out the end.
LONGEST_MODULES = ("test_cli.py", "test_biggan.py", "test_translation.py", "test_stylegan_loop.py",
                   "test_evaluate.py", "test_anomaly.py", "test_infogan.py", "test_stylegan.py",
                   "test_srgan.py", "test_progan.py", "test_conditional.py",
                   "test_stacked_mnist.py", "test_legacy_checkpoints.py", "test_train.py",
                   "test_augmentation_study.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a module
