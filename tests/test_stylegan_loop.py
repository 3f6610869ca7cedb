"""StyleGAN2 through the shared loop: bit-exact resume (pl_mean, EMA and w_avg included), a
4-device mesh against one device, and the real CLI (train, sample figures, dry run).

The runs are `stylegan.py:smoke` with both lazy regularizers every 2 steps, so that steps 2-3
(after a resume at step 2) run G_reg and D_reg. In-process they train on 8x8 images (the
smallest StyleGAN2) from a folder written here; the CLI trains on MNIST at 32x32. Compilation is
most of the time: like every test program, these are compiled at -O0 (conftest), and the CLI
commands share their compiles through the XLA cache set in conftest.
"""

import dataclasses
import json

import chex
import jax
import numpy as np
import pytest
from conftest import REPO, load_experiment, override, preflight
from PIL import Image
from test_cli import assert_one_line_error, run_cli

from jaxgan import train
from jaxgan.families import stylegan
from jaxgan.families.stylegan import steps as stylegan_steps

EXPERIMENT = f"--config={REPO / 'experiments' / 'stylegan.py'}:smoke"
REG_EVERY_2 = {"loss.g_reg_interval": 2, "loss.d_reg_interval": 2}
FLAGS = [f"--config.{k}={v}" for k, v in REG_EVERY_2.items()]
PAD = 2  # images.grid's padding


def _config(folder, **overrides):
    return override(load_experiment("stylegan"), **{
        "dataset.name": "image_folder", "dataset.data_dir": str(folder), "dataset.image_size": 8,
        "mesh.data": 1, **REG_EVERY_2, **overrides})


def _host(state):
    return jax.tree.map(np.asarray, jax.device_get(state))


@pytest.fixture(scope="module")
def straight(image_folder, tmp_path_factory):
    """4 uninterrupted steps on one device, tracing each of the 5 phases once."""
    workdir = str(tmp_path_factory.mktemp("straight"))
    with pytest.MonkeyPatch.context() as patch:
        traced = chex.assert_max_traces(stylegan_steps.train_phase, n=5)
        patch.setattr(stylegan, "FAMILY",
                      dataclasses.replace(stylegan.FAMILY, train_phase=traced))
        chex.clear_trace_counter()
        return _host(train.train(_config(image_folder), workdir))


def test_resume_is_bit_exact_with_pl_mean_ema_and_w_avg(straight, image_folder, tmp_path):
    config = _config(image_folder)
    spec = stylegan.setup(config)
    assert config.num_train_steps == 4
    assert {"G_reg", "D_reg"} <= set(stylegan_steps.phases(spec, 2))  # regularizers, resumed
    workdir = str(tmp_path / "interrupted")
    first = _host(train.train(_config(image_folder, num_train_steps=2), workdir))
    assert int(first.step) == 2
    resumed = _host(train.train(config, workdir))
    assert int(resumed.step) == 4
    chex.assert_trees_all_equal(straight, resumed)
    # What was compared holds every piece of StyleGAN state, and each moved after the resume.
    assert float(resumed.extra["pl_mean"]) > 0.0
    assert resumed.extra["pl_mean"] != first.extra["pl_mean"]
    w_avg = lambda s: s.ema["G"]["buffers"]["mapping"]["w_avg"]
    assert np.any(w_avg(resumed) != 0) and np.any(w_avg(resumed) != w_avg(first))
    ema = lambda s: s.ema["G"]["params"]["synthesis"]["b8_conv1"]["weight"]
    assert not np.array_equal(ema(resumed), ema(first))
    weight = resumed.nets["G"].params["synthesis"]["b8_conv1"]["weight"]
    assert not np.array_equal(ema(resumed), weight)


def test_four_device_mesh_matches_one_device(straight, image_folder, tmp_path):
    assert jax.device_count() == 4
    four = _host(train.train(_config(image_folder, **{"mesh.data": -1}), str(tmp_path / "four")))
    assert int(four.step) == int(straight.step) == 4
    for part in ("nets", "ema", "extra"):
        chex.assert_trees_all_close(getattr(four, part), getattr(straight, part),
                                    atol=2e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One smoke run of the real CLI (1 device), shared by the checks below."""
    workdir = tmp_path_factory.mktemp("stylegan_cli") / "run"
    run_cli("jaxgan.main", EXPERIMENT, f"--workdir={workdir}", *FLAGS)
    return workdir


def _cells(path, rows, columns, size=32):
    """The [rows, columns, size, size] images of a grid PNG, checking its size first."""
    grid = np.asarray(Image.open(path))
    assert grid.shape == (rows * (size + PAD) + PAD, columns * (size + PAD) + PAD)
    return np.stack([
        np.stack([grid[PAD + r * (size + PAD):][:size, PAD + c * (size + PAD):][:, :size]
                  for c in range(columns)]) for r in range(rows)]).astype(int)


def test_cli_trains_then_samples_truncation_sweeps_and_style_mixing(trained, tmp_path):
    workdir = trained
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for key in ("g_loss", "d_loss", "pl_penalty", "pl_mean", "r1_penalty", "ema_beta"):
        assert all(np.isfinite(r[key]) for r in records), key
    assert (workdir / "samples" / "step_4.png").is_file()

    sweep = tmp_path / "sweep.png"
    proc = run_cli("jaxgan.sample", f"--workdir={workdir}", "--truncation_sweep=1,0.5,0",
                   "--rows=3,4,5", f"--out={sweep}")
    assert "9 images from step 4" in proc.stdout
    sweep = _cells(sweep, rows=3, columns=3)
    assert np.all(sweep[:, 2] == sweep[0, 2])  # psi = 0: every seed draws the mean image
    assert not np.array_equal(sweep[0, 0], sweep[1, 0])

    mixing = tmp_path / "mixing.png"  # --mix_layers=0-7: all 8 ws of a 32 px model
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--style_mixing", "--rows=3,4",
            "--columns=7-10", "--mix_layers=0-7", f"--out={mixing}")
    mixing = _cells(mixing, rows=3, columns=5)
    assert np.all(mixing[0, 0] == 255)  # the blank corner
    assert np.abs(mixing[1:, 0] - sweep[:2, 0]).max() <= 1  # row sources: seeds 3, 4, psi 1
    # Every style from the column's seed: each cell is its column's image (up to rounding).
    assert np.abs(mixing[1:, 1:] - mixing[:1, 1:]).max() <= 1
    coarse = tmp_path / "coarse.png"
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--style_mixing", "--rows=3,4",
            "--columns=7-10", "--mix_layers=coarse", f"--out={coarse}")
    coarse = _cells(coarse, rows=3, columns=5)
    np.testing.assert_array_equal(coarse[0], mixing[0])
    np.testing.assert_array_equal(coarse[:, 0], mixing[:, 0])
    assert np.abs(coarse[1:, 1:] - mixing[1:, 1:]).max() > 10  # fine styles still the row's


def test_sample_rejects_unsupported_combinations(trained, tmp_path):
    from jaxgan import sample
    from jaxgan.errors import UserError
    out = str(tmp_path / "x.png")
    for options, message in [
        ({"interpolate": True, "style_mixing": True}, "choose one of"),
        ({"truncation": 0.5, "truncation_sweep": "1,0"}, "exclude each other"),
        ({"mix_layers": "fine"}, "only applies to --style_mixing"),
        ({"style_mixing": True, "num": 4}, "--num does not apply"),
        ({"truncation_sweep": "1,0", "columns": "1-3"}, "--columns only applies"),
        ({"rows": "1-3"}, "apply only to --truncation_sweep and --style_mixing"),
        ({"style_mixing": True, "mix_layers": "0-8"}, r"must be in \[0, 8\)"),
        ({"style_mixing": True, "mix_layers": "top"}, "coarse, middle, fine"),
        ({"style_mixing": True, "rows": "a-b"}, "--rows must be numbers"),
        ({"truncation_sweep": "1,high"}, "--truncation_sweep must be"),
    ]:
        options = {"num": None, "interpolate": False, "frames": 10, **options}
        with pytest.raises(UserError, match=message):
            sample.sample(str(trained), out=out, seed=0, step=None, **options)
    # The command line says it in one line.
    proc = run_cli("jaxgan.sample", f"--workdir={trained}", "--style_mixing", "--interpolate",
                   f"--out={out}", check=False)
    assert_one_line_error(proc, "choose one of --interpolate and --style_mixing")


def test_evaluator_scores_a_truncated_stylegan(trained, tiny_lenet, tmp_path, monkeypatch):
    # psi = 0 draws w_avg for every latent: one image 200 times, so is_lenet is exactly 1
    # (every KL term of the score is 0); psi = 1 draws varied images. In this process: the
    # evaluator's command line is tested in test_evaluate.py.
    from jaxgan.errors import UserError
    from jaxgan.evaluation import job

    classifier_dir, env = tiny_lenet
    monkeypatch.setenv("JAXGAN_CACHE_DIR", env["JAXGAN_CACHE_DIR"])
    workdir = tmp_path / "run"
    import shutil
    shutil.copytree(trained, workdir)
    for psi in (0.0, 1.0):
        job.Evaluator(str(workdir), "is_lenet", 200, 100, str(classifier_dir), None,
                      job.Options(truncation_psi=psi)).run(True, 0.0, 0.0, [4])
    records = [json.loads(line) for line in (workdir / "eval" / "metrics.jsonl").open()]
    assert [(r["generator"], r["truncation"]) for r in records] == [
        ("ema_psi0", {"psi": 0.0}), ("ema_psi1", {"psi": 1.0})]
    assert records[0]["value"] == pytest.approx(1.0, abs=1e-4)
    assert records[1]["value"] > 1.0 + 1e-3
    with pytest.raises(UserError, match="use --truncation_psi"):
        job.Evaluator(str(workdir), "is_lenet", 200, 100, str(classifier_dir), None,
                      job.Options(z_truncation=1.0))


def test_mix_layers_split_coarse_middle_and_fine_styles():
    from jaxgan.sample import mix_layer_indices
    # The StyleGAN paper's split at 1024 px (18 ws): 4-8 px, 16-32 px, 64-1024 px.
    assert mix_layer_indices("coarse", 18, 1024) == [0, 1, 2, 3]
    assert mix_layer_indices("middle", 18, 1024) == [4, 5, 6, 7]
    assert mix_layer_indices("fine", 18, 1024) == list(range(8, 18))
    # At 32 px (8 ws) the middle styles are 16 px only, so that 32 px is still fine.
    assert mix_layer_indices("middle", 8, 32) == [4, 5]
    assert mix_layer_indices("fine", 8, 32) == [6, 7]
    assert mix_layer_indices("2-3,6", 8, 32) == [2, 3, 6]


def test_preflight_traces_the_five_phases():
    traced = []
    counts = preflight(override(load_experiment("stylegan"), **REG_EVERY_2), traced)
    assert traced == ["D_main", "D_reg", "G_ema", "G_main", "G_reg"]
    assert counts["params/G"] > 0 and counts["params/D"] > 0
