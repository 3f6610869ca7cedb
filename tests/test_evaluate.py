"""The evaluator job on a real (tiny) training run: records, provenance, memory, exits, errors."""

import json
import os
import re

import numpy as np
import pytest
from test_cli import SMOKE, assert_one_line_error, run_cli

from jaxgan.errors import UserError
from jaxgan.evaluation import classifier

PROVENANCE = ("metric", "protocol", "value", "num_generated", "num_reference", "extractor",
              "extractor_sha256", "preprocessing", "reference_id", "checkpoint_step",
              "wall_time", "step")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_lenet):
    workdir = tmp_path_factory.mktemp("eval") / "run"
    run_cli("jaxgan.main", SMOKE, f"--workdir={workdir}")
    return workdir, *tiny_lenet


def _evaluate(workdir, classifier_dir, env, *extra, check=True):
    return run_cli("jaxgan.evaluate", f"--workdir={workdir}", f"--classifier_dir={classifier_dir}",
                   "--num_samples=200", "--batch_size=100", *extra, env=env, check=check)


def _checkpoint_files(workdir):
    return sorted((str(p), p.stat().st_mtime_ns) for p in (workdir / "checkpoints").rglob("*"))


def test_records_provenance_and_restart(setup):
    workdir, classifier_dir, env = setup
    before = _checkpoint_files(workdir)
    _evaluate(workdir, classifier_dir, env, "--once")
    path = workdir / "eval" / "metrics.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    got = {(r["step"], r["metric"]) for r in records}
    for step in (2, 4):
        for metric in ("fid_lenet", "kid_lenet", "is_lenet", "precision_lenet", "recall_lenet"):
            assert (step, metric) in got
    for r in records:
        for key in PROVENANCE:
            assert key in r, (key, r)
        assert r["num_generated"] == 200 and len(r["extractor_sha256"]) == 64
    assert all(r["value"] >= 0 for r in records)
    assert any(p.name.startswith("events.out") for p in (workdir / "eval" / "tensorboard").iterdir())
    assert _checkpoint_files(workdir) == before  # read-only

    # A restart re-evaluates nothing.
    text = path.read_text()
    _evaluate(workdir, classifier_dir, env, "--once")
    assert path.read_text() == text

    # Killed mid-write: the torn line is dropped and only what it held is redone.
    lines = text.splitlines(keepends=True)
    torn = lines[-1]
    path.write_text("".join(lines[:-1]) + torn[: len(torn) // 2])
    _evaluate(workdir, classifier_dir, env, "--once")
    redone = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(redone) == len(records)
    assert (redone[-1]["step"], redone[-1]["metric"]) == (records[-1]["step"], records[-1]["metric"])


def test_records_of_other_extractor_weights_are_scored_again(setup, tmp_path):
    """A workdir scored with a LeNet trained on another CPU (other weights, other sha256) is
    scored again with these weights, not skipped as done; its old records stay."""
    workdir, classifier_dir, env = setup
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns("eval"))
    _evaluate(copy, classifier_dir, env, "--once", "--metrics=is_lenet", "--steps=4")
    path = copy / "eval" / "metrics.jsonl"
    (ours,) = [json.loads(line) for line in path.read_text().splitlines()]
    other = {**ours, "extractor_sha256": "f" * 64, "value": 1.5}
    path.write_text(json.dumps(other) + "\n")
    _evaluate(copy, classifier_dir, env, "--once", "--metrics=is_lenet", "--steps=4")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["extractor_sha256"] for r in records] == ["f" * 64, ours["extractor_sha256"]]
    assert records[1]["value"] == pytest.approx(ours["value"], rel=1e-6)


def test_exits_after_the_final_step_without_once(setup, tmp_path):
    workdir, classifier_dir, env = setup
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy)
    shutil.rmtree(copy / "eval", ignore_errors=True)
    proc = _evaluate(copy, classifier_dir, env, "--metrics=is_lenet", "--poll_seconds=0.1")
    assert proc.returncode == 0
    steps = [json.loads(line)["step"] for line in (copy / "eval" / "metrics.jsonl").open()]
    assert steps == [2, 4]


def test_only_the_requested_steps(setup, tmp_path, monkeypatch):
    workdir, classifier_dir, env = setup
    monkeypatch.setenv("JAXGAN_CACHE_DIR", env["JAXGAN_CACHE_DIR"])
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy)
    shutil.rmtree(copy / "eval", ignore_errors=True)
    from jaxgan.evaluation import job

    # `--steps=last`: the latest of the run's checkpoints (2 and 4).
    assert job.parse_steps(["last"]) == [job.LAST]
    assert job.parse_steps(["1000", " LAST"]) == [1000, job.LAST]
    with pytest.raises(UserError, match="step numbers or 'last', not 3k"):
        job.parse_steps(["3k"])
    _evaluate_here(copy, classifier_dir, "is_lenet", steps=[job.LAST])
    steps = [json.loads(line)["step"] for line in (copy / "eval" / "metrics.jsonl").open()]
    assert steps == [4]
    # The same metric at another sample count is another protocol: recorded beside the first.
    _evaluate_here(copy, classifier_dir, "is_lenet_1k")
    records = [json.loads(line) for line in (copy / "eval" / "metrics.jsonl").open()]
    assert [(r["protocol"], r["metric"], r["num_generated"]) for r in records] == [
        ("is_lenet", "is_lenet", 200), ("is_lenet_1k", "is_lenet", 1000)]
    with pytest.raises(UserError, match=re.escape("no checkpoint at step(s) [3]")):
        _evaluate_here(copy, classifier_dir, "is_lenet", steps=[3])
    # Recalibrated BatchNorm statistics: a generator of its own, with its provenance, and a
    # different score (the smoke run's running statistics are 4 steps old).
    _evaluate_here(copy, classifier_dir, "is_lenet", bn_recalibrate=3)
    records = [json.loads(line) for line in (copy / "eval" / "metrics.jsonl").open()]
    assert [(r["generator"], r["bn_recalibration"]) for r in records] == [
        ("params", None), ("params", None), ("params_bn3", {"passes": 3, "batch_size": 100})]
    assert records[2]["value"] != records[0]["value"]
    _assert_options_refused(copy, classifier_dir, "--bn_recalibrate", bn_recalibrate=-2)
    # Truncated latents (BigGAN's trick) are a generator of their own too.
    _evaluate_here(copy, classifier_dir, "is_lenet", z_truncation=0.5)
    records = [json.loads(line) for line in (copy / "eval" / "metrics.jsonl").open()]
    assert [(r["generator"], r["truncation"]) for r in records[3:]] == [
        ("params_z0.5", {"z_threshold": 0.5})]
    assert records[3]["value"] != records[0]["value"]
    _assert_options_refused(copy, classifier_dir, "threshold > 0", z_truncation=0.0)
    _assert_options_refused(copy, classifier_dir, "use --z_truncation", truncation_psi=0.7)


def _evaluate_here(workdir, classifier_dir, metrics, steps=(4,), **options):
    """What `python -m jaxgan.evaluate --steps=4 --num_samples=200 --batch_size=100` does, in
    this process (the command line itself, and its one-line errors, are tested above and
    below)."""
    from jaxgan.evaluation import job

    job.Evaluator(str(workdir), metrics, 200, 100, str(classifier_dir), None,
                  job.Options(**options)).run(True, 0.0, 0.0, list(steps))


def _assert_options_refused(workdir, classifier_dir, words, **options):
    """The evaluator refuses `options` with a UserError naming `words` (the command prints it
    as one line and exits 2, as the tests of bad input below show) before it scores anything."""
    from jaxgan.evaluation import job

    records = (workdir / "eval" / "metrics.jsonl").read_text()
    with pytest.raises(UserError, match=words):
        job.Evaluator(str(workdir), "is_lenet", 200, 100, str(classifier_dir), None,
                      job.Options(**options))
    assert (workdir / "eval" / "metrics.jsonl").read_text() == records


def test_reference_floor(setup, tmp_path):
    _, classifier_dir, env = setup
    out = tmp_path / "floor.jsonl"
    run_cli("jaxgan.evaluate", "--reference", "--dataset=mnist",
            "--metrics=fid_lenet,is_lenet,gantest_lenet", f"--classifier_dir={classifier_dir}",
            f"--out={out}", env=env)
    records = {r["metric"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"fid_lenet", "is_lenet", "gantest_lenet"}
    # GAN-test of the real test split against its own labels is the classifier's test accuracy.
    meta = json.loads((classifier_dir / classifier.META_FILE).read_text())
    assert records["gantest_lenet"]["value"] == pytest.approx(meta["test_accuracy"], abs=2e-4)
    assert records["gantest_lenet"]["num_generated"] == 10000
    assert records["fid_lenet"]["num_generated"] == 10000
    assert records["fid_lenet"]["num_reference"] == 60000
    assert records["fid_lenet"]["kind"] == "real_data_floor"
    from jaxgan.errors import UserError
    from jaxgan.evaluation import job

    for metric in ("auroc", "psnr"):  # outputs of a model, not of real data
        with pytest.raises(UserError, match="leave them out"):
            job.reference_floor("mnist", metric, None, str(classifier_dir), None, None, 100)


def test_missing_inception_weights(setup, tmp_path):
    workdir, classifier_dir, env = setup
    env = {**env, "JAXGAN_INCEPTION_WEIGHTS": ""}
    proc = _evaluate(workdir, classifier_dir, env, "--once", "--metrics=fid_inception",
                     f"--inception_weights={tmp_path}/pt_inception-2015-12-05-6726825d.pth",
                     check=False)
    assert_one_line_error(proc, "6726825d")
    assert "not found" in proc.stderr


def test_wrong_hash_inception_weights_are_refused(setup, tmp_path):
    workdir, classifier_dir, env = setup
    fake = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    fake.write_bytes(os.urandom(1024))
    proc = _evaluate(workdir, classifier_dir, env, "--once", "--metrics=fid_inception",
                     f"--inception_weights={fake}", check=False)
    assert_one_line_error(proc, "Refusing it")


def test_unknown_metric_and_missing_workdir(setup, tmp_path):
    workdir, classifier_dir, env = setup
    proc = _evaluate(workdir, classifier_dir, env, "--once", "--metrics=fid_lenot", check=False)
    assert_one_line_error(proc, "unknown metric")
    proc = _evaluate(tmp_path / "nope", classifier_dir, env, "--once", check=False)
    assert_one_line_error(proc, "config.json")


def test_reference_statistics_of_an_image_folder_follow_its_files(tmp_path, monkeypatch):
    """Any source can be a reference: an image folder's statistics are computed once, cached
    under an id that includes a fingerprint of its files, and a changed folder gets new ones."""
    from PIL import Image

    from jaxgan import config_lib
    from jaxgan.evaluation import reference

    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(
            tmp_path / f"{i}.png")
    dataset = config_lib.dataset_config()
    config_lib.set_keys(dataset, {"name": "image_folder", "data_dir": str(tmp_path),
                                  "image_size": 8, "channels": 3})

    class MeanColour:  # a stand-in extractor: features = mean colour, logits = its first two
        name, weights_sha256, preprocessing = "mean_colour", "f" * 64, "uint8 mean"
        calls = 0

        def __call__(self, images):
            MeanColour.calls += 1
            features = np.asarray(images, np.float64).mean(axis=(1, 2))
            return features, features[:, :2]

    ref_id, stats = reference.reference_outputs(MeanColour(), dataset, "train")
    assert stats["features"].shape == (6, 3) and stats["mu"].shape == (3,)
    again, cached = reference.reference_outputs(MeanColour(), dataset, "train")
    assert again == ref_id and MeanColour.calls == 1  # read from the cache
    np.testing.assert_array_equal(cached["mu"], stats["mu"])
    Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(tmp_path / "6.png")
    changed, new = reference.reference_outputs(MeanColour(), dataset, "train")
    assert changed != ref_id and new["features"].shape == (7, 3) and MeanColour.calls == 2
