"""Layers shared by the generators and discriminators.

The two stride-2 convolutions of DCGAN are written out here rather than taken from `nn.Conv` /
`nn.ConvTranspose` because XLA:CPU is slow on their stock lowering, mostly on the kernel
gradient: it becomes a convolution whose "kernel" is the whole output gradient, which ran at
2-15 GFLOP/s here. Both layers compute their kernel gradient as matrix products over the batch
and spatial positions (custom VJPs) and their input gradient as a stride-1 2x2 convolution. Same
parameters, outputs and gradients as the stock layers (tested); measurements in BUILD_NOTES.md.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.normalization import spectral_normalize

# DCGAN's initialisation (Radford et al.): weights ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02).
dcgan_kernel_init = nn.initializers.normal(0.02)

_NHWC = ("NHWC", "HWIO", "NHWC")

# XLA:CPU hands convolutions to YNNPACK by default; its kernels ran these layers' convolutions
# 20-40% slower than XLA's Eigen ones, and the whole DCGAN-64 train step ~15-20% slower (BUILD_NOTES).
# Matrix products and reductions stay with YNNPACK (faster there, and multi-threaded).
CPU_COMPILER_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type":
        "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE",
}


def compiler_options(backend: str) -> dict[str, str]:
    """`jax.jit(..., compiler_options=...)` for a step that runs these layers on `backend`."""
    return dict(CPU_COMPILER_OPTIONS) if backend == "cpu" else {}


def dcgan_scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def _pad1(x_BxHxWxC: jax.Array) -> jax.Array:
    return jnp.pad(x_BxHxWxC, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _conv2x2(x: jax.Array, w_2x2xIxO: jax.Array) -> jax.Array:
    return jax.lax.conv_general_dilated(x, w_2x2xIxO, (1, 1), "VALID", dimension_numbers=_NHWC)


def _contract_positions(a_BxHxWxM: jax.Array, b_BxHxWxN: jax.Array) -> jax.Array:
    """[M, N] = sum over batch and positions of a^T b: one matrix product, the kernel gradient."""
    return jax.lax.dot_general(a_BxHxWxM, b_BxHxWxN, (((0, 1, 2), (0, 1, 2)), ((), ())))


# --- stride-2 transposed convolution (kernel 4, padding 1) -------------------------------------


def _phase_kernel(kernel_4x4xIxO: jax.Array, a: int, c: int) -> jax.Array:
    """[2, 2, I, O]: output phase (a, c) uses kernel rows (3 - a, 1 - a) and cols (3 - c, 1 - c).
    Static strided slices (not a gather), so nothing scatters in the backward pass."""
    return kernel_4x4xIxO[3 - a::-2][:, 3 - c::-2]


def _upconv_forward(x_BxHxWxI: jax.Array, kernel_4x4xIxO: jax.Array) -> jax.Array:
    b, h, w, _ = x_BxHxWxI.shape
    f = kernel_4x4xIxO.shape[-1]
    x_pad = _pad1(x_BxHxWxI)
    if f >= 32:
        # Four exact 2x2 convolutions, one per output phase: no border work (a 4x4 input grows
        # to 5x5 in the single-convolution form, 56% more multiply-adds). For few output
        # channels (the image layer) the single wide convolution below is several times faster.
        phases = [
            _conv2x2(x_pad[:, a:a + h + 1, c:c + w + 1], _phase_kernel(kernel_4x4xIxO, a, c))
            for a in (0, 1) for c in (0, 1)
        ]  # phase (a, c) of output pixel (2m + a, 2n + c) at (m, n)
    else:
        k4 = jnp.concatenate(
            [_phase_kernel(kernel_4x4xIxO, a, c) for a in (0, 1) for c in (0, 1)], axis=-1
        )
        y = _conv2x2(x_pad, k4).reshape(b, h + 1, w + 1, 4, f)
        # One 2x2 convolution with 4 * f outputs over all (h + 1) x (w + 1) positions: phase
        # (a, c) of output pixel (2m + a, 2n + c) sits at (m + a, n + c).
        phases = [y[:, :h, :w, 0], y[:, :h, 1:, 1], y[:, 1:, :w, 2], y[:, 1:, 1:, 3]]
    top = jnp.stack(phases[:2], axis=3)  # [b, h, w, 2 (c), f]
    bottom = jnp.stack(phases[2:], axis=3)
    return jnp.stack([top, bottom], axis=2).reshape(b, 2 * h, 2 * w, f)


@jax.custom_vjp
def upconv2x(x_BxHxWxI: jax.Array, kernel_4x4xIxO: jax.Array) -> jax.Array:
    """PyTorch's `ConvTranspose2d(I, O, 4, stride=2, padding=1)` with its kernel laid out
    [4, 4, I, O]: out[2i - 1 + ki, 2j - 1 + kj] += x[i, j] @ kernel[ki, kj]."""
    return _upconv_forward(x_BxHxWxI, kernel_4x4xIxO)


def _upconv_fwd(x, kernel):
    return _upconv_forward(x, kernel), (x, kernel)


def _upconv_bwd(residuals, dy_Bx2Hx2WxO):
    x, kernel = residuals
    _, h, w, cin = x.shape
    # The input gradient is linear in dy: XLA's own transpose of the 2x2 convolution.
    _, pullback = jax.vjp(lambda x: _upconv_forward(x, kernel), x)
    (dx,) = pullback(dy_Bx2Hx2WxO)
    # dkernel[ki, kj] = sum over batch and positions of x[i, j]^T dy[2i - 1 + ki, 2j - 1 + kj]:
    # one product per tap with a stride-2 slice of the padded output gradient (measured faster
    # than one product over the 16 slices concatenated, which costs a large copy).
    dy_pad = _pad1(dy_Bx2Hx2WxO)
    dk = jnp.stack([_contract_positions(x, dy_pad[:, ki:ki + 2 * h:2, kj:kj + 2 * w:2])
                    for ki in range(4) for kj in range(4)]).reshape(4, 4, cin, -1)
    return dx, dk.astype(kernel.dtype)


upconv2x.defvjp(_upconv_fwd, _upconv_bwd)


class UpConv2x(nn.Module):
    """A stride-2 transposed convolution (kernel 4, padding 1: PyTorch's
    `ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)`), doubling height and width.

    Forward: each of the four output phases (pixel parity) is a 2x2 stride-1 convolution of the
    input padded by one pixel, and the phases are interleaved (depth-to-space): the
    multiply-adds of the transposed convolution and none of the zero-stuffing work that
    `nn.ConvTranspose` lowers to. Kernel gradient: matrix products (see the module doc).
    The parameter is the transposed-convolution kernel itself, [4, 4, cin, cout] in PyTorch's
    orientation, so counts and checkpoints match the reference.
    """

    features: int
    kernel_init: nn.initializers.Initializer = dcgan_kernel_init
    spectral_norm: bool = False  # kernel / sigma, state in the "spectral" collection

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, update_stats: bool = False) -> jax.Array:
        cin = x_BxHxWxC.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (4, 4, cin, self.features))
        if self.spectral_norm:
            # Sigma of the [16 cin, cout] matrix, as for any convolution kernel.
            kernel = spectral_normalize(self, kernel, update_stats)
        return upconv2x(x_BxHxWxC, kernel.astype(x_BxHxWxC.dtype))


# --- stride-2 convolution (kernel 4, padding 1) ------------------------------------------------


def _space_to_depth(x_Bx2Hx2WxC: jax.Array) -> jax.Array:
    """[B, H, W, 4C] with channels in (di, dj, C) order."""
    b, h2, w2, c = x_Bx2Hx2WxC.shape
    x = x_Bx2Hx2WxC.reshape(b, h2 // 2, 2, w2 // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h2 // 2, w2 // 2, 4 * c)


def _downconv_forward(x_Bx2Hx2WxI: jax.Array, kernel_4x4xIxO: jax.Array) -> jax.Array:
    return jax.lax.conv_general_dilated(
        x_Bx2Hx2WxI, kernel_4x4xIxO, (2, 2), ((1, 1), (1, 1)), dimension_numbers=_NHWC
    )


def _downconv_as_2x2(x_Bx2Hx2WxI: jax.Array, kernel_4x4xIxO: jax.Array) -> jax.Array:
    """The same function as a 2x2 stride-1 convolution over the space-to-depth input: tap
    (2p + di, 2q + dj) of the 4x4 stride-2 window is tap (p, q), channel (di, dj, cin)."""
    cin, cout = kernel_4x4xIxO.shape[2:]
    k = kernel_4x4xIxO.reshape(2, 2, 2, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5)
    return _conv2x2(_space_to_depth(_pad1(x_Bx2Hx2WxI)), k.reshape(2, 2, 4 * cin, cout))


@jax.custom_vjp
def downconv2x(x_Bx2Hx2WxI: jax.Array, kernel_4x4xIxO: jax.Array) -> jax.Array:
    """`nn.Conv(O, (4, 4), strides=2, padding=1)` (PyTorch's `Conv2d(I, O, 4, 2, 1)`), halving
    height and width (which must be even)."""
    return _downconv_forward(x_Bx2Hx2WxI, kernel_4x4xIxO)


def _downconv_fwd(x, kernel):
    return _downconv_forward(x, kernel), (x, kernel)


def _downconv_kernel_grad(x_Bx2Hx2WxI: jax.Array, dy_BxHxWxO: jax.Array) -> jax.Array:
    """d/dkernel of sum(dy * downconv2x(x, kernel)): four products, one per 2x2 tap of the
    space-to-depth input, each over batch and positions (measured a little faster than one
    product over the concatenated 16-tap patches)."""
    _, h, w, _ = dy_BxHxWxO.shape
    cin = x_Bx2Hx2WxI.shape[-1]
    xs = _space_to_depth(_pad1(x_Bx2Hx2WxI))  # [b, h + 1, w + 1, 4 * cin]
    dk = jnp.stack([_contract_positions(xs[:, p:p + h, q:q + w], dy_BxHxWxO)
                    for p in (0, 1) for q in (0, 1)])  # [(p, q), (di, dj, cin), cout]
    return dk.reshape(2, 2, 2, 2, cin, -1).transpose(0, 2, 1, 3, 4, 5).reshape(4, 4, cin, -1)


def _downconv_transpose_forward(dy_BxHxWxO: jax.Array, kernel_4x4xIxO: jax.Array) -> jax.Array:
    """The adjoint of `downconv2x` in x: [B, H, W, O] -> [B, 2H, 2W, I]. XLA's transpose of the
    space-to-depth 2x2 convolution (the faster route here for the first-order input gradient)."""
    b, h, w, _ = dy_BxHxWxO.shape
    x_shape = jax.ShapeDtypeStruct((b, 2 * h, 2 * w, kernel_4x4xIxO.shape[2]), dy_BxHxWxO.dtype)
    (dx,) = jax.linear_transpose(lambda x: _downconv_as_2x2(x, kernel_4x4xIxO), x_shape)(
        dy_BxHxWxO)
    return dx


@jax.custom_vjp
def downconv2x_transpose(dy_BxHxWxO: jax.Array, kernel_4x4xIxO: jax.Array) -> jax.Array:
    """`downconv2x`'s input gradient, with its own VJP so that a gradient penalty or R1 (which
    differentiate this input gradient again) gets the kernel gradient as matrix products too.
    Left to XLA, its derivative in the kernel is the slow "output gradient as kernel"
    convolution of XLA:CPU (the WGAN-GP critic step ran at ~18 GFLOP/s)."""
    return _downconv_transpose_forward(dy_BxHxWxO, kernel_4x4xIxO)


def _downconv_transpose_fwd(dy, kernel):
    return _downconv_transpose_forward(dy, kernel), (dy, kernel)


def _downconv_transpose_bwd(residuals, g_Bx2Hx2WxI):
    dy, kernel = residuals
    # dx = A(k)^T dy, so <g, dx> = <A(k) g, dy>: the gradient in dy is the forward convolution
    # of g, and the gradient in k is the forward convolution's kernel gradient with input g.
    return (downconv2x(g_Bx2Hx2WxI, kernel),
            _downconv_kernel_grad(g_Bx2Hx2WxI, dy).astype(kernel.dtype))


downconv2x_transpose.defvjp(_downconv_transpose_fwd, _downconv_transpose_bwd)


def _downconv_bwd(residuals, dy_BxHxWxO):
    x, kernel = residuals
    # Forward and input gradient take different routes because each was the faster one on
    # XLA:CPU: the stride-2 convolution forward, the transposed 2x2 convolution backward.
    return (downconv2x_transpose(dy_BxHxWxO, kernel),
            _downconv_kernel_grad(x, dy_BxHxWxO).astype(kernel.dtype))


downconv2x.defvjp(_downconv_fwd, _downconv_bwd)


class DownConv2x(nn.Module):
    """A 4x4 stride-2 convolution with padding 1 and no bias (DCGAN's discriminator layer), with
    the parameters of `nn.Conv(features, (4, 4), strides=2, padding=1, use_bias=False)`; its input
    gradient goes through the space-to-depth 2x2 form and its kernel gradient is matrix
    products (module doc)."""

    features: int
    kernel_init: nn.initializers.Initializer = dcgan_kernel_init
    dtype: jnp.dtype | None = None
    spectral_norm: bool = False  # kernel / sigma, state in the "spectral" collection

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, update_stats: bool = False) -> jax.Array:
        cin = x_BxHxWxC.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (4, 4, cin, self.features))
        if self.spectral_norm:
            kernel = spectral_normalize(self, kernel, update_stats)
        dtype = self.dtype or x_BxHxWxC.dtype
        return downconv2x(x_BxHxWxC.astype(dtype), kernel.astype(dtype))
