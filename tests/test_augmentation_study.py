"""The synthetic-data study: the seeded labelled subset the generator and the classifiers share,
the refusal of a generator that saw more labels, and the real CLI from a class-conditional run
trained on the subset to the study's table."""

import json

import numpy as np
import pytest
from conftest import REPO, load_experiment, override
from test_cli import assert_one_line_error, run_cli

from jaxgan.errors import UserError
from jaxgan.tools import augmentation_study as study

CGAN = f"--config={REPO / 'experiments' / 'cgan_mnist.py'}:smoke"


def test_the_labelled_subset_is_seeded_nested_and_balanced():
    x5, y5 = study.labelled_subset("mnist", 5, 0)
    x10, y10 = study.labelled_subset("mnist", 10, 0)
    assert np.array_equal(np.bincount(y5), [5] * 10) and np.array_equal(np.bincount(y10),
                                                                         [10] * 10)
    # The first 5 of each class's permutation are among its first 10: a generator trained on
    # 5 per class saw only labels the 10-per-class classifier has.
    seen = {x.tobytes() for x in x10}
    assert all(x.tobytes() in seen for x in x5)
    other, _ = study.labelled_subset("mnist", 5, 1)
    assert {x.tobytes() for x in other} != {x.tobytes() for x in x5}
    with pytest.raises(UserError, match="class 0 has"):
        study.labelled_subset("mnist", 10_000, 0)


def test_a_generator_that_saw_more_labels_is_refused():
    def config(**dataset):
        return override(load_experiment("cgan_mnist"), **{
            "dataset.max_examples": 0, **{f"dataset.{k}": v for k, v in dataset.items()}})

    study.check_generator(config(per_class=10), "mnist", 10, 0)
    study.check_generator(config(per_class=5), "mnist", 10, 0)  # a subset of the labels
    for dataset, words in (({"per_class": 0}, "every labelled mnist image"),
                           ({"per_class": 20}, "saw 20 labelled images per class"),
                           ({"per_class": 10, "subset_seed": 1}, "is not the classifier's"),
                           ({"per_class": 10, "name": "fashion_mnist"}, "trained on fashion")):
        with pytest.raises(UserError, match=words):
            study.check_generator(config(**dataset), "mnist", 10, 0)


def test_summary_is_mean_and_sample_std_over_seeds_with_the_paired_gain():
    results = [{"arm": arm, "classifier": "lenet", "seed": seed, "accuracy": a}
               for arm, accs in (("real", (0.5, 0.6, 0.7)), ("syn", (0.55, 0.62, 0.69)))
               for seed, a in enumerate(accs)]
    real, syn = study.summarize(results)
    assert real["mean"] == pytest.approx(0.6) and real["std"] == pytest.approx(0.1)
    assert "gain" not in real
    # Per seed the gains are +0.05, +0.02, -0.01: their mean and sample std, not the difference
    # of the two arms' spreads.
    assert syn["mean"] == pytest.approx(0.62) and syn["std"] == pytest.approx(0.07)
    assert syn["gain"]["mean"] == pytest.approx(0.02) and syn["gain"]["std"] == pytest.approx(
        0.03)
    text = study.table([real, syn])
    assert "| real | 60.00 ± 10.00 % |" in text
    assert "| syn | 62.00 ± 7.00 % (+2.00 ± 3.00) |" in text
    # A second classifier run on fewer arms: its missing cells are marked, not an error.
    resnet = study.summarize([{**r, "classifier": "resnet"} for r in results[:3]])
    assert "| syn | 62.00 ± 7.00 % (+2.00 ± 3.00) | - |" in study.table([real, syn, *resnet])


def test_the_small_resnet_trains_with_the_same_recipe():
    import jax
    import jax.numpy as jnp

    from jaxgan.data import arrays
    from jaxgan.models.small_resnet import SmallResNet
    from jaxgan.state import num_params

    abstract = jax.eval_shape(SmallResNet().init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    assert num_params(abstract) == 695_658  # the tally in jaxgan.models.small_resnet
    x, y = arrays.load_arrays("mnist", "train", max_examples=64)
    accuracy = study.train_and_test("resnet", "mnist", 0, 2, 32, x, y, (x[:50], y[:50]))
    assert 0.0 <= accuracy <= 1.0


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    """A class-conditional run trained (4 smoke steps) on 5 labelled images per class."""
    workdir = tmp_path_factory.mktemp("study") / "cgan"
    run_cli("jaxgan.main", CGAN, f"--workdir={workdir}", "--config.dataset.max_examples=0",
            "--config.dataset.per_class=5")
    return workdir


def test_cli_from_a_generator_trained_on_the_subset(cgan_run, tmp_path):
    workdir = cgan_run
    out = tmp_path / "study.json"
    proc = run_cli("jaxgan.augmentation_study", f"--generator={workdir}", "--per_class=5",
                   "--ratios=1", "--seeds=2", "--classifiers=lenet", "--steps=3",
                   "--test_examples=200", f"--out={out}")
    result = json.loads(out.read_text())
    runs = result["results"]
    assert len(runs) == 2 * 3  # seeds x (real, real+syn x1, syn)
    by_arm = {r["arm"]: r for r in runs if r["seed"] == 0 and r["classifier"] == "lenet"}
    assert set(by_arm) == {"real", "real+syn x1", "syn"}
    assert (by_arm["real"]["num_real"], by_arm["real"]["num_synthetic"]) == (50, 0)
    assert (by_arm["real+syn x1"]["num_real"], by_arm["real+syn x1"]["num_synthetic"]) == (50, 50)
    assert (by_arm["syn"]["num_real"], by_arm["syn"]["num_synthetic"]) == (0, 50)
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in runs)
    assert result["provenance"]["per_class"] == 5 and result["provenance"]["generator_step"] == 4
    assert result["provenance"]["test"] == "mnist/test (200 images)"
    assert result["table"] in proc.stdout and "| real | " in result["table"]
    # A generator that saw every label is refused in one line, before anything is read but
    # its config.
    from jaxgan import config_lib

    other = tmp_path / "full"
    other.mkdir()
    (other / "config.json").write_text(config_lib.to_json(load_experiment("cgan_mnist")))
    proc = run_cli("jaxgan.augmentation_study", f"--generator={other}", "--per_class=5",
                   f"--out={tmp_path / 'refused.json'}", check=False)
    assert_one_line_error(proc, "more labels than the classifier's 5 per class")
    assert not (tmp_path / "refused.json").exists()


class _Interrupted(Exception):
    pass


def test_an_interrupted_study_resumes_where_it_stopped(cgan_run, tmp_path, monkeypatch):
    """Each finished training is kept in OUT.partial.jsonl; the same study run again trains
    only the rest and gives what an uninterrupted run gives. The classifier is replaced by a
    deterministic function of its training images, so the test checks the bookkeeping and
    that a resumed seed sees the same synthetic images."""
    calls, stop_at = [], [None]

    def train_and_test(arch, dataset, seed, steps, batch_size, images, labels, test):
        calls.append((arch, seed, len(images)))
        if len(calls) == stop_at[0]:
            raise _Interrupted
        return float(images.astype(np.float64).mean() / 255 + seed)

    monkeypatch.setattr(study, "train_and_test", train_and_test)

    def run(out, steps=3):
        return study.run_study(str(cgan_run), 5, str(out), [1.0], 2, ["lenet"], steps,
                               test_examples=20, log=lambda _: None)

    whole = run(tmp_path / "whole.json")
    assert len(calls) == 6 and not (tmp_path / "whole.json.partial.jsonl").exists()
    out = tmp_path / "resumed.json"
    partial = tmp_path / "resumed.json.partial.jsonl"
    calls.clear()
    stop_at[0] = 5  # seed 1's second arm
    with pytest.raises(_Interrupted):
        run(out)
    assert not out.exists() and len(partial.read_text().splitlines()) == 1 + 4
    saved = partial.read_text()
    # Other settings are refused in one line and leave the partial file as it was.
    with pytest.raises(UserError, match=r"other settings \(steps\)"):
        run(out, steps=4)
    assert partial.read_text() == saved
    # A line cut short by the interruption is dropped; its training runs again.
    partial.write_text(saved + '{"arm": "real+syn')
    calls.clear()
    stop_at[0] = None
    resumed = run(out)
    assert calls == [("lenet", 1, 100), ("lenet", 1, 50)]  # real+syn x1, syn of seed 1
    assert resumed["results"] == whole["results"] and resumed["table"] == whole["table"]
    assert json.loads(out.read_text())["results"] == whole["results"]
    assert not partial.exists()
    (tmp_path / "other.json.partial.jsonl").write_text("not a study\n")
    with pytest.raises(UserError, match="not a study's partial file"):
        run(tmp_path / "other.json")
