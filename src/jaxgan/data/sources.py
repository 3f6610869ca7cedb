"""Datasets as random-access sources of named fields (uint8 images, int32 labels).

A source declares its `fields` and its `streams` (one stream of examples; two for unpaired
data, whose domains have their own lengths and orders), and `read(indices, positions)` returns
the fields of the examples at those indices (`positions`: the examples' places in the run's
stream, which seed their random crops and flips). `jaxgan.data.pipeline` turns them into
batches of the family's batch spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from jaxgan.data import arrays, degrade, folders
from jaxgan.errors import UserError

FOLDER_SOURCES = {"image_folder": folders.ImageFolderSource,
                  "paired_folder": folders.PairedFolderSource,
                  "unpaired_folder": folders.UnpairedFolderSource}


class Source(Protocol):
    name: str
    num_classes: int  # 0 when the dataset has no labels
    fields: tuple[str, ...]
    streams: dict[str, int]  # stream name ("" for one) -> number of examples

    def __len__(self) -> int: ...

    def read(self, indices: dict[str, np.ndarray],
             positions: np.ndarray) -> dict[str, np.ndarray]: ...


class ArraySource:
    """A labelled dataset held in memory as one uint8 array (MNIST is 47 MB)."""

    def __init__(self, name: str, images: np.ndarray, labels: np.ndarray, num_classes: int):
        self.name, self.images, self.labels, self.num_classes = name, images, labels, num_classes
        self.fields = ("image", "label")
        self.streams = {"": len(images)}

    def __len__(self) -> int:
        return len(self.images)

    def read(self, indices: dict[str, np.ndarray], positions: np.ndarray) -> dict[str, np.ndarray]:
        idx = indices[""]
        return {"image": self.images[idx], "label": self.labels[idx]}


class SuperResolutionSource:
    """Fields `hr` (the base source's image: a crop at the file's resolution; array data smaller
    than `image_size`, like 28x28 MNIST in a 32x32 run, padded with black around the centre
    first) and `lr` (made from it on the fly by `degrade.degrade` with the dataset's `lr_scale`
    and `degradation`); `label` too where the base source has labels (the evaluator scores a
    domain classifier's accuracy on the super-resolved images with them)."""

    def __init__(self, base, scale: int, degradation: str, image_size: int = 0):
        if "image" not in base.fields:
            raise UserError(f"dataset.lr_scale needs a source of images, not {base.name}")
        degrade.check(degradation, scale)
        self.base, self.scale, self.degradation = base, scale, degradation
        self.image_size = image_size
        self.name = f"{base.name}+lr_x{scale}_{degradation}"
        self.num_classes = base.num_classes if "label" in base.fields else 0
        self.fields = ("lr", "hr", "label") if self.num_classes else ("lr", "hr")
        self.streams = dict(base.streams)

    def __len__(self) -> int:
        return len(self.base)

    def read(self, indices: dict[str, np.ndarray], positions: np.ndarray) -> dict[str, np.ndarray]:
        raw = self.base.read(indices, positions)
        hr = raw["image"]
        h, w = hr.shape[1:3]
        size = self.image_size
        if size and h <= size and w <= size and (size - h) % 2 == 0 and (size - w) % 2 == 0:
            ph, pw = (size - h) // 2, (size - w) // 2
            hr = np.pad(hr, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        fields = {"hr": hr, "lr": degrade.degrade(hr, self.scale, self.degradation)}
        if self.num_classes:
            fields["label"] = raw["label"]
        return fields


HOLDOUT = "holdout"  # the split name of `dataset.holdout`'s held-out examples


def parse_classes(text: str, num_classes: int | None = None) -> tuple[int, ...]:
    """`dataset.classes` ("3", "0,1,2"; "" = every class) as sorted class numbers."""
    try:
        classes = tuple(sorted({int(part) for part in str(text).split(",") if part.strip()}))
    except ValueError:
        raise UserError(f"dataset.classes takes class numbers separated by commas (3 or 0,1,2), "
                        f"not {text!r}") from None
    if num_classes is not None and any(not 0 <= k < num_classes for k in classes):
        raise UserError(f"dataset.classes={text}: the classes are 0 to {num_classes - 1}")
    return classes


def labelled_subset(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices (ascending) of `per_class` examples of each class present: for class k, the
    first `per_class` of `default_rng([seed, k])`'s permutation of its examples."""
    chosen = []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        if len(members) < per_class:
            raise UserError(f"dataset.per_class={per_class}: class {k} has {len(members)} "
                            "examples")
        chosen.append(members[np.random.default_rng([seed, int(k)]).permutation(
            len(members))[:per_class]])
    return np.sort(np.concatenate(chosen))


def select(source: ArraySource, dataset, split: str) -> ArraySource:
    """`source` (split `split`) restricted to `dataset.classes`; the training split
    (`dataset.split`) then keeps `dataset.per_class` seeded examples of each class, and loses
    its last `dataset.holdout` examples to split "holdout"."""
    classes = parse_classes(dataset.classes, source.num_classes)
    images, labels, name = source.images, source.labels, source.name
    if classes:
        keep = np.isin(labels, classes)
        images, labels = images[keep], labels[keep]
        name += f"[classes={','.join(map(str, classes))}]"
    if dataset.per_class and split in (dataset.split, HOLDOUT):
        keep = labelled_subset(labels, dataset.per_class, dataset.subset_seed)
        images, labels = images[keep], labels[keep]
        name += f"[{dataset.per_class} per class, seed {dataset.subset_seed}]"
    if dataset.holdout and split in (dataset.split, HOLDOUT):
        if dataset.holdout >= len(images):
            raise UserError(f"dataset.holdout={dataset.holdout} leaves no training examples "
                            f"({len(images)} in {name})")
        cut = len(images) - dataset.holdout
        part = slice(cut, None) if split == HOLDOUT else slice(None, cut)
        images, labels = images[part], labels[part]
        name += f"[{'holdout' if split == HOLDOUT else 'without holdout'} {dataset.holdout}]"
    return ArraySource(name, images, labels, source.num_classes)


def check_dataset(dataset) -> None:
    if dataset.per_class < 0 or dataset.holdout < 0:
        raise UserError(f"dataset.per_class and dataset.holdout must be >= 0 (0: off), not "
                        f"{dataset.per_class} and {dataset.holdout}")
    if dataset.image_size < 1 or dataset.channels not in (1, 3):
        raise UserError(f"dataset.image_size must be positive and dataset.channels 1 or 3, not "
                        f"{dataset.image_size} and {dataset.channels}")
    if dataset.lr_scale < 0:
        raise UserError(f"dataset.lr_scale must be >= 0 (0: off), not {dataset.lr_scale}")
    if dataset.lr_scale and dataset.image_size % dataset.lr_scale:
        raise UserError(f"dataset.image_size {dataset.image_size} (the high-resolution patch) is "
                        f"not divisible by dataset.lr_scale {dataset.lr_scale}")


def load_source(dataset, *, split: str | None = None, train: bool = True, seed: int = 0,
                prepare: bool = True, barrier: Callable[[], None] = lambda: None) -> Source:
    """The source of `config.dataset` (its split unless `split` is given). `train`: random
    crops and flips (as `dataset` asks); otherwise centre crops, no flips. Only the process
    with `prepare=True` writes the tfds files; `barrier` is called before reading so other
    processes wait for it."""
    check_dataset(dataset)
    split = split or dataset.split
    if dataset.name in arrays.ARRAY_DATASETS:
        if dataset.data_dir:  # a path the user named must exist even when tfds has the data
            arrays.resolve_data_dir(dataset.name, dataset.data_dir)
        tfds_dir = dataset.tfds_dir or arrays.default_tfds_dir()
        if prepare:
            arrays.prepare(dataset.name, dataset.data_dir or None, tfds_dir)
        barrier()
        if split == HOLDOUT and not dataset.holdout:
            raise UserError("split 'holdout' needs dataset.holdout > 0 (the training examples "
                            "held out of training)")
        images, labels = arrays.load_arrays(
            dataset.name, dataset.split if split == HOLDOUT else split,
            dataset.data_dir or None, tfds_dir, dataset.max_examples)
        source = ArraySource(dataset.name, images, labels, arrays.NUM_CLASSES[dataset.name])
        if dataset.classes or dataset.holdout or dataset.per_class:
            source = select(source, dataset, split)
    elif dataset.name in FOLDER_SOURCES:
        if dataset.classes or dataset.holdout or dataset.per_class:
            raise UserError(f"dataset.classes, dataset.holdout and dataset.per_class apply to "
                            f"the labelled array datasets {arrays.ARRAY_DATASETS}, not "
                            f"{dataset.name}")
        barrier()
        source = FOLDER_SOURCES[dataset.name](dataset, split, train=train, seed=seed)
    else:
        raise UserError(f"unknown dataset.name {dataset.name!r}; choose one of "
                        f"{arrays.ARRAY_DATASETS + tuple(FOLDER_SOURCES)}")
    if dataset.lr_scale:
        source = SuperResolutionSource(source, dataset.lr_scale, dataset.degradation,
                                       dataset.image_size)
    return source


def read_all(source: Source, field: str, chunk: int = 512) -> np.ndarray:
    """Every example's `field` in the source's order (an evaluation split), as one array."""
    if field not in source.fields:
        raise UserError(f"dataset {source.name} has no field {field!r}; it has "
                        f"{', '.join(source.fields)}")
    streams = list(source.streams)
    # A field that is a stream of its own (an unpaired domain) is read to its own length.
    n = source.streams.get(field, min(source.streams.values()))
    parts = []
    for start in range(0, n, chunk):
        positions = np.arange(start, min(n, start + chunk))
        indices = {s: positions % source.streams[s] for s in streams}
        parts.append(source.read(indices, positions)[field])
    return np.concatenate(parts)
