"""Spectrally normalised layers (Miyato et al. 2018) with their power-iteration state in the
"spectral" collection.

Each layer divides its weight W (reshaped to [fan_in, out]) by an estimate of its largest
singular value, sigma = v^T W u, where u (unit, [out]) is kept between calls in the collection
"spectral" and refined by `n_steps` power iterations per call; u and v are constants to the
gradient, as in the paper. With `update_stats=True` (training) the refined u is stored and the
collection must be mutable: `apply(..., mutable=["spectral"])` returns it. With
`update_stats=False` the same iterations run from the stored u and the result is discarded, so
inference is deterministic and leaves the state as it was.

Why not `flax.linen.SpectralNorm(layer, collection_name="spectral")`: it does accept another
collection name, but it names its state after the wrapped layer with "/" inside the key
("dense/kernel/u"), nests the parameters one module deeper, and stores sigma too; these layers
keep the parameter tree of `nn.Dense` / `nn.Conv` / `nn.Embed` and one plain `u` per layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

COLLECTION = "spectral"


def _l2_normalize(x: jax.Array, eps: float) -> jax.Array:
    return x * jax.lax.rsqrt(jnp.sum(x * x) + eps)


def _init_u(key: jax.Array, n: int) -> jax.Array:
    return _l2_normalize(jax.random.normal(key, (n,), jnp.float32), 1e-12)


def spectral_normalize(module: nn.Module, weight: jax.Array, update_stats: bool,
                       n_steps: int = 1, eps: float = 1e-12) -> jax.Array:
    """weight / sigma(weight), with the power-iteration vector `u` a variable of `module` in the
    "spectral" collection. Call from inside a compact `__call__` (once per module)."""
    w = weight.reshape(-1, weight.shape[-1]).astype(jnp.float32)  # [fan_in, out]
    u_var = module.variable(COLLECTION, "u", lambda: _init_u(module.make_rng("params"), w.shape[1]))
    if update_stats and not module.is_initializing() and not module.is_mutable_collection(
            COLLECTION):
        raise ValueError(f"{module.name}: update_stats=True needs the {COLLECTION!r} collection "
                         f"mutable: apply(..., mutable=[{COLLECTION!r}, ...])")
    u = u_var.value
    v = None
    for _ in range(max(n_steps, 1)):
        v = _l2_normalize(w @ u, eps)
        u = _l2_normalize(w.T @ v, eps)
    u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
    sigma = v @ (w @ u)
    if update_stats:
        u_var.value = u
    return (weight / sigma.astype(weight.dtype)).astype(weight.dtype)


class SNDense(nn.Module):
    """`nn.Dense` with a spectrally normalised kernel; same parameter tree."""

    features: int
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()
    n_steps: int = 1
    eps: float = 1e-12
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x: jax.Array, *, update_stats: bool) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
        kernel = spectral_normalize(self, kernel, update_stats, self.n_steps, self.eps)
        dtype = self.dtype or x.dtype
        y = jnp.dot(x.astype(dtype), kernel.astype(dtype))
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,)).astype(dtype)
        return y


class SNConv(nn.Module):
    """`nn.Conv` (NHWC, 2-D) with a spectrally normalised kernel [kh, kw, cin, cout], read as a
    [kh * kw * cin, cout] matrix as in the paper; same parameter tree as `nn.Conv`."""

    features: int
    kernel_size: Sequence[int] = (3, 3)
    strides: int | Sequence[int] = 1
    padding: str | int | Sequence[tuple[int, int]] = "SAME"
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()
    n_steps: int = 1
    eps: float = 1e-12
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, update_stats: bool) -> jax.Array:
        kh, kw = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (kh, kw, x_BxHxWxC.shape[-1],
                                                         self.features))
        kernel = spectral_normalize(self, kernel, update_stats, self.n_steps, self.eps)
        strides = (self.strides,) * 2 if isinstance(self.strides, int) else tuple(self.strides)
        padding = self.padding
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        dtype = self.dtype or x_BxHxWxC.dtype
        y = jax.lax.conv_general_dilated(
            x_BxHxWxC.astype(dtype), kernel.astype(dtype), strides, padding,
            dimension_numbers=("NHWC", "HWIO", "NHWC"))
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,)).astype(dtype)
        return y


class SNEmbed(nn.Module):
    """`nn.Embed` whose table [num_embeddings, features] is spectrally normalised (the class
    embedding of the projection discriminator, as in Miyato & Koyama's code)."""

    num_embeddings: int
    features: int
    embedding_init: nn.initializers.Initializer = nn.initializers.variance_scaling(
        1.0, "fan_in", "normal", out_axis=0)
    n_steps: int = 1
    eps: float = 1e-12

    @nn.compact
    def __call__(self, ids_B: jax.Array, *, update_stats: bool) -> jax.Array:
        table = self.param("embedding", self.embedding_init,
                           (self.num_embeddings, self.features))
        table = spectral_normalize(self, table, update_stats, self.n_steps, self.eps)
        return jnp.take(table, ids_B, axis=0)


class ConditionalBatchNorm(nn.Module):
    """Class-conditional BatchNorm (de Vries et al. 2017; SNGAN-projection's generator):
    BatchNorm without its own affine, then a per-class gain (initialised to 1) and bias (to 0)
    looked up from embeddings [num_classes, C]. Statistics in "batch_stats"."""

    num_classes: int
    momentum: float = 0.9
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, labels_B: jax.Array, train: bool) -> jax.Array:
        c = x_BxHxWxC.shape[-1]
        x = nn.BatchNorm(use_running_average=not train, momentum=self.momentum,
                         epsilon=self.epsilon, use_scale=False, use_bias=False,
                         name="bn")(x_BxHxWxC)
        gain = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.ones_init(),
                        name="gain")(labels_B)
        bias = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.zeros_init(),
                        name="bias")(labels_B)
        return x * gain[:, None, None].astype(x.dtype) + bias[:, None, None].astype(x.dtype)
