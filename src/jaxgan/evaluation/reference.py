"""Reference statistics of real data, for any source and split, cached on disk.

A reference is the extractor's features and logits of every image of one field of one split
(`image` of MNIST's train split; `B` of a paired folder's test split), with the features' mean
and covariance. The cache key is a hash of (dataset, split, field, image count, extractor, its
weights' sha256, its preprocessing) and, for folder datasets, the folder and a fingerprint of its
files (names and sizes), so a changed folder is never scored against stale statistics.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Any

import ml_collections
import numpy as np

from jaxgan import filelock
from jaxgan.data import arrays, load_source, read_all
from jaxgan.errors import UserError
from jaxgan.evaluation.metrics import feature_stats


def cache_dir() -> str:
    root = os.environ.get("JAXGAN_CACHE_DIR") or os.path.join("~", ".cache", "jaxgan")
    return os.path.join(os.path.expanduser(root), "reference_stats")


def _fingerprint(source) -> dict[str, Any]:
    """What identifies a folder's contents: its path and its files' names and sizes."""
    files = getattr(source, "files", None)
    if files is None:
        files = [p for pair in getattr(source, "pairs", []) for p in pair if p is not None]
    if isinstance(files, dict):
        files = [p for domain in sorted(files) for p in files[domain]]
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path}\0{os.path.getsize(path)}\n".encode())
    return {"source": source.name, "files": digest.hexdigest()[:16]}


def _whole_split(dataset, split: str):
    """The source of every example of `split`, whatever `dataset.max_examples` a quick training
    run used."""
    whole = ml_collections.ConfigDict(dataset.to_dict())
    whole.max_examples = 0
    return load_source(whole, split=split, train=False)


def real_images(dataset, split: str, field: str = "image") -> tuple[Any, np.ndarray]:
    """(source, uint8 images of `field` of every example of `split`, in order)."""
    source = _whole_split(dataset, split)
    return source, read_all(source, field)


def test_split(dataset) -> tuple[np.ndarray, np.ndarray, str]:
    """(uint8 test images, labels, dataset name) of a built-in labelled dataset (CAS)."""
    images, labels = arrays.load_arrays(dataset.name, "test", dataset.data_dir or None,
                                        dataset.tfds_dir or None)
    return images, labels, dataset.name


def split_labels(dataset, split: str) -> np.ndarray:
    """The class labels of every example of `split`, in the order of `real_images`."""
    source = _whole_split(dataset, split)
    if "label" not in source.fields:
        raise UserError(f"{dataset.name} ({split}) has no class labels for a per-class metric")
    return read_all(source, "label")


def reference_outputs(extractor, dataset, split: str,
                      field: str = "image") -> tuple[str, dict[str, Any]]:
    """(id, {'features', 'logits', 'mu', 'sigma', 'test_split', 'labels'}) of `field` of a real
    split; 'test_split' and 'labels' are functions, read on first use."""
    source, images = real_images(dataset, split, field)
    key = {
        "dataset": dataset.name, "split": split, "count": len(images), "extractor": extractor.name,
        "weights_sha256": extractor.weights_sha256, "preprocessing": extractor.preprocessing,
    }
    if dataset.name not in arrays.ARRAY_DATASETS:
        key.update(_fingerprint(source), field=field, image_size=dataset.image_size,
                   preprocess=dataset.preprocess)
    ref_id = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"{ref_id}.npz")
    # Only CAS reads the test split, only per-class metrics the labels: loaded on first use.
    lazy = {"test_split": functools.cache(lambda: test_split(dataset)),
            "labels": functools.cache(lambda: split_labels(dataset, split))}

    def cached():
        with np.load(path, allow_pickle=False) as archive:
            return ref_id, {**{name: archive[name] for name in archive.files}, **lazy}

    if os.path.isfile(path):
        return cached()
    # Evaluators that start together compute the statistics once: the others wait and read them.
    with filelock.exclusive(f"{path}.lock"):
        if os.path.isfile(path):
            return cached()
        features, logits = extractor(images)
        mu, sigma = feature_stats(features)
        outputs = {"features": features, "logits": logits, "mu": mu, "sigma": sigma}
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **outputs)
        os.replace(tmp, path)  # atomic: a killed job leaves no half-written cache
    return ref_id, {**outputs, **lazy}
