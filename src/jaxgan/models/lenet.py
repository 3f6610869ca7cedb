"""A small CNN classifier for 28x28x1 images (MNIST, Fashion-MNIST): jaxgan's domain feature
extractor. Its penultimate activations are the features of `fid_lenet`, `kid_lenet` and
precision/recall; its logits give `is_lenet` and the classification accuracy score."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def max_pool_2x2(x_BxHxWxC: jax.Array) -> jax.Array:
    """2x2 max pool (odd edges dropped) as a reshape and a max. Same values as `nn.max_pool`;
    its gradient is elementwise, where max_pool's select-and-scatter made the training step
    ~1.5x slower on XLA:CPU."""
    b, h, w, c = x_BxHxWxC.shape
    x = x_BxHxWxC[:, : h // 2 * 2, : w // 2 * 2]
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


class LeNet(nn.Module):
    """[B, 28, 28, 1] images in [-1, 1] -> (features [B, feature_dim], logits [B, num_classes]).

    Each stage is 3x3 convolutions with ReLU, then a 2x2 max pool (28 -> 14 -> 7 -> 3); the
    features are a ReLU dense layer on the flattened last stage. Dropout (training only) sits
    between features and logits, so the features the metrics read are never dropped out. No
    batch statistics: an image's outputs never depend on the rest of its batch.
    """

    stages: tuple[tuple[int, ...], ...] = ((32,), (64,), (128,))
    feature_dim: int = 128
    num_classes: int = 10
    dropout: float = 0.0

    @nn.compact
    def __call__(self, img_Bx28x28x1: jax.Array, train: bool = False):
        x = img_Bx28x28x1
        for stage in self.stages:
            for width in stage:
                x = nn.relu(nn.Conv(width, (3, 3))(x))
            x = max_pool_2x2(x)
        x = x.reshape(x.shape[0], -1)
        features = nn.relu(nn.Dense(self.feature_dim, name="features")(x))
        dropped = nn.Dropout(self.dropout, deterministic=not train)(features)
        logits = nn.Dense(self.num_classes, name="logits")(dropped)
        return features, logits.astype(jnp.float32)
