"""SNGAN / SAGAN networks: shapes, finiteness, state collections, class conditioning, the
reference parameter counts."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_experiment

from jaxgan.models import sngan
from jaxgan.models.normalization import SNEmbed
from jaxgan.state import num_params

CASES = [  # image_size, channels, num_classes, attention_resolution, g_spectral_norm
    (32, 1, 0, None, False),
    (32, 3, 10, 16, True),
    (64, 3, 0, 8, False),
]


@pytest.mark.parametrize("size,channels,num_classes,attention,g_sn", CASES)
def test_shapes_finite_and_state(size, channels, num_classes, attention, g_sn):
    g = sngan.Generator(size, channels, g_width=16, num_classes=num_classes,
                        attention_resolution=attention, g_spectral_norm=g_sn)
    d = sngan.Discriminator(size, d_width=16, num_classes=num_classes,
                            attention_resolution=attention)
    z = jax.random.normal(jax.random.key(0), (4, 128))
    labels = jnp.array([0, 1, 2, 3]) if num_classes else None
    x = jnp.zeros((4, size, size, channels))
    g_vars = g.init(jax.random.key(1), z, labels, train=False)
    d_vars = d.init(jax.random.key(2), x, labels, train=False)
    assert ("spectral" in g_vars) == g_sn and "batch_stats" in g_vars
    assert set(d_vars) == {"params", "spectral"}

    def forward(g_vars, d_vars, z, labels):
        images, g_new = g.apply(g_vars, z, labels, train=True,
                                mutable=["batch_stats", "spectral"])
        (logits, feats), d_new = d.apply(d_vars, images, labels, train=True,
                                         return_features=True, mutable=["spectral"])
        return images, logits, feats, g_new, d_new

    out = forward(g_vars, d_vars, z, labels)
    images, logits, feats, g_new, d_new = out
    chex.assert_shape(images, (4, size, size, channels))
    chex.assert_shape(logits, (4,))
    chex.assert_shape(feats, (4, 16))
    chex.assert_tree_all_finite((images, logits, feats))
    assert float(jnp.max(jnp.abs(images))) <= 1.0
    # training updates G's BatchNorm statistics and the power-iteration state; inference
    # leaves the latter alone
    assert not np.allclose(g_new["batch_stats"]["out_bn"]["mean"],
                           g_vars["batch_stats"]["out_bn"]["mean"])
    assert ("spectral" in g_new) == g_sn
    u_new = d_new["spectral"]["block0"]["conv1"]["u"]
    assert not np.allclose(u_new, d_vars["spectral"]["block0"]["conv1"]["u"])
    _, d_eval = d.apply(d_vars, images, labels, train=False, mutable=["spectral"])
    chex.assert_trees_all_equal(d_eval, {"spectral": d_vars["spectral"]})
    chex.assert_shape(g.apply(g_vars, z, labels, train=False), images.shape)
    if num_classes:  # the feature-richest case also under jit (compiles take ~5 s each)
        chex.assert_trees_all_close(jax.jit(forward)(g_vars, d_vars, z, labels), out,
                                    atol=1e-4)


def _small(num_classes=10):
    g = sngan.Generator(32, 3, g_width=16, num_classes=num_classes)
    d = sngan.Discriminator(32, d_width=16, num_classes=num_classes)
    return g, d


def test_projection_discriminator_output_depends_on_the_label():
    _, d = _small()
    x = jax.random.normal(jax.random.key(0), (2, 32, 32, 3))
    d_vars = d.init(jax.random.key(1), x, jnp.zeros(2, jnp.int32), train=False)
    apply = jax.jit(functools.partial(d.apply, train=False, return_features=True))
    logits_a, feats = apply(d_vars, x, jnp.array([0, 0]))
    logits_b, _ = apply(d_vars, x, jnp.array([3, 0]))
    assert float(jnp.abs(logits_a[0] - logits_b[0])) > 1e-4
    assert float(logits_a[1]) == float(logits_b[1])  # per sample
    # The label enters only through <embed(y), h>: the difference is that projection.
    table = SNEmbed(10, 16).apply(
        {"params": d_vars["params"]["projection"], "spectral": d_vars["spectral"]["projection"]},
        jnp.array([3, 0]), update_stats=False)
    np.testing.assert_allclose(logits_b[0] - logits_a[0], (table[0] - table[1]) @ feats[0],
                               rtol=1e-4)


def test_conditional_generator_depends_on_the_label():
    g, _ = _small()
    z = jnp.tile(jax.random.normal(jax.random.key(0), (1, 128)), (2, 1))  # same z twice
    labels = jnp.array([1, 4])
    g_vars = g.init(jax.random.key(1), z, labels, train=False)
    apply = jax.jit(functools.partial(g.apply, train=False))
    images = apply(g_vars, z, labels)
    # Conditional gains start at 1 and biases at 0 for every class: the classes start equal.
    np.testing.assert_allclose(images[0], images[1], atol=1e-5)
    params = jax.tree_util.tree_map_with_path(
        lambda path, p: p.at[4].add(0.5) if "gain" in jax.tree_util.keystr(path) else p,
        g_vars["params"])
    images = apply({**g_vars, "params": params}, z, labels)
    assert float(jnp.max(jnp.abs(images[0] - images[1]))) > 1e-3
    with pytest.raises(ValueError, match="labels_B"):
        g.apply(g_vars, z, train=False)


def test_reference_parameter_counts_32px():
    def count(module, *args):
        variables = jax.eval_shape(functools.partial(module.init, train=False),
                                   jax.random.key(0), *args)
        return num_params(variables["params"])

    # Miyato et al.'s CIFAR-10 networks (the "4.3M / 1.0M" of the literature), counted by hand
    # in the module docstring.
    assert count(sngan.Generator(), jnp.zeros((1, 128))) == 4_276_739
    assert count(sngan.Discriminator(), jnp.zeros((1, 32, 32, 3))) == 1_053_825


def test_bad_configurations_are_rejected():
    z = jnp.zeros((2, 128))
    with pytest.raises(ValueError, match="image sizes"):
        sngan.Generator(28).init(jax.random.key(0), z, train=False)
    with pytest.raises(ValueError, match="attention_resolution 4"):
        sngan.Generator(attention_resolution=4).init(jax.random.key(0), z, train=False)
    with pytest.raises(ValueError, match="attention_resolution 32"):
        sngan.Discriminator(attention_resolution=32).init(
            jax.random.key(0), jnp.zeros((2, 32, 32, 3)), train=False)


def test_wide_fashion_variant_is_the_reported_recipe():
    """`:wide` is `sngan_fashion.py` with both widths at 64, nothing else."""
    base = load_experiment("sngan_fashion", None).to_dict()
    wide = load_experiment("sngan_fashion", "wide").to_dict()
    assert (base["model"]["ngf"], base["model"]["ndf"]) == (32, 32)
    base["model"]["ngf"] = base["model"]["ndf"] = 64
    assert wide == base
