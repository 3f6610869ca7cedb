"""The InfoGAN code prior estimated on real data (`jaxgan.code_prior`): label-shift EM against a
known mixture, the stratified draw's counts, and Q's posteriors on real images through a real
discriminator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_experiment, override

from jaxgan.errors import UserError
from jaxgan.families import gan, inputs
from jaxgan.families.gan import infogan, steps


def _posteriors_of_a_mixture(true_prior, likelihood, n, seed=0):
    """Bayes posteriors q(c | x) under a uniform prior for n observations x drawn from the
    mixture sum_c true_prior[c] likelihood[c, x] (likelihood rows: codes, columns: x)."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(len(true_prior), size=n, p=true_prior)
    x = (rng.random(n)[:, None] > np.cumsum(likelihood[codes], axis=1)).sum(axis=1)
    q = likelihood[:, x].T
    return q / q.sum(axis=1, keepdims=True)


def test_em_recovers_the_mixing_weights_of_ambiguous_posteriors():
    # Three codes whose posteriors overlap: a plain mean of q is biased toward uniform, EM is not.
    true_prior = np.array([0.6, 0.3, 0.1])
    confusion = np.array([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
    # With finite samples the MLE is the weights of the empirical mixture; use many.
    q = _posteriors_of_a_mixture(true_prior, confusion, 50_000)
    prior, iterations = infogan.em_prior(q)
    np.testing.assert_allclose(prior, true_prior, atol=0.01)
    assert 1 < iterations < 1000
    plain_mean = q.mean(axis=0)
    assert abs(plain_mean[0] - 0.6) > 0.05  # the naive estimate is off; EM is the point
    assert prior.sum() == pytest.approx(1.0)


def test_em_of_confident_posteriors_is_their_share():
    q = np.zeros((10, 4))
    q[np.arange(10), [0, 0, 0, 0, 0, 1, 1, 2, 2, 2]] = 1.0
    prior, _ = infogan.em_prior(q)
    np.testing.assert_allclose(prior, [0.5, 0.2, 0.3, 0.0], atol=1e-9)
    with pytest.raises(ValueError):
        infogan.em_prior(np.ones((5, 1)))


def test_stratified_codes_follow_the_prior_to_within_one():
    prior = np.array([0.5, 0.25, 0.125, 0.125, 0.0])
    codes = inputs.stratified_codes(prior, 1003, seed=0)
    counts = np.bincount(codes, minlength=5)
    assert counts.sum() == 1003
    assert np.all(np.abs(counts - prior * 1003) < 1.0)
    assert counts[4] == 0
    # Seeded: same seed, same order; the order is shuffled, not sorted.
    np.testing.assert_array_equal(codes, inputs.stratified_codes(prior, 1003, seed=0))
    assert np.any(np.diff(codes) < 0)
    with pytest.raises(ValueError):
        inputs.stratified_codes(np.array([0.5, 0.6]), 10, seed=0)


def test_q_posteriors_on_real_shaped_images_are_distributions_per_image():
    spec = gan.setup(override(load_experiment("dcgan_mnist"), **{
        "model.info_categories": 5, "model.ngf": 8, "model.ndf": 8}))
    d_vars = gan.init(spec, 0).nets["D"].variables
    images = np.asarray(jax.random.uniform(jax.random.key(0), (23, 28, 28, 1), minval=-1.0))
    q = infogan.q_posteriors(spec, d_vars, images, batch_size=8)
    assert q.shape == (23, 5)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-5)
    # The short last batch (rows 16-22) is scored inside the full batch of rows 15-22.
    full = infogan.q_posteriors(spec, d_vars, images[15:], batch_size=8)
    np.testing.assert_allclose(q[16:], full[1:], rtol=1e-5, atol=1e-6)
    # Batch statistics, as in training: another batch-mate changes a row's posterior.
    other = infogan.q_posteriors(spec, d_vars, images[14:22], batch_size=8)
    assert np.max(np.abs(other[1:] - q[15:22])) > 1e-6


def test_q_posteriors_need_an_infogan_model():
    spec = gan.setup(override(load_experiment("dcgan_mnist"), **{"model.ngf": 8,
                                                                  "model.ndf": 8}))
    with pytest.raises(UserError, match="info_categories"):
        infogan.q_posteriors(spec, gan.init(spec, 0).nets["D"].variables,
                                np.zeros((4, 28, 28, 1), np.float32), 4)


def test_online_em_with_a_floored_sampling_prior_finds_the_real_shares():
    # Q's posteriors are Bayes posteriors under the prior the codes were drawn from (the learned
    # prior mixed with a uniform floor); the label-shift correction must undo that mixing, or the
    # prior would settle between the truth and uniform.
    true_prior = np.array([0.55, 0.3, 0.15, 0.0])
    likelihood = np.array([[0.85, 0.05, 0.05, 0.05], [0.05, 0.85, 0.05, 0.05],
                           [0.05, 0.05, 0.85, 0.05], [0.05, 0.05, 0.05, 0.85]])
    rng = np.random.default_rng(0)
    prior = infogan.uniform(4)
    for _ in range(3000):
        sampling = infogan.sampling_prior(prior, 0.2)
        codes = rng.choice(4, size=64, p=true_prior)
        x = (rng.random(64)[:, None] > np.cumsum(likelihood[codes], axis=1)).sum(axis=1)
        q = likelihood[:, x].T * np.asarray(sampling)
        q = q / q.sum(axis=1, keepdims=True)
        prior = infogan.online_em_step(prior, sampling, q, momentum=0.99)
    np.testing.assert_allclose(prior, true_prior, atol=0.03)
    assert float(np.sum(prior)) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(infogan.sampling_prior(prior, 0.2).sum(), 1.0, rtol=1e-6)


def _learned_spec(**overrides):
    return gan.setup(override(load_experiment("dcgan_mnist"), **{
        "model.info_categories": 4, "model.info_prior": "learned",
        "training.info_prior_start_step": 3, "training.info_prior_momentum": 0.5,
        "training.info_prior_floor": 0.0, **overrides}))


def test_a_learned_prior_stays_uniform_until_its_start_step_then_moves():
    spec = _learned_spec()
    state = gan.init(spec, 0)
    np.testing.assert_array_equal(state.extra["code_prior"], np.full(4, 0.25, np.float32))
    real = jax.random.uniform(jax.random.key(3), (16, 28, 28, 1), minval=-1.0, maxval=1.0)
    step = jax.jit(lambda s, phase: steps.train_phase(spec, phase, s, {"image": real}),
                   static_argnums=1)
    priors = []
    for phase in ("dg", "d", "dg", "dg", "d"):
        state, metrics = step(state, phase)
        priors.append(np.asarray(state.extra["code_prior"]))
        assert float(metrics["code_prior_max"]) == pytest.approx(priors[-1].max())
    for p in priors[:3]:
        np.testing.assert_array_equal(p, np.full(4, 0.25, np.float32))
    assert not np.allclose(priors[3], 0.25) and not np.allclose(priors[4], priors[3])
    for p in priors:
        assert p.sum() == pytest.approx(1.0, abs=1e-6) and np.all(p >= 0)


def test_training_draws_codes_from_the_learned_prior():
    spec = _learned_spec()
    codes = infogan.sample_codes(spec, jax.random.key(0), 4000, jnp.array([0.7, 0.0, 0.1, 0.2]))
    shares = np.bincount(np.asarray(codes), minlength=4) / 4000
    np.testing.assert_allclose(shares, [0.7, 0.0, 0.1, 0.2], atol=0.03)
    # Without the learned prior the draw is InfoGAN's uniform one, as before.
    uniform = infogan.sample_codes(_spec_uniform(), jax.random.key(0), 4000)
    assert np.all(np.abs(np.bincount(np.asarray(uniform), minlength=4) / 4000 - 0.25) < 0.03)


def _spec_uniform():
    return gan.setup(override(load_experiment("dcgan_mnist"), **{"model.info_categories": 4}))


@pytest.mark.parametrize("overrides, message", [
    ({"model.info_categories": 0}, "model.info_categories"),
    ({"model.info_prior": "empirical"}, "uniform or learned"),
    ({"training.info_prior_momentum": 1.0}, "info_prior_momentum"),
    ({"training.info_prior_floor": -0.1}, "info_prior_floor"),
])
def test_learned_prior_config_mistakes_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        _learned_spec(**overrides)
