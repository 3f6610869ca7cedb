"""Single-image super-resolution networks: SRGAN's SRResNet and discriminator (Ledig et al. 2017),
and XPixelGroup/BasicSR's MSRResNet, RRDBNet (ESRGAN, Wang et al. 2018) and
VGGStyleDiscriminator, with PyTorch's pixel shuffle and its inverse.

Same layers, layer order and parameter counts as the references. Images are NHWC and every
convolution kernel is [kh, kw, in, out] (a PyTorch weight transposed (2, 3, 1, 0)). The networks
assume no value range: no generator ends in an activation (BasicSR's do not, nor does the SRGAN
paper's figure), so inputs in [0, 1] (BasicSR's convention) and in [-1, 1] both work.
BasicSR's networks name their variables after its state-dict keys (`conv_first`,
`body_3/rdb2/conv5`, `bn0_1`, ...).

Initialisation, as the references: convolutions and dense layers get PyTorch's default
(kernel U(+-1/sqrt(fan_in)), bias U(+-1/sqrt(fan_in))), except where BasicSR calls
`default_init_weights(..., 0.1)`: there the kernel is Kaiming-normal (std sqrt(2 / fan_in))
scaled by 0.1 and the bias is 0 (every MSRResNet convolution; the convolutions inside RRDBNet's
dense blocks). BatchNorm is flax's with PyTorch's defaults (scale 1, bias 0, momentum 0.1 in
PyTorch's sense, eps 1e-5; statistics of the batch with `train=True`, running statistics in the
"batch_stats" collection otherwise); its running variance is the batch's biased one where
PyTorch keeps the unbiased one, a factor n / (n - 1) with n the pixels of a batch.

Every network is called as `__call__(x_BxHxWxC, train)`; `train` only matters where there is
BatchNorm.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.layers import DownConv2x

# PyTorch's default Conv2d / Linear kernel: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)).
torch_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def torch_bias_init(fan_in: int) -> nn.initializers.Initializer:
    """PyTorch's default Conv2d / Linear bias: U(+-1/sqrt(fan_in)) of the layer's kernel."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def kaiming_normal_init(scale: float) -> nn.initializers.Initializer:
    """BasicSR's `default_init_weights(m, scale)` kernel: N(0, 2 / fan_in) times `scale`."""
    return nn.initializers.variance_scaling(2.0 * scale ** 2, "fan_in", "normal")


BASICSR_INIT_SCALE = 0.1  # BasicSR's residual-block initialisation scale
RDB_RESIDUAL_SCALE = 0.2  # ESRGAN's residual scaling, inside each dense block and each RRDB


# --- pixel shuffle ------------------------------------------------------------------------------


def pixel_shuffle(x_BxHxWxCrr: jax.Array, r: int) -> jax.Array:
    """PyTorch's `nn.PixelShuffle(r)` in NHWC: [B, H, W, C r r] -> [B, H r, W r, C] with
    out[b, h r + i, w r + j, c] = in[b, h, w, c r r + i r + j]."""
    b, h, w, crr = x_BxHxWxCrr.shape
    if crr % (r * r):
        raise ValueError(f"pixel_shuffle by {r} needs channels divisible by {r * r}, got {crr}")
    c = crr // (r * r)
    y = x_BxHxWxCrr.reshape(b, h, w, c, r, r)
    return y.transpose(0, 1, 4, 2, 5, 3).reshape(b, h * r, w * r, c)


def pixel_unshuffle(x_BxHrxWrxC: jax.Array, r: int) -> jax.Array:
    """The inverse of `pixel_shuffle` (PyTorch's `nn.PixelUnshuffle(r)`, BasicSR's
    `pixel_unshuffle`): [B, H r, W r, C] -> [B, H, W, C r r]."""
    b, hr, wr, c = x_BxHrxWrxC.shape
    if hr % r or wr % r:
        raise ValueError(f"pixel_unshuffle by {r} needs height and width divisible by {r}, "
                         f"got {hr}x{wr}")
    y = x_BxHrxWrxC.reshape(b, hr // r, r, wr // r, r, c)
    return y.transpose(0, 1, 3, 5, 2, 4).reshape(b, hr // r, wr // r, c * r * r)


def _upsample_nearest_2x(x_BxHxWxC: jax.Array) -> jax.Array:
    """`F.interpolate(x, scale_factor=2, mode="nearest")`: each pixel repeated 2x2."""
    return jnp.repeat(jnp.repeat(x_BxHxWxC, 2, axis=1), 2, axis=2)


def _upsample_bilinear(x_BxHxWxC: jax.Array, scale: int) -> jax.Array:
    """`F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)`: half-pixel
    centres, edge pixels repeated (upsampling, so no antialiasing either way)."""
    b, h, w, c = x_BxHxWxC.shape
    return jax.image.resize(x_BxHxWxC, (b, h * scale, w * scale, c), "bilinear")


# --- layers -------------------------------------------------------------------------------------


def _conv(x_BxHxWxC: jax.Array, features: int, kernel: int, name: str, *, stride: int = 1,
          use_bias: bool = True, basicsr_init: bool = False) -> jax.Array:
    """PyTorch's `Conv2d(cin, features, kernel, stride, padding=kernel // 2, bias=use_bias)`,
    as a child `name` of the calling compact module. `basicsr_init`: BasicSR's
    `default_init_weights(conv, 0.1)` instead of PyTorch's default."""
    fan_in = kernel * kernel * x_BxHxWxC.shape[-1]
    if basicsr_init:
        kernel_init, bias_init = kaiming_normal_init(BASICSR_INIT_SCALE), nn.initializers.zeros
    else:
        kernel_init, bias_init = torch_kernel_init, torch_bias_init(fan_in)
    return nn.Conv(features, (kernel, kernel), strides=stride, padding=kernel // 2,
                   use_bias=use_bias, kernel_init=kernel_init, bias_init=bias_init,
                   name=name)(x_BxHxWxC)


def _dense(x_BxN: jax.Array, features: int, name: str) -> jax.Array:
    """PyTorch's `Linear(n, features)` with its default initialisation."""
    return nn.Dense(features, kernel_init=torch_kernel_init,
                    bias_init=torch_bias_init(x_BxN.shape[-1]), name=name)(x_BxN)


def _batch_norm(x_BxHxWxC: jax.Array, train: bool, name: str) -> jax.Array:
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                        name=name)(x_BxHxWxC)


class PReLU(nn.Module):
    """PyTorch's `nn.PReLU(num_parameters, init=slope_init)`: max(0, x) + a min(0, x) with learnable
    slopes a, one shared by all channels (num_parameters=1, PyTorch's default and what SRGAN's
    PyTorch ports use) or one per channel (num_parameters = channels)."""

    num_parameters: int = 1
    slope_init: float = 0.25

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        c = x_BxHxWxC.shape[-1]
        if self.num_parameters not in (1, c):
            raise ValueError(f"PReLU takes 1 slope or one per channel ({c}), "
                             f"not {self.num_parameters}")
        slope = self.param("weight", nn.initializers.constant(self.slope_init),
                           (self.num_parameters,))
        return jnp.where(x_BxHxWxC >= 0, x_BxHxWxC, slope * x_BxHxWxC)


def _check_scale(network: str, scale: int, allowed: tuple[int, ...]) -> None:
    if scale not in allowed:
        raise ValueError(f"{network} upsamples by one of {allowed}, not {scale}")


# --- SRGAN (Ledig et al. 2017) ------------------------------------------------------------------


class SRResNet(nn.Module):
    """SRGAN's generator, SRResNet (the paper's figure 4): a 9x9 convolution + PReLU, `num_block`
    residual blocks (conv3x3-BN-PReLU-conv3x3-BN, identity skip), conv3x3-BN plus a skip from
    the first PReLU, log2(scale) stages of conv3x3 to 4 num_feat + pixel shuffle x2 + PReLU, and
    a 9x9 convolution to the image. Every convolution has a bias (as the PyTorch ports, e.g.
    sgrvinod/a-PyTorch-Tutorial-to-Super-Resolution, which also end in a tanh; here the output is
    unbounded: apply one outside if the targets are in [-1, 1]).

    `__call__(x_BxHxWxC, train) -> [B, H scale, W scale, output_channels]`. Each PReLU has
    `prelu_parameters` slopes (1: PyTorch's `nn.PReLU()`, as the ports).
    """

    output_channels: int
    scale: int = 4
    num_feat: int = 64
    num_block: int = 16
    prelu_parameters: int = 1

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
        _check_scale("SRResNet", self.scale, (2, 4, 8))
        nf = self.num_feat

        def prelu(y: jax.Array, name: str) -> jax.Array:
            return PReLU(self.prelu_parameters, name=name)(y)

        feat = prelu(_conv(x_BxHxWxC, nf, 9, "conv_first"), "prelu_first")
        y = feat
        for i in range(self.num_block):
            r = _batch_norm(_conv(y, nf, 3, f"block{i}_conv1"), train, f"block{i}_bn1")
            r = prelu(r, f"block{i}_prelu")
            y = y + _batch_norm(_conv(r, nf, 3, f"block{i}_conv2"), train, f"block{i}_bn2")
        y = feat + _batch_norm(_conv(y, nf, 3, "conv_body"), train, "bn_body")
        for i in range(int(math.log2(self.scale))):
            y = pixel_shuffle(_conv(y, 4 * nf, 3, f"up{i}_conv"), 2)
            y = prelu(y, f"up{i}_prelu")
        return _conv(y, self.output_channels, 9, "conv_last")


SRGAN_D_LAYERS = ((1, 1), (1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))
"""SRGAN's discriminator convolutions (all 3x3): (width in units of num_feat, stride)."""


class SRGANDiscriminator(nn.Module):
    """SRGAN's discriminator (the paper's figure 4): eight 3x3 convolutions (widths num_feat x
    1, 1, 2, 2, 4, 4, 8, 8; strides alternating 1 and 2), each but the first followed by
    BatchNorm, all by LeakyReLU(0.2); then Dense(dense_features) + LeakyReLU(0.2) + Dense(1), the
    logit (the paper's sigmoid is the loss's). Convolutions have biases (as the PyTorch ports).

    `__call__(x_BxHxWxC, train) -> logits [B]` for `input_size` x `input_size` images (96, the
    paper's HR crops, by default); the first dense layer sees the flattened
    [input_size / 16, input_size / 16, 8 num_feat] features in NHWC order (a PyTorch
    checkpoint's NCHW-flattened rows would need reordering).
    """

    input_size: int = 96
    num_feat: int = 64
    dense_features: int = 1024

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
        size = self.input_size
        if size % 16:
            raise ValueError(f"SRGANDiscriminator halves the image 4 times: input_size must be "
                             f"a multiple of 16, not {size}")
        if x_BxHxWxC.shape[1:3] != (size, size):
            raise ValueError(f"SRGANDiscriminator(input_size={size}) takes {size}x{size} "
                             f"images, got {x_BxHxWxC.shape[1]}x{x_BxHxWxC.shape[2]}")
        y = x_BxHxWxC
        for i, (width, stride) in enumerate(SRGAN_D_LAYERS):
            y = _conv(y, width * self.num_feat, 3, f"conv{i}", stride=stride)
            if i:
                y = _batch_norm(y, train, f"bn{i}")
            y = nn.leaky_relu(y, 0.2)
        y = y.reshape(y.shape[0], -1)
        y = nn.leaky_relu(_dense(y, self.dense_features, "dense1"), 0.2)
        return _dense(y, 1, "dense2")[:, 0]


# --- BasicSR: MSRResNet -------------------------------------------------------------------------


class ResidualBlockNoBN(nn.Module):
    """BasicSR's `ResidualBlockNoBN` (EDSR's block): x + res_scale conv3x3(relu(conv3x3(x))),
    same width as x, both convolutions with BasicSR's 0.1-scaled Kaiming initialisation."""

    res_scale: float = 1.0

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        nf = x_BxHxWxC.shape[-1]
        r = nn.relu(_conv(x_BxHxWxC, nf, 3, "conv1", basicsr_init=True))
        return x_BxHxWxC + self.res_scale * _conv(r, nf, 3, "conv2", basicsr_init=True)


class MSRResNet(nn.Module):
    """BasicSR's `MSRResNet` (modified SRResNet: no BatchNorm, 3x3 convolutions throughout):
    conv_first + LeakyReLU(0.1), `num_block` `ResidualBlockNoBN`s, upsampling (x4: two stages of
    conv to 4 num_feat + pixel shuffle x2 + LeakyReLU(0.1); x2, x3: one stage, conv to
    scale**2 num_feat + pixel shuffle), conv_hr + LeakyReLU(0.1), conv_last, plus the input
    upsampled bilinearly (align_corners=False): the network learns a residual over bilinear
    upsampling, so `output_channels` must equal the input's channels.

    `__call__(x_BxHxWxC, train=False) -> [B, H scale, W scale, output_channels]`; `train` is
    unused (no batch statistics).
    """

    output_channels: int
    scale: int = 4
    num_feat: int = 64
    num_block: int = 16

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool = False) -> jax.Array:
        del train
        _check_scale("MSRResNet", self.scale, (2, 3, 4))
        if x_BxHxWxC.shape[-1] != self.output_channels:
            raise ValueError(f"MSRResNet adds its upsampled input to its output: it needs "
                             f"{self.output_channels} input channels (output_channels), got "
                             f"{x_BxHxWxC.shape[-1]}")
        nf = self.num_feat

        def lrelu(y: jax.Array) -> jax.Array:
            return nn.leaky_relu(y, 0.1)

        y = lrelu(_conv(x_BxHxWxC, nf, 3, "conv_first", basicsr_init=True))
        for i in range(self.num_block):
            y = ResidualBlockNoBN(name=f"body_{i}")(y)
        stages = (2, 2) if self.scale == 4 else (self.scale,)
        for i, r in enumerate(stages, start=1):
            y = _conv(y, nf * r * r, 3, f"upconv{i}", basicsr_init=True)
            y = lrelu(pixel_shuffle(y, r))
        y = lrelu(_conv(y, nf, 3, "conv_hr", basicsr_init=True))
        y = _conv(y, self.output_channels, 3, "conv_last", basicsr_init=True)
        return y + _upsample_bilinear(x_BxHxWxC, self.scale)


# --- BasicSR: RRDBNet (ESRGAN) ------------------------------------------------------------------


class ResidualDenseBlock(nn.Module):
    """ESRGAN's residual dense block: five 3x3 convolutions, the k-th seeing x and the k - 1
    outputs before it (concatenated), the first four growing num_grow_ch channels each through
    LeakyReLU(0.2), the fifth back to x's width with no activation; returns
    x + 0.2 conv5(...). All five with BasicSR's 0.1-scaled Kaiming initialisation."""

    num_grow_ch: int = 32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        features = [x_BxHxWxC]
        for k in range(1, 5):
            y = _conv(jnp.concatenate(features, axis=-1), self.num_grow_ch, 3, f"conv{k}",
                      basicsr_init=True)
            features.append(nn.leaky_relu(y, 0.2))
        y = _conv(jnp.concatenate(features, axis=-1), x_BxHxWxC.shape[-1], 3, "conv5",
                  basicsr_init=True)
        return x_BxHxWxC + RDB_RESIDUAL_SCALE * y


class RRDB(nn.Module):
    """ESRGAN's residual-in-residual dense block: x + 0.2 rdb3(rdb2(rdb1(x)))."""

    num_grow_ch: int = 32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        y = x_BxHxWxC
        for k in range(1, 4):
            y = ResidualDenseBlock(self.num_grow_ch, name=f"rdb{k}")(y)
        return x_BxHxWxC + RDB_RESIDUAL_SCALE * y


class RRDBNet(nn.Module):
    """BasicSR's `RRDBNet`, ESRGAN's generator: conv_first, `num_block` `RRDB`s, conv_body plus a
    skip from conv_first, two stages of nearest-neighbour x2 upsampling + conv + LeakyReLU(0.2),
    conv_hr + LeakyReLU(0.2), conv_last. The trunk always upsamples x4; as BasicSR, scale 2
    (and 1) first pixel-unshuffles the input by 2 (by 4): 4 (16) times the channels at half (a
    quarter) the size, so H and W must be multiples of 2 (4). conv_first..conv_last keep
    PyTorch's default initialisation; the dense blocks' convolutions take BasicSR's.

    `__call__(x_BxHxWxC, train=False) -> [B, H scale, W scale, output_channels]`; `train` is
    unused (no batch statistics).
    """

    output_channels: int
    scale: int = 4
    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool = False) -> jax.Array:
        del train
        _check_scale("RRDBNet", self.scale, (1, 2, 4))
        nf = self.num_feat

        def lrelu(y: jax.Array) -> jax.Array:
            return nn.leaky_relu(y, 0.2)

        unshuffle = 4 // self.scale
        y = pixel_unshuffle(x_BxHxWxC, unshuffle) if unshuffle > 1 else x_BxHxWxC
        feat = _conv(y, nf, 3, "conv_first")
        y = feat
        for i in range(self.num_block):
            y = RRDB(self.num_grow_ch, name=f"body_{i}")(y)
        y = feat + _conv(y, nf, 3, "conv_body")
        for k in (1, 2):
            y = lrelu(_conv(_upsample_nearest_2x(y), nf, 3, f"conv_up{k}"))
        y = lrelu(_conv(y, nf, 3, "conv_hr"))
        return _conv(y, self.output_channels, 3, "conv_last")


# --- BasicSR: VGGStyleDiscriminator -------------------------------------------------------------


class VGGStyleDiscriminator(nn.Module):
    """BasicSR's `VGGStyleDiscriminator` (ESRGAN's discriminator): conv0_0 (3x3, bias) +
    LeakyReLU(0.2), then per level l a 3x3 stride-1 convolution conv{l}_0 (none at level 0)
    and a 4x4 stride-2 one conv{l}_1, both bias-free and followed by BatchNorm bn{l}_* and
    LeakyReLU(0.2), widths num_feat min(2**l, 8); levels 0-4 for 128 px, 0-5 for 256 px, down
    to 4x4; then linear1 (100) + LeakyReLU(0.2) + linear2 (1), the logit.

    `__call__(x_BxHxWxC, train) -> logits [B]` for input_size x input_size images. linear1
    sees the [4, 4, 8 num_feat] features flattened in NHWC order (BasicSR's are NCHW).
    """

    num_feat: int = 64
    input_size: int = 128

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
        size = self.input_size
        if size not in (128, 256):
            raise ValueError(f"VGGStyleDiscriminator takes input_size 128 or 256, not {size}")
        if x_BxHxWxC.shape[1:3] != (size, size):
            raise ValueError(f"VGGStyleDiscriminator(input_size={size}) takes {size}x{size} "
                             f"images, got {x_BxHxWxC.shape[1]}x{x_BxHxWxC.shape[2]}")

        def lrelu(y: jax.Array) -> jax.Array:
            return nn.leaky_relu(y, 0.2)

        y = lrelu(_conv(x_BxHxWxC, self.num_feat, 3, "conv0_0"))
        for level in range(int(math.log2(size // 4))):
            width = self.num_feat * min(2 ** level, 8)
            if level:
                y = _conv(y, width, 3, f"conv{level}_0", use_bias=False)
                y = lrelu(_batch_norm(y, train, f"bn{level}_0"))
            # PyTorch's Conv2d(width, width, 4, 2, 1, bias=False), default initialisation.
            y = DownConv2x(width, kernel_init=torch_kernel_init, name=f"conv{level}_1")(y)
            y = lrelu(_batch_norm(y, train, f"bn{level}_1"))
        y = y.reshape(y.shape[0], -1)
        y = lrelu(_dense(y, 100, "linear1"))
        return _dense(y, 1, "linear2")[:, 0]
