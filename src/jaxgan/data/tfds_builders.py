"""tensorflow-datasets builders for MNIST, Fashion-MNIST and CIFAR-10 that read local files.

tfds's own builders download and need TensorFlow to decode; these builders take the original
files (gzipped IDX; CIFAR-10's python-pickle archive) from a manual directory instead, store uint8
tensors (no PNG encoding, so no TensorFlow) as array_record, and are read back with
`as_data_source`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from jaxgan.data import cifar10, idx, stacked_mnist

_CITATIONS = {
    "mnist": "LeCun, Cortes, Burges. The MNIST database of handwritten digits.",
    "fashion_mnist": "Xiao, Rasul, Vollgraf. Fashion-MNIST, arXiv:1708.07747, 2017.",
    "cifar10": "Krizhevsky. Learning Multiple Layers of Features from Tiny Images, 2009.",
    "stacked_mnist": "Metz, Poole, Pfau, Sohl-Dickstein. Unrolled Generative Adversarial "
                     "Networks, ICLR 2017.",
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


class JaxganCifar10(tfds.core.GeneratorBasedBuilder):
    """CIFAR-10 from the official python-pickle archive: train (50,000) and test (10,000) 32x32x3
    uint8 images with 10-way labels."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Uint8 tensors from cifar-10-python.tar.gz, in the original order.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Put {cifar10.ARCHIVE} (or its extracted {cifar10.BATCHES_DIR}/) in a directory and "
        "pass it as the manual dir."
    )

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="CIFAR-10 read from the official python version.",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(shape=(32, 32, 3), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(names=cifar10.CLASS_NAMES),
                }
            ),
            supervised_keys=("image", "label"),
            # Keep the batches' order so record i is example i of the original split.
            disable_shuffling=True,
            citation=_CITATIONS["cifar10"],
        )

    def _split_generators(self, dl_manager):
        directory = str(dl_manager.manual_dir)
        return {split: self._generate_examples(directory, split)
                for split in cifar10.SPLIT_BATCHES}

    def _generate_examples(self, directory, split):
        images, labels = cifar10.read_split(directory, split)
        for i in range(len(images)):
            yield i, {"image": images[i], "label": int(labels[i])}


class JaxganStackedMnist(tfds.core.GeneratorBasedBuilder):
    """Stacked MNIST (`jaxgan.data.stacked_mnist`) made from the MNIST IDX files: train (60,000)
    and test (10,000) 32x32x3 uint8 images, 1,000-way labels (the digit triples)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Three MNIST digits per image as R, G, B, drawn with seed 0.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = _IdxBuilder.MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="Three MNIST digits stacked as the R, G and B channels.",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(shape=(32, 32, 3), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=1000),
                }
            ),
            supervised_keys=("image", "label"),
            disable_shuffling=True,
            citation=_CITATIONS["stacked_mnist"],
        )

    def _split_generators(self, dl_manager):
        directory = str(dl_manager.manual_dir)
        return {split: self._generate_examples(directory, split)
                for split in stacked_mnist.SPLITS}

    def _generate_examples(self, directory, split):
        images, labels = idx.read_split(directory, split)
        stacked, triples = stacked_mnist.stack(images, labels,
                                               stacked_mnist.choose(len(images), split))
        for i in range(len(stacked)):
            yield i, {"image": stacked[i], "label": int(triples[i])}


BUILDERS = {"mnist": JaxganMnist, "fashion_mnist": JaxganFashionMnist, "cifar10": JaxganCifar10,
            "stacked_mnist": JaxganStackedMnist}
