"""The MNIST LeNet read channel by channel, the `lenet` extractor of Stacked MNIST: each
channel of a 32x32x3 image is one digit. Features: the three channels' 128-d features side by
side (384-d, for fid_lenet and friends). Logits: 1,000 log-probabilities of the digit triples,
log p(r) + log p(g) + log p(b) from each channel's softmax, so that the most likely triple is
the three most likely digits (`modes_lenet`) and `is_lenet` is over the 1,000 modes."""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxgan.errors import UserError


class PerChannelLeNet:
    def __init__(self, digits):
        self.digits = digits  # the MNIST Classifier
        self.name = "lenet_mnist_per_channel"
        self.weights_sha256 = digits.weights_sha256
        self.preprocessing = f"each of R, G, B as a gray image: {digits.preprocessing}"

    @property
    def feature_dim(self) -> int:
        return 3 * self.digits.feature_dim

    @property
    def num_classes(self) -> int:
        return self.digits.num_classes ** 3

    def __call__(self, images: Any, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(images)
        if x.ndim != 4 or x.shape[-1] != 3:
            raise UserError(f"Stacked MNIST images have 3 channels, got shape {x.shape}")
        features, log_probs = [], []
        for c in range(3):
            f, logits = self.digits(x[..., c:c + 1], batch_size)
            z = logits.astype(np.float64)
            z = z - z.max(axis=1, keepdims=True)
            log_probs.append(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))
            features.append(f)
        r, g, b = log_probs
        k = self.digits.num_classes
        joint = r[:, :, None, None] + g[:, None, :, None] + b[:, None, None, :]
        return np.concatenate(features, axis=1), joint.reshape(len(x), k**3).astype(np.float32)
