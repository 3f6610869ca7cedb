"""DiffAugment: each op on hand-built images, differentiability, policy parsing, the random
draws' ranges."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.objectives import augment


def _ramp(b=2, h=6, w=5, c=2):
    return jnp.arange(b * h * w * c, dtype=jnp.float32).reshape(b, h, w, c) + 1.0


def test_translate_moves_pixels_by_exact_integer_shifts():
    x = _ramp()
    y = augment.translate(x, jnp.array([2, -1]), jnp.array([1, 0]))
    want = np.zeros(x.shape, np.float32)
    want[0, 1:, 2:] = x[0, :-1, :-2]  # right 2, down 1
    want[1, :, :-1] = x[1, :, 1:]  # left 1
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(augment.translate(x, jnp.zeros(2), jnp.zeros(2)), x)
    assert float(jnp.abs(augment.translate(x, jnp.array([5, 0]), jnp.array([0, -6]))).max()) == 0


def test_cutout_zeroes_the_expected_square():
    x = _ramp()
    y = augment.cutout(x, jnp.array([2, 0]), jnp.array([3, 5]), 2)
    want = np.array(x)
    want[0, 2:4, 1:3] = 0.0  # rows 3 - 1 .. 3, cols 2 - 1 .. 2
    want[1, 4:6, 0:1] = 0.0  # clipped at the left border: cols -1 .. 0
    np.testing.assert_array_equal(y, want)
    y = augment.cutout(x, jnp.array([0, 0]), jnp.array([0, 0]), (3, 1))
    want = np.array(x)
    want[:, 0:2, 0] = 0.0  # rows -1 .. 1, col 0
    np.testing.assert_array_equal(y, want)


def test_color_ops_by_hand():
    x = jnp.array([[[[0.1, 0.2, 0.6]]], [[[-1.0, 0.0, 1.0]]]])  # [2, 1, 1, 3]
    np.testing.assert_allclose(augment.brightness(x, jnp.array([0.5, -0.25])),
                               x + jnp.array([0.5, -0.25])[:, None, None, None])
    # saturation: deviation from the channel mean (0.3 and 0.0) scaled
    np.testing.assert_allclose(augment.saturation(x, jnp.array([0.0, 2.0])),
                               [[[[0.3, 0.3, 0.3]]], [[[-2.0, 0.0, 2.0]]]], atol=1e-6)
    # contrast: deviation from the whole image's mean scaled
    img = jnp.array([[[[0.0], [1.0]], [[2.0], [5.0]]]])  # mean 2
    np.testing.assert_allclose(augment.contrast(img, jnp.array([0.5])),
                               [[[[1.0], [1.5]], [[2.0], [3.5]]]])


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_diff_augment_is_differentiable(policy):
    x = jax.random.uniform(jax.random.key(0), (4, 8, 8, 3), minval=-1, maxval=1)
    w = jax.random.normal(jax.random.key(1), x.shape)

    def loss(x):
        return jnp.sum(w * augment.diff_augment(x, jax.random.key(2), policy))

    g = jax.jit(jax.grad(loss))(x)
    assert np.all(np.isfinite(g)) and float(jnp.abs(g).max()) > 0
    # Away from its discontinuities the op is affine in x with fixed random draws: the
    # gradient equals the finite difference.
    eps = 1e-2
    d = jax.random.normal(jax.random.key(3), x.shape)
    fd = (loss(x + eps * d) - loss(x - eps * d)) / (2 * eps)
    np.testing.assert_allclose(jnp.sum(g * d), fd, rtol=1e-3)


def test_random_draws_stay_in_the_reference_ranges():
    x = jnp.ones((64, 16, 16, 1))
    t = augment.diff_augment(x, jax.random.key(0), "translation")
    zero_rows = jnp.all(t == 0, axis=(2, 3)).sum(axis=1)
    zero_cols = jnp.all(t == 0, axis=(1, 3)).sum(axis=1)
    assert int(zero_rows.max()) == 2 and int(zero_cols.max()) == 2  # 16 / 8 pixels at most
    assert int(zero_rows.min()) == 0
    c = augment.diff_augment(x, jax.random.key(0), "cutout")
    holes = jnp.sum(c == 0, axis=(1, 2, 3))
    assert int(holes.max()) == 64 and int(holes.min()) >= 16  # 8 x 8; 4 x 4 in a corner
    shifted = augment.diff_augment(jnp.zeros((256, 1, 1, 1)), jax.random.key(1), "color")
    assert float(shifted.min()) >= -0.5 and float(shifted.max()) <= 0.5  # brightness only
    assert float(shifted.max() - shifted.min()) > 0.9
    assert augment.diff_augment(x, jax.random.key(0), "") is x


def test_policy_parsing():
    assert augment.parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert augment.parse_policy("") == ()
    with pytest.raises(ValueError, match="color.*translation.*cutout"):
        augment.parse_policy("color,flip")
