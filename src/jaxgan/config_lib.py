"""Experiment configs: the keys every experiment declares, variants as data, and flag parsing that
turns a config mistake into one clear line."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import ml_collections
from absl import flags

from jaxgan.errors import UserError


def optimizer_config(learning_rate: float, b1: float = 0.5,
                     b2: float = 0.999) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        {"name": "adam", "learning_rate": learning_rate, "b1": b1, "b2": b2, "eps": 1e-8}
    )


def base_config() -> ml_collections.ConfigDict:
    """Every key the shared training loop and the data layer read, with defaults; a family's
    schema (`jaxgan.families.<name>.config`) adds its own and experiments override values."""
    c = ml_collections.ConfigDict()
    c.family = "gan"  # a name in jaxgan.families.BUILT_IN, or a module path holding a FAMILY
    c.seed = 0
    c.batch_size = 64  # global, over all processes and devices
    c.num_train_steps = 1000
    c.log_every_steps = 100
    c.checkpoint_every_steps = 1000
    c.keep_checkpoints = 3
    c.sample_every_steps = 1000
    c.num_sample_images = 64
    # > 1: each train step reads its global batch as this many micro-batches, one after another,
    # and accumulates their gradients into one update (families that declare support: gan).
    c.accumulate_steps = 1
    # Device mesh: axis name -> size; -1 takes the remaining devices. Batches are split over 'data'.
    c.mesh = ml_collections.ConfigDict({"data": -1, "model": 1})
    # How parameters and optimizer state are laid out on the mesh (jaxgan.sharding): '' keeps
    # every array replicated; "fsdp" shards large kernels and their Adam moments over 'data'
    # (ZeRO-3 style); or rules 'regex=axis' (comma-separated, first match wins, 'axis@dim' to
    # pick the dimension) matched against paths like 'G/params/block0/conv1/kernel'.
    c.sharding = ml_collections.ConfigDict({"rules": "", "min_size": 2**16})
    c.dataset = dataset_config()
    return c


def dataset_config() -> ml_collections.ConfigDict:
    """`config.dataset`: which source, which split, and how its images become a batch
    (jaxgan.data)."""
    return ml_collections.ConfigDict({
        # mnist | fashion_mnist | image_folder | paired_folder | unpaired_folder
        "name": "mnist",
        "data_dir": "",  # IDX files or a folder; '' = $JAXGAN_DATA_DIR or the bundled data/
        # where tfds prepares array_record; '' = $JAXGAN_TFDS_DIR or ~/tensorflow_datasets
        "tfds_dir": "",
        "split": "train",
        "image_size": 28,
        "channels": 1,
        "max_examples": 0,  # > 0 keeps the first N examples (quick runs)
        # Labelled data: keep only these classes ("3", "0,1,2"; "" = all) in every split read
        # through this config (one-class training: the anomaly families' "normal" class).
        "classes": "",
        # > 0: the last N examples of the split (after `classes`) are held out of training and
        # read as split "holdout" (the normal images an anomaly threshold is calibrated on).
        "holdout": 0,
        # Labelled data: > 0 keeps a seeded subset of N examples of each class of the training
        # split (the low-data regime: a generator and a classifier that see the same labels).
        "per_class": 0,
        "subset_seed": 0,
        # Folder images: square_resize (centre square, resized to image_size), resize_crop
        # (resized to load_size, then a random image_size crop: pix2pix), crop (a random
        # image_size crop at the file's resolution: super-resolution patches).
        "preprocess": "square_resize",
        "load_size": 0,
        "random_flip": False,  # random horizontal flips (the same for every field of a pair)
        # > 0: low-resolution inputs made on the fly (fields lr and hr), lr = hr downscaled by
        # this factor with `degradation` (jaxgan.data.degrade).
        "lr_scale": 0,
        "degradation": "bicubic",
    })


# Seconds on a CPU: a short run writing every output; families add their small widths.
SMOKE_LOOP = {
    "batch_size": 16, "num_train_steps": 4, "log_every_steps": 2,
    "checkpoint_every_steps": 2, "sample_every_steps": 4, "num_sample_images": 16,
    "dataset.max_examples": 512,
}


def finalize(
    config: ml_collections.ConfigDict, arg: str | None, variants: Mapping[str, Mapping[str, Any]]
) -> ml_collections.ConfigDict:
    """Applies the variant named `arg` (flat 'a.b' keys -> values) and locks the config."""
    if arg:
        if arg not in variants:
            raise UserError(f"unknown config variant {arg!r}; this experiment has "
                            f"{sorted(variants)}")
        set_keys(config, variants[arg])
    config.lock()
    return config


def set_keys(config: ml_collections.ConfigDict, values: Mapping[str, Any]) -> None:
    """Sets flat 'a.b' keys, as `--config.a.b=value` would."""
    with config.unlocked():
        for key, value in values.items():
            node = config
            *parents, leaf = key.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value


def to_json(config: ml_collections.ConfigDict) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)


HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")


def parse_flags_or_exit(argv: list[str], config_flag: str = "config",
                        prog: str | None = None) -> list[str]:
    """absl flag parsing that reports an unknown/mistyped config key or a bad config file as one
    line (no traceback) and exits with status 2; `--help` exits with status 0."""
    die = functools.partial(_die, prog=prog)
    for arg in argv[1:]:
        name, _, value = arg.partition("=")
        if name.lstrip("-") == config_flag and value:
            path = value.rsplit(":", 1)[0] if not os.path.isfile(value) else value
            if not os.path.isfile(path):
                die(f"config file not found: {path} (give --{config_flag}=experiments/NAME.py"
                    "[:variant])")
    try:
        rest = flags.FLAGS(argv)
        if config_flag in flags.FLAGS and flags.FLAGS[config_flag].present:
            config = flags.FLAGS[config_flag].value
            # config_flags defers load errors to first use; force them now.
            config.to_dict() if isinstance(config, ml_collections.ConfigDict) else config.x
    except SystemExit:
        if any(arg in HELP_FLAGS for arg in argv[1:]):
            sys.exit(0)  # absl exits 1 after printing the help that was asked for
        raise
    except UserError as e:
        die(str(e))
    except (AttributeError, KeyError) as e:
        msg = str(e).strip("'\"").replace("\\n", " ").replace("\\'", "'").replace('\\"', '"')
        die(f"unknown config key {msg} (run with --config=FILE and see its get_config for keys)")
    except flags.Error as e:
        die(str(e))
    except (OSError, ImportError, SyntaxError, TypeError, ValueError) as e:
        die(f"cannot load the config: {' '.join(str(e).split())}")
    return rest


def _die(message: str, prog: str | None = None) -> None:
    prog = prog or sys.argv[0].rsplit("/", 1)[-1]
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)
