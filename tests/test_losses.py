"""Adversarial losses against hand-computed values, their signs, label smoothing, feature
matching."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.errors import UserError
from jaxgan.objectives import losses

REAL = jnp.array([2.0, -1.0])
FAKE = jnp.array([0.5, -3.0])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def test_logistic_losses_match_cross_entropy_by_hand():
    s_real, s_fake = _sigmoid(REAL), _sigmoid(FAKE)
    want_d = -np.mean(np.log(s_real)) - np.mean(np.log(1 - s_fake))
    for name in ("non_saturating", "minimax"):
        np.testing.assert_allclose(losses.get(name).d_loss(REAL, FAKE), want_d, rtol=1e-6)
    np.testing.assert_allclose(
        losses.get("non_saturating").g_loss(FAKE), -np.mean(np.log(s_fake)), rtol=1e-6)
    np.testing.assert_allclose(
        losses.get("minimax").g_loss(FAKE), np.mean(np.log(1 - s_fake)), rtol=1e-6)


def test_hinge_wasserstein_least_squares_by_hand():
    # hinge: relu(1 - [2, -1]) = [0, 2]; relu(1 + [0.5, -3]) = [1.5, 0]
    hinge = losses.get("hinge")
    np.testing.assert_allclose(hinge.d_loss(REAL, FAKE), 1.0 + 0.75, rtol=1e-6)
    np.testing.assert_allclose(hinge.g_loss(FAKE), 1.25, rtol=1e-6)
    wgan = losses.get("wasserstein")
    np.testing.assert_allclose(wgan.d_loss(REAL, FAKE), -1.25 - 0.5, rtol=1e-6)
    np.testing.assert_allclose(wgan.g_loss(FAKE), 1.25, rtol=1e-6)
    # least squares: 0.5 * mean([1, 4]) + 0.5 * mean([0.25, 9]); G: 0.5 * mean([0.25, 16])
    ls = losses.get("least_squares")
    np.testing.assert_allclose(ls.d_loss(REAL, FAKE), 1.25 + 2.3125, rtol=1e-6)
    np.testing.assert_allclose(ls.g_loss(FAKE), 4.0625, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_signs(name):
    loss = losses.get(name)
    # D's loss falls as real logits rise and as fake logits fall; G's falls as fake logits rise.
    # (Least squares only near its targets: real below 1, fake above 0.)
    real, fake = jnp.array([0.2, -0.5]), jnp.array([0.3, 0.1])
    assert loss.d_loss(real + 0.1, fake) < loss.d_loss(real, fake)
    assert loss.d_loss(real, fake - 0.05) < loss.d_loss(real, fake)
    assert loss.g_loss(fake + 0.1) < loss.g_loss(fake)


def test_one_sided_label_smoothing():
    real = jnp.array([2.0, -1.0])
    fake = jnp.array([-20.0, -20.0])  # fake term ~ 0
    s = _sigmoid(real)
    want = -np.mean(0.9 * np.log(s) + 0.1 * np.log(1 - s)) + np.mean(np.log1p(np.exp(-20.0)))
    for name in ("non_saturating", "minimax"):
        got = losses.get(name).d_loss(real, fake, real_label=0.9)
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert got > losses.get(name).d_loss(real, fake)  # smoothing penalises a confident D
    np.testing.assert_allclose(  # least squares: the real target becomes 0.9
        losses.get("least_squares").d_loss(real, jnp.zeros(2), real_label=0.9),
        0.5 * np.mean([1.1**2, 1.9**2]), rtol=1e-6)
    for name in ("hinge", "wasserstein"):
        assert np.isfinite(losses.get(name).d_loss(real, fake, real_label=1.0))
        with pytest.raises(ValueError, match="real_label"):
            losses.get(name).d_loss(real, fake, real_label=0.9)


def test_unknown_loss_names_the_choices():
    with pytest.raises(UserError, match="hinge"):
        losses.get("hinge_loss")


def test_feature_matching():
    real = jnp.array([[1.0, 2.0, 0.0], [3.0, 2.0, 4.0]])  # batch means [2, 2, 2]
    fake = jnp.array([[0.0, 2.0, 5.0], [0.0, 2.0, 5.0]])  # batch means [0, 2, 5]
    np.testing.assert_allclose(losses.feature_matching_loss(real, fake), (4 + 0 + 9) / 3)
    assert float(losses.feature_matching_loss(real, real[::-1])) == 0.0  # order-free
