"""The deterministic, resumable, process-sharded batch iterator.

The order of examples is a pure function of (seed, position): epoch `e` of a stream is the
permutation drawn from `numpy.random.default_rng([seed, e])` (a second stream, such as the B
domain of unpaired data, from `[seed, e, k]`), and the global stream is the concatenation of
epochs. A checkpoint stores `position` (examples consumed); resuming from it continues the same
stream, even with another batch size, process count or batch spec (an image size that grows at
a stage boundary: `with_spec` rebuilds the iterator at its position). Each process materialises
only its slice of every global batch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxgan.errors import UserError


def preprocess(images_u8: np.ndarray, image_size: int, channels: int) -> np.ndarray:
    """uint8 [b, h, w, c] -> float32 [b, image_size, image_size, channels] in [-1, 1].

    Smaller images are padded around the centre with -1 (28 -> 32 for MNIST-style data, as in
    the StyleGAN2-ADA small-resolution setups); larger ones whose size is a multiple of
    `image_size` are box-averaged down (a progressive-growing stage, as ProGAN shows D its real
    images); gray images are repeated to 3 channels when asked."""
    _, h, w, c = images_u8.shape
    x = images_u8.astype(np.float32) * (2.0 / 255.0) - 1.0
    if (h, w) != (image_size, image_size):
        if h == w and h > image_size and h % image_size == 0:
            f = h // image_size
            x = x.reshape(-1, image_size, f, image_size, f, c).mean(axis=(2, 4))
        elif h > image_size or w > image_size or (image_size - h) % 2 or (image_size - w) % 2:
            raise UserError(
                f"images are {h}x{w} but dataset.image_size={image_size}: array datasets are "
                "padded around the centre to a larger even margin or averaged down by an "
                "integer factor")
        else:
            ph, pw = (image_size - h) // 2, (image_size - w) // 2
            x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=-1.0)
    if c != channels:
        if c == 1:
            x = np.repeat(x, channels, axis=-1)
        else:
            raise UserError(f"images have {c} channels but dataset.channels={channels}")
    return x


def to_batch(raw: Mapping[str, np.ndarray], spec, source_name: str) -> dict[str, np.ndarray]:
    """The fields of `spec` (a family's batch spec) from a source's raw fields: images as
    float32 in [-1, 1] of the spec's shape, the rest cast to the spec's dtype."""
    batch = {}
    for name, field in spec.items():
        if name not in raw:
            raise UserError(f"the family's batch needs field {name!r} but dataset "
                            f"{source_name} provides {', '.join(sorted(raw))}; choose a "
                            "dataset.name with those fields")
        value = raw[name]
        if field.is_image:
            size, _, channels = field.shape
            canvas = field.canvas or size
            if canvas % size:
                raise ValueError(f"field {name}: canvas {canvas} is not a multiple of {size}")
            x = preprocess(value, canvas, channels)
            if canvas != size:  # a growing network's stage: box-averaged down
                f = canvas // size
                x = x.reshape(-1, size, f, size, f, channels).mean(axis=(2, 4))
            batch[name] = x
        else:
            batch[name] = np.asarray(value, dtype=field.dtype)
    return batch


def check_fields(source, spec) -> None:
    missing = [name for name in spec if name not in source.fields]
    if missing:
        raise UserError(f"the family's batch needs field(s) {', '.join(missing)} but dataset "
                        f"{source.name} provides {', '.join(source.fields)}; choose a "
                        "dataset.name with those fields")


class BatchIterator:
    """Yields this process's part of each global batch: a dict of the spec's fields."""

    def __init__(
        self,
        source,
        global_batch_size: int,
        seed: int,
        spec,
        *,
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
        check_fields(source, spec)
        self.source, self.spec = source, dict(spec)
        self.global_batch_size = global_batch_size
        self.local_batch_size = global_batch_size // process_count
        self.seed = seed
        self.position = int(position)
        self.process_index, self.process_count = process_index, process_count
        self._epoch_cache: dict[tuple[str, int], np.ndarray] = {}

    def with_spec(self, spec) -> BatchIterator:
        """The same stream from the current position, batched for another spec."""
        return BatchIterator(self.source, self.global_batch_size, self.seed, spec,
                             position=self.position, process_index=self.process_index,
                             process_count=self.process_count)

    def _permutation(self, stream: str, epoch: int) -> np.ndarray:
        key = (stream, epoch)
        if key not in self._epoch_cache:
            n = self.source.streams[stream]
            salt = [] if stream == "" else [sorted(self.source.streams).index(stream) + 1]
            self._epoch_cache = {k: v for k, v in self._epoch_cache.items() if k[0] != stream}
            self._epoch_cache[key] = np.random.default_rng(
                [self.seed, epoch, *salt]).permutation(n)
        return self._epoch_cache[key]

    def positions_at(self, position: int) -> np.ndarray:
        """Stream positions of this process's slice of the global batch at `position`."""
        start = position + self.process_index * self.local_batch_size
        return np.arange(start, start + self.local_batch_size)

    def indices_at(self, position: int) -> dict[str, np.ndarray]:
        """Dataset indices, per stream, of this process's slice of the batch at `position`."""
        stream_positions = self.positions_at(position)
        out = {}
        for stream, n in self.source.streams.items():
            epochs, offsets = np.divmod(stream_positions, n)
            indices = np.empty_like(stream_positions)
            for epoch in np.unique(epochs):
                mask = epochs == epoch
                indices[mask] = self._permutation(stream, int(epoch))[offsets[mask]]
            out[stream] = indices
        return out

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        raw = self.source.read(self.indices_at(self.position), self.positions_at(self.position))
        self.position += self.global_batch_size
        return to_batch(raw, self.spec, self.source.name)
