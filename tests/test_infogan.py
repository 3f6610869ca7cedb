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
from conftest import REPO, load_experiment, override
from test_cli import assert_one_line_error, assert_samples_by_class, run_cli

from jaxgan.errors import UserError
from jaxgan.families import gan
from jaxgan.families.gan import export, steps
from jaxgan.objectives import losses

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
    z = jnp.repeat(steps.sample_latents(spec, jax.random.key(1), 1), 2, axis=0)
    images = export.generate(spec, state.nets["G"].variables, {"z": z, "label": jnp.array([0, 1])})
    assert images.shape == (2, 28, 28, 1)
    assert float(jnp.max(jnp.abs(images[0] - images[1]))) > 1e-3  # same z, two codes
    # Without codes the default grid of codes 0, 1, ..., K-1 is drawn.
    g = state.nets["G"].variables
    np.testing.assert_array_equal(export.generate(spec, g, {"z": z}),
                                  export.generate(spec, g, {"z": z, "label": jnp.array([0, 1])}))
    logits, code_logits = spec.discriminator.apply(state.nets["D"].variables, images, train=False,
                                                   return_code=True)
    assert logits.shape == (2,) and code_logits.shape == (2, 10)
    # D without a Q head refuses to predict codes.
    plain = gan.setup(load_experiment("dcgan_mnist"))
    plain_state = gan.init(plain, 0)
    with pytest.raises(ValueError, match="info_categories"):
        plain.discriminator.apply(plain_state.nets["D"].variables, images, train=False,
                                  return_code=True)


def test_code_projection_conditions_d_on_given_codes_and_on_q_for_real_images():
    spec = _spec(**{"model.info_projection": True})
    state = gan.init(spec, 0)
    assert "code_projection" in state.nets["D"].variables["params"]
    x = jax.random.uniform(jax.random.key(2), (6, 28, 28, 1), minval=-1.0, maxval=1.0)
    d = spec.discriminator
    logits, code_logits = d.apply(state.nets["D"].variables, x, train=False, return_code=True)
    q_codes = jnp.argmax(code_logits, -1)
    # Without codes (real images) D projects on Q's own argmax: the same as being told it.
    np.testing.assert_allclose(logits, d.apply(state.nets["D"].variables, x, q_codes, train=False),
                               rtol=1e-6)
    # Told another code (a generated image's), the logit changes.
    other = d.apply(state.nets["D"].variables, x, (q_codes + 1) % 10, train=False)
    assert float(jnp.max(jnp.abs(other - logits))) > 1e-4
    # One training step runs with it, and the config needs an InfoGAN code.
    real = jax.random.uniform(jax.random.key(3), (16, 28, 28, 1), minval=-1.0, maxval=1.0)
    _, metrics = jax.jit(lambda s: steps.train_phase(spec, "dg", s, {"image": real}))(state)
    assert np.isfinite(float(metrics["g_loss"]))
    with pytest.raises(UserError, match="info_projection"):
        _spec(**{"model.info_projection": True, "model.info_categories": 0})


def test_training_teaches_q_the_codes():
    # G and Q minimise the same cross entropy, so within ~150 steps (of batch 16, at the smoke
    # widths) Q tells the codes apart far better than chance (ln 10 = 2.30), whatever the real
    # data are: measured 2.30 at step 0, 1.05 at 100, 0.27 at 140.
    spec = _spec()
    state = gan.init(spec, 0)
    real = jax.random.uniform(jax.random.key(3), (16, 28, 28, 1), minval=-1.0, maxval=1.0)
    step = jax.jit(lambda s: steps.train_phase(spec, "dg", s, {"image": real}))
    first = None
    for _ in range(150):
        state, metrics = step(state)
        first = first or float(metrics["info_loss"])
    assert first > 2.0, first
    assert float(metrics["info_loss"]) < 0.6 and float(metrics["g_info_loss"]) < 0.6, metrics
    assert float(metrics["info_accuracy"]) > 0.9, metrics
    # A critic-only step (n_critic > 1) trains Q on the codes too, from the same trained state.
    _, d_only = jax.jit(lambda s: steps.train_phase(spec, "d", s, {"image": real}))(state)
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
    assert_samples_by_class(workdir, tmp_path, "code")


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


def test_evaluator_fits_the_code_prior_to_real_data(run, tmp_path):
    workdir, classifier_dir, env = run
    run_cli("jaxgan.evaluate", f"--workdir={workdir}", f"--classifier_dir={classifier_dir}",
            "--num_samples=200", "--batch_size=100", "--steps=4", "--metrics=is_lenet",
            "--code_prior=posterior", env=env)
    records = [json.loads(line) for line in (workdir / "eval" / "metrics.jsonl").open()]
    (fitted,) = [r for r in records if r["generator"] == "ema_qprior"]
    codes = fitted["latent_codes"]
    assert codes["prior"] == "q_posterior_em" and codes["real"] == "mnist/train"
    assert codes["real_images"] == 60000 and codes["em_iterations"] >= 1
    assert len(codes["probs"]) == 10 and sum(codes["probs"]) == pytest.approx(1.0, abs=1e-4)
    # A model without codes has no prior to fit: one clear line, before anything is read.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text(json.dumps(load_experiment("dcgan_mnist").to_dict()))
    proc = run_cli("jaxgan.evaluate", f"--workdir={plain}", "--code_prior=posterior",
                   env=env, check=False)
    assert_one_line_error(proc, "model.info_categories is 0")


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory, tiny_lenet):
    workdir = tmp_path_factory.mktemp("infogan_learned") / "run"
    run_cli("jaxgan.main", DCGAN, f"--workdir={workdir}", "--config.model.info_categories=4",
            "--config.model.info_prior=learned", "--config.training.info_prior_start_step=0",
            "--config.training.info_prior_momentum=0.5")
    return workdir, *tiny_lenet


def test_a_learned_prior_is_logged_checkpointed_and_drawn_by_the_evaluator(learned_run):
    from jaxgan.checkpoint import restore_plain

    workdir, classifier_dir, env = learned_run
    logged = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    assert all(0.0 <= r["code_prior_min"] <= 0.25 <= r["code_prior_max"] <= 1.0
               for r in logged if "d_loss" in r)
    prior = np.asarray(restore_plain(str(workdir / "checkpoints" / "4" / "train"))["extra"]
                       ["code_prior"])
    assert not np.allclose(prior, 0.25)
    run_cli("jaxgan.evaluate", f"--workdir={workdir}", f"--classifier_dir={classifier_dir}",
            "--num_samples=200", "--batch_size=100", "--steps=4", "--metrics=is_lenet", env=env)
    (record,) = [json.loads(line) for line in (workdir / "eval" / "metrics.jsonl").open()]
    assert record["generator"] == "params" and record["latent_codes"]["prior"] == "learned"
    np.testing.assert_allclose(record["latent_codes"]["probs"], prior / prior.sum(), atol=1e-5)


@pytest.mark.parametrize("variant, categories", [
    ("infogan", 10), ("infogan20", 20), ("infogan20_learned", 20), ("infogan20_learned_ms", 20)])
def test_infogan_variants_set_their_code_and_steps(variant, categories):
    config = load_experiment("dcgan_mnist", variant).to_dict()
    base = load_experiment("dcgan_mnist", None).to_dict()
    assert config["model"]["info_categories"] == categories
    assert config["num_train_steps"] == 16000
    assert base["model"]["info_categories"] == 0  # the plain experiment stays plain


def test_r1_variant_is_the_learned_prior_variant_with_r1():
    """`:infogan20_learned_r1` is `:infogan20_learned` + R1 (gamma 0.02) for 30,000 steps."""
    config = load_experiment("dcgan_mnist", "infogan20_learned_r1").to_dict()
    plain = load_experiment("dcgan_mnist", "infogan20_learned").to_dict()
    assert config["regularizer"]["r1_gamma"] == 0.02 and plain["regularizer"]["r1_gamma"] == 0.0
    assert config["num_train_steps"] == 30000
    config["regularizer"]["r1_gamma"] = 0.0
    config["num_train_steps"] = 16000
    assert config == plain


def test_lazy_r1_variant_is_the_r1_variant_with_r1_every_16_steps():
    lazy = load_experiment("dcgan_mnist", "infogan20_learned_r1_lazy").to_dict()
    eager = load_experiment("dcgan_mnist", "infogan20_learned_r1").to_dict()
    assert lazy["regularizer"].pop("r1_interval") == 16
    assert eager["regularizer"].pop("r1_interval") == 1
    assert lazy == eager
