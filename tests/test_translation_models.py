"""pix2pix / CycleGAN networks: the reference parameter counts, shapes and finiteness, the U-Net's
skip connections, the PatchGAN's receptive field, the norms, dropout and the transposed 3x3
convolution against direct definitions."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import translation as T
from jaxgan.state import num_params

# sum(p.numel() for p in net.parameters()) of junyanz/pytorch-CycleGAN-and-pix2pix
# models/networks.py at commit 78913853ab4a4f5eba717af8433809300c99f0bb, networks built by
# define_G(input_nc, output_nc, ngf, which_model_netG, norm, use_dropout) and
# define_D(input_nc, ndf, which_model_netD, n_layers_D, norm).
REFERENCE_COUNTS = [
    # define_G(3, 3, 64, "unet_256", norm="batch", use_dropout=True): pix2pix facades' G
    ("unet_256", T.UnetGenerator(3, num_downs=8, ngf=64, norm="batch", use_dropout=True),
     (256, 256, 3), 54_413_955),
    # define_G(3, 3, 64, "unet_128", norm="batch", use_dropout=True)
    ("unet_128", T.UnetGenerator(3, num_downs=7, ngf=64, norm="batch", use_dropout=True),
     (128, 128, 3), 41_828_995),
    # define_G(3, 3, 64, "unet_256", norm="instance", use_dropout=False)
    ("unet_256_instance", T.UnetGenerator(3, num_downs=8, ngf=64, norm="instance"),
     (256, 256, 3), 54_409_603),
    # define_G(3, 3, 64, "resnet_9blocks", norm="instance", use_dropout=False): CycleGAN's G
    ("resnet_9blocks", T.ResnetGenerator(3, ngf=64, n_blocks=9, norm="instance"),
     (256, 256, 3), 11_378_179),
    # define_G(3, 3, 64, "resnet_6blocks", norm="instance", use_dropout=False)
    ("resnet_6blocks", T.ResnetGenerator(3, ngf=64, n_blocks=6, norm="instance"),
     (128, 128, 3), 7_837_699),
    # define_G(3, 3, 64, "resnet_9blocks", norm="batch", use_dropout=False)
    ("resnet_9blocks_batch", T.ResnetGenerator(3, ngf=64, n_blocks=9, norm="batch"),
     (256, 256, 3), 11_383_427),
    # define_D(6, 64, "basic", norm="batch"): pix2pix's D
    ("basic_D_pix2pix", T.NLayerDiscriminator(ndf=64, n_layers=3, norm="batch"),
     (256, 256, 6), 2_768_705),
    # define_D(3, 64, "basic", norm="instance"): CycleGAN's D
    ("basic_D_cyclegan", T.NLayerDiscriminator(ndf=64, n_layers=3, norm="instance"),
     (256, 256, 3), 2_764_737),
    # define_D(3, 64, "n_layers", n_layers_D=5, norm="batch")
    ("n_layers_5_D", T.NLayerDiscriminator(ndf=64, n_layers=5, norm="batch"),
     (256, 256, 3), 11_156_289),
    # define_D(6, 64, "pixel", norm="batch")
    ("pixel_D_batch", T.PixelDiscriminator(ndf=64, norm="batch"), (256, 256, 6), 9_024),
    # define_D(3, 64, "pixel", norm="instance")
    ("pixel_D_instance", T.PixelDiscriminator(ndf=64, norm="instance"), (256, 256, 3), 8_705),
]

RNGS = {"params": jax.random.key(0), "dropout": jax.random.key(1)}


def _init(model, x):
    # Jitted: one compilation instead of one per eager operation.
    return jax.jit(functools.partial(model.init, train=False))(RNGS, x)


def _init_shapes(model, shape_HxWxC):
    init = functools.partial(model.init, RNGS, train=False)
    return jax.eval_shape(init, jax.ShapeDtypeStruct((1, *shape_HxWxC), jnp.float32))


@pytest.mark.parametrize("name,model,shape,count", REFERENCE_COUNTS,
                         ids=[c[0] for c in REFERENCE_COUNTS])
def test_reference_parameter_counts(name, model, shape, count):
    assert num_params(_init_shapes(model, shape)["params"]) == count


def _small_networks():
    """(model, input shape [B, H, W, C], output shape): every network, grayscale included."""
    return [
        (T.UnetGenerator(1, num_downs=5, ngf=4), (2, 32, 32, 1), (2, 32, 32, 1)),
        (T.UnetGenerator(3, num_downs=6, ngf=4, norm="instance", use_dropout=True),
         (2, 64, 64, 1), (2, 64, 64, 3)),
        (T.UnetGenerator(3, num_downs=5, ngf=4, norm="none"), (2, 32, 64, 3), (2, 32, 64, 3)),
        (T.ResnetGenerator(1, ngf=4, n_blocks=1), (2, 16, 16, 1), (2, 16, 16, 1)),
        (T.ResnetGenerator(3, ngf=4, n_blocks=2, norm="batch", use_dropout=True),
         (2, 16, 24, 1), (2, 16, 24, 3)),
        (T.NLayerDiscriminator(ndf=4, n_layers=3), (2, 32, 32, 2), (2, 2, 2)),
        # 70 -> 35 -> 17 -> 8 (odd inputs: the nn.Conv path) -> 7 -> 6, as the reference
        (T.NLayerDiscriminator(ndf=4, n_layers=3, norm="instance"), (2, 70, 70, 1), (2, 6, 6)),
        (T.NLayerDiscriminator(ndf=4, n_layers=1, norm="none"), (2, 16, 16, 3), (2, 6, 6)),
        (T.PixelDiscriminator(ndf=4), (2, 8, 8, 2), (2, 8, 8)),
        (T.PixelDiscriminator(ndf=4, norm="instance"), (2, 8, 8, 1), (2, 8, 8)),
    ]


@functools.cache
def _initialized_small_networks():
    """[(model, x, variables, output shape)], initialised once for both variants."""
    out = []
    for i, (model, in_shape, out_shape) in enumerate(_small_networks()):
        x = jax.random.normal(jax.random.key(i), in_shape)
        out.append((model, x, _init(model, x), out_shape))
    return out


class ShapesTest(chex.TestCase):
    @chex.variants(with_jit=True)
    def test_shapes_and_finite(self):
        for model, x, variables, out_shape in _initialized_small_networks():

            @self.variant
            def forward(variables, x, model=model):
                rngs = {"dropout": jax.random.key(2)}
                y_train, _ = model.apply(variables, x, train=True, rngs=rngs,
                                         mutable=["batch_stats"])
                return y_train, model.apply(variables, x, train=False, rngs=rngs)

            y_train, y_test = forward(variables, x)
            for y in (y_train, y_test):
                chex.assert_shape(y, out_shape)
                chex.assert_tree_all_finite(y)
            if isinstance(model, (T.UnetGenerator, T.ResnetGenerator)):
                assert float(jnp.max(jnp.abs(y_train))) <= 1.0


@pytest.mark.parametrize("num_downs,size", [(5, 32), (6, 64), (7, 128)])
def test_unet_skip_shapes(num_downs, size):
    ngf, batch = 2, 2
    model = T.UnetGenerator(3, num_downs=num_downs, ngf=ngf)
    x = jax.ShapeDtypeStruct((batch, size, size, 1), jnp.float32)
    variables = jax.eval_shape(functools.partial(model.init, RNGS, train=False), x)
    apply = functools.partial(model.apply, train=False, mutable=["intermediates"])
    y, state = jax.eval_shape(apply, variables, x)  # shapes only: nothing compiles
    skips = {k: v[0].shape for k, v in state["intermediates"].items()}
    assert y.shape == (batch, size, size, 3)
    assert sorted(skips) == sorted(f"skip{level}" for level in range(1, num_downs))
    for level in range(1, num_downs):
        # Block `level`'s input (width ngf * min(2**(level-1), 8)) and what came back up to it.
        width = ngf * min(2 ** (level - 1), 8)
        side = size // 2 ** level
        assert skips[f"skip{level}"] == (batch, side, side, 2 * width)
    assert skips[f"skip{num_downs - 1}"][1:3] == (2, 2)  # the 1x1 bottleneck sits below it


@pytest.mark.parametrize("shape", [(1, 48, 48, 3), (1, 64, 40, 3)])
def test_unet_rejects_indivisible_sizes(shape):
    model = T.UnetGenerator(3, num_downs=5, ngf=2)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*5 = 32"):
        model.init(RNGS, jnp.zeros(shape), train=False)


def test_unknown_norm_is_an_error():
    with pytest.raises(ValueError, match="norm must be one of"):
        T.PixelDiscriminator(ndf=2, norm="group").init(RNGS, jnp.zeros((1, 4, 4, 1)),
                                                        train=False)


@pytest.mark.parametrize("n_layers,field", [(1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_field(n_layers, field):
    assert T.patchgan_receptive_field(n_layers) == field
    # The same number from the module: the input pixels one logit depends on (no norm, so pixels
    # interact only through the convolutions; generic random weights).
    size = field + 26
    model = T.NLayerDiscriminator(ndf=2, n_layers=n_layers, norm="none")
    x = jax.random.normal(jax.random.key(0), (1, size, size, 1))
    variables = _init(model, x)
    logits = jax.eval_shape(functools.partial(model.apply, train=False), variables, x)
    center = logits.shape[1] // 2

    def one_logit(x):
        return model.apply(variables, x, train=False)[0, center, center]

    grad = np.abs(np.asarray(jax.jit(jax.grad(one_logit))(x)))[0, :, :, 0]
    rows, cols = np.nonzero(grad.sum(axis=1))[0], np.nonzero(grad.sum(axis=0))[0]
    assert rows.max() - rows.min() + 1 == field
    assert cols.max() - cols.min() + 1 == field


def test_instance_norm_against_numpy():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(3, 5, 7, 4)).astype(np.float32)
    expected = np.empty_like(x)
    for b in range(3):
        for c in range(4):
            plane = x[b, :, :, c].astype(np.float64)
            expected[b, :, :, c] = (plane - plane.mean()) / np.sqrt(plane.var() + 1e-5)
    np.testing.assert_allclose(T.instance_norm(jnp.asarray(x)), expected, atol=2e-5)


def test_instance_norm_generator_is_batch_independent():
    model = T.ResnetGenerator(3, ngf=4, n_blocks=1, norm="instance")
    x = jax.random.normal(jax.random.key(0), (3, 16, 16, 3))
    variables = _init(model, x)
    assert "batch_stats" not in variables
    whole = model.apply(variables, x, train=True)
    chex.assert_trees_all_close(model.apply(variables, x[1:2], train=False), whole[1:2],
                                atol=1e-6)


def _two_dropout_draws(model, x, train):
    """(output, mutated collections) of `model` under dropout keys 10 and 11."""
    variables = _init(model, x)
    apply = jax.jit(functools.partial(model.apply, train=train,
                                      mutable=["intermediates", "batch_stats"]))
    return [apply(variables, x, rngs={"dropout": jax.random.key(k)}) for k in (10, 11)]


@pytest.mark.parametrize("train", [True, False])
def test_unet_dropout_is_noise_in_the_middle_levels_only(train):
    x = jax.random.normal(jax.random.key(0), (2, 64, 64, 3))
    make = functools.partial(T.UnetGenerator, 3, num_downs=6, ngf=4, norm="instance")
    (y0, s0), (y1, s1) = _two_dropout_draws(make(use_dropout=True), x, train)
    assert float(jnp.max(jnp.abs(y0 - y1))) > 1e-3
    skip = {level: [s["intermediates"][f"skip{level}"][0] for s in (s0, s1)]
            for level in range(1, 6)}
    # num_downs=6 has one dropout level, 4, between the innermost (5) and the 4ngf level (3).
    chex.assert_trees_all_equal(*skip[5])
    assert float(jnp.max(jnp.abs(skip[4][0] - skip[4][1]))) > 1e-3
    (y0, _), (y1, _) = _two_dropout_draws(make(use_dropout=False), x, train)
    chex.assert_trees_all_equal(y0, y1)
    # num_downs=5 has no such level: no dropout at all, as the reference.
    (y0, _), (y1, _) = _two_dropout_draws(
        T.UnetGenerator(3, num_downs=5, ngf=4, use_dropout=True), x[:, :32, :32], train)
    chex.assert_trees_all_equal(y0, y1)


def test_resnet_dropout_is_noise():
    model = T.ResnetGenerator(3, ngf=4, n_blocks=1, use_dropout=True)
    x = jax.random.normal(jax.random.key(0), (1, 16, 16, 3))
    variables = _init(model, x)
    a, b = (model.apply(variables, x, train=False, rngs={"dropout": jax.random.key(k)})
            for k in (10, 11))
    assert float(jnp.max(jnp.abs(a - b))) > 1e-4


def test_batch_norm_matches_pytorch_closed_form():
    x = jax.random.normal(jax.random.key(0), (2, 3, 5, 4)) * 2.0 + 1.0
    bn = T.BatchNorm()
    variables = bn.init(jax.random.key(1), x, train=False)
    scale, bias = variables["params"]["scale"], variables["params"]["bias"]
    chex.assert_trees_all_equal(variables["batch_stats"],
                                {"mean": jnp.zeros(4), "var": jnp.ones(4)})

    y, updated = bn.apply(variables, x, train=True, mutable=["batch_stats"])
    xs = np.asarray(x, np.float64).reshape(-1, 4)
    mean, var = xs.mean(0), xs.var(0)
    np.testing.assert_allclose(y, ((x - mean) / np.sqrt(var + 1e-5)) * scale + bias, atol=1e-5)
    # PyTorch's momentum 0.1, and the unbiased variance in the running statistic.
    np.testing.assert_allclose(updated["batch_stats"]["mean"], 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(updated["batch_stats"]["var"],
                               0.9 + 0.1 * xs.var(0, ddof=1), rtol=1e-5)

    updated = {**variables, **updated}
    y_test, unchanged = bn.apply(updated, x, train=False, mutable=["batch_stats"])
    chex.assert_trees_all_equal(unchanged["batch_stats"], updated["batch_stats"])
    stats = updated["batch_stats"]
    np.testing.assert_allclose(
        y_test, (x - stats["mean"]) / np.sqrt(stats["var"] + 1e-5) * scale + bias, atol=1e-5)


@pytest.mark.parametrize("model,channels", [
    (T.UnetGenerator(3, num_downs=5, ngf=4), 3),
    (T.ResnetGenerator(3, ngf=4, n_blocks=1, norm="batch"), 3),
    (T.NLayerDiscriminator(ndf=4, n_layers=2), 6),
    (T.PixelDiscriminator(ndf=4), 6),
], ids=["unet", "resnet", "patchgan", "pixel"])
def test_batch_stats_update_in_train_mode_only(model, channels):
    x = jax.random.normal(jax.random.key(0), (2, 32, 32, channels))
    variables = _init(model, x)
    stats = variables["batch_stats"]
    _, after_test = model.apply(variables, x, train=False, mutable=["batch_stats"])
    chex.assert_trees_all_equal(after_test["batch_stats"], stats)
    _, after_train = model.apply(variables, x, train=True, mutable=["batch_stats"])
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), after_train["batch_stats"], stats)
    assert all(jax.tree.leaves(moved)), moved


def test_up3x3_is_pytorch_conv_transpose():
    """ConvTranspose2d(k3, s2, p1, output_padding=1) by its definition: every input pixel
    scatters kernel-weighted copies, out[2i - 1 + ki, 2j - 1 + kj] += x[i, j] @ w[ki, kj]."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    layer = T.Up3x3(6, use_bias=True)
    kernel = rng.normal(size=(3, 3, 5, 6)).astype(np.float32)
    bias = rng.normal(size=(6,)).astype(np.float32)
    shapes = jax.tree.map(jnp.shape, layer.init(jax.random.key(0), jnp.asarray(x)))
    assert shapes == {"params": {"kernel": kernel.shape, "bias": bias.shape}}
    variables = {"params": {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}}
    full = np.zeros((2, 2 * 3 + 1, 2 * 4 + 1, 6))  # rows -1 .. 2H - 1, shifted by one
    for i in range(3):
        for j in range(4):
            for ki in range(3):
                for kj in range(3):
                    full[:, 2 * i + ki, 2 * j + kj] += x[:, i, j] @ kernel[ki, kj]
    expected = full[:, 1:, 1:] + bias  # crop padding 1 at the start; output_padding 1 kept
    y = layer.apply(variables, jnp.asarray(x))
    chex.assert_shape(y, (2, 6, 8, 6))
    np.testing.assert_allclose(y, expected, atol=1e-5)
