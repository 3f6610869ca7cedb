"""Datasets: sources (tfds MNIST / Fashion-MNIST, image folders) and the sharded batch iterator."""

from jaxgan.data.pipeline import BatchIterator, preprocess
from jaxgan.data.sources import ArraySource, ImageFolderSource, load_idx_arrays, load_source

__all__ = [
    "ArraySource",
    "BatchIterator",
    "ImageFolderSource",
    "load_idx_arrays",
    "load_source",
    "preprocess",
]
