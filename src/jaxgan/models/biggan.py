"""BigGAN's generator and discriminator (Brock et al. 2019), as ajbrock/BigGAN-PyTorch builds them
(`BigGAN.py`, `layers.py`), for 32, 64, 128, 256 and 512 px.

Generator, width multiplier `ch`:
- a shared class embedding [num_classes, shared_dim];
- with `hier`, z is split into len(blocks) + 1 equal chunks: the first feeds the input linear layer
  (to 4x4 x in_channels[0]), each other is concatenated with the class embedding and conditions
  one block (z's size must be a multiple of the number of chunks);
- residual up-blocks: cBN, ReLU, nearest 2x upsample, 3x3 conv, cBN, ReLU, 3x3 conv; shortcut:
  upsample, 1x1 conv. The class-conditional BatchNorm normalises without an affine of its own,
  then scales by gain = 1 + W_g c and shifts by W_b c, c the block's conditioning vector (linear
  maps without bias): at c = 0 it is plain BatchNorm;
- self-attention after the block at `attention_resolution`;
- BatchNorm (with its own gain and bias), ReLU, 3x3 conv to the image, tanh.
Discriminator: residual down-blocks (the first without pre-activation, as SNGAN's), 3x3 convs at
the block's output width ("wide"), 2x2 average pooling, self-attention after the block at
`attention_resolution`, ReLU, global sum pooling, a linear logit plus the projection
<embed(y), h>.

Every convolution, linear layer and D's embedding is spectrally normalised (G's shared
embedding is not, as in the reference); every weight starts orthogonal. Parameter counts (the
trainable tensors; spectral-norm vectors and BatchNorm statistics are state): with ch = 96,
128 px, 1000 classes, z 120 (hierarchical), shared_dim 128, attention at 64:
G 70,433,988, D 87,982,370, as the reference builds them (tallied in BUILD_NOTES.md).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.blocks import SelfAttention
from jaxgan.models.normalization import SNConv, SNDense, SNEmbed

INITS = {  # the reference's G_init / D_init: orthogonal (BigGAN) or N(0, 0.02) (its CIFAR script)
    "ortho": nn.initializers.orthogonal(),
    "N02": nn.initializers.normal(0.02),
}

# Channel multipliers per block, from the reference's G_arch / D_arch.
G_WIDTHS = {
    32: ([4, 4, 4], [4, 4, 4]),
    64: ([16, 16, 8, 4], [16, 8, 4, 2]),
    128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1]),
    256: ([16, 16, 8, 8, 4, 2], [16, 8, 8, 4, 2, 1]),
    512: ([16, 16, 8, 8, 4, 2, 1], [16, 8, 8, 4, 2, 1, 1]),
}
D_WIDTHS = {  # (out multipliers, downsample flags); the input is the image
    32: ([4, 4, 4, 4], [True, True, False, False]),
    64: ([1, 2, 4, 8, 16], [True] * 4 + [False]),
    128: ([1, 2, 4, 8, 16, 16], [True] * 5 + [False]),
    256: ([1, 2, 4, 8, 8, 16, 16], [True] * 6 + [False]),
}


def check_resolution(resolution: int) -> None:
    if resolution not in G_WIDTHS or resolution not in D_WIDTHS:
        raise ValueError(f"BigGAN is built for {sorted(set(G_WIDTHS) & set(D_WIDTHS))} px images, "
                         f"not {resolution}")


def z_chunks(latent_dim: int, resolution: int, hier: bool) -> list[int]:
    """The sizes z is split into: one for the input layer, then one per G block (`hier`); or
    the whole z to the input layer."""
    if not hier:
        return [latent_dim]
    slots = len(G_WIDTHS[resolution][0]) + 1
    if latent_dim % slots:
        raise ValueError(f"a hierarchical BigGAN latent is split into {slots} equal chunks at "
                         f"{resolution} px: latent_dim must be a multiple of {slots}, not "
                         f"{latent_dim}")
    return [latent_dim // slots] * slots


def g_attention_resolutions(resolution: int) -> list[int]:
    return [8 * 2**i for i in range(len(G_WIDTHS[resolution][0]))]


def d_attention_resolutions(resolution: int) -> list[int]:
    _, down = D_WIDTHS[resolution]
    out, size = [], resolution
    for d in down:
        size = size // 2 if d else size
        out.append(size)
    return out


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without affine, then x * (1 + W_g c) + W_b c: BigGAN's class-conditional
    BatchNorm. With a shared embedding, c is a vector (the class embedding, with a chunk of z
    when hierarchical) and W_g, W_b are bias-free linear maps, spectrally normalised with
    `spectral_norm`; without one (`num_classes` > 0), c is the class id and W_g c, W_b c are
    rows of two embedding tables. Either way the gain is 1 + (something that starts near 0).
    `momentum` is the running average's (0: the statistics of the last batch)."""

    epsilon: float = 1e-5
    momentum: float = 0.9
    spectral_norm: bool = True
    num_classes: int = 0  # > 0: per-block class embeddings (no shared embedding)
    weight_init: str = "ortho"
    batch_norm: bool = True  # False: the conditional gain and bias alone (norm_style=nonorm)

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, cond: jax.Array, train: bool) -> jax.Array:
        c = x_BxHxWxC.shape[-1]
        x = x_BxHxWxC
        if self.batch_norm:
            x = nn.BatchNorm(use_running_average=not train, momentum=self.momentum,
                             epsilon=self.epsilon, use_scale=False, use_bias=False,
                             name="bn")(x)
        init = INITS[self.weight_init]
        if self.num_classes:
            gain = nn.Embed(self.num_classes, c, embedding_init=init, name="gain")(cond)
            bias = nn.Embed(self.num_classes, c, embedding_init=init, name="bias")(cond)
        elif self.spectral_norm:
            gain = SNDense(c, use_bias=False, kernel_init=init, name="gain")(
                cond, update_stats=train)
            bias = SNDense(c, use_bias=False, kernel_init=init, name="bias")(
                cond, update_stats=train)
        else:
            gain = nn.Dense(c, use_bias=False, kernel_init=init, name="gain")(cond)
            bias = nn.Dense(c, use_bias=False, kernel_init=init, name="bias")(cond)
        scale = (1.0 + gain)[:, None, None].astype(x.dtype)
        return x * scale + bias[:, None, None].astype(x.dtype)


def _conv(x, features: int, kernel: int, *, sn: bool, train: bool, dtype, name: str,
          init: str) -> jax.Array:
    if sn:
        return SNConv(features, (kernel, kernel), kernel_init=INITS[init], dtype=dtype,
                      name=name)(x, update_stats=train)
    return nn.Conv(features, (kernel, kernel), kernel_init=INITS[init], dtype=dtype,
                   name=name)(x)


def _upsample(x: jax.Array) -> jax.Array:
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class Affine(nn.Module):
    """x * scale + bias per channel: BatchNorm's parameters without its statistics."""

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        c = x_BxHxWxC.shape[-1]
        scale = self.param("scale", nn.initializers.ones_init(), (c,))
        bias = self.param("bias", nn.initializers.zeros_init(), (c,))
        return x_BxHxWxC * scale.astype(x_BxHxWxC.dtype) + bias.astype(x_BxHxWxC.dtype)


class GBlock(nn.Module):
    features: int
    spectral_norm: bool = True
    bn_momentum: float = 0.9
    num_classes: int = 0  # > 0: the block's BatchNorms embed the class themselves
    weight_init: str = "ortho"
    batch_norm: bool = True
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, cond_BxE, train: bool):
        conv = {"sn": self.spectral_norm, "train": train, "dtype": self.dtype,
                "init": self.weight_init}
        bn = {"momentum": self.bn_momentum, "spectral_norm": self.spectral_norm,
              "num_classes": self.num_classes, "weight_init": self.weight_init,
              "batch_norm": self.batch_norm}
        h = nn.relu(ConditionalBatchNorm(name="bn1", **bn)(x, cond_BxE, train))
        h = _conv(_upsample(h), self.features, 3, name="conv1", **conv)
        h = nn.relu(ConditionalBatchNorm(name="bn2", **bn)(h, cond_BxE, train))
        h = _conv(h, self.features, 3, name="conv2", **conv)
        return h + _conv(_upsample(x), self.features, 1, name="shortcut", **conv)


class Generator(nn.Module):
    """z [B, Z] and labels [B] -> images [B, S, S, C] in [-1, 1]."""

    resolution: int = 128
    channels: int = 3
    ch: int = 96
    num_classes: int = 1000
    shared_dim: int = 128  # 0: no shared embedding (each BatchNorm embeds the class)
    hier: bool = True
    attention_resolution: int = 64  # 0: none
    spectral_norm: bool = True
    bn_momentum: float = 0.9
    weight_init: str = "ortho"
    # False: no batch statistics anywhere in G (norm_style=nonorm, and the output layer's
    # BatchNorm reduced to its gain and bias): no layer couples the examples of a batch.
    batch_norm: bool = True
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, labels_B: jax.Array, train: bool = True) -> jax.Array:
        check_resolution(self.resolution)
        if labels_B is None:
            raise ValueError("BigGAN's generator is class-conditional: it needs labels_B")
        in_mult, out_mult = G_WIDTHS[self.resolution]
        if self.attention_resolution and (
                self.attention_resolution not in g_attention_resolutions(self.resolution)):
            raise ValueError(f"attention_resolution {self.attention_resolution} is not one of "
                             f"the generator's block resolutions "
                             f"{g_attention_resolutions(self.resolution)}")
        sizes = z_chunks(z_BxZ.shape[-1], self.resolution, self.hier)
        split_at = [sum(sizes[:i + 1]) for i in range(len(sizes) - 1)]
        chunks = jnp.split(z_BxZ.astype(jnp.float32), split_at, axis=-1)
        init = INITS[self.weight_init]
        if self.shared_dim:
            shared = nn.Embed(self.num_classes, self.shared_dim, embedding_init=init,
                              name="shared")(labels_B)
            conds = ([jnp.concatenate([shared, c], -1) for c in chunks[1:]] if self.hier
                     else [shared] * len(out_mult))
        elif self.hier:
            raise ValueError("a hierarchical BigGAN latent joins the shared class embedding: "
                             "set shared_dim > 0")
        else:
            conds = [labels_B] * len(out_mult)
        width = in_mult[0] * self.ch
        if self.spectral_norm:
            h = SNDense(4 * 4 * width, kernel_init=init, name="linear")(
                chunks[0], update_stats=train)
        else:
            h = nn.Dense(4 * 4 * width, kernel_init=init, name="linear")(chunks[0])
        h = h.reshape(h.shape[0], 4, 4, width).astype(self.dtype)
        resolution = 4
        for i, mult in enumerate(out_mult):
            h = GBlock(mult * self.ch, self.spectral_norm, self.bn_momentum,
                       0 if self.shared_dim else self.num_classes, self.weight_init,
                       self.batch_norm, self.dtype, name=f"block{i}")(h, conds[i], train)
            resolution *= 2
            if resolution == self.attention_resolution:
                h = SelfAttention(spectral_norm=self.spectral_norm, kernel_init=init,
                                  name="attention")(h, update_stats=train)
        if self.batch_norm:
            h = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                             epsilon=1e-5, name="out_bn")(h)
        else:
            h = Affine(name="out_bn")(h)
        h = _conv(nn.relu(h), self.channels, 3, sn=self.spectral_norm, train=train,
                  dtype=self.dtype, name="to_image", init=self.weight_init)
        return jnp.tanh(h.astype(jnp.float32))


class DBlock(nn.Module):
    """Residual down-block; `preactivation=False` for the first (it reads the image)."""

    features: int
    downsample: bool = True
    preactivation: bool = True
    weight_init: str = "ortho"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        conv = {"sn": True, "train": train, "dtype": self.dtype, "init": self.weight_init}
        h = nn.relu(x) if self.preactivation else x
        h = _conv(h, self.features, 3, name="conv1", **conv)
        h = _conv(nn.relu(h), self.features, 3, name="conv2", **conv)
        if self.downsample:
            h = nn.avg_pool(h, (2, 2), (2, 2))
        shortcut = x
        learnable = self.downsample or x.shape[-1] != self.features
        if self.preactivation:  # 1x1 conv, then pool
            if learnable:
                shortcut = _conv(shortcut, self.features, 1, name="shortcut", **conv)
            if self.downsample:
                shortcut = nn.avg_pool(shortcut, (2, 2), (2, 2))
        else:  # pool, then 1x1 conv
            if self.downsample:
                shortcut = nn.avg_pool(shortcut, (2, 2), (2, 2))
            if learnable:
                shortcut = _conv(shortcut, self.features, 1, name="shortcut", **conv)
        return h + shortcut


class Discriminator(nn.Module):
    """images [B, S, S, C] and labels [B] -> logits [B]; with `return_features`, also the
    pooled features the logit is read from."""

    resolution: int = 128
    ch: int = 96
    num_classes: int = 1000
    attention_resolution: int = 64  # 0: none
    weight_init: str = "ortho"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x_BxSxSxC: jax.Array, labels_B: jax.Array | None = None,
                 train: bool = True, return_features: bool = False):
        check_resolution(self.resolution)
        if self.num_classes and labels_B is None:
            raise ValueError(f"a class-conditional discriminator (num_classes="
                             f"{self.num_classes}) needs labels_B")
        out_mult, down = D_WIDTHS[self.resolution]
        resolutions = d_attention_resolutions(self.resolution)
        if self.attention_resolution and self.attention_resolution not in resolutions:
            raise ValueError(f"attention_resolution {self.attention_resolution} is not one of "
                             f"the discriminator's block resolutions {sorted(set(resolutions))}")
        h = x_BxSxSxC.astype(self.dtype)
        attended = False
        for i, (mult, d) in enumerate(zip(out_mult, down, strict=True)):
            h = DBlock(mult * self.ch, downsample=d, preactivation=i > 0,
                       weight_init=self.weight_init, dtype=self.dtype, name=f"block{i}")(h, train)
            if resolutions[i] == self.attention_resolution and not attended:
                h = SelfAttention(spectral_norm=True, kernel_init=INITS[self.weight_init],
                                  name="attention")(h, update_stats=train)
                attended = True
        features_BxF = jnp.sum(nn.relu(h).astype(jnp.float32), axis=(1, 2))
        logits = SNDense(1, kernel_init=INITS[self.weight_init], name="linear")(
            features_BxF, update_stats=train)[:, 0]
        if self.num_classes:
            embed = SNEmbed(self.num_classes, features_BxF.shape[-1],
                            embedding_init=INITS[self.weight_init],
                            name="embed")
            logits = logits + jnp.sum(embed(labels_B, update_stats=train) * features_BxF, -1)
        return (logits, features_BxF) if return_features else logits
