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

from jaxgan.models.blocks import MinibatchDiscrimination, MinibatchStdDev
from jaxgan.models.layers import DownConv2x, UpConv2x, dcgan_kernel_init, dcgan_scale_init
from jaxgan.models.normalization import ConditionalBatchNorm, SNConv, SNDense, SNEmbed


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
    """z [B, nz] (and labels [B] when conditional) -> images [B, S, S, C] in [-1, 1].

    Conditional (num_classes > 0): a learned label embedding of size `embed_dim` is concatenated
    to z (the cGAN of Mirza & Osindero with an embedding instead of a one-hot); with
    `conditional_bn` every BatchNorm also takes a per-class gain and bias (de Vries et al. 2017,
    as in SNGAN-projection's generator), so the label acts at every resolution, not only at z."""

    image_size: int = 64
    channels: int = 3
    ngf: int = 64
    dtype: jnp.dtype = jnp.float32
    num_classes: int = 0
    embed_dim: int = 50
    spectral_norm: bool = False  # SAGAN-style spectral norm in G too
    conditional_bn: bool = False

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, labels_B: jax.Array | None = None,
                 train: bool = True) -> jax.Array:
        if self.conditional_bn and not self.num_classes:
            raise ValueError("conditional_bn needs num_classes > 0")

        def norm(x, name):
            if self.conditional_bn:
                return ConditionalBatchNorm(self.num_classes, name=name)(x, labels_B, train)
            return _batch_norm(train, name)(x)

        base, stages = num_stages(self.image_size)
        width = self.ngf * 2 ** (stages - 1)
        h = z_BxZ
        if self.num_classes:
            if labels_B is None:
                raise ValueError("a conditional generator needs labels")
            h = jnp.concatenate(
                [h, nn.Embed(self.num_classes, self.embed_dim, name="label_embed")(labels_B)], -1)
        # The reference's first layer is a 4x4 transposed conv of a 1x1 input: a dense layer.
        dense = SNDense if self.spectral_norm else nn.Dense
        kw = {"update_stats": train} if self.spectral_norm else {}
        x = dense(base * base * width, use_bias=False, kernel_init=dcgan_kernel_init,
                  dtype=self.dtype, name="project")(h.astype(self.dtype), **kw)
        x = x.reshape(z_BxZ.shape[0], base, base, width)
        x = nn.relu(norm(x, "project_bn"))
        for i in range(stages - 1):
            width //= 2
            x = UpConv2x(width, spectral_norm=self.spectral_norm, name=f"up{i}")(x, train)
            x = nn.relu(norm(x, f"up{i}_bn"))
        x = UpConv2x(self.channels, spectral_norm=self.spectral_norm, name="to_image")(x, train)
        return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
    """images [B, S, S, C] (and labels [B] when conditional) -> logits [B] (real > 0).

    Options beyond the reference: `norm` ("batch" as the reference, "layer" or "none": a
    gradient-penalty critic must not use batch statistics), `spectral_norm` on every weight,
    `minibatch_std` (a StyleGAN2 stddev channel before the last layer), `minibatch_kernels`
    (minibatch discrimination on the flattened last features), and a projection head for
    labels (`num_classes > 0`, Miyato & Koyama 2018: logit + <embed(y), sum-pooled features>),
    and InfoGAN's Q head (`info_categories > 0`, Chen et al. 2016: logits [B, K] of the
    generator's categorical latent code, from the flattened last features through a 128-unit
    hidden layer, sharing the rest of D). With `code_projection` the projection head is
    conditioned on that code instead of a class: `labels_B` carries the codes of generated
    images, and an image without one (a real image) takes the code Q assigns it (its argmax,
    no gradient), as the self-conditioned GAN (Liu et al. 2020) labels real data by clusters.
    `return_features=True` returns (logits, the penultimate features [B, F]) for feature matching;
    `return_code=True` adds the Q head's code logits as the last element.
    """

    image_size: int = 64
    ndf: int = 64
    dtype: jnp.dtype = jnp.float32
    norm: str = "batch"
    spectral_norm: bool = False
    minibatch_std: bool = False
    minibatch_kernels: int = 0
    num_classes: int = 0
    info_categories: int = 0
    code_projection: bool = False

    @nn.compact
    def __call__(self, x_BxSxSxC: jax.Array, labels_B: jax.Array | None = None,
                 train: bool = True, return_features: bool = False, return_code: bool = False):
        base, stages = num_stages(self.image_size)
        x = x_BxSxSxC.astype(self.dtype)
        width = self.ndf
        for i in range(stages):
            x = DownConv2x(width, dtype=self.dtype, spectral_norm=self.spectral_norm,
                           name=f"down{i}")(x, train)
            if i > 0:  # the reference has no BatchNorm on the input layer
                x = _normalize(self.norm, train, f"down{i}_bn")(x)
            x = nn.leaky_relu(x, 0.2)
            width *= 2
        features = jnp.sum(x.astype(jnp.float32), axis=(1, 2))  # [B, C]: for FM and projection
        code_logits = None
        if self.info_categories:  # always built, so `init` creates the head's parameters
            flat = x.reshape(x.shape[0], -1).astype(jnp.float32)
            h = nn.leaky_relu(_dense(self.spectral_norm, train, 128, "q_hidden", bias=True)(flat),
                              0.2)
            code_logits = _dense(self.spectral_norm, train, self.info_categories, "q_code",
                                 bias=True)(h)
        elif return_code:
            raise ValueError("return_code needs a discriminator with info_categories > 0")
        if self.minibatch_std:
            x = MinibatchStdDev(group_size=4, num_features=1)(x)
        if self.minibatch_kernels:
            # The last layer as a dense one over the flattened map, with minibatch features added.
            flat = MinibatchDiscrimination(self.minibatch_kernels, name="minibatch")(
                x.reshape(x.shape[0], -1).astype(jnp.float32))
            logits = _dense(self.spectral_norm, train, 1, "logit")(flat)[:, 0]
        else:
            logits = _conv(self.spectral_norm, train, 1, (base, base), "logit",
                           self.dtype)(x).reshape(x.shape[0])
        logits = logits.astype(jnp.float32)
        if self.code_projection:
            if not self.info_categories:
                raise ValueError("code_projection needs a discriminator with info_categories > 0")
            codes = (jnp.argmax(jax.lax.stop_gradient(code_logits), axis=-1)
                     if labels_B is None else labels_B)
            embed = (SNEmbed if self.spectral_norm else nn.Embed)(
                self.info_categories, features.shape[-1], embedding_init=dcgan_kernel_init,
                name="code_projection")
            logits = logits + jnp.sum(_embed(embed, codes, train, self.spectral_norm) * features,
                                      axis=-1)
        if self.num_classes:
            if labels_B is None:
                raise ValueError("a conditional discriminator needs labels")
            embed = (SNEmbed if self.spectral_norm else nn.Embed)(
                self.num_classes, features.shape[-1], embedding_init=dcgan_kernel_init,
                name="label_projection")
            logits = logits + jnp.sum(_embed(embed, labels_B, train, self.spectral_norm) *
                                      features, axis=-1)
        out = (logits, features) if return_features else (logits,)
        if return_code:
            out = (*out, code_logits)
        return out if len(out) > 1 else out[0]


def _normalize(kind: str, train: bool, name: str):
    if kind == "batch":
        return _batch_norm(train, name)
    if kind == "layer":
        return nn.LayerNorm(epsilon=1e-5, name=name.replace("_bn", "_ln"))
    if kind == "none":
        return lambda x: x
    raise ValueError(f"discriminator norm must be batch, layer or none, not {kind!r}")


def _dense(sn: bool, train: bool, features: int, name: str, bias: bool = False):
    if sn:
        layer = SNDense(features, use_bias=bias, kernel_init=dcgan_kernel_init, name=name)
        return lambda x: layer(x, update_stats=train)
    return nn.Dense(features, use_bias=bias, kernel_init=dcgan_kernel_init, name=name)


def _conv(sn: bool, train: bool, features: int, kernel: tuple[int, int], name: str, dtype):
    if sn:
        layer = SNConv(features, kernel, padding="VALID", use_bias=False,
                       kernel_init=dcgan_kernel_init, dtype=dtype, name=name)
        return lambda x: layer(x, update_stats=train)
    return nn.Conv(features, kernel, padding="VALID", use_bias=False,
                   kernel_init=dcgan_kernel_init, dtype=dtype, name=name)


def _embed(layer, labels_B: jax.Array, train: bool, sn: bool) -> jax.Array:
    return layer(labels_B, update_stats=train) if sn else layer(labels_B)
