"""Checkpoints of the first layout (items generator/, discriminator/, optimizer/, train/,
generator_ema/) still restore, sample, evaluate and resume. The fixtures (tests/fixtures/
legacy_v1) were written by that layout's code, with the images they generate at step 4 and
after training on to step 6: an InfoGAN run of the gan family with a learned code prior and an
EMA generator, and a StyleGAN2 run. Images are compared to 1e-4 (the same program on another
CPU may round differently)."""

import json
import shutil

import jax
import numpy as np
import pytest
from conftest import REPO
from test_cli import run_cli

import jaxgan
from jaxgan import train
from jaxgan.workdir import load_config

FIXTURES = REPO / "tests" / "fixtures" / "legacy_v1"


def _images(workdir, weights):
    model = jaxgan.load(str(workdir), weights=weights)
    batch = {"z": jax.random.normal(jax.random.key(0), (8, model.export.latent_dim))}
    if model.export.label_count:
        batch["label"] = np.arange(8) % model.export.label_count
    return model(batch)


# StyleGAN2's resume compiles its five phases (half a minute): in the `slow` tier; its restore
# and sampling are checked in the default one by test_a_first_layout_stylegan_samples.
@pytest.mark.parametrize("run", ["infogan", pytest.param("stylegan", marks=pytest.mark.slow)])
def test_a_first_layout_checkpoint_restores_and_resumes(run, tmp_path):
    workdir = tmp_path / run
    shutil.copytree(FIXTURES / run, workdir)
    assert (workdir / "checkpoints" / "4" / "generator").is_dir()
    expected = np.load(FIXTURES / run / "expected_step4.npz")
    for weights in ("params", "ema"):
        np.testing.assert_allclose(_images(workdir, weights), expected[f"images_{weights}"],
                                   atol=1e-4)
    config = load_config(str(workdir))
    with config.unlocked():
        config.num_train_steps = 6
    state = train.train(config, str(workdir))
    expected = np.load(FIXTURES / run / "expected_step6.npz")
    for weights in ("params", "ema"):
        np.testing.assert_allclose(_images(workdir, weights), expected[f"images_{weights}"],
                                   atol=1e-4)
    for key in state.extra:  # the family's running values came through the old train item
        np.testing.assert_allclose(state.extra[key], expected[f"extra_{key}"], rtol=1e-4)
    assert (workdir / "checkpoints" / "6" / "net_G").is_dir()  # saved in today's layout


def test_a_first_layout_stylegan_samples():
    for weights in ("params", "ema"):
        np.testing.assert_allclose(
            _images(FIXTURES / "stylegan", weights),
            np.load(FIXTURES / "stylegan" / "expected_step4.npz")[f"images_{weights}"],
            atol=1e-4)


def test_a_first_layout_checkpoint_samples_and_is_scored(tiny_lenet, tmp_path):
    classifier_dir, env = tiny_lenet
    workdir = tmp_path / "run"
    shutil.copytree(FIXTURES / "infogan", workdir)
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=8", f"--out={tmp_path / 's.png'}")
    assert (tmp_path / "s.png").is_file()
    run_cli("jaxgan.evaluate", f"--workdir={workdir}", f"--classifier_dir={classifier_dir}",
            "--metrics=is_lenet", "--num_samples=100", "--batch_size=50", "--once",
            "--code_prior=posterior", env=env)
    (record,) = [json.loads(line) for line in (workdir / "eval" / "metrics.jsonl").open()]
    assert record["step"] == 4 and record["generator"] == "ema_qprior"
    assert record["latent_codes"]["prior"] == "q_posterior_em" and np.isfinite(record["value"])
