"""Spectral normalisation, minibatch std / discrimination and self-attention blocks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models.blocks import MinibatchDiscrimination, MinibatchStdDev, SelfAttention
from jaxgan.models.normalization import SNConv, SNDense, SNEmbed

# --- spectral normalisation --------------------------------------------------------------------


def _top_singular_value(w):
    w = np.asarray(w, np.float64)
    return np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0]


@pytest.mark.parametrize("layer,x", [
    (SNDense(7), jnp.ones((2, 5))),
    (SNConv(6, (3, 3), strides=2, padding=1), jnp.ones((2, 8, 8, 4))),
    (SNEmbed(10, 6), jnp.array([1, 3])),
])
def test_power_iteration_converges_to_unit_spectral_norm(layer, x):
    variables = layer.init(jax.random.key(0), x, update_stats=False)
    assert set(variables) == {"params", "spectral"}
    name = "embedding" if isinstance(layer, SNEmbed) else "kernel"
    weight = variables["params"][name] * 5.0  # far from norm 1, so the division shows
    params = {**variables["params"], name: weight}
    spectral = variables["spectral"]

    @jax.jit
    def step(spectral):
        _, mutated = layer.apply({"params": params, "spectral": spectral}, x,
                                 update_stats=True, mutable=["spectral"])
        return mutated["spectral"]

    for _ in range(50):
        spectral = step(spectral)
    sigma_true = _top_singular_value(weight)
    u = np.asarray(spectral["u"], np.float64)
    w = np.asarray(weight, np.float64).reshape(-1, weight.shape[-1])
    sigma_est = np.linalg.norm(w @ u)  # what v^T W u equals after the next half-step
    np.testing.assert_allclose(sigma_est, sigma_true, rtol=1e-3)

    # The effective weight W / sigma, read off the layer's outputs, has spectral norm 1.
    w_bar = _effective_weight(layer, {"params": params, "spectral": spectral})
    np.testing.assert_allclose(_top_singular_value(w_bar), 1.0, atol=1e-3)
    np.testing.assert_allclose(w_bar, w / sigma_true, atol=1e-3)


def _effective_weight(layer, variables):
    """The normalised weight as a [fan_in, out] matrix: the layer applied to one-hot inputs."""
    if isinstance(layer, SNEmbed):
        return layer.apply(variables, jnp.arange(layer.num_embeddings), update_stats=False)
    if isinstance(layer, SNDense):
        fan_in = variables["params"]["kernel"].shape[0]
        out = layer.apply(variables, jnp.eye(fan_in), update_stats=False)
        return out - variables["params"]["bias"]
    kh, kw, cin, _ = variables["params"]["kernel"].shape
    one_hot = jnp.eye(kh * kw * cin).reshape(-1, kh, kw, cin)
    valid = layer.clone(strides=1, padding="VALID")  # stride and padding hold no weights
    out = valid.apply(variables, one_hot, update_stats=False)[:, 0, 0]
    return out - variables["params"]["bias"]


def test_state_is_read_only_without_update_stats():
    layer = SNDense(4)
    x = jax.random.normal(jax.random.key(1), (3, 6))
    variables = layer.init(jax.random.key(0), x, update_stats=False)
    y1, mutated = layer.apply(variables, x, update_stats=False, mutable=["spectral"])
    chex.assert_trees_all_equal(mutated["spectral"], variables["spectral"])
    y2 = layer.apply(variables, x, update_stats=False)  # immutable: no error, same output
    chex.assert_trees_all_equal(y1, y2)
    _, trained = layer.apply(variables, x, update_stats=True, mutable=["spectral"])
    assert not np.allclose(trained["spectral"]["u"], variables["spectral"]["u"])
    with pytest.raises(ValueError, match="mutable"):
        layer.apply(variables, x, update_stats=True)


def test_sn_conv_matches_nn_conv_with_the_divided_kernel():
    import flax.linen as nn

    layer = SNConv(5, (3, 3), strides=2, padding=1)
    x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
    variables = layer.init(jax.random.key(0), x, update_stats=False)
    kernel = variables["params"]["kernel"]
    u = variables["spectral"]["u"]
    w = kernel.reshape(-1, 5)
    v = w @ u / jnp.linalg.norm(w @ u)
    u1 = w.T @ v / jnp.linalg.norm(w.T @ v)
    sigma = v @ w @ u1
    want = nn.Conv(5, (3, 3), strides=2, padding=1).apply(
        {"params": {"kernel": kernel / sigma, "bias": variables["params"]["bias"]}}, x)
    got = layer.apply(variables, x, update_stats=False)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_u_and_v_are_constants_to_the_gradient():
    layer = SNDense(3, use_bias=False)
    x = jax.random.normal(jax.random.key(1), (2, 4))
    variables = layer.init(jax.random.key(0), x, update_stats=False)
    kernel = variables["params"]["kernel"]
    # u, v after one power iteration from the stored u, frozen as numpy constants.
    u0 = np.asarray(variables["spectral"]["u"])
    v = np.asarray(kernel) @ u0
    v /= np.linalg.norm(v)
    u = np.asarray(kernel).T @ v
    u /= np.linalg.norm(u)

    def out(kernel):
        return jnp.sum(jnp.sin(layer.apply({"params": {"kernel": kernel},
                                            "spectral": variables["spectral"]}, x,
                                           update_stats=False)))

    def reference(kernel):  # sigma = v^T W u still depends on W; u and v do not
        return jnp.sum(jnp.sin(x @ (kernel / (v @ kernel @ u))))

    np.testing.assert_allclose(out(kernel), reference(kernel), rtol=1e-5)
    np.testing.assert_allclose(jax.grad(out)(kernel), jax.grad(reference)(kernel), rtol=1e-4,
                               atol=1e-6)


# --- minibatch standard deviation --------------------------------------------------------------


def _mbstd_reference(x, group_size, num_features):
    """StyleGAN2-ADA's MinibatchStdLayer, transcribed to NHWC numpy loops."""
    x = np.asarray(x, np.float64)
    b, h, w, c = x.shape
    g = min(group_size, b)
    n = b // g
    out = np.zeros((b, h, w, num_features))
    for group in range(n):
        members = [i for i in range(b) if i % n == group]
        for f in range(num_features):
            chans = slice(f * (c // num_features), (f + 1) * (c // num_features))
            std = np.sqrt(np.var(x[members][..., chans], axis=0) + 1e-8)
            out[members, :, :, f] = std.mean()
    return np.concatenate([x, out], axis=-1)


def test_minibatch_stddev_on_a_hand_built_batch():
    # Samples 0 and 2 form a group (i % 2 == 0): constants 1 and 3, std 1 everywhere.
    x = np.zeros((4, 2, 2, 2), np.float32)
    x[0], x[2] = 1.0, 3.0
    x[1], x[3] = 5.0, 5.0  # the other group: std sqrt(1e-8)
    y = MinibatchStdDev(group_size=2).apply({}, jnp.asarray(x))
    chex.assert_shape(y, (4, 2, 2, 3))
    np.testing.assert_allclose(y[..., :2], x)
    np.testing.assert_allclose(y[[0, 2], ..., 2], 1.0, rtol=1e-6)
    np.testing.assert_allclose(y[[1, 3], ..., 2], 1e-4, rtol=1e-3)


@pytest.mark.parametrize("batch,group_size,num_features", [(8, 4, 1), (6, 2, 2), (3, 4, 1)])
def test_minibatch_stddev_matches_reference(batch, group_size, num_features):
    x = jax.random.normal(jax.random.key(0), (batch, 3, 2, 4))
    y = MinibatchStdDev(group_size, num_features).apply({}, x)
    np.testing.assert_allclose(y, _mbstd_reference(x, group_size, num_features), rtol=1e-5)


def test_minibatch_stddev_mixes_samples_and_rejects_bad_batches():
    x = jax.random.normal(jax.random.key(0), (4, 2, 2, 3))
    layer = MinibatchStdDev(group_size=4)
    y0 = layer.apply({}, x)[0]
    y1 = layer.apply({}, x.at[1].add(1.0))[0]
    assert not np.allclose(y0, y1)
    with pytest.raises(ValueError, match="divisible"):
        MinibatchStdDev(group_size=4).apply({}, jnp.zeros((6, 2, 2, 3)))


# --- minibatch discrimination ------------------------------------------------------------------


def test_minibatch_discrimination_by_hand_and_mixing():
    layer = MinibatchDiscrimination(num_kernels=3, kernel_dim=2)
    x = jax.random.normal(jax.random.key(0), (4, 5))
    variables = layer.init(jax.random.key(1), x)
    y = layer.apply(variables, x)
    chex.assert_shape(y, (4, 8))
    np.testing.assert_allclose(y[:, :5], x)
    m = np.asarray(x @ variables["params"]["T"], np.float64).reshape(4, 3, 2)
    want = np.array([[sum(np.exp(-np.abs(m[i, k] - m[j, k]).sum()) for j in range(4) if j != i)
                      for k in range(3)] for i in range(4)])
    np.testing.assert_allclose(y[:, 5:], want, rtol=1e-5)
    y_changed = layer.apply(variables, x.at[1].multiply(0.5))
    assert not np.allclose(y[0, 5:], y_changed[0, 5:])
    np.testing.assert_allclose(y_changed[0, :5], y[0, :5])


# --- self-attention ----------------------------------------------------------------------------


@pytest.mark.parametrize("spectral_norm,pool", [(False, True), (True, True), (False, False)])
def test_self_attention_shape_and_identity_at_zero_gamma(spectral_norm, pool):
    layer = SelfAttention(spectral_norm=spectral_norm, pool=pool)
    x = jax.random.normal(jax.random.key(0), (2, 4, 6, 16))
    variables = layer.init(jax.random.key(1), x)
    assert float(variables["params"]["gamma"]) == 0.0
    assert ("spectral" in variables) == spectral_norm
    y = layer.apply(variables, x)
    chex.assert_shape(y, x.shape)
    chex.assert_trees_all_equal(y, x)  # exactly
    params = {**variables["params"], "gamma": jnp.asarray(0.5)}
    y = layer.apply({**variables, "params": params}, x)
    assert not np.allclose(y, x)
    # Attention mixes positions: output at one pixel changes when a far pixel changes.
    y2 = layer.apply({**variables, "params": params}, x.at[:, 3, 5].add(2.0))
    assert not np.allclose(y[:, 0, 0], y2[:, 0, 0])
    # and never samples: sample 0 unchanged when sample 1 changes
    y3 = layer.apply({**variables, "params": params}, x.at[1].add(2.0))
    np.testing.assert_allclose(y3[0], y[0], atol=1e-6)
