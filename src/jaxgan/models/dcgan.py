"""DCGAN generator and discriminator (Radford et al. 2016), for 28, 32 and 64 px and 1 or 3
channels.

At 64x64x3 with nz=100 and ngf=ndf=64 these are exactly PyTorch's dcgan example networks
(3,576,704 and 2,765,568 parameters): no biases before BatchNorm, BatchNorm everywhere but the
generator's output and the discriminator's input layer, ReLU / LeakyReLU(0.2), tanh output.
Smaller images use fewer stride-2 stages from a 4x4 (32, 64 px) or 7x7 (28 px) base.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.layers import DownConv2x, UpConv2x, dcgan_kernel_init, dcgan_scale_init


def num_stages(image_size: int) -> tuple[int, int]:
    """(base resolution, number of stride-2 stages) for a square image size."""
    for base in (4, 7):
        stages = 0
        size = image_size
        while size > base and size % 2 == 0:
            size //= 2
            stages += 1
        if size == base and stages >= 1:
            return base, stages
    raise ValueError(f"DCGAN supports image sizes 4*2^k or 7*2^k (k>=1), not {image_size}")


def _batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
    # momentum 0.9 is PyTorch's BatchNorm default (its momentum=0.1 weights the new statistics).
    return nn.BatchNorm(
        use_running_average=not train, momentum=0.9, epsilon=1e-5,
        scale_init=dcgan_scale_init, name=name,
    )


class Generator(nn.Module):
    """z [B, nz] (and optional labels) -> images [B, S, S, C] in [-1, 1]."""

    image_size: int = 64
    channels: int = 3
    ngf: int = 64
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, train: bool = True) -> jax.Array:
        base, stages = num_stages(self.image_size)
        width = self.ngf * 2 ** (stages - 1)
        # The reference's first layer is a 4x4 transposed conv of a 1x1 input: a dense layer.
        x = nn.Dense(base * base * width, use_bias=False, kernel_init=dcgan_kernel_init,
                     dtype=self.dtype, name="project")(z_BxZ.astype(self.dtype))
        x = x.reshape(z_BxZ.shape[0], base, base, width)
        x = nn.relu(_batch_norm(train, "project_bn")(x))
        for i in range(stages - 1):
            width //= 2
            x = UpConv2x(width, name=f"up{i}")(x)
            x = nn.relu(_batch_norm(train, f"up{i}_bn")(x))
        x = UpConv2x(self.channels, name="to_image")(x)
        return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
    """images [B, S, S, C] -> logits [B] (real > 0)."""

    image_size: int = 64
    ndf: int = 64
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x_BxSxSxC: jax.Array, train: bool = True) -> jax.Array:
        base, stages = num_stages(self.image_size)
        x = x_BxSxSxC.astype(self.dtype)
        width = self.ndf
        for i in range(stages):
            x = DownConv2x(width, dtype=self.dtype, name=f"down{i}")(x)
            if i > 0:  # the reference has no BatchNorm on the input layer
                x = _batch_norm(train, f"down{i}_bn")(x)
            x = nn.leaky_relu(x, 0.2)
            width *= 2
        x = nn.Conv(1, (base, base), padding="VALID", use_bias=False,
                    kernel_init=dcgan_kernel_init, dtype=self.dtype, name="logit")(x)
        return x.reshape(x.shape[0]).astype(jnp.float32)
