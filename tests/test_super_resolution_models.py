"""Super-resolution networks: the reference parameter counts (tallied from the references' layer
definitions), shapes and finiteness, pixel (un)shuffle against index loops, ESRGAN's residual
scaling and dense connections against a NumPy definition, MSRResNet's bilinear skip, PReLU,
BatchNorm statistics and the initialisation scales."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import super_resolution as S
from jaxgan.state import num_params

# --- reference parameter counts -----------------------------------------------------------------
# Tallied by hand from the references' layer definitions (PyTorch: Conv2d k*k*cin*cout + cout
# bias; Linear n*m + m; BatchNorm2d weight and bias, its running statistics are buffers; PReLU
# num_parameters), without the Flax modules.


def _conv(k: int, cin: int, cout: int, bias: bool = True) -> int:
    return k * k * cin * cout + (cout if bias else 0)


def _linear(n: int, m: int) -> int:
    return n * m + m


def _bn(c: int) -> int:
    return 2 * c


def _srresnet_tally(c=3, nf=64, blocks=16, scale=4, prelu=1) -> int:
    # SRGAN paper figure 4 as sgrvinod/a-PyTorch-Tutorial-to-Super-Resolution models.py
    # SRResNet builds it (every Conv2d with bias, each activation a PReLU of `prelu` slopes).
    first = _conv(9, c, nf) + prelu
    block = 2 * (_conv(3, nf, nf) + _bn(nf)) + prelu
    body = _conv(3, nf, nf) + _bn(nf)
    upsample = int(math.log2(scale)) * (_conv(3, nf, 4 * nf) + prelu)
    return first + blocks * block + body + upsample + _conv(9, nf, c)


def _msrresnet_tally(c=3, nf=64, blocks=16, scale=4) -> int:
    # XPixelGroup/BasicSR basicsr/archs/srresnet_arch.py MSRResNet and arch_util.py
    # ResidualBlockNoBN (two biased 3x3 convolutions).
    upconvs = [_conv(3, nf, 4 * nf)] * 2 if scale == 4 else [_conv(3, nf, scale * scale * nf)]
    return (_conv(3, c, nf) + blocks * 2 * _conv(3, nf, nf) + sum(upconvs)
            + _conv(3, nf, nf) + _conv(3, nf, c))


def _rrdbnet_tally(c=3, nf=64, blocks=23, grow=32, scale=4) -> int:
    # BasicSR basicsr/archs/rrdbnet_arch.py RRDBNet: conv_first sees the pixel-unshuffled input
    # (4x the channels at scale 2); an RRDB is 3 ResidualDenseBlocks of conv1..conv5.
    cin = c * {4: 1, 2: 4, 1: 16}[scale]
    rdb = sum(_conv(3, nf + k * grow, grow) for k in range(4)) + _conv(3, nf + 4 * grow, nf)
    # conv_body, conv_up1, conv_up2, conv_hr: four nf -> nf convolutions.
    return _conv(3, cin, nf) + blocks * 3 * rdb + 4 * _conv(3, nf, nf) + _conv(3, nf, c)


def _vgg_tally(c=3, nf=64, input_size=128) -> int:
    # BasicSR basicsr/archs/discriminator_arch.py VGGStyleDiscriminator: conv0_0 biased, every
    # other convolution bias-free and followed by a BatchNorm2d, linear1 from 8nf x 4 x 4 to 100.
    total = _conv(3, c, nf) + _conv(4, nf, nf, bias=False) + _bn(nf)
    widths = [2 * nf, 4 * nf, 8 * nf, 8 * nf] + ([8 * nf] if input_size == 256 else [])
    cin = nf
    for w in widths:
        total += _conv(3, cin, w, bias=False) + _conv(4, w, w, bias=False) + 2 * _bn(w)
        cin = w
    return total + _linear(8 * nf * 4 * 4, 100) + _linear(100, 1)


def _srgan_d_tally(c=3, nf=64, input_size=96, dense=1024) -> int:
    # SRGAN paper figure 4 as sgrvinod's models.py Discriminator builds it: eight biased 3x3
    # convolutions (64, 64, 128, 128, 256, 256, 512, 512), a BatchNorm2d after all but the first,
    # Linear(512 * 6 * 6, 1024) for 96 px, Linear(1024, 1).
    widths = [nf, nf, 2 * nf, 2 * nf, 4 * nf, 4 * nf, 8 * nf, 8 * nf]
    total, cin = 0, c
    for i, w in enumerate(widths):
        total += _conv(3, cin, w) + (_bn(w) if i else 0)
        cin = w
    side = input_size // 16
    return total + _linear(8 * nf * side * side, dense) + _linear(dense, 1)


REFERENCE_COUNTS = [
    # (id, module, input [H, W, C], pinned count, independent tally)
    ("srresnet_x4", S.SRResNet(3, scale=4), (24, 24, 3), 1_549_462, _srresnet_tally()),
    # PReLU with one slope per channel: 19 PReLUs (first, 16 blocks, 2 upsampling) x 63 more.
    ("srresnet_x4_prelu_per_channel", S.SRResNet(3, scale=4, prelu_parameters=64), (24, 24, 3),
     1_550_659, _srresnet_tally(prelu=64)),
    # BasicSR's MSRResNet x4 is widely quoted as 1,517,571 parameters (1.52M).
    ("msrresnet_x4", S.MSRResNet(3, scale=4), (24, 24, 3), 1_517_571, _msrresnet_tally()),
    ("msrresnet_x3", S.MSRResNet(3, scale=3), (24, 24, 3), 1_554_499, _msrresnet_tally(scale=3)),
    ("msrresnet_x2", S.MSRResNet(3, scale=2), (24, 24, 3), 1_369_859, _msrresnet_tally(scale=2)),
    # ESRGAN's RRDBNet x4, widely quoted as 16,697,987 parameters (16.7M).
    ("rrdbnet_x4", S.RRDBNet(3, scale=4), (24, 24, 3), 16_697_987, _rrdbnet_tally()),
    ("rrdbnet_x2", S.RRDBNet(3, scale=2), (24, 24, 3), 16_703_171, _rrdbnet_tally(scale=2)),
    ("vgg_d_128", S.VGGStyleDiscriminator(64, 128), (128, 128, 3), 14_499_401, _vgg_tally()),
    ("vgg_d_256", S.VGGStyleDiscriminator(64, 256), (256, 256, 3), 21_055_049,
     _vgg_tally(input_size=256)),
    ("srgan_d_96", S.SRGANDiscriminator(96), (96, 96, 3), 23_565_505, _srgan_d_tally()),
]

KEY = jax.random.key(0)


def _init_shapes(model, shape_HxWxC):
    init = functools.partial(model.init, KEY, train=False)
    return jax.eval_shape(init, jax.ShapeDtypeStruct((1, *shape_HxWxC), jnp.float32))


@pytest.mark.parametrize("name,model,shape,count,tally", REFERENCE_COUNTS,
                         ids=[c[0] for c in REFERENCE_COUNTS])
def test_reference_parameter_counts(name, model, shape, count, tally):
    assert tally == count
    assert num_params(_init_shapes(model, shape)["params"]) == count


def test_basicsr_variable_names():
    variables = _init_shapes(S.RRDBNet(3, num_block=2), (8, 8, 3))
    params = variables["params"]
    assert sorted(params) == ["body_0", "body_1", "conv_body", "conv_first", "conv_hr",
                              "conv_last", "conv_up1", "conv_up2"]
    assert sorted(params["body_1"]) == ["rdb1", "rdb2", "rdb3"]
    assert sorted(params["body_1"]["rdb3"]) == [f"conv{k}" for k in range(1, 6)]
    # A PyTorch weight [out, in, kh, kw] becomes a kernel [kh, kw, in, out].
    assert params["body_1"]["rdb3"]["conv2"]["kernel"].shape == (3, 3, 64 + 32, 32)
    assert params["conv_first"]["kernel"].shape == (3, 3, 3, 64)
    vgg = _init_shapes(S.VGGStyleDiscriminator(64), (128, 128, 3))
    assert sorted(vgg["batch_stats"]) == ["bn0_1"] + [f"bn{i}_{j}" for i in range(1, 5)
                                                      for j in (0, 1)]
    assert "bias" not in vgg["params"]["conv3_0"] and "bias" in vgg["params"]["conv0_0"]


# --- pixel shuffle ------------------------------------------------------------------------------


@pytest.mark.parametrize("r", [2, 3])
def test_pixel_shuffle_against_index_loop(r):
    b, h, w, c = 2, 3, 4, 2
    x = np.random.default_rng(r).normal(size=(b, h, w, c * r * r)).astype(np.float32)
    expected = np.empty((b, h * r, w * r, c), np.float32)
    for hh in range(h):
        for ww in range(w):
            for i in range(r):
                for j in range(r):
                    for cc in range(c):
                        source = x[:, hh, ww, cc * r * r + i * r + j]
                        expected[:, hh * r + i, ww * r + j, cc] = source
    y = S.pixel_shuffle(jnp.asarray(x), r)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(S.pixel_unshuffle(y, r), x)
    z = np.random.default_rng(10 + r).normal(size=(b, h * r, w * r, c)).astype(np.float32)
    np.testing.assert_array_equal(S.pixel_shuffle(S.pixel_unshuffle(jnp.asarray(z), r), r), z)


def test_pixel_shuffle_rejects_bad_shapes():
    with pytest.raises(ValueError, match="channels divisible by 4"):
        S.pixel_shuffle(jnp.zeros((1, 2, 2, 6)), 2)
    with pytest.raises(ValueError, match="height and width divisible by 2"):
        S.pixel_unshuffle(jnp.zeros((1, 4, 5, 3)), 2)


# --- ESRGAN's blocks ----------------------------------------------------------------------------


def _np_conv3x3(x, kernel, bias):
    """Cross-correlation with zero padding 1, as PyTorch's Conv2d(k=3, padding=1)."""
    h, w = x.shape[1:3]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = sum(np.einsum("bhwi,io->bhwo", padded[:, a:a + h, c:c + w], kernel[a, c])
              for a in range(3) for c in range(3))
    return out + bias


def _np_lrelu(x):
    return np.where(x >= 0, x, 0.2 * x)


def _random_params(params, seed):
    """The same tree with every leaf N(0, 0.1) (biases non-zero too)."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return treedef.unflatten([0.1 * jax.random.normal(k, leaf.shape)
                              for k, leaf in zip(keys, leaves, strict=True)])


def test_rdb_is_x_plus_scaled_dense_convs():
    x = jax.random.normal(jax.random.key(1), (2, 5, 6, 8))
    rdb = S.ResidualDenseBlock(num_grow_ch=4)
    params = _random_params(rdb.init(KEY, x)["params"], seed=2)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    features = [np.asarray(x, np.float64)]
    for k in range(1, 5):
        inputs = np.concatenate(features, axis=-1)
        features.append(_np_lrelu(_np_conv3x3(inputs, p[f"conv{k}"]["kernel"],
                                              p[f"conv{k}"]["bias"])))
    conv5 = _np_conv3x3(np.concatenate(features, axis=-1), p["conv5"]["kernel"],
                        p["conv5"]["bias"])
    y = rdb.apply({"params": params}, x)
    np.testing.assert_allclose(y, features[0] + 0.2 * conv5, atol=1e-5)


def test_rrdb_residual_scaling():
    x = jax.random.normal(jax.random.key(1), (2, 5, 6, 8))
    rrdb = S.RRDB(num_grow_ch=4)
    params = _random_params(rrdb.init(KEY, x)["params"], seed=3)
    rdb = S.ResidualDenseBlock(num_grow_ch=4)
    inner = x
    for k in (1, 2, 3):
        inner = rdb.apply({"params": params[f"rdb{k}"]}, inner)
    np.testing.assert_allclose(rrdb.apply({"params": params}, x), x + 0.2 * inner, atol=1e-6)

    # Zeroed convolutions: each dense block is the identity, so the RRDB is x + 0.2 x.
    zeros = jax.tree.map(jnp.zeros_like, params)
    chex.assert_trees_all_equal(rdb.apply({"params": zeros["rdb1"]}, x), x)
    np.testing.assert_allclose(rrdb.apply({"params": zeros}, x), 1.2 * x, rtol=1e-6)


# --- MSRResNet's bilinear skip ------------------------------------------------------------------


def _np_bilinear(x, s):
    """PyTorch's bilinear upsampling with align_corners=False, by its definition: source
    coordinate (dst + 0.5) / s - 0.5 clamped at 0, neighbours i0 and min(i0 + 1, n - 1)."""

    def axis_weights(n):
        src = np.maximum((np.arange(n * s) + 0.5) / s - 0.5, 0.0)
        i0 = np.floor(src).astype(int)
        return i0, np.minimum(i0 + 1, n - 1), src - i0

    r0, r1, tr = axis_weights(x.shape[1])
    c0, c1, tc = axis_weights(x.shape[2])
    rows = x[:, r0] * (1 - tr)[None, :, None, None] + x[:, r1] * tr[None, :, None, None]
    tc = tc[None, None, :, None]
    return rows[:, :, c0] * (1 - tc) + rows[:, :, c1] * tc


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet_adds_bilinear_upsampled_input(scale):
    model = S.MSRResNet(3, scale=scale, num_feat=4, num_block=1)
    x = jax.random.uniform(jax.random.key(scale), (2, 5, 7, 3))
    params = jax.jit(model.init)(KEY, x)["params"]
    # With conv_last zeroed, the output is the bilinear base alone.
    params = {**params, "conv_last": jax.tree.map(jnp.zeros_like, params["conv_last"])}
    y = model.apply({"params": params}, x)
    np.testing.assert_allclose(y, _np_bilinear(np.asarray(x, np.float64), scale), atol=1e-6)


# --- shapes, finiteness, statistics -------------------------------------------------------------


def _small_networks():
    """(model, input shape [B, H, W, C], output shape): every network, 1 and 3 channels."""
    return [
        (S.SRResNet(1, scale=2, num_feat=4, num_block=1), (2, 6, 5, 1), (2, 12, 10, 1)),
        (S.SRResNet(3, scale=4, num_feat=4, num_block=2, prelu_parameters=4), (2, 6, 6, 3),
         (2, 24, 24, 3)),
        (S.MSRResNet(1, scale=2, num_feat=4, num_block=1), (2, 6, 5, 1), (2, 12, 10, 1)),
        (S.MSRResNet(3, scale=3, num_feat=4, num_block=1), (2, 4, 4, 3), (2, 12, 12, 3)),
        (S.MSRResNet(3, scale=4, num_feat=4, num_block=2), (2, 6, 6, 3), (2, 24, 24, 3)),
        (S.RRDBNet(1, scale=4, num_feat=4, num_block=1, num_grow_ch=2), (2, 6, 5, 1),
         (2, 24, 20, 1)),
        (S.RRDBNet(3, scale=2, num_feat=4, num_block=1, num_grow_ch=2), (2, 6, 8, 1),
         (2, 12, 16, 3)),
        (S.RRDBNet(3, scale=1, num_feat=4, num_block=1, num_grow_ch=2), (2, 8, 8, 3),
         (2, 8, 8, 3)),
        (S.SRGANDiscriminator(32, num_feat=2, dense_features=8), (2, 32, 32, 3), (2,)),
        (S.SRGANDiscriminator(16, num_feat=2, dense_features=8), (2, 16, 16, 1), (2,)),
        (S.VGGStyleDiscriminator(2, 128), (2, 128, 128, 1), (2,)),
    ]


@functools.cache
def _initialized_small_networks():
    out = []
    for i, (model, in_shape, out_shape) in enumerate(_small_networks()):
        x = jax.random.uniform(jax.random.key(i), in_shape, minval=-1.0, maxval=1.0)
        variables = jax.jit(functools.partial(model.init, train=False))(KEY, x)
        out.append((model, x, variables, out_shape))
    return out


class ShapesTest(chex.TestCase):
    @chex.variants(with_jit=True)
    def test_shapes_and_finite(self):
        for model, x, variables, out_shape in _initialized_small_networks():

            @self.variant
            def forward(variables, x, model=model):
                y_train, _ = model.apply(variables, x, train=True, mutable=["batch_stats"])
                return y_train, model.apply(variables, x, train=False)

            for y in forward(variables, x):
                chex.assert_shape(y, out_shape)
                chex.assert_tree_all_finite(y)
                assert float(jnp.std(y)) > 0


@pytest.mark.parametrize("model,shape", [
    (S.SRResNet(3, scale=2, num_feat=4, num_block=2), (2, 6, 6, 3)),
    (S.SRGANDiscriminator(16, num_feat=2, dense_features=8), (2, 16, 16, 3)),
    (S.VGGStyleDiscriminator(2, 128), (2, 128, 128, 3)),
], ids=["srresnet", "srgan_d", "vgg_d"])
def test_batch_stats_update_in_train_mode_only(model, shape):
    x = jax.random.normal(jax.random.key(0), shape) + 0.5
    variables = jax.jit(functools.partial(model.init, train=False))(KEY, x)
    stats = variables["batch_stats"]
    _, after_test = model.apply(variables, x, train=False, mutable=["batch_stats"])
    chex.assert_trees_all_equal(after_test["batch_stats"], stats)
    _, after_train = model.apply(variables, x, train=True, mutable=["batch_stats"])
    moved = jax.tree.map(lambda a, b: bool(jnp.all(a != b)), after_train["batch_stats"], stats)
    assert all(jax.tree.leaves(moved)), moved


def test_batch_norm_momentum_is_pytorchs():
    model = S.SRResNet(1, scale=2, num_feat=4, num_block=1)
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 1))
    variables = model.init(KEY, x, train=False)
    _, state = model.apply(variables, x, train=True, mutable=["batch_stats", "intermediates"],
                           capture_intermediates=lambda mdl, _: mdl.name == "block0_conv1")
    conv_out = state["intermediates"]["block0_conv1"]["__call__"][0]
    np.testing.assert_allclose(state["batch_stats"]["block0_bn1"]["mean"],
                               0.1 * jnp.mean(conv_out, axis=(0, 1, 2)), rtol=1e-5, atol=1e-7)


def test_prelu():
    x = jnp.array([[-2.0, -1.0, 0.0, 3.0], [1.0, -4.0, 2.0, -0.5]])[:, None, None, :]
    shared = S.PReLU()
    variables = shared.init(KEY, x)
    np.testing.assert_array_equal(variables["params"]["weight"], [0.25])
    np.testing.assert_allclose(shared.apply(variables, x), jnp.where(x >= 0, x, 0.25 * x))
    per_channel = S.PReLU(num_parameters=4)
    slopes = jnp.array([0.1, 0.2, 0.3, 0.4])
    y = per_channel.apply({"params": {"weight": slopes}}, x)
    np.testing.assert_allclose(y, jnp.where(x >= 0, x, slopes * x))
    with pytest.raises(ValueError, match="1 slope or one per channel"):
        S.PReLU(num_parameters=3).init(KEY, x)


# --- errors a user can hit ----------------------------------------------------------------------


@pytest.mark.parametrize("model,shape,match", [
    (S.SRResNet(3, scale=3, num_feat=2, num_block=1), (1, 4, 4, 3), "SRResNet upsamples"),
    (S.MSRResNet(3, scale=8, num_feat=2, num_block=1), (1, 4, 4, 3), "MSRResNet upsamples"),
    (S.MSRResNet(3, num_feat=2, num_block=1), (1, 4, 4, 1), "needs 3 input channels"),
    (S.RRDBNet(3, scale=3, num_feat=2, num_block=1), (1, 4, 4, 3), "RRDBNet upsamples"),
    (S.RRDBNet(3, scale=2, num_feat=2, num_block=1), (1, 5, 4, 3), "divisible by 2"),
    (S.SRGANDiscriminator(96, num_feat=2), (1, 64, 64, 3), "takes 96x96 images, got 64x64"),
    (S.SRGANDiscriminator(40, num_feat=2), (1, 40, 40, 3), "multiple of 16"),
    (S.VGGStyleDiscriminator(2, 64), (1, 64, 64, 3), "input_size 128 or 256"),
    (S.VGGStyleDiscriminator(2, 128), (1, 96, 96, 3), "takes 128x128 images"),
], ids=["srresnet_scale", "msrresnet_scale", "msrresnet_channels", "rrdbnet_scale",
        "rrdbnet_odd", "srgan_d_size", "srgan_d_bad_size", "vgg_d_bad_size", "vgg_d_size"])
def test_user_errors(model, shape, match):
    with pytest.raises(ValueError, match=match):
        _init_shapes(model, shape[1:])


# --- initialisation -----------------------------------------------------------------------------


def _assert_std(kernel, expected, rtol=0.05):
    assert abs(float(jnp.std(kernel)) / expected - 1) < rtol, (float(jnp.std(kernel)), expected)


def test_initialisation_follows_basicsr():
    x = jnp.zeros((1, 8, 8, 3))
    rrdb = jax.jit(S.RRDBNet(3, num_feat=64, num_block=1).init)(KEY, x)["params"]
    # PyTorch's default outside the dense blocks: U(+-1/sqrt(fan_in)) kernel and bias.
    for name, fan_in in [("conv_first", 27), ("conv_body", 576), ("conv_last", 576)]:
        bound = 1 / math.sqrt(fan_in)
        kernel, bias = rrdb[name]["kernel"], rrdb[name]["bias"]
        assert float(jnp.max(jnp.abs(kernel))) <= bound
        assert float(jnp.max(jnp.abs(bias))) <= bound and float(jnp.std(bias)) > 0
        _assert_std(kernel, bound / math.sqrt(3), rtol=0.1 if fan_in == 27 else 0.05)
    # default_init_weights(..., 0.1) inside them: 0.1 N(0, 2 / fan_in), zero bias.
    conv5 = rrdb["body_0"]["rdb2"]["conv5"]
    _assert_std(conv5["kernel"], 0.1 * math.sqrt(2 / (9 * (64 + 4 * 32))))
    np.testing.assert_array_equal(conv5["bias"], 0)

    msr = jax.jit(S.MSRResNet(3, num_feat=64, num_block=1).init)(KEY, x)["params"]
    for conv in (msr["body_0"]["conv1"], msr["upconv2"], msr["conv_hr"]):
        _assert_std(conv["kernel"], 0.1 * math.sqrt(2 / 576))
        np.testing.assert_array_equal(conv["bias"], 0)
