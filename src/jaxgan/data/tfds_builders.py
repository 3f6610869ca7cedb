"""tensorflow-datasets builders for MNIST and Fashion-MNIST that read local IDX files.

tfds's own `mnist` builder downloads and needs TensorFlow to decode; these builders take the
original gzipped IDX files from a manual directory instead, store uint8 tensors (no PNG encoding,
so no TensorFlow) as array_record, and are read back with `as_data_source`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from jaxgan.data import idx

_CITATIONS = {
    "mnist": "LeCun, Cortes, Burges. The MNIST database of handwritten digits.",
    "fashion_mnist": "Xiao, Rasul, Vollgraf. Fashion-MNIST, arXiv:1708.07747, 2017.",
}


class _IdxBuilder(tfds.core.GeneratorBasedBuilder):
    """Shared body: two splits (train, test) of 28x28x1 uint8 images with 10-way labels."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Uint8 tensors from the original IDX files.",
        "1.1.0": "Records keep the original order (no shuffling when writing).",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put the four original gzipped IDX files (train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
        "in one directory and pass it as the manual dir."
    )
    SOURCE_NAME = ""

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"{self.SOURCE_NAME} read from the original IDX files.",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
            # Keep the files' order so record i is example i of the original split.
            disable_shuffling=True,
            citation=_CITATIONS[self.SOURCE_NAME],
        )

    def _split_generators(self, dl_manager):
        directory = str(dl_manager.manual_dir)
        return {split: self._generate_examples(directory, split) for split in idx.IDX_FILES}

    def _generate_examples(self, directory, split):
        images, labels = idx.read_split(directory, split)
        for i in range(len(images)):
            yield i, {"image": images[i], "label": int(labels[i])}


class JaxganMnist(_IdxBuilder):
    """MNIST from the original IDX files."""

    SOURCE_NAME = "mnist"


class JaxganFashionMnist(_IdxBuilder):
    """Fashion-MNIST from the original IDX files."""

    SOURCE_NAME = "fashion_mnist"


BUILDERS = {"mnist": JaxganMnist, "fashion_mnist": JaxganFashionMnist}
