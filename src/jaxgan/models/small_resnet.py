"""A small pre-activation ResNet (He et al. 2016, "Identity Mappings in Deep Residual
Networks") for 28x28x1 images: the second, stronger classifier of the synthetic-data study.

A 3x3 stem to `widths[0]` channels, then one stage per width of `blocks` basic blocks (GroupNorm,
ReLU, 3x3 convolution, twice; a 1x1 projection on the shortcut where the shape changes), the
stages after the first starting with stride 2 (28 -> 14 -> 7), a last GroupNorm and ReLU,
global average pooling (the features), dropout and a dense layer (the logits). GroupNorm
rather than BatchNorm: an image's outputs never depend on its batch, and the classifier
trainer keeps no batch statistics. At the defaults (32, 64, 128; 2 blocks): 695,658 parameters.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class _Block(nn.Module):
    width: int
    stride: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        out = nn.relu(nn.GroupNorm(num_groups=8)(x))
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.width:
            shortcut = nn.Conv(self.width, (1, 1), strides=self.stride, use_bias=False,
                               name="project")(out)
        out = nn.Conv(self.width, (3, 3), strides=self.stride, use_bias=False)(out)
        out = nn.relu(nn.GroupNorm(num_groups=8)(out))
        out = nn.Conv(self.width, (3, 3), use_bias=False)(out)
        return out + shortcut


class SmallResNet(nn.Module):
    """[B, 28, 28, 1] images in [-1, 1] -> (features [B, widths[-1]], logits [B, classes])."""

    widths: tuple[int, ...] = (32, 64, 128)
    blocks: int = 2
    num_classes: int = 10
    dropout: float = 0.0

    @property
    def feature_dim(self) -> int:
        return self.widths[-1]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False):
        x = nn.Conv(self.widths[0], (3, 3), use_bias=False, name="stem")(x)
        for i, width in enumerate(self.widths):
            for j in range(self.blocks):
                x = _Block(width, 2 if i and not j else 1, name=f"stage{i}_block{j}")(x)
        x = nn.relu(nn.GroupNorm(num_groups=8, name="final_norm")(x))
        features = jnp.mean(x, axis=(1, 2))
        dropped = nn.Dropout(self.dropout, deterministic=not train)(features)
        logits = nn.Dense(self.num_classes, name="logits")(dropped)
        return features, logits.astype(jnp.float32)
