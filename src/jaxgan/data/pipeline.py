"""The deterministic, resumable, process-sharded batch iterator.

The order of examples is a pure function of (seed, position): epoch `e` is the permutation drawn
from `numpy.random.default_rng([seed, e])`, and the global stream is the concatenation of epochs.
A checkpoint stores `position` (examples consumed); resuming from it continues the same stream,
even with another batch size or process count. Each process materialises only its slice of every
global batch.
"""

from __future__ import annotations

import numpy as np

from jaxgan.errors import UserError


def preprocess(images_u8: np.ndarray, image_size: int, channels: int) -> np.ndarray:
    """uint8 [b, h, w, c] -> float32 [b, image_size, image_size, channels] in [-1, 1].

    Smaller images are zero-padded around the centre (28 -> 32 for MNIST-style data, as in the
    StyleGAN2-ADA small-resolution setups); gray images are repeated to 3 channels when asked."""
    _, h, w, c = images_u8.shape
    x = images_u8.astype(np.float32) * (2.0 / 255.0) - 1.0
    if (h, w) != (image_size, image_size):
        if h > image_size or w > image_size or (image_size - h) % 2 or (image_size - w) % 2:
            raise UserError(
                f"images are {h}x{w} but dataset.image_size={image_size}: only centred padding "
                "to a larger even margin is supported for array datasets"
            )
        ph, pw = (image_size - h) // 2, (image_size - w) // 2
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=-1.0)
    if c != channels:
        if c == 1:
            x = np.repeat(x, channels, axis=-1)
        else:
            raise UserError(f"images have {c} channels but dataset.channels={channels}")
    return x


class BatchIterator:
    """Yields this process's part of each global batch: dict(image float32, label int32)."""

    def __init__(
        self,
        source,
        global_batch_size: int,
        seed: int,
        *,
        image_size: int,
        channels: int,
        position: int = 0,
        process_index: int = 0,
        process_count: int = 1,
    ):
        if global_batch_size % process_count:
            raise UserError(
                f"batch_size={global_batch_size} is not divisible by {process_count} processes"
            )
        if len(source) == 0:
            raise UserError(f"dataset {source.name} is empty")
        self.source = source
        self.global_batch_size = global_batch_size
        self.local_batch_size = global_batch_size // process_count
        self.seed = seed
        self.position = int(position)
        self.process_index = process_index
        self.image_size, self.channels = image_size, channels
        self._epoch_cache: dict[int, np.ndarray] = {}

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._epoch_cache:
            self._epoch_cache = {epoch: np.random.default_rng([self.seed, epoch]).permutation(
                len(self.source))}
        return self._epoch_cache[epoch]

    def indices_at(self, position: int) -> np.ndarray:
        """Dataset indices of this process's slice of the global batch starting at `position`."""
        n = len(self.source)
        start = position + self.process_index * self.local_batch_size
        stream = np.arange(start, start + self.local_batch_size)
        epochs, offsets = np.divmod(stream, n)
        out = np.empty_like(stream)
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            out[mask] = self._permutation(int(epoch))[offsets[mask]]
        return out

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        images, labels = self.source.read(self.indices_at(self.position))
        self.position += self.global_batch_size
        return {
            "image": preprocess(images, self.image_size, self.channels),
            "label": labels.astype(np.int32),
        }
