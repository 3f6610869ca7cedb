"""Train a GAN: `python -m jaxgan.main --config=experiments/NAME.py[:variant] --workdir=DIR`.

Flags after the config file override its keys: `--config.batch_size=128`. A second run on the
same workdir resumes from its latest checkpoint. `--dry_run` builds and compiles without training.
"""

from __future__ import annotations

import os

from absl import flags
from ml_collections import config_flags

from jaxgan import cli
from jaxgan.errors import UserError

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment file[:variant].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and samples.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Build and compile abstractly, report, exit.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None,
    "host:port of process 0 for multi-process runs (jax.distributed); omit on one host or where "
    "JAX detects the cluster itself (SLURM, TPU, Kubernetes).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in a multi-process run.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False, "Call jax.distributed.initialize() (auto-detected on clusters).")


def _initialize_distributed() -> None:
    import jax

    if _COORDINATOR.value or _DISTRIBUTED.value:
        jax.distributed.initialize(
            coordinator_address=_COORDINATOR.value,
            num_processes=_NUM_PROCESSES.value,
            process_id=_PROCESS_ID.value,
        )


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    if _CONFIG.value is None or not _WORKDIR.value:
        raise UserError("both --config=experiments/NAME.py and --workdir=DIR are required")
    if os.path.exists(_WORKDIR.value) and not os.path.isdir(_WORKDIR.value):
        raise UserError(f"--workdir={_WORKDIR.value} is a file; give a directory (new or of a "
                        "run)")
    _initialize_distributed()
    if _DRY_RUN.value:
        from jaxgan.train import dry_run

        dry_run.run(_CONFIG.value, _WORKDIR.value)
        return
    from jaxgan import train

    train.train(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    cli.run(main, "jaxgan.main")
