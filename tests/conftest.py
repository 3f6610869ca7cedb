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
# compiled the same way. The benchmarks, not the tests, measure speed.
FAST_COMPILE_FLAG = "--xla_backend_optimization_level=0"
if FAST_COMPILE_FLAG not in os.environ.get("XLA_FLAGS", ""):  # workers inherit it
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE_FLAG}".strip()

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
