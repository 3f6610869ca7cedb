"""Layers shared by the generators and discriminators."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

# DCGAN's initialisation (Radford et al.): weights ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02).
dcgan_kernel_init = nn.initializers.normal(0.02)


def dcgan_scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


class UpConv2x(nn.Module):
    """A stride-2 transposed convolution (kernel 4, padding 1: PyTorch's
    `ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)`), doubling height and width.

    It is computed as one 2x2 stride-1 convolution with 4 * cout outputs over the input padded by
    one pixel, whose four output phases are interleaved (depth-to-space). This does the same
    multiply-adds as the transposed convolution and none of the zero-stuffing work that
    `nn.ConvTranspose` / `lax.conv_transpose` lowers to; on XLA:CPU it is several times faster
    (BUILD_NOTES.md). The parameter is the transposed-convolution kernel itself, [4, 4, cin, cout]
    in PyTorch's orientation, so counts and checkpoints match the reference.

    Output pixel (2m + a, 2n + b) sums input pixels m-1+a..m+a (rows) with kernel rows 3-a, 1-a.
    """

    features: int
    kernel_init: nn.initializers.Initializer = dcgan_kernel_init

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        cin = x_BxHxWxC.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (4, 4, cin, self.features))
        kernel = kernel.astype(x_BxHxWxC.dtype)
        b, h, w, _ = x_BxHxWxC.shape
        # Phase (a, b) uses kernel rows (3 - a, 1 - a) and columns (3 - b, 1 - b).
        phases = []
        for a in (0, 1):
            for c in (0, 1):
                rows = jnp.array([3 - a, 1 - a])
                cols = jnp.array([3 - c, 1 - c])
                phases.append(kernel[rows][:, cols])
        w_2x2xCinx4Cout = jnp.concatenate(phases, axis=-1)
        x_pad = jnp.pad(x_BxHxWxC, ((0, 0), (1, 1), (1, 1), (0, 0)))
        y = jax.lax.conv_general_dilated(
            x_pad, w_2x2xCinx4Cout, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )  # [b, h + 1, w + 1, 4 * cout]: phase (a, c) of output row m sits at row m + a.
        y = y.reshape(b, h + 1, w + 1, 4, self.features)
        p00 = y[:, :h, :w, 0]
        p01 = y[:, :h, 1:, 1]
        p10 = y[:, 1:, :w, 2]
        p11 = y[:, 1:, 1:, 3]
        top = jnp.stack([p00, p01], axis=3)  # [b, h, w, 2(c), f]
        bottom = jnp.stack([p10, p11], axis=3)
        out = jnp.stack([top, bottom], axis=2)  # [b, h, 2(a), w, 2(c), f]
        return out.reshape(b, 2 * h, 2 * w, self.features)
