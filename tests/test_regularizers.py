"""Gradient penalties against closed forms and a per-sample loop; orthogonal regularisation by
hand."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.objectives import regularizers


def _linear_d(w):
    return lambda x: jnp.einsum("bhwc,hwc->b", x, w)


def _nonlinear_d(w):
    # Per-sample, non-linear, and with a gradient that depends on the input.
    return lambda x: jnp.sum(jnp.tanh(x * w[None]) ** 2, axis=(1, 2, 3)) + jnp.sum(x**3, (1, 2, 3))


def test_gradient_penalty_closed_form_on_a_linear_critic():
    w = jax.random.normal(jax.random.key(0), (4, 4, 3))
    real = jax.random.normal(jax.random.key(1), (5, 4, 4, 3))
    fake = jax.random.normal(jax.random.key(2), (5, 4, 4, 3))
    want = (np.linalg.norm(np.asarray(w)) - 1.0) ** 2  # grad D = w at every x_hat
    gp = regularizers.gradient_penalty(_linear_d(w), real, fake, jax.random.key(3))
    np.testing.assert_allclose(gp, want, rtol=1e-5)
    gp2 = regularizers.gradient_penalty(_linear_d(w), real, fake, jax.random.key(3), target=2.0)
    np.testing.assert_allclose(gp2, (np.linalg.norm(np.asarray(w)) - 2.0) ** 2, rtol=1e-5)


def test_gradient_penalty_matches_a_per_sample_loop():
    w = jax.random.normal(jax.random.key(0), (4, 4, 3))
    real = jax.random.normal(jax.random.key(1), (3, 4, 4, 3))
    fake = jax.random.normal(jax.random.key(2), (3, 4, 4, 3))
    key = jax.random.key(7)
    d_fn = _nonlinear_d(w)
    # The same eps draw as the implementation: one U(0, 1) per sample from `key`.
    eps = np.asarray(jax.random.uniform(key, (3, 1, 1, 1)))
    penalties = []
    for i in range(3):
        x_hat = eps[i] * real[i] + (1 - eps[i]) * fake[i]
        g = jax.grad(lambda x: d_fn(x[None])[0])(x_hat)
        penalties.append((np.linalg.norm(np.asarray(g)) - 1.0) ** 2)
    got = regularizers.gradient_penalty(d_fn, real, fake, key)
    np.testing.assert_allclose(got, np.mean(penalties), rtol=1e-5)
    assert float(got) > 0.1
    # and its own gradient (what D's optimiser sees) is finite
    g = jax.grad(lambda w: regularizers.gradient_penalty(_nonlinear_d(w), real, fake, key))(w)
    assert np.all(np.isfinite(g)) and float(jnp.max(jnp.abs(g))) > 0


def test_r1_closed_form_and_loop():
    w = jax.random.normal(jax.random.key(0), (4, 4, 3))
    x = jax.random.normal(jax.random.key(1), (3, 4, 4, 3))
    np.testing.assert_allclose(regularizers.r1_penalty(_linear_d(w), x),
                               np.sum(np.asarray(w) ** 2), rtol=1e-5)
    d_fn = _nonlinear_d(w)
    want = np.mean([np.sum(np.asarray(jax.grad(lambda x: d_fn(x[None])[0])(x[i])) ** 2)
                    for i in range(3)])
    np.testing.assert_allclose(regularizers.r1_penalty(d_fn, x), want, rtol=1e-5)


def test_orthogonal_regularization_by_hand():
    params = {
        "dense": {"kernel": jnp.array([[1.0, 2.0], [3.0, 4.0]]), "bias": jnp.array([5.0, 6.0])},
        "bn": {"scale": jnp.ones(2)},
        "embed": {"embedding": jnp.ones((3, 2))},
    }
    # W^T W = [[10, 14], [14, 20]]: off-diagonal squares 2 * 14^2
    np.testing.assert_allclose(regularizers.orthogonal_regularization(params), 2 * 196.0)
    # A conv kernel is read as [fan_in, out]; orthogonal columns of any norm cost nothing.
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(18, 4)))
    conv = {"conv": {"kernel": jnp.asarray(q * [1.0, 2.0, 3.0, 4.0]).reshape(3, 3, 2, 4)}}
    np.testing.assert_allclose(regularizers.orthogonal_regularization(conv), 0.0, atol=1e-5)
