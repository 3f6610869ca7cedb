"""StyleGAN2: resampling and modulated convolution against direct computations, network shapes,
the regularizers against hand-derived values, truncation, style mixing, determinism, parameter
counts of the presets, and an abstract train step of every phase of every preset."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_experiment, override

from jaxgan.families import stylegan
from jaxgan.families.stylegan import steps as stylegan_steps
from jaxgan.models import stylegan2 as sg
from jaxgan.models import stylegan2_ops as ops
from jaxgan.models.blocks import MinibatchStdDev
from jaxgan.objectives import regularizers
from jaxgan.state import num_params

F = ops.fir_taps()
NHWC = ("NHWC", "HWIO", "NHWC")
# Most of this file's time is compiling small programs: LLVM at -O0 compiles them ~3x faster.
jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})


# --- direct numpy references -------------------------------------------------------------------


def np_upfirdn(x, up, down, pad, gain):
    """Zero insertion, padding, 2-D convolution with outer(f, f) * gain, subsampling."""
    b, h, w, c = x.shape
    u = np.zeros((b, h * up, w * up, c), np.float64)
    u[:, ::up, ::up] = x
    p0, p1 = pad
    u = np.pad(u, ((0, 0), (max(p0, 0), max(p1, 0)), (max(p0, 0), max(p1, 0)), (0, 0)))
    if p0 < 0 or p1 < 0:
        u = u[:, -min(p0, 0):u.shape[1] + min(p1, 0), -min(p0, 0):u.shape[2] + min(p1, 0)]
    k = np.outer(F, F) * gain
    n = u.shape[1] - 3
    out = np.zeros((b, n, n, c))
    for i in range(n):
        for j in range(n):
            # convolution: out[i] = sum_t k[t] u[i + 3 - t]
            out[:, i, j] = np.einsum("bhwc,hw->bc", u[:, i:i + 4, j:j + 4], k[::-1, ::-1])
    return out[:, ::down, ::down]


def np_conv(x, w, pad):
    """Correlation of NHWC x with HWIO w after symmetric zero padding."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    k = w.shape[0]
    n = x.shape[1] - k + 1
    out = np.zeros((x.shape[0], n, n, w.shape[3]))
    for i in range(n):
        for j in range(n):
            out[:, i, j] = np.einsum("bhwi,hwio->bo", x[:, i:i + k, j:j + k], w)
    return out


def np_conv_transpose_s2(x, w):
    """out[2p + t] += x[p] @ w[t] (3x3 kernel, stride 2, no padding)."""
    b, h, wd, _ = x.shape
    out = np.zeros((b, 2 * h + 1, 2 * wd + 1, w.shape[3]))
    for p in range(h):
        for q in range(wd):
            for ti in range(3):
                for tj in range(3):
                    out[:, 2 * p + ti, 2 * q + tj] += x[:, p, q] @ w[ti, tj]
    return out


def rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# --- operations --------------------------------------------------------------------------------


@pytest.mark.parametrize("matrix", [True, False])
def test_fir_resampling_matches_direct_computation(matrix, monkeypatch):
    if not matrix:
        monkeypatch.setattr(ops, "MATRIX_FIR_MAX", 0)  # the shifted-slices path
    x = rand(0, 2, 8, 8, 3)
    np.testing.assert_allclose(ops.upsample2d(jnp.asarray(x), F),
                               np_upfirdn(x, 2, 1, (2, 1), 4.0), atol=1e-5)
    np.testing.assert_allclose(ops.downsample2d(jnp.asarray(x), F),
                               np_upfirdn(x, 1, 2, (1, 1), 1.0), atol=1e-5)
    np.testing.assert_allclose(ops.upfirdn2d(jnp.asarray(x), F, padding=(-1, 2, -1, 2)),
                               np_upfirdn(x, 1, 1, (-1, 2), 1.0), atol=1e-5)
    # The filter keeps a constant image constant (gain 4 makes up for the inserted zeros).
    ones = jnp.ones((1, 8, 8, 1))
    np.testing.assert_allclose(ops.upsample2d(ones, F)[0, 2:-2, 2:-2], 1.0, atol=1e-6)
    np.testing.assert_allclose(ops.downsample2d(ones, F)[0, 1:-1, 1:-1], 1.0, atol=1e-6)


@pytest.mark.parametrize("up,down,k", [(1, 1, 3), (2, 1, 3), (1, 2, 3), (1, 2, 1), (2, 1, 1)])
def test_resampling_convolutions_match_direct_computation_and_autodiff(up, down, k):
    x, w = rand(1, 2, 8, 8, 4), rand(2, k, k, 4, 5)
    fn = functools.partial(ops.conv2d_resample, f=F, up=up, down=down)
    y = jit(fn)(x, w)
    if k == 1:
        z = np.einsum("bhwi,io->bhwo", x, w[0, 0])
        expected = (np_upfirdn(z, 2, 1, (2, 1), 4.0) if up > 1
                    else np_upfirdn(x, 1, 2, (1, 1), 1.0) @ w[0, 0] if down > 1 else z)
    elif up > 1:
        expected = np_upfirdn(np_conv_transpose_s2(x, w), 1, 1, (1, 1), 4.0)
    elif down > 1:
        filtered = np_upfirdn(x, 1, 1, (2, 2), 1.0)  # [9, 9]
        expected = np_conv(filtered, w, 0)[:, ::2, ::2]
    else:
        expected = np_conv(x, w, 1)
    np.testing.assert_allclose(y, expected, atol=1e-4)
    # The custom gradients against XLA's own for the same function.
    def plain(x, w):
        if k == 3 and up > 1:
            t = jax.lax.conv_general_dilated(x, w[::-1, ::-1], (1, 1), ((2, 2), (2, 2)),
                                             lhs_dilation=(2, 2), dimension_numbers=NHWC)
            return ops.upfirdn2d(t, F, padding=(1, 1, 1, 1), gain=4.0)
        if k == 3 and down > 1:
            t = ops.upfirdn2d(x, F, padding=(2, 2, 2, 2))
            return jax.lax.conv_general_dilated(t, w, (2, 2), "VALID", dimension_numbers=NHWC)
        if k == 3:
            return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=NHWC)
        return fn(x, w)
    dy = rand(3, *y.shape)
    pullback = lambda f, x, w, dy: jax.vjp(f, x, w)[1](dy)
    got = jit(functools.partial(pullback, fn))(x, w, dy)
    want = jit(functools.partial(pullback, plain))(x, w, dy)
    chex.assert_trees_all_close(got, want, atol=1e-4, rtol=1e-4)
    # Second order, as R1 and path length differentiate an input gradient again: the gradient
    # of ||d<f, dy>/dx||^2 with respect to x and w.
    def r1(f, x, w, dy):
        dx = jax.grad(lambda x: jnp.sum(f(x, w) * dy))(x)
        return jnp.sum(jnp.square(dx))
    second = lambda f: jit(jax.grad(functools.partial(r1, f), argnums=(0, 1)))(x, w, dy)
    chex.assert_trees_all_close(second(fn), second(plain), atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("up", [1, 2])
def test_modulated_conv_matches_per_sample_kernels(up):
    b, cin, cout = 3, 4, 6
    x, w, s = rand(4, b, 8, 8, cin), rand(5, 3, 3, cin, cout), rand(6, b, cin)
    noise = rand(7, b, 8 * up, 8 * up, 1)
    y = ops.modulated_conv2d(jnp.asarray(x), jnp.asarray(w), jnp.asarray(s), F, up=up,
                             noise=jnp.asarray(noise))
    for i in range(b):
        wi = w * s[i][None, None, :, None]  # modulate the kernel's input channels
        wi = wi / np.sqrt(np.sum(wi**2, axis=(0, 1, 2), keepdims=True) + 1e-8)  # demodulate
        if up == 1:
            yi = np_conv(x[i:i + 1], wi, 1)
        else:
            yi = np_upfirdn(np_conv_transpose_s2(x[i:i + 1], wi), 1, 1, (1, 1), 4.0)
        np.testing.assert_allclose(y[i:i + 1], yi + noise[i:i + 1], atol=1e-4)


def test_demodulation_gives_unit_output_std():
    x = jnp.asarray(rand(8, 16, 16, 16, 64))
    w = jnp.asarray(rand(9, 3, 3, 64, 64))
    s = jnp.asarray(rand(10, 16, 64) * 3 + 1)  # far from unit styles
    y = ops.modulated_conv2d(x, w, s, F)[:, 1:-1, 1:-1]  # away from the zero padding
    per_channel = jnp.std(y, axis=(0, 1, 2))
    np.testing.assert_allclose(jnp.mean(per_channel), 1.0, atol=0.05)
    assert float(jnp.min(per_channel)) > 0.8 and float(jnp.max(per_channel)) < 1.2
    undemodulated = ops.modulated_conv2d(x, w, s, F, demodulate=False)
    assert float(jnp.std(undemodulated)) > 10.0  # the test can tell the difference


def test_minibatch_stddev_on_a_hand_built_batch():
    # Batch 4, groups of 2: samples (0, 2) and (1, 3) are groups (the reference's reshape).
    x = np.zeros((4, 2, 2, 2), np.float32)
    x[0], x[2] = 1.0, 3.0  # group 0: std 1 in every element
    x[1], x[3] = 0.0, 0.0  # group 1: std 0
    x[3, 0, 0, 0] = 4.0  # one element of std 2: group 1 mean std = 2 / 8
    y = MinibatchStdDev(group_size=2).apply({}, jnp.asarray(x))
    assert y.shape == (4, 2, 2, 3)
    np.testing.assert_allclose(y[..., :2], x)
    np.testing.assert_allclose(y[[0, 2], ..., 2], 1.0, atol=1e-4)
    np.testing.assert_allclose(y[[1, 3], ..., 2], 0.25, atol=1e-3)


# --- networks ----------------------------------------------------------------------------------


def _small_models(res, channels=3, num_classes=0, arch="resnet"):
    g = sg.Generator(res, channels, z_dim=16, w_dim=16, num_classes=num_classes,
                     mapping_layers=2, channel_base=16 * res, channel_max=32)
    d = sg.Discriminator(res, channels, num_classes=num_classes, architecture=arch,
                         channel_base=16 * res, channel_max=32, mbstd_group_size=2)
    return g, d


def _init(g, d, res, channels=3, batch=2):
    z, labels = jnp.asarray(rand(11, batch, 16)), jnp.arange(batch) % 3
    gv = g.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, z, labels)
    dv = d.init(jax.random.key(2), jnp.zeros((batch, res, res, channels)), labels)
    return gv, dv, z, labels


def _block_shapes(module, variables, *args, **kwargs):
    apply = functools.partial(module.apply, capture_intermediates=True,
                              mutable=["intermediates"], **kwargs)
    _, state = jax.eval_shape(apply, variables, *args)  # shapes only: nothing compiles
    flat = jax.tree_util.tree_flatten_with_path(state["intermediates"])[0]
    return {"/".join(str(getattr(k, "key", k)) for k in path[:-2]): leaf.shape
            for path, leaf in flat}


@pytest.mark.parametrize("res", [32, 64])
def test_shapes_through_every_block(res):
    g, d = _small_models(res, num_classes=3)
    gv, dv, z, labels = jax.eval_shape(functools.partial(_init, g, d, res))
    shapes = _block_shapes(g, gv, z, labels, noise_mode="random",
                           rngs={"noise": jax.random.key(3)})
    for r in (2 ** i for i in range(2, int(np.log2(res)) + 1)):
        ch = min(16 * res // r, 32)
        assert shapes[f"synthesis/b{r}_conv1"] == (2, r, r, ch)
        assert shapes[f"synthesis/b{r}_torgb"] == (2, r, r, 3)
        if r > 4:
            assert shapes[f"synthesis/b{r}_conv0"] == (2, r, r, ch)
    assert shapes["mapping"] == (2, 16)
    assert shapes[""] == (2, res, res, 3)
    images = jax.ShapeDtypeStruct((2, res, res, 3), jnp.float32)
    shapes = _block_shapes(d, dv, images, labels)
    for r in (2 ** i for i in range(3, int(np.log2(res)) + 1)):
        assert shapes[f"b{r}"] == (2, r // 2, r // 2, min(16 * res // (r // 2), 32))
    assert shapes["MinibatchStdDev_0"] == (2, 4, 4, 33)
    assert shapes[""] == (2,)


def test_shapes_at_256_px_abstractly():
    g, d = _small_models(256)
    z = jax.ShapeDtypeStruct((2, 16), jnp.float32)
    gv = jax.eval_shape(lambda z: g.init({"params": jax.random.key(0),
                                          "noise": jax.random.key(1)}, z), z)
    images = jax.eval_shape(lambda v, z: g.apply(v, z, noise_mode="const"), gv, z)
    assert images.shape == (2, 256, 256, 3)
    assert gv["params"]["synthesis"]["b256_conv0"]["weight"].shape == (3, 3, 32, 16)
    dv = jax.eval_shape(lambda x: d.init(jax.random.key(0), x), images)
    assert jax.eval_shape(lambda v, x: d.apply(v, x), dv, images).shape == (2,)
    assert dv["params"]["b256"]["skip"]["weight"].shape == (1, 1, 16, 32)


def test_bfloat16_blocks_keep_float32_params_and_output():
    g = sg.Generator(16, 1, z_dim=16, w_dim=16, mapping_layers=1, channel_base=128,
                     channel_max=16, num_bf16_res=2, conv_clamp=256)
    z = jnp.asarray(rand(12, 2, 16))
    gv = jit(g.init)({"params": jax.random.key(0), "noise": jax.random.key(1)}, z)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(gv))
    images = jit(functools.partial(g.apply, noise_mode="const"))(gv, z)
    assert images.dtype == jnp.float32
    full = sg.Generator(16, 1, z_dim=16, w_dim=16, mapping_layers=1, channel_base=128,
                        channel_max=16)
    full = jit(functools.partial(full.apply, noise_mode="const"))(gv, z)
    np.testing.assert_allclose(images, full, atol=0.1)  # bfloat16 rounding only


# --- regularizers against hand-derived values --------------------------------------------------


def test_r1_penalty_of_linear_and_quadratic_discriminators():
    x = jnp.asarray(rand(13, 3, 4, 4, 2))
    a = jnp.asarray(rand(14, 4, 4, 2))
    penalty = regularizers.r1_norms(lambda x: jnp.sum(a * x, axis=(1, 2, 3)), x)
    np.testing.assert_allclose(penalty, np.full(3, np.sum(np.square(a))), rtol=1e-5)
    # D(x) = sum(x^2) / 2: grad = x, penalty = |x|^2 per sample.
    penalty = regularizers.r1_norms(lambda x: 0.5 * jnp.sum(x**2, axis=(1, 2, 3)), x)
    np.testing.assert_allclose(penalty, np.sum(np.square(x), axis=(1, 2, 3)), rtol=1e-5)


def test_path_length_penalty_of_a_linear_generator():
    b, n, wd, h = 3, 2, 5, 4
    ws = jnp.asarray(rand(15, b, n, wd))
    a = rand(16, n, wd, h, h, 1)
    synth = lambda ws: jnp.einsum("bnw,nwhxc->bhxc", ws, a)
    key = jax.random.key(17)
    penalty, new_mean, lengths = stylegan_steps.path_length_penalty(synth, ws, key, 0.5, 0.01)
    y = np.asarray(jax.random.normal(key, (b, h, h, 1))) / h  # / sqrt(H * W)
    grads = np.einsum("bhxc,nwhxc->bnw", y, a)  # J^T y, independent of ws for a linear G
    want = np.sqrt(np.mean(np.sum(grads**2, axis=2), axis=1))
    np.testing.assert_allclose(lengths, want, rtol=1e-5)
    mean = 0.5 + 0.01 * (want.mean() - 0.5)
    np.testing.assert_allclose(new_mean, mean, rtol=1e-6)
    np.testing.assert_allclose(penalty, (want - mean) ** 2, rtol=1e-4)


# --- truncation and style mixing ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_generator():
    """An 8 px generator, its variables, two latents and its jitted synthesis network."""
    g, _ = _small_models(8)
    z = jnp.asarray(rand(11, 2, 16))
    gv = jit(g.init)({"params": jax.random.key(0), "noise": jax.random.key(1)}, z)
    synth = jit(functools.partial(g.apply, noise_mode="const", method=sg.Generator.synthesize))
    return g, gv, z, functools.partial(synth, gv)


def test_truncation_psi_zero_returns_w_avg(tiny_generator):
    g, gv, z, synth = tiny_generator
    w_avg = jnp.asarray(rand(18, 16))
    gv = {**gv, "buffers": {**gv["buffers"], "mapping": {"w_avg": w_avg}}}
    truncated = jit(functools.partial(g.apply, truncation_psi=0.0, method=sg.Generator.map))
    ws = truncated(gv, z)
    np.testing.assert_allclose(ws, np.broadcast_to(w_avg, ws.shape), atol=1e-6)
    images = synth(ws)
    np.testing.assert_allclose(images[0], images[1], atol=1e-5)  # every z gives the mean image
    ws = jit(functools.partial(g.apply, truncation_psi=0.0, truncation_cutoff=2,
                               method=sg.Generator.map))(gv, z)
    np.testing.assert_allclose(ws[:, :2], np.broadcast_to(w_avg, (2, 2, 16)), atol=1e-6)
    assert not np.allclose(ws[:, 2:], w_avg)


def test_style_mixing_with_the_same_w_twice_is_no_mixing(tiny_generator):
    g, gv, z, synth = tiny_generator
    mapping = jit(functools.partial(g.apply, method=sg.Generator.map))
    ws, other = mapping(gv, z), mapping(gv, jnp.asarray(rand(19, 2, 16)))
    assert ws.shape == (2, 4, 16)
    np.testing.assert_array_equal(stylegan_steps.mix_styles(ws, ws, 2), ws)
    mixed = stylegan_steps.mix_styles(ws, other, 2)
    np.testing.assert_array_equal(mixed[:, :2], ws[:, :2])
    np.testing.assert_array_equal(mixed[:, 2:], other[:, 2:])
    np.testing.assert_array_equal(stylegan_steps.mix_styles(ws, other, ws.shape[1]), ws)
    np.testing.assert_array_equal(synth(stylegan_steps.mix_styles(ws, ws, 3)), synth(ws))
    assert not np.allclose(synth(mixed), synth(ws))


# --- the family --------------------------------------------------------------------------------


def _tiny_config(**overrides):
    return override(load_experiment("stylegan", "smoke"), **{"dataset.image_size": 8, **overrides})


def test_phase_schedule_follows_the_reference():
    spec = stylegan.setup(_tiny_config())
    assert stylegan_steps.phases(spec, 0) == ("G_main", "G_reg", "D_main", "D_reg", "G_ema")
    assert stylegan_steps.phases(spec, 1) == ("G_main", "D_main", "G_ema")
    assert stylegan_steps.phases(spec, 4) == ("G_main", "G_reg", "D_main", "G_ema")
    assert stylegan_steps.phases(spec, 16) == ("G_main", "G_reg", "D_main", "D_reg", "G_ema")
    cifar = stylegan.setup(load_experiment("stylegan", "cifar32"))
    assert stylegan_steps.phases(cifar, 0) == ("G_main", "D_main", "D_reg", "G_ema")  # no pl


def test_ema_half_life_and_ramp_up():
    spec = stylegan.setup(_tiny_config(**{"ema.kimg": 10.0, "ema.rampup": 0.05}))
    assert float(stylegan_steps.ema_beta(spec, jnp.asarray(0), 32)) == 0.0  # copies at first
    # Ramp-up: half-life = 0.05 * images seen while shorter than 10 kimg.
    np.testing.assert_allclose(stylegan_steps.ema_beta(spec, jnp.asarray(100), 32),
                               0.5 ** (32 / (100 * 32 * 0.05)), rtol=1e-6)
    np.testing.assert_allclose(stylegan_steps.ema_beta(spec, jnp.asarray(10**6), 32),
                               0.5 ** (32 / 10_000), rtol=1e-6)


def test_lazy_regularization_rescales_adam():
    spec = stylegan.setup(_tiny_config(**{"g_optimizer.learning_rate": 0.01}))
    params = {"w": jnp.zeros(3)}
    grads = {"w": jnp.asarray([2.0, -1.0, 0.5])}
    updates, _ = spec.g_tx.update(grads, spec.g_tx.init(params), params)
    # beta1 = 0: the first step is -lr' * sign(g), with lr' = lr * 4 / 5 for interval 4.
    np.testing.assert_allclose(updates["w"], -0.01 * 0.8 * np.sign(grads["w"]), rtol=1e-5)


def test_user_errors_name_the_key():
    from jaxgan.errors import UserError
    with pytest.raises(UserError, match="image_size"):
        stylegan.setup(_tiny_config(**{"dataset.image_size": 24}))
    with pytest.raises(UserError, match="d_architecture"):
        stylegan.setup(_tiny_config(**{"model.d_architecture": "skip"}))
    with pytest.raises(UserError, match="mbstd_group_size"):
        stylegan.setup(_tiny_config(batch_size=6))


def test_same_seed_same_bits_and_every_phase_updates_its_part():
    config = _tiny_config(**{"batch_size": 4, "ema.rampup": 0.0})
    spec = stylegan.setup(config)
    batch = {"image": jnp.asarray(np.tanh(rand(20, 4, 8, 8, 1))),
             "label": jnp.zeros((4,), jnp.int32)}
    run = {name: jit(functools.partial(stylegan_steps.train_phase, spec, name))
           for name in stylegan_steps.PHASE_IDS}
    init = jit(functools.partial(stylegan.init, spec))

    def train(seed):
        state = init(seed)
        trail = [state]
        for step in range(2):
            for name in stylegan_steps.phases(spec, step):
                state, metrics = run[name](state, batch)
                chex.assert_tree_all_finite(metrics)
                trail.append(state)
        return trail

    a, b = train(0), train(0)
    chex.assert_trees_all_equal(a[-1], b[-1])
    c = train(1)
    assert not np.array_equal(a[-1].nets["G"].params["synthesis"]["b8_conv0"]["weight"],
                              c[-1].nets["G"].params["synthesis"]["b8_conv0"]["weight"])
    s0, g_main, g_reg, d_main, d_reg, g_ema = a[:6]
    assert int(g_ema.step) == 1 and int(d_reg.step) == 0 and int(a[-1].step) == 2
    changed = lambda x, y: not np.array_equal(x, y)
    assert changed(s0.nets["G"].variables["params"]["mapping"]["fc0"]["weight"],
                   g_main.nets["G"].variables["params"]["mapping"]["fc0"]["weight"])
    assert changed(s0.nets["G"].variables["buffers"]["mapping"]["w_avg"],
                   g_main.nets["G"].variables["buffers"]["mapping"]["w_avg"])
    chex.assert_trees_all_equal(s0.nets["D"].variables, g_main.nets["D"].variables)
    assert float(g_main.extra["pl_mean"]) == 0.0 and float(g_reg.extra["pl_mean"]) > 0.0
    chex.assert_trees_all_equal(s0.nets["D"].variables, g_reg.nets["D"].variables)
    assert changed(g_reg.nets["D"].variables["params"]["b4_out"]["weight"],
                   d_main.nets["D"].variables["params"]["b4_out"]["weight"])
    assert changed(d_main.nets["D"].variables["params"]["b4_out"]["weight"],
                   d_reg.nets["D"].variables["params"]["b4_out"]["weight"])
    # G_ema: with no ramp-up beta = 0.5 ** (4 / 10000): the EMA moves a little towards G.
    e0 = np.asarray(d_reg.ema["G"]["params"]["mapping"]["fc0"]["weight"])
    g = np.asarray(d_reg.nets["G"].variables["params"]["mapping"]["fc0"]["weight"])
    beta = 0.5 ** (4 / 10_000)
    np.testing.assert_allclose(g_ema.ema["G"]["params"]["mapping"]["fc0"]["weight"],
                               g + beta * (e0 - g), rtol=1e-5, atol=1e-7)
    chex.assert_trees_all_equal(g_ema.ema["G"]["buffers"], d_reg.nets["G"].variables["buffers"])


def test_diffaugment_is_applied_to_everything_d_sees(monkeypatch):
    """A policy routes every D input of G_main, D_main and D_reg through DiffAugment: with the
    augmentation replaced by one that blanks the images, D scores the blank image everywhere,
    and R1 (taken with respect to the real image before augmentation) is exactly 0."""
    from jaxgan.errors import UserError
    with pytest.raises(UserError, match="augment.policy"):
        stylegan.setup(_tiny_config(**{"augment.policy": "translation,zoom"}))
    batch = {"image": jnp.asarray(np.tanh(rand(21, 4, 8, 8, 1))),
             "label": jnp.zeros((4,), jnp.int32)}
    plain = stylegan.setup(_tiny_config(batch_size=4))
    state = stylegan.init(plain, 0)
    blank_score = float(jnp.mean(stylegan_steps._disc(plain, state.nets["D"].variables,
                                                state.nets["D"].variables["params"],
                                                jnp.zeros((4, 8, 8, 1)), None)))
    calls = []

    def blank(images, key, policy):
        calls.append(policy)
        return images * 0.0

    monkeypatch.setattr(stylegan_steps.augment, "diff_augment", blank)
    spec = stylegan.setup(_tiny_config(batch_size=4, **{"augment.policy": "translation,cutout"}))

    def phase(spec, name):  # compiled: faster than op by op; the policy is seen when traced
        return jax.jit(functools.partial(stylegan_steps.train_phase, spec, name))(state, batch)

    _, g = phase(spec, "G_main")
    _, d = phase(spec, "D_main")
    _, r = phase(spec, "D_reg")
    assert calls == ["translation,cutout"] * 4  # fake (G), fake + real (D), real (R1)
    for value in (g["g_scores_fake"], d["d_scores_fake"], d["d_scores_real"]):
        np.testing.assert_allclose(value, blank_score, rtol=1e-5)
    assert float(r["r1_penalty"]) == 0.0
    _, r_plain = phase(plain, "D_reg")
    _, d_plain = phase(plain, "D_main")
    assert float(r_plain["r1_penalty"]) > 0.0
    assert not np.isclose(float(d_plain["d_scores_real"]), blank_score)


def test_runs_written_before_diffaugment_still_load(tmp_path):
    """A workdir whose config.json predates `augment.policy` loads with it off (what it trained
    with), so its checkpoints can still be sampled and evaluated."""
    import json

    from jaxgan.workdir import load_config
    saved = _tiny_config().to_dict()
    del saved["augment"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    config = load_config(str(tmp_path))
    assert config.augment.policy == ""
    assert stylegan.setup(config).augment_policy == ""


# --- presets -----------------------------------------------------------------------------------

# Counted from the reference implementation's own modules (see models/stylegan2.py).
REFERENCE_COUNTS = {
    "ffhq1024": (30_370_060, 29_012_513),
    "ffhq256": (24_767_458, 24_001_089),
    "cifar32": (19_947_539, 20_720_641),
    # The reference's networks built from this config by jaxgan.tools.bench_torch_stylegan.
    "fashion32_auto": (19_943_435, 21_506_049),
}
PRESETS = ["smoke", "fashion32", "mnist32", "fashion32_auto", "mnist32_auto", "cifar32",
           "ffhq256", "ffhq1024"]


def _abstract_state(config):
    spec = stylegan.setup(config)
    return spec, jax.eval_shape(functools.partial(stylegan.init, spec, config.seed))


@pytest.mark.parametrize("preset", sorted(REFERENCE_COUNTS))
def test_preset_parameter_counts_equal_the_reference(preset):
    _, state = _abstract_state(load_experiment("stylegan", preset))
    assert (num_params(state.nets["G"].variables["params"]),
            num_params(state.nets["D"].variables["params"])) == REFERENCE_COUNTS[preset]
    chex.assert_trees_all_equal_shapes(state.ema["G"], state.nets["G"].variables)


def test_conditional_cifar_parameter_counts_equal_the_reference():
    config = load_experiment("stylegan", "cifar32")
    config.model.num_classes = 10
    _, state = _abstract_state(config)
    assert num_params(state.nets["G"].variables["params"]) == 20_215_315
    assert num_params(state.nets["D"].variables["params"]) == 23_089_664


@pytest.mark.parametrize("preset", PRESETS)
def test_preflight_every_phase_of_every_preset(preset):
    config = load_experiment("stylegan", preset)
    spec, state = _abstract_state(config)
    b, shape = config.batch_size, spec.image_shape
    batch = {"image": jax.ShapeDtypeStruct((b, *shape), jnp.float32),
             "label": jax.ShapeDtypeStruct((b,), jnp.int32)}
    names = {n for s in range(16) for n in stylegan_steps.phases(spec, s)}
    for name in sorted(names):
        new_state, metrics = jax.eval_shape(
            functools.partial(stylegan_steps.train_phase, spec, name), state, batch)
        chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
        assert all(m.shape == () for m in jax.tree.leaves(metrics)), name


def test_fashion32_auto_is_the_gray_preset_at_the_reference_width():
    config = load_experiment("stylegan", "fashion32_auto").to_dict()
    assert config["num_train_steps"] == 25000
    assert config["model"]["channel_max"] == 512 and config["model"]["num_bf16_res"] == 4
    gray = load_experiment("stylegan", "fashion32").to_dict()
    assert gray["model"]["channel_max"] == 128  # the CPU preset stays narrow
