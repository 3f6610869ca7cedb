"""The shared loop in-process: determinism, bit-exact resume, mesh equivalence, no retrace."""

import chex
import jax
import numpy as np
import pytest
from conftest import load_experiment, override

from jaxgan import train
from jaxgan.families.gan import steps as gan_steps


def _config(**overrides):
    return override(load_experiment("dcgan_mnist"), **{"mesh.data": 1, **overrides})


def _host(state):
    return jax.tree.map(np.asarray, jax.device_get(state))


def test_same_seed_gives_the_same_bits(tmp_path):
    a = _host(train.train(_config(), str(tmp_path / "a")))
    b = _host(train.train(_config(), str(tmp_path / "b")))
    chex.assert_trees_all_equal(a, b)
    c = _host(train.train(_config(seed=1), str(tmp_path / "c")))
    assert not np.array_equal(a.nets["G"].params["project"]["kernel"],
                              c.nets["G"].params["project"]["kernel"])


def test_resume_equals_uninterrupted_training(tmp_path):
    straight = _host(train.train(_config(num_train_steps=6), str(tmp_path / "straight")))
    interrupted = str(tmp_path / "interrupted")
    first = _host(train.train(_config(num_train_steps=3), interrupted))
    assert int(first.step) == 3
    resumed = _host(train.train(_config(num_train_steps=6), interrupted))
    assert int(resumed.step) == 6
    chex.assert_trees_all_equal(straight, resumed)


def test_four_device_mesh_matches_one_device(tmp_path):
    assert jax.device_count() == 4
    one = _host(train.train(_config(), str(tmp_path / "one")))
    four = _host(train.train(_config(**{"mesh.data": -1}), str(tmp_path / "four")))
    for name in ("G", "D"):
        chex.assert_trees_all_close(one.nets[name].variables, four.nets[name].variables,
                                    atol=2e-5, rtol=1e-4)


def test_each_phase_is_traced_once(tmp_path, monkeypatch):
    # n_critic=2 alternates the phases "d" and "dg": two traces in all, none on later steps.
    monkeypatch.setattr(gan_steps, "train_phase",
                        chex.assert_max_traces(gan_steps.train_phase, n=2))
    import dataclasses

    from jaxgan.families import gan
    monkeypatch.setattr(gan, "FAMILY", dataclasses.replace(gan.FAMILY,
                                                           train_phase=gan_steps.train_phase))
    chex.clear_trace_counter()
    state = train.train(_config(num_train_steps=5, **{"training.n_critic": 2}),
                        str(tmp_path / "run"))
    assert int(state.step) == 5


TOOLBOX = {  # every stateful or random piece of the gan family at once
    "training.n_critic": 2, "training.ema_decay": 0.9, "training.instance_noise": 0.1,
    "training.instance_noise_steps": 4, "d_layers.spectral_norm": True,
    "d_layers.minibatch_std": True, "augment.policy": "translation,cutout,color",
    "regularizer.r1_gamma": 1.0, "model.g_spectral_norm": True,
}


def test_resume_is_bit_exact_with_ema_spectral_norm_and_augmentation(tmp_path):
    straight = _host(train.train(_config(num_train_steps=5, **TOOLBOX), str(tmp_path / "a")))
    interrupted = str(tmp_path / "b")
    train.train(_config(num_train_steps=3, **TOOLBOX), interrupted)
    resumed = _host(train.train(_config(num_train_steps=5, **TOOLBOX), interrupted))
    chex.assert_trees_all_equal(straight, resumed)
    assert straight.ema["G"] and "spectral" in straight.nets["D"].variables
    # The EMA generator lags the trained one; the power-iteration state moved.
    assert not np.array_equal(straight.ema["G"]["params"]["project"]["kernel"],
                              straight.nets["G"].params["project"]["kernel"])


def test_non_finite_training_stops_with_a_clear_error_and_keeps_checkpoints(tmp_path):
    workdir = str(tmp_path / "run")
    train.train(_config(num_train_steps=2), workdir)
    with pytest.raises(train.TrainingDiverged, match="last good checkpoint"):
        train.train(_config(**{"num_train_steps": 6, "d_optimizer.learning_rate": 1e30,
                               "g_optimizer.learning_rate": 1e30}), workdir)
    from jaxgan.checkpoint import Checkpointer
    assert Checkpointer(workdir, 3, read_only=True).all_steps() == [2]


def test_resume_is_bit_exact_with_a_learned_infogan_code_prior(tmp_path):
    learned = {"model.info_categories": 4, "model.info_prior": "learned",
               "training.info_prior_start_step": 1, "training.info_prior_momentum": 0.5,
               "training.n_critic": 2}
    straight = _host(train.train(_config(num_train_steps=5, **learned), str(tmp_path / "a")))
    interrupted = str(tmp_path / "b")
    train.train(_config(num_train_steps=3, **learned), interrupted)
    resumed = _host(train.train(_config(num_train_steps=5, **learned), interrupted))
    chex.assert_trees_all_equal(straight, resumed)
    assert not np.allclose(straight.extra["code_prior"], 0.25)  # it moved, and was checkpointed
