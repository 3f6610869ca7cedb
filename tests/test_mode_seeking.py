"""MSGAN's mode-seeking term (`loss.mode_seeking`): its value, that it joins the generator's
loss and only the generator's, its linear annealing (`loss.mode_seeking_steps`), the paired
InfoGAN codes it needs, its config mistakes, and the real CLI logging its ratio and weight."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, load_experiment, override
from test_cli import assert_one_line_error, run_cli

from jaxgan.errors import UserError
from jaxgan.families import gan
from jaxgan.families.gan import infogan, steps
from jaxgan.objectives import losses

DCGAN = f"--config={REPO / 'experiments' / 'dcgan_mnist.py'}:smoke"


def _spec(**overrides):
    return gan.setup(override(load_experiment("dcgan_mnist"), **overrides))


def test_the_loss_is_the_inverse_of_image_over_latent_distance():
    z_a, z_b = jnp.zeros((4, 8)), jnp.full((4, 8), 2.0)  # mean |dz| = 2
    a, b = jnp.zeros((4, 5, 5, 1)), jnp.full((4, 5, 5, 1), 0.5)  # mean |dx| = 0.5
    loss, ratio = losses.mode_seeking_loss(a, b, z_a, z_b)
    assert float(ratio) == pytest.approx(0.25)
    assert float(loss) == pytest.approx(1.0 / (0.25 + 1e-5))
    # Identical images: the largest loss (1 / eps); its gradient pushes the pair apart.
    loss_same, _ = losses.mode_seeking_loss(b, b + 1e-3, z_a, z_b)
    assert float(loss_same) > 100.0 * float(loss)
    grad_b = jax.grad(lambda x: losses.mode_seeking_loss(a, x, z_a, z_b)[0])(b)
    assert float(jnp.max(grad_b)) < 0.0  # raising b (above a) lowers the loss


def test_training_codes_come_in_pairs_only_with_the_term():
    spec = _spec(**{"model.info_categories": 10, "loss.mode_seeking": 1.0})
    codes = np.asarray(infogan.training_codes(spec, jax.random.key(0), 64, None))
    np.testing.assert_array_equal(codes[:32], codes[32:])
    assert len(set(codes[:32].tolist())) > 5
    plain = _spec(**{"model.info_categories": 10})
    codes = np.asarray(infogan.training_codes(plain, jax.random.key(0), 64, None))
    np.testing.assert_array_equal(codes, infogan.sample_codes(plain, jax.random.key(0), 64))
    assert np.any(codes[:32] != codes[32:])


def test_the_term_joins_the_generator_loss_and_not_the_discriminator():
    real = jax.random.uniform(jax.random.key(3), (16, 28, 28, 1), minval=-1.0, maxval=1.0)
    out = {}
    for weight in (0.0, 0.5):
        spec = _spec(**{"loss.mode_seeking": weight})
        state = gan.init(spec, 0)
        out[weight] = jax.jit(lambda s, sp=spec: steps.train_phase(sp, "dg", s, {"image": real}))(
            state)
    (s0, m0), (s1, m1) = out[0.0], out[0.5]
    assert "mode_seeking_ratio" not in m0
    ratio = float(m1["mode_seeking_ratio"])
    assert 0.0 < ratio < 10.0
    # Same z, same images, same D step: D's loss agrees, G's differs by exactly the term.
    assert float(m1["d_loss"]) == pytest.approx(float(m0["d_loss"]), rel=1e-6)
    assert float(m1["g_loss"]) - float(m0["g_loss"]) == pytest.approx(
        0.5 / (ratio + 1e-5), rel=1e-4)
    jax.tree.map(np.testing.assert_array_equal, s0.nets["D"].variables["params"],
                 s1.nets["D"].variables["params"])
    diffs = jax.tree.leaves(jax.tree.map(lambda p, q: float(jnp.max(jnp.abs(p - q))),
                                         s0.nets["G"].params, s1.nets["G"].params))
    assert max(diffs) > 0.0


def test_annealed_weight_falls_linearly_to_zero_and_then_the_term_is_gone():
    spec = _spec(**{"loss.mode_seeking": 2.0, "loss.mode_seeking_steps": 8})
    weights = [float(steps._mode_seeking_weight(spec, jnp.asarray(t))) for t in (0, 2, 6, 8, 100)]
    assert weights == pytest.approx([2.0, 1.5, 0.5, 0.0, 0.0])
    constant = _spec(**{"loss.mode_seeking": 2.0})
    assert float(steps._mode_seeking_weight(constant, jnp.asarray(10**6))) == 2.0
    # Past the annealing the generator step is the plain one: same loss, same parameters.
    real = jax.random.uniform(jax.random.key(3), (16, 28, 28, 1), minval=-1.0, maxval=1.0)
    out = {}
    for name, sp in (("annealed", spec), ("plain", _spec())):
        state = gan.init(sp, 0).replace(step=jnp.asarray(8, jnp.int32))
        out[name] = jax.jit(lambda s, sp=sp: steps.train_phase(sp, "dg", s, {"image": real}))(
            state)
    (s_a, m_a), (s_p, m_p) = out["annealed"], out["plain"]
    assert float(m_a["mode_seeking_weight"]) == 0.0
    assert float(m_a["g_loss"]) == pytest.approx(float(m_p["g_loss"]), rel=1e-6)
    jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6),
                 s_a.nets["G"].variables["params"], s_p.nets["G"].variables["params"])


@pytest.mark.parametrize("overrides, message", [
    ({"loss.mode_seeking": -1.0}, ">= 0"),
    ({"loss.mode_seeking": 1.0, "loss.mode_seeking_steps": -5}, "mode_seeking_steps"),
    ({"loss.mode_seeking_steps": 100}, "which is 0"),
    ({"loss.mode_seeking": 1.0, "model.num_classes": 10}, "model.num_classes"),
    ({"loss.mode_seeking": 1.0, "batch_size": 15}, "even"),
])
def test_mode_seeking_config_mistakes_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        _spec(**overrides)


def test_cli_trains_with_the_term_and_logs_its_ratio(tmp_path):
    workdir = tmp_path / "run"
    run_cli("jaxgan.main", DCGAN, f"--workdir={workdir}", "--config.model.info_categories=4",
            "--config.loss.mode_seeking=1.0", "--config.loss.mode_seeking_steps=4")
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    ratios = [r["mode_seeking_ratio"] for r in records if "mode_seeking_ratio" in r]
    assert ratios and all(np.isfinite(ratios)) and min(ratios) > 0.0
    weights = [r["mode_seeking_weight"] for r in records if "mode_seeking_weight" in r]
    assert len(weights) == len(ratios) and 1.0 >= weights[0] > weights[-1] > 0.0
    odd = run_cli("jaxgan.main", DCGAN, f"--workdir={tmp_path / 'odd'}",
                  "--config.loss.mode_seeking=1.0", "--config.batch_size=15", check=False)
    assert_one_line_error(odd, "even")
