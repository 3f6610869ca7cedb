"""The family protocol, proved by an image-to-image family that lives in tests/ only
(tests/toy_families/translation.py, registered by module path): it trains through the real loop
and CLI on a paired folder made from MNIST, resumes bit-exactly across an image-size stage
boundary, is scored by the evaluator with L1/PSNR/SSIM, sampled by `jaxgan.sample` and loaded
with `jaxgan.load`, with nothing in jaxgan knowing it."""

import importlib.util
import json
import os

import chex
import jax
import numpy as np
import pytest
from conftest import REPO, override
from PIL import Image
from test_cli import assert_one_line_error, run_cli

import jaxgan
from jaxgan import families, train
from jaxgan.data import idx
from jaxgan.errors import UserError
from jaxgan.evaluation.metrics import paired

EXPERIMENT = REPO / "tests" / "toy_families" / "experiment.py"
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "tests"),
                                                   os.environ.get("PYTHONPATH")]))}


def _config(folder, variant=None, **overrides):
    spec = importlib.util.spec_from_file_location("toy_experiment", EXPERIMENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return override(module.get_config(variant), **{"dataset.data_dir": str(folder),
                                                   "mesh.data": 1, **overrides})


@pytest.fixture(scope="module")
def paired_folder(tmp_path_factory):
    """pix2pix's aligned layout from MNIST: A (the digit inverted) | B (the digit), 16x16."""
    root = tmp_path_factory.mktemp("paired")
    for split, count in (("train", 64), ("test", 16)):
        images, _ = idx.read_split(str(REPO / "data" / "mnist"),
                                   "train" if split == "train" else "test")
        os.makedirs(root / split)
        for i in range(count):
            b = images[i, 6:22, 6:22, 0]
            Image.fromarray(np.concatenate([255 - b, b], axis=1)).save(root / split / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def trained(paired_folder, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("toy") / "run"
    run_cli("jaxgan.main", f"--config={EXPERIMENT}", f"--workdir={workdir}",
            f"--config.dataset.data_dir={paired_folder}", env=ENV)
    return workdir


def _host(state):
    return jax.tree.map(np.asarray, jax.device_get(state))


def test_resume_is_bit_exact_across_an_image_size_stage(paired_folder, tmp_path):
    config = _config(paired_folder, "grow")
    family = families.get(config.family)
    spec = family.setup(config)
    assert [family.phases(spec, s) for s in range(4)] == [("step@8",)] * 2 + [("step@16",)] * 2
    straight = _host(train.train(config, str(tmp_path / "straight")))
    interrupted = str(tmp_path / "interrupted")
    first = _host(train.train(_config(paired_folder, "grow", num_train_steps=2), interrupted))
    meta = json.loads((tmp_path / "interrupted" / "checkpoints" / "2" / "meta" /
                       "metadata").read_text())
    assert meta["data_position"] == 16  # two batches of 8 consumed at the small size
    resumed = _host(train.train(config, interrupted))
    assert int(first.step) == 2 and int(resumed.step) == 4
    chex.assert_trees_all_equal(straight, resumed)


def test_cli_trains_scores_samples_and_loads_an_outside_family(trained, tmp_path):
    workdir = trained
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert records[0]["params/G"] > 0 and all(np.isfinite(r["l1"]) for r in records)
    grid = Image.open(workdir / "samples" / "step_4.png")
    assert grid.size == (3 * 18 + 2, 4 * 18 + 2)  # rows of input, output, target

    # The evaluator: paired metrics on the condition split, with their protocol.
    run_cli("jaxgan.evaluate", f"--workdir={workdir}", "--metrics=l1,psnr,ssim,psnr_y_crop2",
            "--num_samples=16", "--batch_size=5", "--once", env=ENV)
    scored = {r["metric"]: r for r in map(json.loads, (workdir / "eval" / "metrics.jsonl").open())}
    assert set(scored) == {"l1", "psnr", "ssim", "psnr_y_crop2"}
    for record in scored.values():
        assert record["step"] == 4 and record["num_generated"] == 16
        assert record["reference"] == "paired_folder/test:B"
        assert record["inputs"] == "paired_folder/test:A" and record["generator"] == "ema"
    assert scored["psnr_y_crop2"]["paired_protocol"]["crop_border"] == 2
    assert scored["ssim"]["paired_protocol"]["window"].startswith("gaussian 11x11")

    # The Python API: the same generator, the same numbers.
    model = jaxgan.load(str(workdir))
    assert model.step == 4 and model.weights == "ema"
    inputs, targets = model.examples(16)
    outputs = model(inputs)
    assert outputs.shape == targets.shape == (16, 16, 16, 1)
    ours = paired.l1(paired.prepare(outputs, "all", 0), paired.prepare(targets, "all", 0))
    assert scored["l1"]["value"] == pytest.approx(float(ours.mean()), abs=1e-6)
    with pytest.raises(UserError, match="conditioned on images"):
        model.draw(4)

    # The sampler: rows of input, output, target from the condition split.
    out = tmp_path / "s.png"
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=5", f"--out={out}", env=ENV)
    assert Image.open(out).size == (3 * 18 + 2, 5 * 18 + 2)
    proc = run_cli("jaxgan.sample", f"--workdir={workdir}", "--interpolate", f"--out={out}",
                   env=ENV, check=False)
    assert_one_line_error(proc, "conditioned on images")


def test_mistakes_with_families_are_one_line(paired_folder, tmp_path):
    proc = run_cli("jaxgan.main", f"--config={EXPERIMENT}", f"--workdir={tmp_path / 'a'}",
                   "--config.family=pix2pics", env=ENV, check=False)
    assert_one_line_error(proc, "unknown family 'pix2pics'")
    proc = run_cli("jaxgan.main", f"--config={EXPERIMENT}", f"--workdir={tmp_path / 'b'}",
                   "--config.dataset.name=mnist", "--config.dataset.image_size=28", env=ENV,
                   check=False)
    assert_one_line_error(proc, "needs field(s) A, B but dataset mnist provides image, label")
    proc = run_cli("jaxgan.evaluate", f"--workdir={tmp_path / 'b'}", "--metrics=fid_lenet",
                   env=ENV, check=False)
    assert_one_line_error(proc, "config.json not found")


def test_a_frozen_network_is_a_checked_argument_never_trained_nor_checkpointed(paired_folder,
                                                                               tmp_path):
    import jax.numpy as jnp
    from toy_families import translation

    from jaxgan import frozen, hashing, sharding
    from jaxgan.train import Program

    weights = tmp_path / "features.npz"
    variables = translation.Features().init(jax.random.key(5), jnp.zeros((1, 16, 16, 1)))
    frozen.save_npz(str(weights), jax.device_get(variables))
    sha = hashing.sha256_file(str(weights))
    keys = {"model.feature_weights": str(weights), "model.feature_sha256": sha}
    straight = _host(train.train(_config(paired_folder, **keys), str(tmp_path / "straight")))
    assert straight.nets["F"].opt_state is None
    chex.assert_trees_all_equal(straight.nets["F"].variables, jax.device_get(variables))
    # Not checkpointed (reloaded from its file), and a resume equals the straight run.
    workdir = tmp_path / "resumed"
    train.train(_config(paired_folder, num_train_steps=2, **keys), str(workdir))
    assert sorted(os.listdir(workdir / "checkpoints" / "2")) == [
        "_CHECKPOINT_METADATA", "commit_success.txt", "ema_G", "meta", "net_D", "net_G", "opt_D",
        "opt_G", "train"]
    chex.assert_trees_all_equal(straight, _host(train.train(_config(paired_folder, **keys),
                                                            str(workdir))))
    # An argument of the compiled phase, not a constant baked into it.
    config = _config(paired_folder, **keys)
    program = Program(config, sharding.make_mesh(config.mesh))
    text = program.phase("step@16").lower(program.abstract_state,
                                          program.abstract_batch()).as_text()
    assert "tensor<3x3x1x4xf32>" in text.splitlines()[2]  # the signature
    assert not [line for line in text.splitlines()
                if "constant dense" in line and "3x3x1x4xf32" in line]
    # Other weights than the config names: one line, exit 2, nothing written.
    proc = run_cli("jaxgan.main", f"--config={EXPERIMENT}", f"--workdir={tmp_path / 'bad'}",
                   f"--config.dataset.data_dir={paired_folder}",
                   f"--config.model.feature_weights={weights}",
                   f"--config.model.feature_sha256={'0' * 64}", env=ENV, check=False)
    assert_one_line_error(proc, "not the expected 000000000000")
    assert not (tmp_path / "bad").exists()
