"""StyleGAN2's array operations as plain XLA: FIR resampling, the convolutions it needs, modulated
convolution with demodulation, and bias + activation with gain and clamp.

Layout is NHWC with kernels [kh, kw, in, out]. Conventions (padding, filter gain, which samples a
resampling keeps) are those of NVlabs/stylegan2-ada-pytorch's `upfirdn2d` / `conv2d_resample`, so
a block computes the same function as the reference block with the same weights.

Convolution gradients. XLA:CPU computes a convolution's kernel gradient as a convolution whose
"kernel" is the whole output gradient, which ran at a few GFLOP/s here (BUILD_NOTES); every
convolution below computes its kernel gradient instead as one matrix product per kernel tap over
batch and positions. The two stride-2 convolutions (the generator's upsampling one, the
discriminator's downsampling one) are each other's input gradient, so neither needs XLA's
dilated convolutions.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

_NHWC = ("NHWC", "HWIO", "NHWC")
LRELU_SLOPE = 0.2
LRELU_GAIN = float(np.sqrt(2.0))


# --- FIR filtering -----------------------------------------------------------------------------


def fir_taps(taps=(1, 3, 3, 1)) -> np.ndarray:
    """The separable 1-D filter, normalised to unit sum (the reference's `setup_filter`)."""
    f = np.asarray(taps, np.float64)
    return (f / f.sum()).astype(np.float32)


def _upfirdn_1d(x: jax.Array, f: np.ndarray, axis: int, up: int, down: int, pad0: int,
                pad1: int, gain: float) -> jax.Array:
    """Along one axis: insert up-1 zeros after each sample, pad (negative = crop), convolve
    with f (times gain), keep every down-th sample. Written as shifted slices (4 per tap set)."""
    config = [(0, 0, 0)] * x.ndim
    config[axis] = (pad0, pad1 + up - 1, up - 1)  # interior padding is the zero insertion
    x = jax.lax.pad(x, jnp.zeros((), x.dtype), config)
    n = (x.shape[axis] - len(f)) // down + 1
    taps = f[::-1] * gain  # a convolution: correlate with the flipped filter
    out = None
    for k, tap in enumerate(taps):
        term = jax.lax.slice_in_dim(x, k, k + (n - 1) * down + 1, stride=down, axis=axis)
        term = term * jnp.asarray(tap, x.dtype)
        out = term if out is None else out + term
    return out


@functools.cache
def _fir_matrix(n: int, taps: tuple[float, ...], up: int, down: int, pad0: int, pad1: int,
                gain: float) -> np.ndarray:
    """The same 1-D resampling as a matrix [n_out, n], built in numpy (no device work)."""
    u = np.zeros((n * up, n))
    u[np.arange(n) * up, np.arange(n)] = 1.0  # zero insertion of the identity
    u = np.pad(u, ((max(pad0, 0), max(pad1, 0)), (0, 0)))
    u = u[max(-pad0, 0):u.shape[0] - max(-pad1, 0)]
    k = len(taps)
    n_out = (u.shape[0] - k) // down + 1
    flipped = np.asarray(taps)[::-1] * gain
    rows = [flipped @ u[o * down:o * down + k] for o in range(n_out)]
    return np.stack(rows).astype(np.float32)


# Up to this many samples along an axis, resampling is a small matrix product per axis: fewer
# HLO ops than the shifted slices (compile time) and a negligible cost at these sizes.
MATRIX_FIR_MAX = 64


def upfirdn2d(x_BxHxWxC: jax.Array, f: np.ndarray, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> jax.Array:
    """The reference's `upfirdn2d` with a separable filter; padding = (x0, x1, y0, y1)."""
    px0, px1, py0, py1 = padding
    g = float(np.sqrt(gain))
    _, h, w, _ = x_BxHxWxC.shape
    if max(h, w) * up <= MATRIX_FIR_MAX:
        taps = tuple(float(t) for t in f)
        mh = jnp.asarray(_fir_matrix(h, taps, up, down, py0, py1, g), x_BxHxWxC.dtype)
        mw = jnp.asarray(_fir_matrix(w, taps, up, down, px0, px1, g), x_BxHxWxC.dtype)
        return jnp.einsum("oh,bhwc,pw->bopc", mh, x_BxHxWxC, mw)
    x = _upfirdn_1d(x_BxHxWxC, f, 1, up, down, py0, py1, g)
    return _upfirdn_1d(x, f, 2, up, down, px0, px1, g)


def upsample2d(x_BxHxWxC: jax.Array, f: np.ndarray) -> jax.Array:
    """2x upsampling with the FIR filter (gain 4 keeps the mean): [B, 2H, 2W, C]."""
    k = len(f)
    p0, p1 = (k + 1) // 2, (k - 2) // 2
    return upfirdn2d(x_BxHxWxC, f, up=2, padding=(p0, p1, p0, p1), gain=4.0)


def downsample2d(x_BxHxWxC: jax.Array, f: np.ndarray) -> jax.Array:
    """2x downsampling after the FIR filter: [B, H/2, W/2, C]."""
    k = len(f)
    p0, p1 = (k - 1) // 2, (k - 2) // 2
    return upfirdn2d(x_BxHxWxC, f, down=2, padding=(p0, p1, p0, p1))


# --- convolutions with matrix-product kernel gradients ----------------------------------------


def _contract(a_BxHxWxM: jax.Array, b_BxHxWxN: jax.Array) -> jax.Array:
    """[M, N] = sum over batch and positions of a^T b."""
    return jax.lax.dot_general(a_BxHxWxM, b_BxHxWxN, (((0, 1, 2), (0, 1, 2)), ((), ())))


def _window(x: jax.Array, i: int, j: int, h: int, w: int, stride: int) -> jax.Array:
    """x[:, i + stride*p, j + stride*q] for p < h, q < w."""
    return x[:, i:i + (h - 1) * stride + 1:stride, j:j + (w - 1) * stride + 1:stride]


def _tap_products(x, dy, kh: int, kw: int, stride: int, x_is_window: bool) -> jax.Array:
    """Kernel gradient [kh, kw, I, O] of out[p] += window(x)[p] @ w[t] (x_is_window) or of
    out[window p] += x[p] @ w[t] (the transposed case; then dy is windowed)."""
    if x_is_window:
        h, w = dy.shape[1:3]
        rows = [_contract(_window(x, i, j, h, w, stride), dy) for i in range(kh) for j in range(kw)]
    else:
        h, w = x.shape[1:3]
        rows = [_contract(x, _window(dy, i, j, h, w, stride)) for i in range(kh) for j in range(kw)]
    return jnp.stack(rows).reshape(kh, kw, *rows[0].shape)


def _xla_conv(x, w, stride: int = 1):
    return jax.lax.conv_general_dilated(x, w, (stride, stride), "VALID", dimension_numbers=_NHWC)


@jax.custom_vjp
def conv2d(x_BxHxWxI: jax.Array, w_KxKxIxO: jax.Array) -> jax.Array:
    """Stride-1 'VALID' convolution (correlation, like torch's conv2d); pad the input first."""
    return _xla_conv(x_BxHxWxI, w_KxKxIxO)


def _conv2d_fwd(x, w):
    return conv2d(x, w), (x, w)


def _conv2d_bwd(res, dy):
    x, w = res
    # The input gradient is the full correlation of dy with the flipped, transposed kernel:
    # written with conv2d itself, so that differentiating it again (R1 and path length take
    # gradients of gradients) also gets matrix-product kernel gradients. Through XLA's own
    # input-gradient convolution, D_reg of cifar32 ran at ~5 GFLOP/s (BUILD_NOTES).
    kh, kw = w.shape[:2]
    dy_full = jnp.pad(dy, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    dx = conv2d(dy_full, _swap_io(w)[::-1, ::-1])
    dw = _tap_products(x, dy, kh, kw, 1, x_is_window=True)
    return dx.astype(x.dtype), dw.astype(w.dtype)


conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def _swap_io(w):
    return jnp.swapaxes(w, 2, 3)


def _down_conv_forward(x, w):
    return _xla_conv(x, w, stride=2)


def _up_conv_forward(x, w):
    """out[2p + t] += x[p] @ w[t] (3x3 kernel): [B, H, W, I] -> [B, 2H + 1, 2W + 1, O].

    Computed as four stride-1 convolutions, one per output parity, each with only its own taps
    (9 taps in all, as the transposed convolution), then interleaved."""
    if w.shape[:2] != (3, 3):
        raise ValueError(f"up_conv needs a 3x3 kernel, not {w.shape[:2]}")
    b, h, wd, _ = x.shape
    even, odd = slice(2, None, -2), slice(1, 2)  # even outputs: taps 2, 0 over (p - 1, p)
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    x_rows = jnp.pad(x, ((0, 0), (1, 1), (0, 0), (0, 0)))
    x_cols = jnp.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    ee = _xla_conv(xp, w[even, even])  # [h + 1, w + 1]
    eo = _xla_conv(x_rows, w[even, odd])  # [h + 1, w]
    oe = _xla_conv(x_cols, w[odd, even])  # [h, w + 1]
    oo = _xla_conv(x, w[odd, odd])  # [h, w]
    eo = jnp.pad(eo, ((0, 0), (0, 0), (0, 1), (0, 0)))
    oe = jnp.pad(oe, ((0, 0), (0, 1), (0, 0), (0, 0)))
    oo = jnp.pad(oo, ((0, 0), (0, 1), (0, 1), (0, 0)))
    top = jnp.stack([ee, eo], axis=3)  # [b, h + 1, w + 1, 2, o]
    bottom = jnp.stack([oe, oo], axis=3)
    out = jnp.stack([top, bottom], axis=2).reshape(b, 2 * h + 2, 2 * wd + 2, -1)
    return out[:, :2 * h + 1, :2 * wd + 1]


@jax.custom_vjp
def down_conv(x_Bx2H1x2W1xI: jax.Array, w_3x3xIxO: jax.Array) -> jax.Array:
    """out[p] = sum_t x[2p + t] @ w[t]: a 'VALID' stride-2 convolution, [2H + 1] -> [H]."""
    return _down_conv_forward(x_Bx2H1x2W1xI, w_3x3xIxO)


@jax.custom_vjp
def up_conv(x_BxHxWxI: jax.Array, w_3x3xIxO: jax.Array) -> jax.Array:
    """The transposed stride-2 convolution, [H] -> [2H + 1]: the adjoint of `down_conv` in x."""
    return _up_conv_forward(x_BxHxWxI, w_3x3xIxO)


def _down_conv_fwd(x, w):
    if x.shape[1] % 2 == 0 or x.shape[2] % 2 == 0:
        raise ValueError(f"down_conv needs odd height and width, not {x.shape[1:3]}")
    return _down_conv_forward(x, w), (x, w)


def _down_conv_bwd(res, dy):
    x, w = res
    dx = up_conv(dy, _swap_io(w))
    dw = _tap_products(x, dy, 3, 3, 2, x_is_window=True)
    return dx.astype(x.dtype), dw.astype(w.dtype)


def _up_conv_fwd(x, w):
    return _up_conv_forward(x, w), (x, w)


def _up_conv_bwd(res, dy):
    x, w = res
    dx = down_conv(dy, _swap_io(w))
    dw = _tap_products(x, dy, 3, 3, 2, x_is_window=False)
    return dx.astype(x.dtype), dw.astype(w.dtype)


down_conv.defvjp(_down_conv_fwd, _down_conv_bwd)
up_conv.defvjp(_up_conv_fwd, _up_conv_bwd)


def conv2d_resample(x_BxHxWxI: jax.Array, w_KxKxIxO: jax.Array, f: np.ndarray, up: int = 1,
                    down: int = 1) -> jax.Array:
    """The reference's `conv2d_resample` with 'same' padding (kernel 1 or 3): a convolution,
    optionally 2x upsampled (transposed convolution, then the FIR filter) or 2x downsampled
    (FIR filter, then a strided convolution)."""
    k = w_KxKxIxO.shape[0]
    taps = len(f)
    if up > 1 and down > 1:
        raise ValueError("conv2d_resample: up and down together are not supported")
    if k == 1:
        if down > 1:
            x_BxHxWxI = downsample2d(x_BxHxWxI, f)
        y = jnp.einsum("bhwi,io->bhwo", x_BxHxWxI, w_KxKxIxO[0, 0])
        return upsample2d(y, f) if up > 1 else y
    if k != 3:
        raise ValueError(f"conv2d_resample supports kernels 1 and 3, not {k}")
    if up > 1:
        y = up_conv(x_BxHxWxI, w_KxKxIxO)  # [2H + 1]
        # Padding of the filtered output (the reference's, less the transposed conv's k - 1, k - 2).
        p0, p1 = 1 + (taps + 1) // 2 - 2, 1 + (taps - 2) // 2 - 1
        return upfirdn2d(y, f, padding=(p0, p1, p0, p1), gain=4.0)
    if down > 1:
        p0, p1 = 1 + (taps - 1) // 2, 1 + (taps - 2) // 2
        y = upfirdn2d(x_BxHxWxI, f, padding=(p0, p1, p0, p1))  # [H + 1]
        return down_conv(y, w_KxKxIxO)
    xp = jnp.pad(x_BxHxWxI, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return conv2d(xp, w_KxKxIxO)


# --- modulated convolution and activation ---------------------------------------------------


def modulated_conv2d(x_BxHxWxI: jax.Array, w_KxKxIxO: jax.Array, styles_BxI: jax.Array,
                     f: np.ndarray, up: int = 1, demodulate: bool = True,
                     noise: jax.Array | None = None) -> jax.Array:
    """StyleGAN2's modulated convolution: the kernel scaled per sample by `styles` over its input
    channels and, with `demodulate`, each output channel renormalised to unit norm.

    Computed by scaling the activations instead of the weights: x * s, one ordinary convolution
    with the shared kernel, then times the demodulation coefficients. That is the same function
    (the reference's `fused_modconv=False` path, which it trains with); on XLA:CPU an ordinary
    convolution over the whole batch ran much faster than the grouped convolution with B
    per-sample kernels (BUILD_NOTES / module test), and it avoids a [B, K, K, I, O] kernel.
    """
    dtype = x_BxHxWxI.dtype
    x = x_BxHxWxI * styles_BxI.astype(dtype)[:, None, None, :]
    y = conv2d_resample(x, w_KxKxIxO.astype(dtype), f, up=up)
    if demodulate:
        w32 = w_KxKxIxO.astype(jnp.float32)
        s32 = styles_BxI.astype(jnp.float32)
        dcoefs = jax.lax.rsqrt(jnp.square(s32) @ jnp.sum(jnp.square(w32), axis=(0, 1)) + 1e-8)
        y = y * dcoefs.astype(dtype)[:, None, None, :]
    if noise is not None:
        y = y + noise.astype(dtype)
    return y


def bias_act(x: jax.Array, bias: jax.Array | None, act: str = "linear", gain: float | None = None,
             clamp: float | None = None, channel_axis: int = -1) -> jax.Array:
    """x + bias, then the activation times its gain (sqrt 2 for lrelu by default), then clamped
    to [-clamp, clamp]."""
    if bias is not None:
        shape = [1] * x.ndim
        shape[channel_axis] = -1
        x = x + bias.astype(x.dtype).reshape(shape)
    if act == "lrelu":
        x = jax.nn.leaky_relu(x, LRELU_SLOPE)
        default_gain = LRELU_GAIN
    elif act == "linear":
        default_gain = 1.0
    else:
        raise ValueError(f"unknown activation {act!r}")
    gain = default_gain if gain is None else gain
    if gain != 1.0:
        x = x * jnp.asarray(gain, x.dtype)
    if clamp is not None:
        x = jnp.clip(x, -clamp, clamp)
    return x


def normalize_2nd_moment(x_BxF: jax.Array, eps: float = 1e-8) -> jax.Array:
    return x_BxF * jax.lax.rsqrt(jnp.mean(jnp.square(x_BxF), axis=1, keepdims=True) + eps)


__all__ = [
    "bias_act", "conv2d", "conv2d_resample", "down_conv", "downsample2d", "fir_taps",
    "modulated_conv2d", "normalize_2nd_moment", "up_conv", "upfirdn2d", "upsample2d",
]
