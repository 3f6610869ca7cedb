"""The workdir is the contract between training and every other tool: `config.json` (the
resolved config), `checkpoints/`, `metrics.jsonl`, `samples/`, `eval/`."""

from __future__ import annotations

import json
import os
from typing import Any

import ml_collections

from jaxgan import config_lib, families
from jaxgan.errors import UserError


def load_config(workdir: str) -> ml_collections.ConfigDict:
    """The resolved config a training run wrote to `workdir/config.json`, locked. Keys added to
    the schema after it was written get the values that run trained with (the family's
    backfill, and the loop's defaults)."""
    if os.path.isfile(workdir):
        raise UserError(f"{workdir!r} is a file; --workdir takes the directory of a jaxgan run")
    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise UserError(f"{path} not found: is {workdir!r} the --workdir of a jaxgan training run?")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    family = families.get(saved.get("family", "gan"))
    merged = _with_defaults(config_lib.base_config().to_dict(), dict(family.config_backfill()))
    config = ml_collections.ConfigDict(_with_defaults(merged, saved))
    config.lock()
    return config


def _with_defaults(defaults: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in saved.items():
        if isinstance(value, dict) and isinstance(defaults.get(key), dict):
            merged[key] = _with_defaults(defaults[key], value)
        else:
            merged[key] = value
    return merged
