"""The family registry: `config.family` names a family.

Built-in names are below; any other value is taken as an importable module path
(`my_project.my_family`, or `module:ATTRIBUTE`) holding a `FAMILY`, so a family can live outside
jaxgan (the tests' image-to-image family does) and still train, resume, sample and be scored
through the jaxgan commands.
"""

from __future__ import annotations

import importlib

from jaxgan.errors import UserError
from jaxgan.families.protocol import Family

BUILT_IN = {"gan": "jaxgan.families.gan", "stylegan": "jaxgan.families.stylegan",
            "pix2pix": "jaxgan.families.pix2pix", "cyclegan": "jaxgan.families.cyclegan",
            "srgan": "jaxgan.families.srgan", "ganomaly": "jaxgan.families.ganomaly",
            "fanogan": "jaxgan.families.fanogan", "progan": "jaxgan.families.progan"}


def get(name: str) -> Family:
    module_name, _, attribute = (BUILT_IN.get(name) or name).partition(":")
    if name not in BUILT_IN and "." not in module_name:
        raise UserError(f"unknown family {name!r}; choose one of {tuple(BUILT_IN)} or give the "
                        "module path of a family (package.module[:ATTRIBUTE])")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UserError(f"family {name!r}: cannot import {module_name} ({e})") from None
    family = getattr(module, attribute or "FAMILY", None)
    if not isinstance(family, Family):
        raise UserError(f"family {name!r}: {module_name} has no Family named "
                        f"{attribute or 'FAMILY'}")
    return family
