"""jaxgan: Generative Adversarial Networks in JAX/Flax.

`jaxgan.load(workdir)` returns a trained run's generator (see `jaxgan.api`); the commands are
`python -m jaxgan.main` (train), `jaxgan.evaluate`, `jaxgan.sample`, `jaxgan.report`,
`jaxgan.bench` and `jaxgan.classifier`.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("jaxgan")
except _metadata.PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"


def load(workdir: str, step: int | None = None, weights: str = "auto", network: str | None = None):
    """The generator of a training run (see `jaxgan.api.load`)."""
    from jaxgan.api import load as _load

    return _load(workdir, step=step, weights=weights, network=network)


__all__ = ["__version__", "load"]
