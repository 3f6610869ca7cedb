"""DCGAN networks: shapes, finiteness, the reference parameter counts, the sub-pixel layer."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import dcgan
from jaxgan.models.layers import UpConv2x
from jaxgan.state import num_params


class ModelShapesTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_shapes_and_finite(self):
        for size, channels in [(28, 1), (32, 1), (32, 3), (64, 3)]:
            g = dcgan.Generator(size, channels, ngf=8)
            d = dcgan.Discriminator(size, ndf=8)
            z = jax.random.normal(jax.random.key(0), (3, 100))
            g_vars = g.init(jax.random.key(1), z, train=False)
            x = jnp.zeros((3, size, size, channels))
            d_vars = d.init(jax.random.key(2), x, train=False)

            @self.variant
            def forward(g_vars, d_vars, z, g=g, d=d):
                images, _ = g.apply(g_vars, z, train=True, mutable=["batch_stats"])
                logits, _ = d.apply(d_vars, images, train=True, mutable=["batch_stats"])
                return images, logits

            images, logits = forward(g_vars, d_vars, z)
            chex.assert_shape(images, (3, size, size, channels))
            chex.assert_shape(logits, (3,))
            chex.assert_tree_all_finite((images, logits))
            assert float(jnp.max(jnp.abs(images))) <= 1.0


def test_reference_parameter_counts_64px():
    g = dcgan.Generator(64, 3, ngf=64)
    d = dcgan.Discriminator(64, ndf=64)
    g_vars = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 100)))
    d_vars = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((1, 64, 64, 3)))
    assert num_params(g_vars["params"]) == 3_576_704
    assert num_params(d_vars["params"]) == 2_765_568


def test_conditional_batch_norm_generator():
    g = dcgan.Generator(28, 1, ngf=8, num_classes=10, conditional_bn=True)
    z = jnp.tile(jax.random.normal(jax.random.key(0), (1, 100)), (2, 1))  # same z twice
    labels = jnp.array([1, 4])
    g_vars = g.init(jax.random.key(1), z, labels, train=False)
    params = g_vars["params"]
    # One per-class gain and bias table per BatchNorm, replacing the shared affine.
    assert params["project_bn"]["gain"]["embedding"].shape == (10, 16)
    assert params["up0_bn"]["bias"]["embedding"].shape == (10, 8)
    assert "scale" not in params["project_bn"]
    apply = jax.jit(lambda v: g.apply(v, z, labels, train=False))
    base = apply(g_vars)
    # Class 4's gain moves only the sample asked for class 4.
    bumped = jax.tree_util.tree_map_with_path(
        lambda path, p: p.at[4].add(0.5) if "gain" in jax.tree_util.keystr(path) else p, params)
    moved = apply({**g_vars, "params": bumped})
    np.testing.assert_array_equal(moved[0], base[0])
    assert float(jnp.max(jnp.abs(moved[1] - base[1]))) > 1e-3
    with pytest.raises(ValueError, match="num_classes"):
        dcgan.Generator(28, 1, ngf=8, conditional_bn=True).init(
            jax.random.key(1), z, train=False)


def test_unsupported_size_is_rejected():
    with pytest.raises(ValueError, match="image sizes"):
        dcgan.num_stages(30)


def _transposed_conv_reference(x, kernel):
    """PyTorch ConvTranspose2d(k=4, s=2, p=1) by its definition, in numpy loops."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    b, h, w, _ = x.shape
    out = np.zeros((b, 2 * h, 2 * w, kernel.shape[-1]))
    for i in range(h):
        for j in range(w):
            for ki in range(4):
                for kj in range(4):
                    o, p = 2 * i - 1 + ki, 2 * j - 1 + kj
                    if 0 <= o < 2 * h and 0 <= p < 2 * w:
                        out[:, o, p] += x[:, i, j] @ kernel[ki, kj]
    return out


def _transposed_conv_lax(x, kernel):
    # The same operator as an input-dilated convolution with the spatially flipped kernel.
    return jax.lax.conv_general_dilated(
        x, kernel[::-1, ::-1], (1, 1), ((2, 2), (2, 2)), lhs_dilation=(2, 2),
        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def test_upconv_matches_transposed_convolution_and_its_gradients():
    x = jax.random.normal(jax.random.key(0), (2, 5, 6, 3))
    layer = UpConv2x(4)
    variables = layer.init(jax.random.key(1), x)
    kernel = variables["params"]["kernel"]
    out = layer.apply(variables, x)
    np.testing.assert_allclose(out, _transposed_conv_reference(x, kernel), atol=1e-5)

    def loss_sub(x, k):
        return jnp.sum(jnp.sin(layer.apply({"params": {"kernel": k}}, x)))

    def loss_ref(x, k):
        return jnp.sum(jnp.sin(_transposed_conv_lax(x, k)))

    got = jax.grad(loss_sub, argnums=(0, 1))(x, kernel)
    want = jax.grad(loss_ref, argnums=(0, 1))(x, kernel)
    chex.assert_trees_all_close(got, want, atol=1e-4)
