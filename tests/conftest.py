"""Test set-up: a 4-device CPU backend in this process, one tfds directory and one XLA
compilation cache per test session (shared with the CLI subprocesses the tests start)."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
_SESSION_DIR = pathlib.Path(tempfile.mkdtemp(prefix="jaxgan-tests-"))
os.environ.setdefault("JAXGAN_TFDS_DIR", str(_SESSION_DIR / "tfds"))
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_SESSION_DIR / "xla_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

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
