"""ProGAN's networks (Karras et al. 2018), as tkarras/progressive_growing_of_gans builds them
(`networks.py`: G_paper, D_paper), for a square image of `resolution` = 2^k px, k >= 2.

Level l (0, 1, ...) works at 4 * 2^l px. Feature maps: nf(s) = min(fmap_base / 2^(s *
fmap_decay), fmap_max), the block of 2^r px having nf(r - 1) maps.
- Every layer has an equalized learning rate: weights stored N(0, 1), multiplied at run time by
  gain / sqrt(fan_in) (gain sqrt(2); 1 for toRGB and D's last dense layer; sqrt(2)/4 for G's
  first dense layer, as the reference); biases start at 0.
- G: pixel norm of z; at 4x4 a dense layer to a 4x4 map and a 3x3 convolution; then per level
  nearest 2x upsampling and two 3x3 convolutions (the reference's fused upscale-convolution is
  the same arithmetic); LeakyReLU 0.2 and pixel norm after every layer; a 1x1 toRGB per level.
- D: a 1x1 fromRGB per level (LeakyReLU); per level two 3x3 convolutions then 2x2 average
  pooling; at 4x4 the minibatch standard deviation (groups of 4, one feature map), a 3x3
  convolution, a dense layer to nf(0) and a dense layer to the logit.
- Fade-in, with alpha in [0, 1] the new level's weight: G outputs alpha toRGB(new) + (1 - alpha)
  upsample(toRGB(previous)); D reads alpha block(fromRGB(x)) + (1 - alpha) fromRGB(downsample
  (x)) into the previous level. Alpha = 1 is the new level alone.

`level` is static (each stage compiles its own program); `alpha` may be traced. Initialise at
the top level (with full-resolution images for D): every layer of every level is made. With
`resolution` 1024, 3 channels and the defaults (fmap_base 8192, fmap_max 512, latent 512):
23,079,115 generator and 23,087,249 discriminator parameters (tallied in BUILD_NOTES.md).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.stylegan2_ops import conv2d

SQRT2 = math.sqrt(2.0)


def num_levels(resolution: int) -> int:
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"ProGAN's resolution must be a power of two >= 4, not {resolution}")
    return int(math.log2(resolution)) - 1


def nf(stage: int, fmap_base: int, fmap_decay: float, fmap_max: int) -> int:
    return min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


def pixel_norm(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Each pixel's feature vector scaled to unit mean square."""
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps)


def lrelu(x: jax.Array) -> jax.Array:
    return nn.leaky_relu(x, 0.2)


def upsample(x: jax.Array) -> jax.Array:
    return x.repeat(2, axis=1).repeat(2, axis=2)


def downsample(x: jax.Array) -> jax.Array:
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def minibatch_stddev(x: jax.Array, group_size: int = 4) -> jax.Array:
    """The reference's layer: per group of `group_size` images, the standard deviation of each
    feature over the group, averaged to one number, appended as a feature map."""
    b, h, w, c = x.shape
    g = min(group_size, b)
    y = x.reshape(g, b // g, h, w, c).astype(jnp.float32)
    y = jnp.sqrt(jnp.mean((y - y.mean(axis=0)) ** 2, axis=0) + 1e-8)
    y = jnp.mean(y, axis=(1, 2, 3))  # [b // g]
    y = jnp.tile(y, g).reshape(b, 1, 1, 1)
    return jnp.concatenate([x, jnp.broadcast_to(y, (b, h, w, 1)).astype(x.dtype)], axis=-1)


class EqConv(nn.Module):
    """A k x k stride-1 'same' convolution with an equalized learning rate and a bias."""

    features: int
    kernel: int = 3
    gain: float = SQRT2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cin = x.shape[-1]
        w = self.param("kernel", nn.initializers.normal(1.0),
                       (self.kernel, self.kernel, cin, self.features))
        b = self.param("bias", nn.initializers.zeros, (self.features,))
        w = w * (self.gain / math.sqrt(self.kernel * self.kernel * cin))
        p = self.kernel // 2
        if p:
            x = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        return conv2d(x, w.astype(x.dtype)) + b


class EqDense(nn.Module):
    """A dense layer with an equalized learning rate and a bias."""

    features: int
    gain: float = SQRT2
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.param("kernel", nn.initializers.normal(1.0), (x.shape[-1], self.features))
        y = x @ (w * (self.gain / math.sqrt(x.shape[-1])))
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


class Generator(nn.Module):
    """z [B, latent] -> images [B, 4 * 2^level, same, channels] (no output activation, as the
    reference; `generate` clips)."""

    resolution: int
    channels: int
    fmap_base: int = 8192
    fmap_decay: float = 1.0
    fmap_max: int = 512
    latent_dim: int = 512

    def _nf(self, stage: int) -> int:
        return nf(stage, self.fmap_base, self.fmap_decay, self.fmap_max)

    @nn.compact
    def __call__(self, z: jax.Array, level: int, alpha=1.0) -> jax.Array:
        levels = num_levels(self.resolution)
        if not 0 <= level < levels:
            raise ValueError(f"level {level} of a {levels}-level network")
        torgb = [EqConv(self.channels, 1, gain=1.0, name=f"torgb_{4 << i}")
                 for i in range(levels)]
        x = pixel_norm(z)
        x = EqDense(16 * self._nf(1), gain=SQRT2 / 4, use_bias=False, name="dense")(x)
        # The reference adds the dense layer's bias per feature map of the 4x4 map.
        bias = self.param("dense_bias", nn.initializers.zeros, (self._nf(1),))
        x = pixel_norm(lrelu(x.reshape(z.shape[0], 4, 4, self._nf(1)) + bias))
        x = pixel_norm(lrelu(EqConv(self._nf(1), name="b4_conv")(x)))
        features = [x]
        last = levels - 1 if self.is_initializing() else level
        for i in range(1, last + 1):
            res = 4 << i
            x = upsample(x)
            x = pixel_norm(lrelu(EqConv(self._nf(i + 1), name=f"b{res}_conv0")(x)))
            x = pixel_norm(lrelu(EqConv(self._nf(i + 1), name=f"b{res}_conv1")(x)))
            features.append(x)
        if self.is_initializing():  # every toRGB exists from the start
            for i, f in enumerate(features):
                torgb[i](f)
        images = torgb[level](features[level])
        if level:
            previous = upsample(torgb[level - 1](features[level - 1]))
            images = alpha * images + (1.0 - alpha) * previous  # exact at 0 and 1
        return images


class Discriminator(nn.Module):
    """images [B, 4 * 2^level, same, channels] -> logits [B]."""

    resolution: int
    fmap_base: int = 8192
    fmap_decay: float = 1.0
    fmap_max: int = 512
    mbstd_group: int = 4

    def _nf(self, stage: int) -> int:
        return nf(stage, self.fmap_base, self.fmap_decay, self.fmap_max)

    @nn.compact
    def __call__(self, images: jax.Array, level: int, alpha=1.0) -> jax.Array:
        levels = num_levels(self.resolution)
        if not 0 <= level < levels:
            raise ValueError(f"level {level} of a {levels}-level network")
        fromrgb = [EqConv(self._nf(i + 1), 1, name=f"fromrgb_{4 << i}") for i in range(levels)]
        if self.is_initializing():  # every fromRGB exists from the start
            x = images
            for i in range(level, -1, -1):
                fromrgb[i](x)
                x = downsample(x) if i else x
        x = lrelu(fromrgb[level](images))
        for i in range(level, 0, -1):
            res = 4 << i
            x = lrelu(EqConv(self._nf(i + 1), name=f"b{res}_conv0")(x))
            x = downsample(lrelu(EqConv(self._nf(i), name=f"b{res}_conv1")(x)))
            if i == level and level:
                skip = lrelu(fromrgb[level - 1](downsample(images)))
                x = alpha * x + (1.0 - alpha) * skip
        if self.mbstd_group > 1:
            x = minibatch_stddev(x, self.mbstd_group)
        x = lrelu(EqConv(self._nf(1), name="b4_conv")(x))
        x = lrelu(EqDense(self._nf(0), name="b4_dense0")(x.reshape(x.shape[0], -1)))
        return EqDense(1, gain=1.0, name="b4_dense1")(x)[:, 0]
