"""StyleGAN2 (Karras et al. 2020) in Flax: mapping network, 'skip' synthesis network, and the
'resnet' (or 'orig') discriminator, with the conventions of NVlabs/stylegan2-ada-pytorch.

Equalized learning rate: every weight is stored ~N(0, 1) (divided by the learning-rate
multiplier) and scaled by lr_mult / sqrt(fan_in) when used. Channels at resolution r are
min(channel_base // r, channel_max). Non-trainable state lives in the "buffers" collection:
the tracked average w (`mapping/w_avg`, for truncation) and each layer's constant noise image
(`.../noise_const`), so parameter counts are those of the reference's `parameters()`.

Parameter counts, checked by building the reference's own `Generator` / `Discriminator` (its
`training/networks.py` under PyTorch, counting `parameters()`) for the same arguments, and equal
here (tests/test_stylegan.py::test_preset_parameter_counts):
    stylegan2 / config F, 1024 px:  G 30,370,060   D 29,012,513
    paper256 (fmaps 0.5), 256 px:   G 24,767,458   D 24,001,089
    cifar (map 2, D 'orig'), 32 px: G 19,947,539   D 20,720,641 (3 channels, unconditional)
                                    G 20,215,315   D 23,089,664 (conditional, 10 classes)
The often-quoted 29,011,525 for config F's D is the original TensorFlow release's; the PyTorch
reference's D has 988 more. Block outputs also match the reference's with transplanted weights
(checked once with its code; the tests compare against independent numpy computations).

Mixed precision: `num_bf16_res` highest resolutions compute in bfloat16 (the reference's
`num_fp16_res` with float16); parameters stay float32. bfloat16 has float32's range, so the
reference's float16 overflow pre-normalisation of modulated weights is not needed.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models import stylegan2_ops as ops
from jaxgan.models.blocks import MinibatchStdDev


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // res, channel_max)


def num_ws(resolution: int) -> int:
    """w vectors the 'skip' synthesis network consumes: two per block but one at 4x4, plus the
    last block's toRGB (each other toRGB shares the next block's first w)."""
    return 2 * int(np.log2(resolution)) - 2


def _compute_dtype(res: int, resolution: int, num_bf16_res: int):
    """bfloat16 for the `num_bf16_res` highest resolutions (never below 8x8), as the reference."""
    first = max(2 ** (int(np.log2(resolution)) + 1 - num_bf16_res), 8)
    return jnp.bfloat16 if num_bf16_res > 0 and res >= first else jnp.float32


def _randn(scale: float = 1.0):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.normal(key, shape, dtype) * scale
    return init


class Dense(nn.Module):
    """Equalized-lr fully connected layer: weight [in, out] ~ N(0, 1/lr_mult^2), used times
    lr_mult / sqrt(in); bias times lr_mult."""

    features: int
    activation: str = "linear"
    lr_mult: float = 1.0
    bias_init: float = 0.0
    use_bias: bool = True

    @nn.compact
    def __call__(self, x_BxI: jax.Array) -> jax.Array:
        fan_in = x_BxI.shape[-1]
        weight = self.param("weight", _randn(1.0 / self.lr_mult), (fan_in, self.features))
        y = x_BxI @ (weight * (self.lr_mult / np.sqrt(fan_in))).astype(x_BxI.dtype)
        bias = None
        if self.use_bias:
            bias = self.param("bias", nn.initializers.constant(self.bias_init), (self.features,))
            bias = bias * self.lr_mult
        return ops.bias_act(y, bias, self.activation)


class Conv(nn.Module):
    """Equalized-lr convolution (kernel 1 or 3, 'same' padding) with optional 2x down/upsampling
    through the FIR filter, then bias, activation (times `gain`) and clamp."""

    features: int
    kernel_size: int = 3
    activation: str = "lrelu"
    down: int = 1
    up: int = 1
    use_bias: bool = True
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x_BxHxWxI: jax.Array, gain: float = 1.0) -> jax.Array:
        k, cin = self.kernel_size, x_BxHxWxI.shape[-1]
        weight = self.param("weight", _randn(), (k, k, cin, self.features))
        w = (weight * (1.0 / np.sqrt(cin * k * k))).astype(x_BxHxWxI.dtype)
        y = ops.conv2d_resample(x_BxHxWxI, w, ops.fir_taps(), up=self.up, down=self.down)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,)) \
            if self.use_bias else None
        act_gain = (ops.LRELU_GAIN if self.activation == "lrelu" else 1.0) * gain
        clamp = self.conv_clamp * gain if self.conv_clamp else None
        return ops.bias_act(y, bias, self.activation, act_gain, clamp)


class MappingNetwork(nn.Module):
    """z (and/or a class label) -> w. z and the label embedding are each normalised to unit
    second moment and concatenated, then `num_layers` lrelu layers with lr multiplier 0.01.
    With `track_w_avg`, "buffers"/w_avg is the running mean of w (beta 0.995)."""

    w_dim: int
    num_classes: int = 0
    num_layers: int = 8
    layer_features: int | None = None
    lr_mult: float = 0.01
    w_avg_beta: float | None = 0.995

    @nn.compact
    def __call__(self, z_BxZ: jax.Array | None, labels_B: jax.Array | None = None,
                 update_w_avg: bool = False) -> jax.Array:
        parts = []
        if z_BxZ is not None:
            parts.append(ops.normalize_2nd_moment(z_BxZ.astype(jnp.float32)))
        if self.num_classes > 0:
            if labels_B is None:
                raise ValueError("a conditional mapping network needs labels")
            onehot = jax.nn.one_hot(labels_B, self.num_classes, dtype=jnp.float32)
            parts.append(ops.normalize_2nd_moment(Dense(self.w_dim, name="embed")(onehot)))
        x = jnp.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        hidden = self.layer_features or self.w_dim
        for i in range(self.num_layers):
            features = self.w_dim if i == self.num_layers - 1 else hidden
            x = Dense(features, "lrelu", lr_mult=self.lr_mult, name=f"fc{i}")(x)
        if self.w_avg_beta is not None:
            w_avg = self.variable("buffers", "w_avg", jnp.zeros, (self.w_dim,), jnp.float32)
            if update_w_avg:
                mean = jnp.mean(jax.lax.stop_gradient(x), axis=0)
                w_avg.value = mean + self.w_avg_beta * (w_avg.value - mean)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally 2x upsampling), noise, bias, lrelu."""

    features: int
    resolution: int
    up: int = 1
    conv_clamp: float | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxHxWxI: jax.Array, w_BxW: jax.Array, noise_mode: str = "random",
                 random_noise: jax.Array | None = None, gain: float = 1.0) -> jax.Array:
        """`random_noise` [B, R, R, 1] ~ N(0, 1) for noise_mode 'random' (drawn here if None)."""
        cin, res = x_BxHxWxI.shape[-1], self.resolution
        styles = Dense(cin, bias_init=1.0, name="affine")(w_BxW)
        weight = self.param("weight", _randn(), (3, 3, cin, self.features))
        noise_const = self.variable(
            "buffers", "noise_const",
            lambda: jax.random.normal(self.make_rng("params"), (res, res), jnp.float32))
        strength = self.param("noise_strength", nn.initializers.zeros_init(), ())
        noise = None
        if noise_mode == "random":
            if random_noise is None:
                random_noise = jax.random.normal(self.make_rng("noise"),
                                                 (x_BxHxWxI.shape[0], res, res, 1))
            noise = random_noise * strength
        elif noise_mode == "const":
            noise = (noise_const.value * strength)[None, :, :, None]
        elif noise_mode != "none":
            raise ValueError(f"noise_mode must be random, const or none, not {noise_mode!r}")
        x = ops.modulated_conv2d(x_BxHxWxI.astype(self.dtype), weight, styles, ops.fir_taps(),
                                 up=self.up, noise=noise)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        clamp = self.conv_clamp * gain if self.conv_clamp else None
        return ops.bias_act(x, bias, "lrelu", ops.LRELU_GAIN * gain, clamp)


class ToRGB(nn.Module):
    """Modulated 1x1 convolution without demodulation, plus bias: features -> image channels."""

    channels: int
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x_BxHxWxI: jax.Array, w_BxW: jax.Array) -> jax.Array:
        cin = x_BxHxWxI.shape[-1]
        styles = Dense(cin, bias_init=1.0, name="affine")(w_BxW) * (1.0 / np.sqrt(cin))
        weight = self.param("weight", _randn(), (1, 1, cin, self.channels))
        y = ops.modulated_conv2d(x_BxHxWxI, weight, styles, ops.fir_taps(), demodulate=False)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.channels,))
        return ops.bias_act(y, bias, "linear", clamp=self.conv_clamp)


class SynthesisNetwork(nn.Module):
    """ws [B, num_ws, w_dim] -> image [B, R, R, C]: a learned 4x4 constant, then per resolution
    (up)conv, conv and a toRGB whose output is added to the 2x-upsampled image so far ('skip')."""

    resolution: int
    channels: int
    channel_base: int = 32768
    channel_max: int = 512
    num_bf16_res: int = 0
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, ws_BxNxW: jax.Array, noise_mode: str = "random") -> jax.Array:
        log2 = int(np.log2(self.resolution))
        if self.resolution < 4 or 2 ** log2 != self.resolution:
            raise ValueError(f"resolution must be a power of two >= 4, not {self.resolution}")
        if ws_BxNxW.shape[1] != num_ws(self.resolution):
            raise ValueError(f"expected {num_ws(self.resolution)} ws, got {ws_BxNxW.shape[1]}")
        f = ops.fir_taps()
        resolutions = [2 ** i for i in range(2, log2 + 1)]
        batch = ws_BxNxW.shape[0]
        noise = self._random_noise(batch, resolutions) if noise_mode == "random" else {}
        x = img = None
        w_idx = 0
        for res in resolutions:
            ch = channels_at(res, self.channel_base, self.channel_max)
            dtype = _compute_dtype(res, self.resolution, self.num_bf16_res)
            layer = {"conv_clamp": self.conv_clamp, "dtype": dtype}
            if res == 4:
                const = self.param("b4_const", _randn(), (4, 4, ch))
                x = jnp.broadcast_to(const.astype(dtype), (batch, 4, 4, ch))
                x = SynthesisLayer(ch, res, name="b4_conv1", **layer)(
                    x, ws_BxNxW[:, w_idx], noise_mode, noise.get((res, 1)))
                w_idx += 1
            else:
                x = SynthesisLayer(ch, res, up=2, name=f"b{res}_conv0", **layer)(
                    x, ws_BxNxW[:, w_idx], noise_mode, noise.get((res, 0)))
                x = SynthesisLayer(ch, res, name=f"b{res}_conv1", **layer)(
                    x, ws_BxNxW[:, w_idx + 1], noise_mode, noise.get((res, 1)))
                w_idx += 2
                img = ops.upsample2d(img, f)
            y = ToRGB(self.channels, self.conv_clamp, name=f"b{res}_torgb")(x, ws_BxNxW[:, w_idx])
            y = y.astype(jnp.float32)
            img = y if img is None else img + y
        return img

    def _random_noise(self, batch: int, resolutions: list[int]) -> dict:
        """Every layer's noise image from one draw: {(res, conv index): [B, res, res, 1]}.
        (One random-number call per forward pass instead of one per layer compiles much faster
        on XLA:CPU.)"""
        layers = [(r, i) for r in resolutions for i in ((1,) if r == 4 else (0, 1))]
        sizes = [r * r for r, _ in layers]
        flat = jax.random.normal(self.make_rng("noise"), (batch, sum(sizes)))
        chunks = jnp.split(flat, np.cumsum(sizes)[:-1], axis=1)
        return {key: c.reshape(batch, key[0], key[0], 1) for key, c in zip(layers, chunks)}


class Generator(nn.Module):
    """z [B, Z] (+ labels [B]) -> images [B, R, R, C] (unbounded; ~[-1, 1] once trained)."""

    resolution: int
    channels: int
    z_dim: int = 512
    w_dim: int = 512
    num_classes: int = 0
    mapping_layers: int = 8
    mapping_lr_mult: float = 0.01
    w_avg_beta: float = 0.995
    channel_base: int = 32768
    channel_max: int = 512
    num_bf16_res: int = 0
    conv_clamp: float | None = None

    @property
    def num_ws(self) -> int:
        return num_ws(self.resolution)

    def setup(self):
        self.mapping = MappingNetwork(self.w_dim, self.num_classes, self.mapping_layers,
                                      lr_mult=self.mapping_lr_mult, w_avg_beta=self.w_avg_beta)
        self.synthesis = SynthesisNetwork(self.resolution, self.channels, self.channel_base,
                                          self.channel_max, self.num_bf16_res, self.conv_clamp)

    def map(self, z_BxZ: jax.Array, labels_B: jax.Array | None = None,
            truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
            update_w_avg: bool = False) -> jax.Array:
        """z -> ws [B, num_ws, w_dim], truncated towards w_avg by psi in the first `cutoff` ws."""
        w = self.mapping(z_BxZ, labels_B, update_w_avg=update_w_avg)
        ws = jnp.broadcast_to(w[:, None], (w.shape[0], self.num_ws, self.w_dim))
        if truncation_psi != 1.0:
            w_avg = self.mapping.variables["buffers"]["w_avg"]
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            layer = jnp.arange(self.num_ws)[None, :, None]
            truncated = w_avg + truncation_psi * (ws - w_avg)
            ws = jnp.where(layer < cutoff, truncated, ws)
        return ws

    def synthesize(self, ws_BxNxW: jax.Array, noise_mode: str = "random") -> jax.Array:
        return self.synthesis(ws_BxNxW, noise_mode)

    def __call__(self, z_BxZ: jax.Array, labels_B: jax.Array | None = None,
                 truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                 noise_mode: str = "random") -> jax.Array:
        ws = self.map(z_BxZ, labels_B, truncation_psi, truncation_cutoff)
        return self.synthesize(ws, noise_mode)


class DiscriminatorBlock(nn.Module):
    """fromRGB (first block only), conv, downsampling conv, and for 'resnet' a 1x1
    downsampling skip, the two branches summed with gain sqrt(1/2)."""

    tmp_channels: int
    out_channels: int
    first: bool
    architecture: str = "resnet"
    conv_clamp: float | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array | None, img: jax.Array) -> jax.Array:
        if self.first:
            x = Conv(self.tmp_channels, 1, conv_clamp=self.conv_clamp, name="fromrgb")(
                img.astype(self.dtype))
        x = x.astype(self.dtype)
        if self.architecture == "resnet":
            half = float(np.sqrt(0.5))
            y = Conv(self.out_channels, 1, "linear", down=2, use_bias=False, name="skip")(
                x, gain=half)
            x = Conv(self.tmp_channels, conv_clamp=self.conv_clamp, name="conv0")(x)
            x = Conv(self.out_channels, down=2, conv_clamp=self.conv_clamp, name="conv1")(
                x, gain=half)
            return y + x
        x = Conv(self.tmp_channels, conv_clamp=self.conv_clamp, name="conv0")(x)
        return Conv(self.out_channels, down=2, conv_clamp=self.conv_clamp, name="conv1")(x)


class Discriminator(nn.Module):
    """images [B, R, R, C] (+ labels [B]) -> logits [B]. Blocks halve the resolution down to
    4x4; the epilogue appends the minibatch stddev, then conv, fc and the output layer. When
    conditional, the output is projected on a mapping of the label (cmap), scaled by
    1/sqrt(cmap_dim)."""

    resolution: int
    channels: int
    num_classes: int = 0
    architecture: str = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    num_bf16_res: int = 0
    conv_clamp: float | None = None
    mbstd_group_size: int = 4
    mbstd_num_channels: int = 1
    mapping_layers: int = 8  # the label mapping (conditional only)

    @nn.compact
    def __call__(self, img_BxHxWxC: jax.Array, labels_B: jax.Array | None = None) -> jax.Array:
        if self.architecture not in ("resnet", "orig"):
            raise ValueError(f"architecture must be resnet or orig, not {self.architecture!r}")
        log2 = int(np.log2(self.resolution))
        ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
        x = None
        img = img_BxHxWxC.astype(jnp.float32)
        for res in (2 ** i for i in range(log2, 2, -1)):
            dtype = _compute_dtype(res, self.resolution, self.num_bf16_res)
            x = DiscriminatorBlock(ch(res), ch(res // 2), first=res == self.resolution,
                                   architecture=self.architecture, conv_clamp=self.conv_clamp,
                                   dtype=dtype, name=f"b{res}")(x, img)
        cmap_dim = ch(4) if self.num_classes > 0 else 0
        # Epilogue, float32.
        c4 = ch(4)
        x = x.astype(jnp.float32)
        if self.mbstd_num_channels > 0:
            x = MinibatchStdDev(self.mbstd_group_size, self.mbstd_num_channels)(x)
        x = Conv(c4, conv_clamp=self.conv_clamp, name="b4_conv")(x)
        # Flatten in (C, H, W) order, the reference's, so its fc weights would load unchanged.
        x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
        x = Dense(c4, "lrelu", name="b4_fc")(x)
        x = Dense(cmap_dim or 1, name="b4_out")(x)
        if cmap_dim:
            cmap = MappingNetwork(cmap_dim, self.num_classes, self.mapping_layers,
                                  w_avg_beta=None, name="mapping")(None, labels_B)
            x = jnp.sum(x * cmap, axis=1, keepdims=True) * (1.0 / np.sqrt(cmap_dim))
        return x[:, 0]
