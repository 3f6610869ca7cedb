"""The training loop shared by every family (`loop`), the compiled program it runs (`program`),
its outputs (`metric_writer`) and the dry run (`dry_run`)."""

from jaxgan.train.loop import TrainingDiverged, batch_iterator, train
from jaxgan.train.program import Program

__all__ = ["Program", "TrainingDiverged", "batch_iterator", "train"]
