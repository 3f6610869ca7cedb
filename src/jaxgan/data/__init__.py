"""Datasets: sources of named fields (built-in arrays, image folders, paired and unpaired
folders, super-resolution pairs) and the sharded, resumable batch iterator."""

from jaxgan.data.arrays import load_arrays
from jaxgan.data.pipeline import BatchIterator, check_fields, preprocess, to_batch
from jaxgan.data.sources import ArraySource, Source, load_source, read_all

__all__ = [
    "ArraySource",
    "BatchIterator",
    "Source",
    "check_fields",
    "load_arrays",
    "load_source",
    "preprocess",
    "read_all",
    "to_batch",
]
