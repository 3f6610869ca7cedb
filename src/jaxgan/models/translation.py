"""The image-to-image networks of pix2pix (Isola et al. 2017) and CycleGAN (Zhu et al. 2017), as
in junyanz/pytorch-CycleGAN-and-pix2pix: the U-Net and ResNet generators, the PatchGAN and
per-pixel discriminators.

Same layers, layer order, bias rule (a convolution has a bias only where the reference gives it
one: always before a tanh or a logit, otherwise only with instance norm, whose mean subtraction
would cancel it under batch norm) and initialisation (convolutions N(0, 0.02), biases 0,
BatchNorm scale N(1, 0.02)), so parameter counts equal the reference's. Images are NHWC;
every convolution kernel is [kh, kw, in, out].

`norm` is "batch" (PyTorch's BatchNorm2d: statistics of the batch with `train=True`, running
statistics in the "batch_stats" collection otherwise), "instance" (InstanceNorm2d without
affine parameters or running statistics: each image and channel normalised over its own pixels,
in training and inference alike) or "none".
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.layers import DownConv2x, UpConv2x, dcgan_kernel_init, dcgan_scale_init

NORMS = ("batch", "instance", "none")
_EPS = 1e-5


# --- normalisation ------------------------------------------------------------------------------


def instance_norm(x_BxHxWxC: jax.Array, eps: float = _EPS) -> jax.Array:
    """Each image's channels normalised over height and width (biased variance), no affine."""
    mean = jnp.mean(x_BxHxWxC, axis=(1, 2), keepdims=True)
    var = jnp.mean(jnp.square(x_BxHxWxC - mean), axis=(1, 2), keepdims=True)
    return (x_BxHxWxC - mean) * jax.lax.rsqrt(var + eps)


class BatchNorm(nn.Module):
    """PyTorch's `BatchNorm2d(c)`: with `train`, normalise by the batch's mean and biased variance
    and move the running mean and the running *unbiased* variance 10% towards them (flax's
    `nn.BatchNorm` keeps the biased one, which differs by n / (n - 1): a third at the U-Net's
    2x2 bottleneck with one image); without, normalise by the running statistics. Same variable
    names as `nn.BatchNorm` (params scale, bias; batch_stats mean, var)."""

    momentum: float = 0.1  # PyTorch's convention: the weight of the new batch statistics
    epsilon: float = _EPS

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
        c = x_BxHxWxC.shape[-1]
        scale = self.param("scale", dcgan_scale_init, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        running_mean = self.variable("batch_stats", "mean", jnp.zeros, (c,), jnp.float32)
        running_var = self.variable("batch_stats", "var", jnp.ones, (c,), jnp.float32)
        if train:
            mean = jnp.mean(x_BxHxWxC, axis=(0, 1, 2))
            var = jnp.mean(jnp.square(x_BxHxWxC - mean), axis=(0, 1, 2))
            if not self.is_initializing():
                n = x_BxHxWxC.size // c
                unbiased = var * (n / max(n - 1, 1))
                m = self.momentum
                running_mean.value = (1 - m) * running_mean.value + m * mean
                running_var.value = (1 - m) * running_var.value + m * unbiased
        else:
            mean, var = running_mean.value, running_var.value
        return (x_BxHxWxC - mean) * (jax.lax.rsqrt(var + self.epsilon) * scale) + bias


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")


def _normalize(norm: str, x: jax.Array, train: bool, name: str) -> jax.Array:
    """Call from a compact `__call__`: the BatchNorm (if any) becomes a child named `name`."""
    if norm == "batch":
        return BatchNorm(name=name)(x, train)
    if norm == "instance":
        return instance_norm(x)
    return x


def _uses_bias(norm: str) -> bool:
    # The reference's rule, `norm_layer == InstanceNorm2d`: "none" has no biases either.
    return norm == "instance"


# --- convolutions -------------------------------------------------------------------------------


def _bias(module: nn.Module, x: jax.Array) -> jax.Array:
    return x + module.param("bias", nn.initializers.zeros, (x.shape[-1],))


class Down4x4(nn.Module):
    """PyTorch's `Conv2d(cin, features, 4, stride=2, padding=1, bias=use_bias)`. The kernel is
    `DownConv2x`'s (fast gradients), which needs even height and width; odd sizes (a PatchGAN on
    a 70x70 crop) take `nn.Conv` with the same kernel variable."""

    features: int
    use_bias: bool

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        h, w = x_BxHxWxC.shape[1:3]
        if h % 2 == 0 and w % 2 == 0:
            y = DownConv2x(self.features, name="conv")(x_BxHxWxC)
        else:
            y = nn.Conv(self.features, (4, 4), strides=2, padding=1, use_bias=False,
                        kernel_init=dcgan_kernel_init, name="conv")(x_BxHxWxC)
        return _bias(self, y) if self.use_bias else y


class Up4x4(nn.Module):
    """PyTorch's `ConvTranspose2d(cin, features, 4, stride=2, padding=1, bias=use_bias)`."""

    features: int
    use_bias: bool

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        y = UpConv2x(self.features, name="conv")(x_BxHxWxC)
        return _bias(self, y) if self.use_bias else y


class Up3x3(nn.Module):
    """PyTorch's `ConvTranspose2d(cin, features, 3, stride=2, padding=1, output_padding=1)`:
    out[2i - 1 + k] += x[i] @ kernel[k] (per axis), cropped to [0, 2H). The kernel is kept in
    that orientation, [3, 3, cin, features] (PyTorch's weight transposed (2, 3, 0, 1)); as a
    convolution of the 2x zero-dilated input it is the kernel flipped, with padding 1 before and
    1 + output_padding = 2 after."""

    features: int
    use_bias: bool

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        kernel = self.param("kernel", dcgan_kernel_init, (3, 3, x_BxHxWxC.shape[-1],
                                                          self.features))
        y = jax.lax.conv_general_dilated(
            x_BxHxWxC, kernel[::-1, ::-1], window_strides=(1, 1), padding=((1, 2), (1, 2)),
            lhs_dilation=(2, 2), dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return _bias(self, y) if self.use_bias else y


def _conv(features: int, kernel: int, use_bias: bool, name: str, stride: int = 1,
          padding: int = 0) -> nn.Conv:
    return nn.Conv(features, (kernel, kernel), strides=stride, padding=padding,
                   use_bias=use_bias, kernel_init=dcgan_kernel_init, name=name)


def _reflect(x_BxHxWxC: jax.Array, pad: int) -> jax.Array:
    """PyTorch's ReflectionPad2d (the edge pixel is not repeated)."""
    return jnp.pad(x_BxHxWxC, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def _dropout(x: jax.Array) -> jax.Array:
    # The reference's generator dropout is noise in training and sampling alike (its test script
    # leaves the networks in training mode unless asked), so it does not follow `train`.
    return nn.Dropout(0.5, deterministic=False)(x)


# --- generators ---------------------------------------------------------------------------------


class UnetGenerator(nn.Module):
    """pix2pix's U-Net: `num_downs` (>= 5) halvings down to a 1/2**num_downs bottleneck and back,
    every level's input concatenated (channels) to what comes back up to it. Widths ngf, 2ngf,
    4ngf, then 8ngf for all deeper levels; unet_256 is num_downs=8, unet_128 num_downs=7.

    `__call__(x_BxHxWxC, train) -> [B, H, W, output_channels]` in (-1, 1); H and W must be
    divisible by 2**num_downs. With `use_dropout`, the num_downs - 5 levels between the 8ngf
    bottleneck and the 4ngf level drop half their decoder output, at `train=False` too (the
    reference's noise), drawing on the "dropout" rng: `apply(..., rngs={"dropout": key})`.
    Each level's concatenation is sown as intermediates "skip{level}" (1 = outermost).
    """

    output_channels: int
    num_downs: int
    ngf: int = 64
    norm: str = "batch"
    use_dropout: bool = False

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
        _check_norm(self.norm)
        n = self.num_downs
        if n < 5:
            raise ValueError(f"UnetGenerator needs num_downs >= 5, not {n}")
        h, w = x_BxHxWxC.shape[1:3]
        factor = 2 ** n
        if h % factor or w % factor:
            raise ValueError(
                f"UnetGenerator with num_downs={n} needs image height and width divisible by "
                f"2**{n} = {factor}, got {h}x{w}: resize or crop the images, or change num_downs")
        bias = _uses_bias(self.norm)
        inner = [self.ngf * min(2 ** level, 8) for level in range(n)]  # width below each level

        # Level 0 is the outermost block, n - 1 the innermost; `skips[l]` is block l's input.
        skips = [x_BxHxWxC]
        y = Down4x4(inner[0], bias, name="down0")(x_BxHxWxC)
        for level in range(1, n):
            skips.append(y)
            y = Down4x4(inner[level], bias, name=f"down{level}")(nn.leaky_relu(y, 0.2))
            if level < n - 1:
                y = _normalize(self.norm, y, train, f"down{level}_norm")
        for level in reversed(range(1, n)):
            y = Up4x4(inner[level - 1], bias, name=f"up{level}")(nn.relu(y))
            y = _normalize(self.norm, y, train, f"up{level}_norm")
            if self.use_dropout and 4 <= level < n - 1:
                y = _dropout(y)
            y = jnp.concatenate([skips[level], y], axis=-1)
            self.sow("intermediates", f"skip{level}", y)
        y = Up4x4(self.output_channels, True, name="up0")(nn.relu(y))
        return jnp.tanh(y)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator (Johnson et al.'s): a 7x7 convolution, two stride-2 halvings,
    `n_blocks` residual blocks at 4ngf, two stride-2 transposed convolutions and a 7x7
    convolution to the image; reflection padding around the stride-1 convolutions.
    resnet_9blocks is for 256 px, resnet_6blocks for 128 px.

    `__call__(x_BxHxWxC, train) -> [B, H, W, output_channels]` in (-1, 1) when H and W are
    multiples of 4. With `use_dropout`, each block drops half its hidden activations, at
    `train=False` too, on the "dropout" rng (as `UnetGenerator`).
    """

    output_channels: int
    ngf: int = 64
    n_blocks: int = 9
    norm: str = "instance"
    use_dropout: bool = False

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
        _check_norm(self.norm)
        bias = _uses_bias(self.norm)
        width = self.ngf
        y = _conv(width, 7, bias, "stem")(_reflect(x_BxHxWxC, 3))
        y = nn.relu(_normalize(self.norm, y, train, "stem_norm"))
        for i in range(2):
            width *= 2
            y = _conv(width, 3, bias, f"down{i}", stride=2, padding=1)(y)
            y = nn.relu(_normalize(self.norm, y, train, f"down{i}_norm"))
        for i in range(self.n_blocks):
            r = _conv(width, 3, bias, f"block{i}_conv0")(_reflect(y, 1))
            r = nn.relu(_normalize(self.norm, r, train, f"block{i}_norm0"))
            if self.use_dropout:
                r = _dropout(r)
            r = _conv(width, 3, bias, f"block{i}_conv1")(_reflect(r, 1))
            y = y + _normalize(self.norm, r, train, f"block{i}_norm1")
        for i in range(2):
            width //= 2
            y = Up3x3(width, bias, name=f"up{i}")(y)
            y = nn.relu(_normalize(self.norm, y, train, f"up{i}_norm"))
        y = _conv(self.output_channels, 7, True, "to_image")(_reflect(y, 3))
        return jnp.tanh(y)


# --- discriminators -----------------------------------------------------------------------------


class ConvSpec(NamedTuple):
    kernel: int
    stride: int
    features: int
    normalized: bool  # followed by the norm (every layer but the logit: by a LeakyReLU)
    always_bias: bool  # a bias whatever the norm


def patchgan_layers(n_layers: int, ndf: int = 64) -> tuple[ConvSpec, ...]:
    """The PatchGAN's convolutions, all 4x4 with padding 1: `n_layers` stride-2 ones (widths ndf,
    2ndf, ... capped at 8ndf; the first without norm), a stride-1 one, and the stride-1 logit."""
    if n_layers < 1:
        raise ValueError(f"a PatchGAN needs n_layers >= 1, not {n_layers}")
    layers = [ConvSpec(4, 2, ndf, False, True)]
    layers += [ConvSpec(4, 2, ndf * min(2 ** n, 8), True, False) for n in range(1, n_layers)]
    layers.append(ConvSpec(4, 1, ndf * min(2 ** n_layers, 8), True, False))
    layers.append(ConvSpec(4, 1, 1, False, True))
    return tuple(layers)


def patchgan_receptive_field(n_layers: int) -> int:
    """Input pixels (per side) that one PatchGAN logit sees: 70 for n_layers=3."""
    field = 1
    for layer in reversed(patchgan_layers(n_layers)):
        field = (field - 1) * layer.stride + layer.kernel
    return field


class NLayerDiscriminator(nn.Module):
    """The PatchGAN: `__call__(x_BxHxWxC, train) -> logits [B, h, w]`, one per overlapping
    patch of `patchgan_receptive_field(n_layers)` pixels (30x30 for 256x256 and n_layers=3).
    pix2pix gives it the input and output images concatenated on channels."""

    ndf: int = 64
    n_layers: int = 3
    norm: str = "batch"

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
        _check_norm(self.norm)
        layers = patchgan_layers(self.n_layers, self.ndf)
        y = x_BxHxWxC
        for i, layer in enumerate(layers):
            bias = layer.always_bias or _uses_bias(self.norm)
            if layer.stride == 2:
                y = Down4x4(layer.features, bias, name=f"conv{i}")(y)
            else:
                y = _conv(layer.features, layer.kernel, bias, f"conv{i}", padding=1)(y)
            if layer.normalized:
                y = _normalize(self.norm, y, train, f"conv{i}_norm")
            if i < len(layers) - 1:
                y = nn.leaky_relu(y, 0.2)
        return y[..., 0]


class PixelDiscriminator(nn.Module):
    """The 1x1 PatchGAN (pixelGAN): `__call__(x_BxHxWxC, train) -> logits [B, H, W]`, one per
    pixel, from 1x1 convolutions of widths ndf, 2ndf, 1."""

    ndf: int = 64
    norm: str = "batch"

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
        _check_norm(self.norm)
        bias = _uses_bias(self.norm)
        y = nn.leaky_relu(_conv(self.ndf, 1, True, "conv0")(x_BxHxWxC), 0.2)
        y = _conv(2 * self.ndf, 1, bias, "conv1")(y)
        y = nn.leaky_relu(_normalize(self.norm, y, train, "conv1_norm"), 0.2)
        return _conv(1, 1, bias, "conv2")(y)[..., 0]
