"""Frozen networks (a perceptual VGG19, a feature extractor) from weight files given by path,
checked against their sha256 before use and never replaced by other weights. A family returns
them from `frozen(spec)`; the loop places them in the train state without an optimizer, so each
phase receives them as an argument (not as constants compiled into the program) and checkpoints
leave them out."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxgan.errors import UserError
from jaxgan.hashing import sha256_file


def check_file(path: str, sha256: str, what: str) -> str:
    """`path` after checking it exists and has the expected sha256 (a UserError otherwise)."""
    if not path or not os.path.isfile(path):
        raise UserError(f"{what}: weights file not found: {path!r}; give the file itself (its "
                        f"sha256 must be {sha256[:12]}...)")
    actual = sha256_file(path)
    if actual != sha256:
        raise UserError(f"{what}: {path} has sha256 {actual[:12]}..., not the expected "
                        f"{sha256[:12]}...; these are other weights (jaxgan never substitutes "
                        "weights): give the right file")
    return path


def load_npz(path: str, sha256: str, what: str) -> dict[str, Any]:
    """Flax variables from an .npz whose keys are '/'-joined paths ('params/conv/kernel'),
    after `check_file`."""
    check_file(path, sha256, what)
    tree: dict[str, Any] = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            node = tree
            *parents, leaf = key.split("/")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = archive[key]
    return tree


def save_npz(path: str, variables: dict[str, Any]) -> None:
    """Writes variables as `load_npz` reads them."""
    flat = {}

    def walk(node, prefix):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}/")
            else:
                flat[f"{prefix}{key}"] = np.asarray(value)

    walk(variables, "")
    np.savez(path, **flat)
