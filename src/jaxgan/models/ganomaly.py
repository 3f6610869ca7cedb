"""GANomaly's networks (Akcay et al. 2018), as samet-akcay/ganomaly builds them for an image of
`image_size` px (a power of two, >= 8): DCGAN layers with no biases, BatchNorm (PyTorch's
momentum and epsilon) and LeakyReLU(0.2) / ReLU.

- `Encoder`: a 4x4 stride-2 convolution to `width` channels, then stride-2 stages (BatchNorm,
  LeakyReLU) doubling the channels down to 4x4, then a 4x4 convolution with no padding to
  `latent_dim` channels at 1x1 (returned as [B, latent_dim]).
- `Decoder`: the mirror: a 4x4 transposed convolution of the 1x1 latent, stride-2 transposed
  stages halving the channels, a last one to the image, tanh.
- `Generator`: encoder, decoder, encoder: x -> z, x_hat = D(z), z_hat = E'(x_hat). The anomaly
  score is the distance between z and z_hat.
- `Discriminator`: an encoder whose last convolution has one output (the logit); the features
  before it (the [B, 4, 4, C] map, flattened) are what the generator's adversarial loss
  matches. As the reference, it has the generator's width.

At 32x32x1 with latent 100 and width 64: 3,200,384 generator and 661,248 discriminator
parameters (the reference's layer shapes, tallied in BUILD_NOTES.md).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.dcgan import _batch_norm
from jaxgan.models.layers import DownConv2x, UpConv2x, dcgan_kernel_init


def num_stages(image_size: int) -> int:
    """Stride-2 stages between the first convolution's output (image_size / 2) and 4x4."""
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"GANomaly's networks take a power-of-two image size >= 8, not "
                         f"{image_size}")
    return (image_size // 8).bit_length() - 1


class Encoder(nn.Module):
    """images [B, S, S, C] -> ([B, latent_dim], features [B, 4, 4, width * 2^stages])."""

    image_size: int
    latent_dim: int
    width: int = 64

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> tuple[jax.Array, jax.Array]:
        x = nn.leaky_relu(DownConv2x(self.width, name="initial")(x), 0.2)
        width = self.width
        for i in range(num_stages(self.image_size)):
            width *= 2
            x = DownConv2x(width, name=f"pyramid{i}")(x)
            x = nn.leaky_relu(_batch_norm(train, f"pyramid{i}_bn")(x), 0.2)
        features = x
        z = nn.Conv(self.latent_dim, (4, 4), padding="VALID", use_bias=False,
                    kernel_init=dcgan_kernel_init, name="final")(x)
        return z.reshape(x.shape[0], self.latent_dim), features


class Decoder(nn.Module):
    """latents [B, latent_dim] -> images [B, S, S, channels] in [-1, 1]."""

    image_size: int
    channels: int
    width: int = 64

    @nn.compact
    def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
        stages = num_stages(self.image_size)
        width = self.width * 2**stages
        # A 4x4 transposed convolution of a 1x1 input is a dense layer to a 4x4 map.
        x = nn.Dense(16 * width, use_bias=False, kernel_init=dcgan_kernel_init,
                     name="initial")(z)
        x = nn.relu(_batch_norm(train, "initial_bn")(x.reshape(z.shape[0], 4, 4, width)))
        for i in range(stages):
            width //= 2
            x = UpConv2x(width, name=f"pyramid{i}")(x)
            x = nn.relu(_batch_norm(train, f"pyramid{i}_bn")(x))
        return jnp.tanh(UpConv2x(self.channels, name="final")(x))


class Generator(nn.Module):
    """images -> (reconstructions, z = E(x) [B, latent_dim], z_hat = E'(x_hat))."""

    image_size: int
    channels: int
    latent_dim: int = 100
    width: int = 64

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True):
        z, _ = Encoder(self.image_size, self.latent_dim, self.width, name="encoder1")(x, train)
        x_hat = Decoder(self.image_size, self.channels, self.width, name="decoder")(z, train)
        z_hat, _ = Encoder(self.image_size, self.latent_dim, self.width,
                           name="encoder2")(x_hat, train)
        return x_hat, z, z_hat


class Discriminator(nn.Module):
    """images -> (logits [B], features [B, F])."""

    image_size: int
    width: int = 64

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> tuple[jax.Array, jax.Array]:
        logits, features = Encoder(self.image_size, 1, self.width, name="encoder")(x, train)
        return logits[:, 0], features.reshape(x.shape[0], -1)
