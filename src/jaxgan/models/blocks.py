"""Discriminator and generator blocks shared by several GANs: minibatch standard deviation
(StyleGAN2), minibatch discrimination (Salimans et al. 2016) and self-attention (SAGAN)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.normalization import SNConv


class MinibatchStdDev(nn.Module):
    """StyleGAN2's minibatch standard deviation layer: [B, H, W, C] -> [B, H, W, C + F].

    The batch is split into groups of G = min(group_size, B) samples, sample i in group i % (B/G)
    as in the reference (`x.reshape(G, -1, ...)`). For each group and each of F = num_features
    channel groups, the population std over the G samples (eps 1e-8 inside the sqrt) is averaged
    over the C/F channels and all positions, and appended as a constant feature map to every
    sample of the group. B must be divisible by G and C by F.
    """

    group_size: int = 4
    num_features: int = 1

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        b, h, w, c = x_BxHxWxC.shape
        g = min(self.group_size, b)
        f = self.num_features
        if b % g:
            raise ValueError(f"MinibatchStdDev: batch size {b} is not divisible by the group "
                             f"size {g}")
        if c % f:
            raise ValueError(f"MinibatchStdDev: {c} channels do not split into "
                             f"num_features={f} groups")
        y = x_BxHxWxC.astype(jnp.float32).reshape(g, b // g, h, w, f, c // f)
        y = y - jnp.mean(y, axis=0)
        y = jnp.sqrt(jnp.mean(y**2, axis=0) + 1e-8)  # [n, h, w, f, c/f]
        y = jnp.mean(y, axis=(1, 2, 4))  # [n, f]
        y = jnp.tile(y, (g, 1))  # row i = group i % n
        y = jnp.broadcast_to(y[:, None, None, :], (b, h, w, f)).astype(x_BxHxWxC.dtype)
        return jnp.concatenate([x_BxHxWxC, y], axis=-1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016): [B, F] -> [B, F + num_kernels].

    M = x T reshaped [B, K, D]; for each kernel k, o_i[k] = sum over j != i of
    exp(-||M_i,k - M_j,k||_1), appended to the features.
    """

    num_kernels: int = 100
    kernel_dim: int = 5
    kernel_init: nn.initializers.Initializer = nn.initializers.normal(0.05)

    @nn.compact
    def __call__(self, x_BxF: jax.Array) -> jax.Array:
        t = self.param("T", self.kernel_init,
                       (x_BxF.shape[-1], self.num_kernels * self.kernel_dim))
        m = (x_BxF @ t.astype(x_BxF.dtype)).reshape(-1, self.num_kernels, self.kernel_dim)
        # The L1 sum over the kernel_dim axis as kernel_dim [B, B, K] terms, each over a
        # contiguous [B, K] slice: XLA:CPU reduces a short minor axis of a [B, B, K, D]
        # broadcast slowly; with batch 64 and 100 x 5 kernels this form takes forward+backward
        # from ~45 to ~7 ms on a 2-core CPU (BUILD_NOTES.md, minibatch discrimination).
        m_DxBxK = m.transpose(2, 0, 1)
        l1_BxBxK = sum(jnp.abs(m_d[:, None, :] - m_d[None, :, :]) for m_d in m_DxBxK)
        o_BxK = jnp.sum(jnp.exp(-l1_BxBxK), axis=1) - 1.0  # drop j = i: exp(0) = 1
        return jnp.concatenate([x_BxF, o_BxK.astype(x_BxF.dtype)], axis=-1)


class SelfAttention(nn.Module):
    """SAGAN's self-attention block (Zhang et al. 2019), as in its and BigGAN's reference code:
    1x1 convolutions f (query) and g (key) to C/8 channels and h (value) to C/2, keys and values
    2x2 max-pooled (`pool`, the reference's choice: a quarter of the attention cost; needs even
    H and W), softmax over positions, a 1x1 convolution of the attended values back to C, and
    out = x + gamma * o with the learned scalar gamma starting at 0 (the block starts as the
    identity). Convolutions have no bias; spectrally normalised with `spectral_norm`.
    """

    spectral_norm: bool = False
    pool: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.xavier_uniform()

    def _conv(self, features: int, name: str, x: jax.Array, update_stats: bool) -> jax.Array:
        if self.spectral_norm:
            return SNConv(features, (1, 1), use_bias=False, kernel_init=self.kernel_init,
                          name=name)(x, update_stats=update_stats)
        return nn.Conv(features, (1, 1), use_bias=False, kernel_init=self.kernel_init,
                       name=name)(x)

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, update_stats: bool = False) -> jax.Array:
        b, h, w, c = x_BxHxWxC.shape
        if c % 8:
            raise ValueError(f"SelfAttention needs channels divisible by 8, not {c}")
        query = self._conv(c // 8, "query", x_BxHxWxC, update_stats)
        key = self._conv(c // 8, "key", x_BxHxWxC, update_stats)
        value = self._conv(c // 2, "value", x_BxHxWxC, update_stats)
        if self.pool:
            key = nn.max_pool(key, (2, 2), (2, 2))
            value = nn.max_pool(value, (2, 2), (2, 2))
        query = query.reshape(b, h * w, c // 8)
        key = key.reshape(b, -1, c // 8)
        value = value.reshape(b, -1, c // 2)
        logits = jnp.einsum("bqd,bkd->bqk", query, key)
        attention = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(value.dtype)
        o = jnp.einsum("bqk,bkd->bqd", attention, value).reshape(b, h, w, c // 2)
        o = self._conv(c, "out", o, update_stats)
        gamma = self.param("gamma", nn.initializers.zeros_init(), ())
        return x_BxHxWxC + gamma.astype(o.dtype) * o
