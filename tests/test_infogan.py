"""InfoGAN's categorical latent code (`model.info_categories`): the mutual-information loss, the
Q head, a code that changes the image, training that teaches Q the codes, and the real CLIs (a
grid with one code per column, `--class` picking a code, evaluator records saying how codes were
drawn)."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, assert_is_recorded_run, load_experiment, override
from PIL import Image
from test_cli import assert_one_line_error, run_cli

from jaxgan import losses
from jaxgan.errors import UserError
from jaxgan.families import gan

DCGAN = f"--config={REPO / 'experiments' / 'dcgan_mnist.py'}:smoke"


def _spec(**overrides):
    return gan.setup(override(load_experiment("dcgan_mnist"),
                              **{"model.info_categories": 10, **overrides}))


def test_info_loss_is_the_cross_entropy_of_the_given_code():
    # softmax([0, 0, ln 2]) = [1/4, 1/4, 1/2]: code 2 costs ln 2, code 0 costs ln 4.
    logits = jnp.array([[0.0, 0.0, math.log(2.0)]] * 2)
    got = float(losses.info_loss(logits, jnp.array([2, 0])))
    assert got == pytest.approx((math.log(2.0) + math.log(4.0)) / 2, rel=1e-6)
    # Confident and right: ~0; uniform: ln K.
    assert float(losses.info_loss(jnp.eye(4) * 50.0, jnp.arange(4))) < 1e-6
    assert float(losses.info_loss(jnp.zeros((3, 5)), jnp.array([0, 4, 2]))) == \
        pytest.approx(math.log(5.0), rel=1e-6)


@pytest.mark.parametrize("overrides, message", [
    ({"model.info_categories": 1}, "at least 2"),
    ({"model.num_classes": 10}, "cannot both be set"),
    ({"loss.info_weight": 0.0}, "info_weight"),
    ({"model.name": "sngan", "dataset.image_size": 32}, "model.name=dcgan"),
])
def test_info_config_mistakes_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        _spec(**overrides)


def test_the_code_changes_the_image_and_q_predicts_k_logits():
    spec = _spec()
    state = gan.init(spec, 0)
    z = jnp.repeat(gan.sample_latents(spec, jax.random.key(1), 1), 2, axis=0)
    images = gan.generate(spec, state.generator, z, jnp.array([0, 1]))
    assert images.shape == (2, 28, 28, 1)
    assert float(jnp.max(jnp.abs(images[0] - images[1]))) > 1e-3  # same z, two codes
    # Without codes the default grid of codes 0, 1, ..., K-1 is drawn.
    np.testing.assert_array_equal(gan.generate(spec, state.generator, z),
                                  gan.generate(spec, state.generator, z, jnp.array([0, 1])))
    logits, code_logits = spec.discriminator.apply(state.discriminator, images, train=False,
                                                   return_code=True)
    assert logits.shape == (2,) and code_logits.shape == (2, 10)
    # D without a Q head refuses to predict codes.
    plain = gan.setup(load_experiment("dcgan_mnist"))
    plain_state = gan.init(plain, 0)
    with pytest.raises(ValueError, match="info_categories"):
        plain.discriminator.apply(plain_state.discriminator, images, train=False,
                                  return_code=True)


def test_training_teaches_q_the_codes():
    # G and Q minimise the same cross entropy, so within ~150 steps (of batch 16, at the smoke
    # widths) Q tells the codes apart far better than chance (ln 10 = 2.30), whatever the real
    # data are: measured 2.30 at step 0, 1.05 at 100, 0.27 at 140.
    spec = _spec()
    state = gan.init(spec, 0)
    real = jax.random.uniform(jax.random.key(3), (16, 28, 28, 1), minval=-1.0, maxval=1.0)
    step = jax.jit(lambda s: gan.train_phase(spec, "dg", s, {"image": real}))
    first = None
    for _ in range(150):
        state, metrics = step(state)
        first = first or float(metrics["info_loss"])
    assert first > 2.0, first
    assert float(metrics["info_loss"]) < 0.6 and float(metrics["g_info_loss"]) < 0.6, metrics
    assert float(metrics["info_accuracy"]) > 0.9, metrics
    # A critic-only step (n_critic > 1) trains Q on the codes too, from the same trained state.
    _, d_only = jax.jit(lambda s: gan.train_phase(spec, "d", s, {"image": real}))(state)
    assert float(d_only["info_loss"]) < 0.6 and "g_info_loss" not in d_only


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_lenet):
    workdir = tmp_path_factory.mktemp("infogan") / "run"
    run_cli("jaxgan.main", DCGAN, f"--workdir={workdir}", "--config.model.info_categories=10",
            "--config.training.ema_decay=0.9")
    return workdir, *tiny_lenet


def test_sample_grid_and_code_choice(run, tmp_path):
    workdir, _, _ = run
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    assert all("info_loss" in r and "g_info_loss" in r for r in records if "d_loss" in r)
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=20", f"--out={tmp_path / 'g.png'}")
    assert Image.open(tmp_path / "g.png").size == (10 * 30 + 2, 2 * 30 + 2)  # a column per code
    for code in (3, 7):
        run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=4", f"--class={code}",
                f"--out={tmp_path / f'{code}.png'}")
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "3.png")),
                              np.asarray(Image.open(tmp_path / "7.png")))
    proc = run_cli("jaxgan.sample", f"--workdir={workdir}", "--class=10",
                   f"--out={tmp_path / 'x.png'}", check=False)
    assert_one_line_error(proc, "--class must be in [0, 10)")


def test_evaluator_records_balanced_codes_and_refuses_cas(run):
    workdir, classifier_dir, env = run
    common = [f"--workdir={workdir}", f"--classifier_dir={classifier_dir}", "--num_samples=200",
              "--batch_size=100", "--steps=4"]
    run_cli("jaxgan.evaluate", *common, "--metrics=is_lenet", env=env)
    (record,) = [json.loads(line) for line in (workdir / "eval" / "metrics.jsonl").open()]
    assert record["latent_codes"] == "balanced" and record["labels"] is None
    assert record["metric"] == "is_lenet" and 1.0 <= record["value"] <= 10.0
    # Codes are not labels: the class-conditional scores stay refused.
    proc = run_cli("jaxgan.evaluate", *common, "--metrics=cas_lenet", env=env, check=False)
    assert_one_line_error(proc, "class-conditional")


@pytest.mark.parametrize("variant, categories, record", [
    ("infogan", 10, "infogan_mnist"), ("infogan20", 20, "infogan20_mnist")])
def test_infogan_variants_are_the_reported_recipes(variant, categories, record):
    """README's InfoGAN rows were trained as these variants (checkpoints kept: 20); each must
    stay its recipe."""
    config = load_experiment("dcgan_mnist", variant).to_dict()
    base = load_experiment("dcgan_mnist", None).to_dict()
    assert config["model"]["info_categories"] == categories
    assert config["num_train_steps"] == 16000
    assert base["model"]["info_categories"] == 0  # the plain experiment stays plain
    assert_is_recorded_run(config, record, ("keep_checkpoints",))
