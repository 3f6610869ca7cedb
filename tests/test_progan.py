"""ProGAN: the reference's parameter counts, pixel norm, the equalized learning rate, the fade-in
schedule and what alpha = 1 leaves, a bit-exact resume across stage boundaries, and the real CLI
from training through every stage to sampling, with the mistakes a user can make."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, load_experiment, override, preflight
from PIL import Image
from test_cli import assert_one_line_error, run_cli

from jaxgan import train
from jaxgan.errors import UserError
from jaxgan.families import progan
from jaxgan.models import progan as nets
from jaxgan.state import num_params

EXPERIMENT = f"--config={REPO / 'experiments' / 'progan.py'}"


def _reference_counts(resolution=1024, channels=3, base=8192, fmax=512, latent=512):
    """G_paper and D_paper of tkarras/progressive_growing_of_gans, tallied from their layers:
    convolutions k*k*in*out + out biases; G's first dense layer latent x 16 nf(1) with nf(1)
    biases; D's 4x4 block sees one minibatch-stddev map more."""
    def nf(s):
        return min(int(base / 2.0**s), fmax)

    top = int(math.log2(resolution))
    conv = lambda k, i, o: k * k * i * o + o
    g = latent * 16 * nf(1) + nf(1) + conv(3, nf(1), nf(1))
    d = conv(3, nf(1) + 1, nf(1)) + 16 * nf(1) * nf(0) + nf(0) + nf(0) + 1
    for res in range(2, top + 1):
        g += conv(1, nf(res - 1), channels)  # toRGB
        d += conv(1, channels, nf(res - 1))  # fromRGB
        if res > 2:
            g += conv(3, nf(res - 2), nf(res - 1)) + conv(3, nf(res - 1), nf(res - 1))
            d += conv(3, nf(res - 1), nf(res - 1)) + conv(3, nf(res - 1), nf(res - 2))
    return g, d


def test_the_celebahq_preset_has_the_reference_counts():
    assert _reference_counts() == (23_079_115, 23_087_249)
    config = load_experiment("progan", "celebahq1024")
    spec = progan.setup(config)
    abstract = jax.eval_shape(lambda: progan.init(spec, 0))
    assert num_params(abstract.nets["G"].params) == 23_079_115
    assert num_params(abstract.nets["D"].params) == 23_087_249
    # Every phase of the first steps traced at 1024x1024 (the networks are built, not run).
    assert preflight(config) == {"params/G": 23_079_115, "params/D": 23_087_249}


def test_pixel_norm_and_the_equalized_learning_rate():
    x = jax.random.normal(jax.random.key(0), (2, 4, 4, 32)) * 7.0
    np.testing.assert_allclose(jnp.mean(nets.pixel_norm(x) ** 2, axis=-1), 1.0, rtol=1e-5)
    layer = nets.EqConv(64, 3)
    variables = layer.init(jax.random.key(1), jnp.zeros((1, 8, 8, 128)))
    stored = variables["params"]["kernel"]
    assert abs(float(jnp.std(stored)) - 1.0) < 0.02  # N(0, 1) in storage
    x = jax.random.normal(jax.random.key(2), (2, 8, 8, 128))
    scaled = stored * math.sqrt(2.0) / math.sqrt(3 * 3 * 128)  # He's constant, at run time
    expected = jax.lax.conv_general_dilated(x, scaled, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(layer.apply(variables, x), expected, atol=1e-4, rtol=1e-4)


def _config(folder, **overrides):
    return override(load_experiment("progan", "smoke"), **{
        "dataset.name": "image_folder", "dataset.data_dir": str(folder),
        "dataset.image_size": 8, "mesh.data": 1, "num_train_steps": 4, **overrides})


def test_the_schedule_and_alpha():
    spec = progan.setup(override(load_experiment("progan", "mnist32")))
    stable, fade = spec.stable_steps, spec.fade_steps
    assert (stable, fade) == (250, 250)
    stage = progan.stage_at
    assert stage(spec, 0) == progan.Stage(0, False, 0)
    assert stage(spec, stable) == progan.Stage(1, True, stable)
    assert float(progan.alpha_at(spec, stage(spec, stable), stable)) == 0.0
    half = stable + fade // 2
    assert float(progan.alpha_at(spec, stage(spec, half), half)) == pytest.approx(
        (fade // 2) / fade)
    assert stage(spec, stable + fade) == progan.Stage(1, False, stable + fade)
    assert stage(spec, 3 * (stable + fade) + 5) == progan.Stage(3, False, 3 * (stable + fade))
    assert stage(spec, spec.config.num_train_steps - 1).level == 3
    assert [progan.batch_spec(spec, s)["image"].shape for s in (0, stable, 2 * (stable + fade))
            ] == [(4, 4, 1), (8, 8, 1), (16, 16, 1)]


def test_at_alpha_one_the_new_level_alone():
    g = nets.Generator(16, 1, fmap_base=64, fmap_max=16, latent_dim=8)
    d = nets.Discriminator(16, fmap_base=64, fmap_max=16)
    gv = g.init(jax.random.key(0), jnp.zeros((1, 8)), 2)  # built whole: the top level
    dv = d.init(jax.random.key(1), jnp.zeros((4, 16, 16, 1)), 2)
    z = jax.random.normal(jax.random.key(2), (4, 8))
    x = jax.random.normal(jax.random.key(3), (4, 8, 8, 1))

    def moved(variables, name):  # the previous level's RGB layer changed
        p = jax.tree.map(lambda a: a, variables["params"])
        p[name] = jax.tree.map(lambda a: a + 1.0, p[name])
        return {**variables, "params": p}

    for alpha, same in ((1.0, True), (0.5, False)):
        a, b = (g.apply(v, z, 1, alpha) for v in (gv, moved(gv, "torgb_4")))
        assert bool(jnp.array_equal(a, b)) is same
        a, b = (d.apply(v, x, 1, alpha) for v in (dv, moved(dv, "fromrgb_4")))
        assert bool(jnp.array_equal(a, b)) is same
    # Alpha 0: the previous level, enlarged.
    np.testing.assert_allclose(g.apply(gv, z, 1, 0.0),
                               nets.upsample(g.apply(gv, z, 0, 1.0)), atol=1e-6)


def _host(state):
    return jax.tree.map(np.asarray, jax.device_get(state))


def test_resume_across_stage_boundaries_is_bit_exact(image_folder, tmp_path):
    folder = image_folder
    # stable 1 batch, fade 1 batch: step 0 at 4x4, step 1 fading in 8x8, steps 2-3 at 8x8.
    straight = _host(train.train(_config(folder), str(tmp_path / "straight")))
    interrupted = str(tmp_path / "interrupted")
    with pytest.MonkeyPatch.context() as patch:  # runs stopped before the last level
        patch.setattr(progan, "check_schedule", lambda *args: None)
        at = {stop: _host(train.train(_config(folder, num_train_steps=stop), interrupted))
              for stop in (1, 2)}
    resumed = _host(train.train(_config(folder), interrupted))
    chex.assert_trees_all_equal(straight, resumed)
    progress = lambda s: (int(s.nets["G"].variables["progress"]["level"]),
                          float(s.nets["G"].variables["progress"]["alpha"]))
    assert progress(at[1]) == (0, 1.0) and progress(at[2]) == (1, 0.0)
    assert progress(straight) == (1, 1.0)
    assert progress(straight) == (int(straight.ema["G"]["progress"]["level"]),
                                  float(straight.ema["G"]["progress"]["alpha"]))
    # Adam starts afresh at each stage: its count is the steps of the current stage.
    count = lambda s: int(s.nets["G"].opt_state[0].count)
    assert (count(at[1]), count(at[2]), count(straight)) == (1, 1, 2)


def test_cli_grows_through_every_stage_and_samples(image_folder, tmp_path):
    folder = image_folder
    workdir = tmp_path / "run"
    flags = ["--config.dataset.name=image_folder", f"--config.dataset.data_dir={folder}",
             "--config.dataset.image_size=8", "--config.num_train_steps=4",
             "--config.checkpoint_every_steps=1", "--config.keep_checkpoints=5"]
    run_cli("jaxgan.main", f"{EXPERIMENT}:smoke", f"--workdir={workdir}", *flags)
    grids = []
    for step in (1, 4):  # 4x4 (enlarged to 8x8), then 8x8
        out = tmp_path / f"s{step}.png"
        run_cli("jaxgan.sample", f"--workdir={workdir}", f"--step={step}", "--num=4",
                f"--out={out}")
        grids.append(np.asarray(Image.open(out)))
    def blocky(cell):  # every 2x2 block one value
        return np.array_equal(cell, cell[::2, ::2].repeat(2, 0).repeat(2, 1))

    assert blocky(grids[0][2:10, 2:10]) and not blocky(grids[1][2:10, 2:10])


def test_mistakes_are_one_line(tmp_path):
    proc = run_cli("jaxgan.main", f"{EXPERIMENT}:smoke", f"--workdir={tmp_path / 'a'}",
                   "--config.dataset.image_size=24", check=False)
    assert_one_line_error(proc, "power of two")
    with pytest.raises(UserError, match=r"3 x \(1 stable \+ 1 fade-in\) = 6 steps"):
        progan.setup(override(load_experiment("progan", "smoke"), num_train_steps=6))
    assert not (tmp_path / "a").exists() or not (tmp_path / "a" / "checkpoints").exists()
