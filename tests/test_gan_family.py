"""The gan family's schedule pieces: n_critic phases, lazy R1, the EMA ramp, instance-noise
annealing, and the config checks that catch a mistake before any compile."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_experiment, override

from jaxgan.errors import UserError
from jaxgan.families import gan
from jaxgan.families.gan import export, networks, steps
from jaxgan.objectives import ema as ema_lib


def _spec(**overrides):
    return gan.setup(override(load_experiment("dcgan_fashion"), **overrides))


def test_n_critic_schedule():
    spec = _spec(**{"training.n_critic": 5})
    assert [steps.phases(spec, s) for s in range(10)] == [("d",)] * 4 + [("dg",)] + \
        [("d",)] * 4 + [("dg",)]
    assert all(steps.phases(_spec(), s) == ("dg",) for s in range(3))


def test_lazy_r1_schedule():
    assert [steps.phases(_spec(**{"regularizer.r1_gamma": 1.0}), s) for s in range(3)] == \
        [("dg_reg",)] * 3
    lazy = _spec(**{"regularizer.r1_gamma": 1.0, "regularizer.r1_interval": 4})
    assert [steps.phases(lazy, s)[0] for s in range(9)] == \
        ["dg_reg", "dg", "dg", "dg", "dg_reg", "dg", "dg", "dg", "dg_reg"]
    with_critic = _spec(**{"regularizer.r2_gamma": 1.0, "regularizer.r1_interval": 3,
                           "training.n_critic": 2})
    assert [steps.phases(with_critic, s)[0] for s in range(6)] == \
        ["d_reg", "dg", "d", "dg_reg", "d", "dg"]


def test_lazy_r1_step_is_the_k_times_penalty_and_the_others_skip_it():
    """A "_reg" step of r1_interval k with gamma g is the every-step R1 run's step with gamma k g;
    a plain step is the step of a run without R1."""
    def one_step(phase, **overrides):
        spec = _spec(**{"batch_size": 8, **overrides})
        state = gan.init(spec, 0)
        real = jax.random.uniform(jax.random.key(3), (8, 28, 28, 1), minval=-1.0, maxval=1.0)
        new, metrics = jax.jit(lambda s: steps.train_phase(spec, phase, s, {"image": real}))(state)
        return new.nets["D"].params, metrics

    # A large gamma: at initialisation ||grad D|| is small (R1 ~ 2e-5).
    lazy, lazy_metrics = one_step("dg_reg", **{"regularizer.r1_gamma": 250.0,
                                               "regularizer.r1_interval": 4})
    eager, eager_metrics = one_step("dg_reg", **{"regularizer.r1_gamma": 1000.0})
    chex.assert_trees_all_close(lazy, eager, atol=1e-6)
    assert float(lazy_metrics["r1_penalty"]) > 0
    np.testing.assert_allclose(lazy_metrics["d_loss"], eager_metrics["d_loss"], rtol=1e-6)
    skipped, skipped_metrics = one_step("dg", **{"regularizer.r1_gamma": 250.0,
                                                 "regularizer.r1_interval": 4})
    plain, plain_metrics = one_step("dg")
    chex.assert_trees_all_close(skipped, plain, atol=1e-6)
    assert "r1_penalty" not in skipped_metrics
    # The regularised step's D loss is the plain loss + (gamma / 2) k R1 (Adam's first step,
    # ~lr sign(grad), hides the penalty in the weights).
    np.testing.assert_allclose(
        lazy_metrics["d_loss"] - plain_metrics["d_loss"],
        0.5 * 250.0 * 4 * lazy_metrics["r1_penalty"], rtol=1e-4)


def test_ema_ramps_up_after_its_start():
    spec = _spec(**{"training.ema_decay": 0.999, "training.ema_start_step": 100})
    ema, new = {"params": {"w": jnp.zeros(())}}, {"params": {"w": jnp.ones(())}}

    def averaged(step):
        return ema_lib.update(ema, new, steps.ema_decay(spec, jnp.asarray(step)))["params"]["w"]

    assert float(averaged(50)) == 1.0  # a copy before start
    # t = 0 after the start: decay 1/10; t = 990: (991/1000) < 0.999; late: 0.999.
    np.testing.assert_allclose(averaged(100), 0.9, rtol=1e-6)
    np.testing.assert_allclose(averaged(1090), 0.009, rtol=1e-4)
    np.testing.assert_allclose(averaged(10**6), 0.001, rtol=1e-4)


def test_instance_noise_anneals_to_zero():
    spec = _spec(**{"training.instance_noise": 0.2, "training.instance_noise_steps": 100})
    stds = [float(steps._noise_std(spec, jnp.asarray(s))) for s in (0, 50, 100, 500)]
    np.testing.assert_allclose(stds, [0.2, 0.1, 0.0, 0.0], atol=1e-7)


@pytest.mark.parametrize("overrides, message", [
    ({"loss.name": "hinge", "loss.real_label": 0.9}, "label smoothing"),
    ({"training.n_critic": 0}, "n_critic"),
    ({"training.ema_decay": 1.0}, "ema_decay"),
    ({"augment.policy": "color,zoom"}, "augment.policy"),
    ({"d_layers.norm": "group"}, "d_layers.norm"),
    ({"model.name": "biggan_deep"}, "unknown model.name"),
    ({"model.name": "sagan", "dataset.image_size": 32}, "attention_resolution"),
    ({"model.name": "sngan"}, "32 or 64 px"),
    ({"model.g_conditional_bn": True}, "num_classes"),
    ({"regularizer.r1_gamma": 1.0, "regularizer.r1_interval": 0}, "r1_interval must be"),
    ({"regularizer.r1_interval": 16}, "which is off"),
    ({"d_layers.pack": 0}, "d_layers.pack must be"),
    ({"d_layers.pack": 2, "model.num_classes": 10}, "conditional or InfoGAN"),
    ({"d_layers.pack": 3}, "not divisible by 3: use a multiple of it, e.g. --config.batch_size=18"),
])
def test_config_mistakes_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        _spec(**overrides)


def test_batchnorm_recalibration_matches_the_activations_of_the_weights_sampled():
    # A small conditional DCGAN (labels exercise the class grid) with deliberately wrong running
    # statistics: after recalibration, inference mode must produce what training mode (batch
    # statistics of a large batch) produces, the weights must be untouched, and a model without
    # BatchNorm is refused.
    spec = _spec(**{"model.ngf": 8, "model.latent_dim": 16, "model.num_classes": 10,
                    "model.g_conditional_bn": True})
    g = gan.init(spec, 0).nets["G"].variables
    wrong = jax.tree.map(lambda s: s + 3.0, g["batch_stats"])
    g_wrong = {**g, "batch_stats": wrong}
    fixed = export.recalibrate_batch_stats(spec, g_wrong, jax.random.key(1), passes=60,
                                        batch_size=256)
    chex.assert_trees_all_equal(fixed["params"], g["params"])
    z = steps.sample_latents(spec, jax.random.key(2), 2000)
    labels = jnp.arange(2000) % 10
    train_mode, _ = spec.generator.apply(g, z, labels, train=True, mutable=networks.MUTABLE)
    before = export.generate(spec, g_wrong, {"z": z, "label": labels})
    after = export.generate(spec, fixed, {"z": z, "label": labels})
    err_before = float(jnp.mean(jnp.abs(before - train_mode)))
    err_after = float(jnp.mean(jnp.abs(after - train_mode)))
    scale = float(jnp.mean(jnp.abs(train_mode)))
    assert err_after < 0.02 * scale and err_before > 0.5 * scale, (err_after, err_before, scale)
    with pytest.raises(UserError, match="no BatchNorm"):
        export.recalibrate_batch_stats(spec, {"params": g["params"]}, jax.random.key(1), 2, 8)
    with pytest.raises(UserError, match="passes"):
        export.recalibrate_batch_stats(spec, g, jax.random.key(1), 0, 8)


def test_truncated_latents_stay_inside_the_threshold():
    spec = _spec(**{"model.latent_dim": 16})
    z = np.asarray(steps.sample_latents(spec, jax.random.key(0), 4000, truncation=0.5))
    chex.assert_shape(z, (4000, 16))
    assert np.abs(z).max() <= 0.5
    # Truncated N(0, 1) on [-0.5, 0.5]: variance 1 - 2 a phi(a) / (2 Phi(a) - 1) at a = 0.5.
    a = 0.5
    phi = np.exp(-a * a / 2) / np.sqrt(2 * np.pi)
    mass = math.erf(a / np.sqrt(2))
    np.testing.assert_allclose(z.var(), 1 - 2 * a * phi / mass, rtol=0.02)
    plain = np.asarray(steps.sample_latents(spec, jax.random.key(0), 4000))
    assert np.abs(plain).max() > 3


def test_packing_puts_each_example_in_its_own_channels():
    x = jax.random.normal(jax.random.key(0), (6, 4, 5, 3))
    packed = steps.pack(x, 3)
    chex.assert_shape(packed, (2, 4, 5, 9))
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(packed[i, ..., 3 * j:3 * j + 3], x[3 * i + j])
    assert steps.pack(x, 1) is x


def test_a_packed_discriminator_sees_pairs():
    """PacGAN with pack 2: D's first layer reads 2 channels per pixel, and a D + G step on a
    batch of 8 trains on 4 packed inputs of each kind."""
    spec = _spec(**{"batch_size": 8, "d_layers.pack": 2})
    state = gan.init(spec, 0)
    kernels = [v for path, v in jax.tree_util.tree_leaves_with_path(state.nets["D"].params)
               if v.ndim == 4]
    assert min(k.shape[2] for k in kernels) == 2  # the input convolution's channels
    real = jax.random.uniform(jax.random.key(3), (8, 28, 28, 1), minval=-1.0, maxval=1.0)
    new, metrics = jax.jit(lambda s: steps.train_phase(spec, "dg", s, {"image": real}))(state)
    assert np.isfinite(float(metrics["d_loss"])) and np.isfinite(float(metrics["g_loss"]))
    assert int(new.step) == 1
