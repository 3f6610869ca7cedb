"""SNGAN's ResNet generator and discriminator (Miyato et al. 2018, the CIFAR-10 networks), with
the projection discriminator and conditional BatchNorm (Miyato & Koyama 2018) for class labels
and SAGAN's options (Zhang et al. 2019): self-attention at one resolution and spectral norm in G.

For 32 px (the paper's networks; 64 px adds one block to each):
- G: z -> dense 4x4xW -> 3 up-blocks (BN, ReLU, nearest 2x upsample, 3x3 conv, BN, ReLU, 3x3
  conv; shortcut: upsample, 1x1 conv) -> BN, ReLU, 3x3 conv -> tanh. With labels every block's
  BatchNorm is class-conditional (the final one is not, as in the reference code).
- D: optimised first block (3x3 conv, ReLU, 3x3 conv, 2x2 avg-pool; shortcut: avg-pool, 1x1
  conv), down-blocks to 8x8 (ReLU, 3x3 conv, ReLU, 3x3 conv, avg-pool; shortcut: 1x1 conv,
  avg-pool), two blocks at 8x8, ReLU, sum over positions, dense -> logit; with labels
  + <embed(y), h> (projection). Every D layer is spectrally normalised.
Initialisation as in the reference: Glorot-uniform, gain sqrt(2) on residual-branch
convolutions, gain 1 elsewhere.

Parameter counts, unconditional, 3 channels, 32 px, g_width=256 / d_width=128 (the paper's
CIFAR-10 networks, "4.3M / 1.0M" in the literature): G 4,276,739, D 1,053,825.

Collections: "params", G's "batch_stats", "spectral" (D always; G with g_spectral_norm). Apply
with `mutable=["batch_stats", "spectral"]` when train=True: train also updates the power
iteration.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.blocks import SelfAttention
from jaxgan.models.normalization import ConditionalBatchNorm, SNConv, SNDense, SNEmbed

residual_init = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")  # Glorot, gain sqrt 2
plain_init = nn.initializers.xavier_uniform()

SUPPORTED_SIZES = (32, 64)


def _check_size(image_size: int) -> int:
    """Number of 2x stages between 4x4 (G) / 8x8 (D, after its blocks) and the image."""
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"SNGAN supports image sizes {SUPPORTED_SIZES}, not {image_size}")
    return {32: 3, 64: 4}[image_size]


def _check_attention(resolution: int | None, resolutions: list[int], net: str) -> None:
    if resolution and resolution not in resolutions:
        raise ValueError(f"attention_resolution {resolution} is not one of the {net}'s block "
                         f"resolutions {sorted(set(resolutions))}")


def _conv(x, features: int, kernel: int, *, sn: bool, update_stats: bool, init, name: str,
          dtype) -> jax.Array:
    if sn:
        return SNConv(features, (kernel, kernel), kernel_init=init, dtype=dtype,
                      name=name)(x, update_stats=update_stats)
    return nn.Conv(features, (kernel, kernel), kernel_init=init, dtype=dtype, name=name)(x)


def _upsample(x: jax.Array) -> jax.Array:
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _downsample(x: jax.Array) -> jax.Array:
    return nn.avg_pool(x, (2, 2), (2, 2))


def _batch_norm(num_classes: int, name: str, x, labels_B, train: bool) -> jax.Array:
    if num_classes:
        return ConditionalBatchNorm(num_classes, name=name)(x, labels_B, train)
    # momentum 0.9 = PyTorch's and Chainer's default running-average weights.
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                        name=name)(x)


class GBlock(nn.Module):
    features: int
    num_classes: int = 0
    spectral_norm: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, labels_B, train: bool):
        conv = {"sn": self.spectral_norm, "update_stats": train, "dtype": self.dtype}
        h = nn.relu(_batch_norm(self.num_classes, "bn1", x, labels_B, train))
        h = _conv(_upsample(h), self.features, 3, init=residual_init, name="conv1", **conv)
        h = nn.relu(_batch_norm(self.num_classes, "bn2", h, labels_B, train))
        h = _conv(h, self.features, 3, init=residual_init, name="conv2", **conv)
        shortcut = _conv(_upsample(x), self.features, 1, init=plain_init, name="shortcut", **conv)
        return h + shortcut


class DBlock(nn.Module):
    """Pre-activation residual block; `first` is the reference's optimised input block."""

    features: int
    downsample: bool = True
    first: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, update_stats: bool):
        conv = {"sn": True, "update_stats": update_stats, "dtype": self.dtype}
        h = x if self.first else nn.relu(x)
        h = _conv(h, self.features, 3, init=residual_init, name="conv1", **conv)
        h = _conv(nn.relu(h), self.features, 3, init=residual_init, name="conv2", **conv)
        if self.downsample:
            h = _downsample(h)
        if self.first:  # pool, then 1x1 conv: fewer operations on the raw image
            shortcut = _conv(_downsample(x), self.features, 1, init=plain_init,
                             name="shortcut", **conv)
        elif self.downsample or x.shape[-1] != self.features:
            shortcut = _conv(x, self.features, 1, init=plain_init, name="shortcut", **conv)
            if self.downsample:
                shortcut = _downsample(shortcut)
        else:
            shortcut = x
        return h + shortcut


def _check_labels(num_classes: int, labels_B, net: str) -> None:
    if num_classes and labels_B is None:
        raise ValueError(f"a class-conditional {net} (num_classes={num_classes}) needs labels_B")
    if not num_classes and labels_B is not None:
        raise ValueError(f"labels_B given to an unconditional {net} (num_classes=0)")


class Generator(nn.Module):
    """z [B, Z] (and labels [B] when num_classes > 0) -> images [B, S, S, C] in [-1, 1]."""

    image_size: int = 32
    channels: int = 3
    g_width: int = 256
    num_classes: int = 0
    attention_resolution: int | None = None
    g_spectral_norm: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, labels_B: jax.Array | None = None,
                 train: bool = True) -> jax.Array:
        stages = _check_size(self.image_size)
        _check_attention(self.attention_resolution, [4 * 2**i for i in range(1, stages + 1)],
                         "generator")
        _check_labels(self.num_classes, labels_B, "generator")
        sn = self.g_spectral_norm
        w = self.g_width
        z = z_BxZ.astype(self.dtype)
        if sn:
            x = SNDense(4 * 4 * w, kernel_init=plain_init, dtype=self.dtype,
                        name="project")(z, update_stats=train)
        else:
            x = nn.Dense(4 * 4 * w, kernel_init=plain_init, dtype=self.dtype, name="project")(z)
        x = x.reshape(z.shape[0], 4, 4, w)
        resolution = 4
        for i in range(stages):
            x = GBlock(w, self.num_classes, sn, self.dtype, name=f"block{i}")(x, labels_B, train)
            resolution *= 2
            if resolution == self.attention_resolution:
                x = SelfAttention(spectral_norm=sn, name="attention")(x, update_stats=train)
        x = nn.relu(_batch_norm(0, "out_bn", x, None, train))
        x = _conv(x, self.channels, 3, sn=sn, update_stats=train, init=plain_init,
                  name="to_image", dtype=self.dtype)
        return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
    """images [B, S, S, C] (and labels [B] when num_classes > 0) -> logits [B]; with
    `return_features`, also the pooled features [B, d_width] the logit is read from (for
    feature matching)."""

    image_size: int = 32
    d_width: int = 128
    num_classes: int = 0
    attention_resolution: int | None = None
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x_BxSxSxC: jax.Array, labels_B: jax.Array | None = None,
                 train: bool = True, return_features: bool = False):
        stages = _check_size(self.image_size)
        _check_labels(self.num_classes, labels_B, "discriminator")
        w = self.d_width
        # Block outputs: S/2 (first block), ..., 8 (down-blocks), then two blocks at 8.
        blocks = [DBlock(w, first=True, dtype=self.dtype, name="block0")]
        blocks += [DBlock(w, dtype=self.dtype, name=f"block{i}") for i in range(1, stages - 1)]
        blocks += [DBlock(w, downsample=False, dtype=self.dtype, name=f"block{i}")
                   for i in range(stages - 1, stages + 1)]
        resolutions = [self.image_size // 2**i for i in range(1, stages - 1)] + [8, 8, 8]
        _check_attention(self.attention_resolution, resolutions, "discriminator")
        h = x_BxSxSxC.astype(self.dtype)
        attended = False
        for block, resolution in zip(blocks, resolutions, strict=True):
            h = block(h, update_stats=train)
            if resolution == self.attention_resolution and not attended:
                h = SelfAttention(spectral_norm=True, name="attention")(h, update_stats=train)
                attended = True
        features_BxF = jnp.sum(nn.relu(h).astype(jnp.float32), axis=(1, 2))
        logits = SNDense(1, kernel_init=plain_init, name="logit")(
            features_BxF, update_stats=train)[:, 0]
        if self.num_classes:
            embed = SNEmbed(self.num_classes, w, embedding_init=plain_init, name="projection")
            logits = logits + jnp.sum(embed(labels_B, update_stats=train) * features_BxF, -1)
        return (logits, features_BxF) if return_features else logits
