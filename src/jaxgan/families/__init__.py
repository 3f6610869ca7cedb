"""GAN families: modules of pure functions `setup`, `init`, `train_step`, `generate`.

The shared loop in `jaxgan.train` and the evaluator use a family only through these names."""

from __future__ import annotations

import importlib
from types import ModuleType

from jaxgan.errors import UserError

FAMILIES = ("gan", "stylegan")


def get(name: str) -> ModuleType:
    if name not in FAMILIES:
        raise UserError(f"unknown family {name!r}; choose one of {FAMILIES}")
    return importlib.import_module(f"jaxgan.families.{name}")
