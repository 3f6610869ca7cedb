"""Does a class-conditional GAN's output help a classifier that has few labels?

    python -m jaxgan.augmentation_study --generator=RUN --per_class=10 --out=study.json
        [--ratios=0.5,1,2,4] [--seeds=3] [--classifiers=lenet,resnet] [--steps=1000]
        [--subset_seed=0] [--truncation=T] [--step=S]

The labelled set is a seeded subset of `--per_class` training images of each class
(`dataset.per_class`, `dataset.subset_seed`: the same function picks the generator's). Each
classifier is trained, once per seed, on:
- `real`: the labelled subset alone;
- `real+syn xR`: the subset plus R x per_class synthetic images of each class (`synthesize`,
  seeded by the classifier's seed);
- `syn`: the largest synthetic set alone (a classification accuracy score at this size);
with the same recipe in every arm: `--steps` steps of `--batch_size` (the batches drawn from the
arm's whole training set), the classifier preset's augmentation (random shifts; flips for
Fashion-MNIST), AdamW with a one-cycle schedule. Accuracy is on the real test split. The table
gives the mean and standard deviation over seeds and, in brackets, the same of the paired gain
over `real` (same classifier and seed) in points; the JSON holds every run and the provenance.

A study is resumable: each finished training is appended to `OUT.partial.jsonl` with the
study's settings on its first line; the same command run again (after a crash or a preemption)
keeps those trainings and runs the rest, and the partial file is removed once `--out` is
written. The same command with other settings refuses to mix them with the partial file's.

The generator may only have seen the classifier's labels: the study reads the generator run's
config and refuses one trained on a different dataset, on every label (`dataset.per_class=0`),
on more images per class, or on another subset seed.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np

from jaxgan.errors import UserError

ARCHS = ("lenet", "resnet")


def define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("generator", None, "The class-conditional run (trained on the same "
                        "labelled subset).")
    flags.DEFINE_integer("per_class", None, "Labelled real images per class.")
    flags.DEFINE_integer("subset_seed", 0, "Seed of the labelled subset.")
    flags.DEFINE_list("ratios", ["0.5", "1", "2", "4"], "Synthetic images per real one, per arm.")
    flags.DEFINE_integer("seeds", 3, "Classifier seeds (0 .. N-1) per arm.")
    flags.DEFINE_list("classifiers", list(ARCHS), "lenet and/or resnet.")
    flags.DEFINE_integer("steps", 1000, "Training steps of every classifier.")
    flags.DEFINE_integer("batch_size", 64, "Classifier batch size.")
    flags.DEFINE_float("truncation", None, "The generator's truncation (default none).")
    flags.DEFINE_integer("step", None, "The generator's checkpoint step (default: latest).")
    flags.DEFINE_integer("test_examples", 0, "Test on the first N test images (quick runs); "
                         "0: the whole test split.")
    flags.DEFINE_string("out", None, "The study's JSON (a new file).")


def check_generator(config, dataset: str, per_class: int, subset_seed: int) -> None:
    """Refuses a generator that saw labels the classifier does not get."""
    ds = config.dataset
    if ds.name != dataset:
        raise UserError(f"the generator was trained on {ds.name}, the study is on {dataset}")
    if not ds.per_class:
        raise UserError(f"the generator was trained on every labelled {ds.name} image "
                        f"(dataset.per_class=0), more labels than the classifier's {per_class} "
                        f"per class: train it with --config.dataset.per_class={per_class}")
    if ds.per_class > per_class:
        raise UserError(f"the generator saw {ds.per_class} labelled images per class, more "
                        f"than the classifier's {per_class}")
    if ds.subset_seed != subset_seed or ds.classes or ds.max_examples:
        raise UserError(f"the generator's labelled subset (subset_seed {ds.subset_seed}, "
                        f"classes {ds.classes!r}, max_examples {ds.max_examples}) is not the "
                        f"classifier's (subset_seed {subset_seed}, every class, all examples)")


def labelled_subset(dataset_name: str, per_class: int, subset_seed: int,
                    data_dir: str = "", tfds_dir: str = ""):
    """(uint8 images, labels) of the seeded labelled subset of the training split."""
    import ml_collections

    from jaxgan import config_lib
    from jaxgan.data import load_source

    ds = ml_collections.ConfigDict(config_lib.dataset_config().to_dict())
    ds.name, ds.per_class, ds.subset_seed = dataset_name, per_class, subset_seed
    ds.data_dir, ds.tfds_dir = data_dir, tfds_dir
    source = load_source(ds)
    return source.images, source.labels


def to_classifier_u8(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28, 1] for the classifier trainer (32x32 padded images centre-cropped)."""
    from jaxgan.evaluation.classifier import to_classifier_input

    x = to_classifier_input(images)
    return np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def first_per_class(images: np.ndarray, labels: np.ndarray, n: int):
    """The first `n` examples of each class, in the arrays' order (the synthetic sets of the
    arms are nested: x1's images are among x2's)."""
    idx = np.sort(np.concatenate([np.flatnonzero(labels == k)[:n] for k in np.unique(labels)]))
    return images[idx], labels[idx]


def train_and_test(arch: str, dataset: str, seed: int, steps: int, batch_size: int,
                   images: np.ndarray, labels: np.ndarray, test) -> float:
    """Test accuracy of the classifier `arch` trained with the preset's augmentation."""
    import dataclasses

    from jaxgan.evaluation.classifier import PRESETS, accuracy, train

    n = len(images)
    batch = min(batch_size, n)
    epochs = math.ceil(steps / (n // batch))
    config = dataclasses.replace(PRESETS[dataset], arch=arch, seed=seed, batch_size=batch,
                                 epochs=epochs, max_steps=steps)
    params = train(config, images, labels, log=lambda _: None)
    return accuracy(config.model(), params, *test)


def summarize(results: list[dict]) -> list[dict]:
    """Mean and (sample) standard deviation of the accuracy per (arm, classifier), and for the
    arms other than `real` the same of the paired gain: the arm's accuracy less `real`'s for
    the same classifier and seed (a seed fixes the classifier's initialisation and batches in
    both arms, so the pairs share that part of the noise)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["arm"], r["classifier"]), []).append(r)
    real = {(r["classifier"], r.get("seed")): r["accuracy"] for r in results
            if r["arm"] == "real"}
    summary = []
    for (arm, arch), runs in groups.items():
        acc = [r["accuracy"] for r in runs]
        entry = {"arm": arm, "classifier": arch, "mean": float(np.mean(acc)),
                 "std": _std(acc), "seeds": len(acc)}
        gains = [r["accuracy"] - real[arch, r.get("seed")] for r in runs
                 if arm != "real" and (arch, r.get("seed")) in real]
        if gains:
            entry["gain"] = {"mean": float(np.mean(gains)), "std": _std(gains),
                             "seeds": len(gains)}
        summary.append(entry)
    return summary


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def table(summary: list[dict]) -> str:
    """Accuracy mean ± std over seeds; in brackets, the paired gain over `real` (points)."""
    archs = sorted({s["classifier"] for s in summary}, key=ARCHS.index)
    arms = list(dict.fromkeys(s["arm"] for s in summary))
    cell = {(s["arm"], s["classifier"]): s for s in summary}

    def value(s: dict) -> str:
        text = f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f} %"
        if "gain" in s:
            text += f" ({100 * s['gain']['mean']:+.2f} ± {100 * s['gain']['std']:.2f})"
        return text

    lines = ["| arm | " + " | ".join(archs) + " |", "| --- |" + " --- |" * len(archs)]
    for arm in arms:
        lines.append(f"| {arm} | " + " | ".join(
            value(cell[arm, a]) if (arm, a) in cell else "-" for a in archs) + " |")
    return "\n".join(lines)


def run_study(generator: str, per_class: int, out: str, ratios: list[float], seeds: int,
              classifiers: list[str], steps: int, batch_size: int = 64, subset_seed: int = 0,
              truncation: float | None = None, step: int | None = None,
              test_examples: int = 0, log=print) -> dict:
    from jaxgan import __version__, api
    from jaxgan.data import arrays
    from jaxgan.tools.synthesize import synthesize
    from jaxgan.workdir import load_config

    if per_class is None or per_class < 1:
        raise UserError(f"--per_class must be >= 1, not {per_class}")
    if not ratios or any(r <= 0 for r in ratios):
        raise UserError(f"--ratios must be positive numbers, not {ratios}")
    if seeds < 1 or steps < 1 or batch_size < 1 or test_examples < 0:
        raise UserError("--seeds, --steps and --batch_size must be >= 1, --test_examples >= 0")
    unknown = [c for c in classifiers if c not in ARCHS]
    if unknown or not classifiers:
        raise UserError(f"--classifiers takes {', '.join(ARCHS)}, not {classifiers}")
    if os.path.exists(out):
        raise UserError(f"--out={out} exists; give a new file (nothing is overwritten)")
    config = load_config(generator)
    dataset = config.dataset.name
    from jaxgan.evaluation.classifier import DATASETS

    if dataset not in DATASETS:
        raise UserError(f"the study has classifier presets for {DATASETS}, not {dataset}")
    check_generator(config, dataset, per_class, subset_seed)
    model = api.load(generator, step=step)
    if not model.export.num_classes:
        raise UserError("the study needs a class-conditional generator (model.num_classes > 0)")
    real_x, real_y = labelled_subset(dataset, per_class, subset_seed,
                                     config.dataset.data_dir, config.dataset.tfds_dir)
    test_x, test_y = arrays.load_arrays(dataset, "test", config.dataset.data_dir or None,
                                        config.dataset.tfds_dir or None, test_examples)
    counts = {r: max(1, round(r * per_class)) for r in ratios}
    largest = max(counts.values())
    settings = {"generator": os.path.abspath(generator), "generator_step": model.step,
                "generator_weights": model.weights, "per_class": per_class,
                "subset_seed": subset_seed, "ratios": ratios, "seeds": seeds,
                "classifiers": list(classifiers), "steps": steps, "batch_size": batch_size,
                "truncation": truncation, "test_examples": test_examples}
    partial = out + ".partial.jsonl"
    done = read_partial(partial, settings)
    if done:
        log(f"resuming from {partial}: {len(done)} trainings already done")
    with open(partial, "w") as f:  # rewritten whole: drops a line cut short
        f.write("".join(json.dumps(r) + "\n" for r in [{"settings": settings}, *done.values()]))
    mixed = {r: f"real+syn x{r:g}" for r in ratios}
    results, started = [], time.time()
    for seed in range(seeds):
        keys = [(arch, arm, seed) for arch in classifiers
                for arm in ["real", *mixed.values(), "syn"]]
        if all(k in done for k in keys):
            results.extend(done[k] for k in keys)
            continue
        syn_x, syn_y = synthesize(model, largest, seed=seed, truncation=truncation)
        syn_x = to_classifier_u8(syn_x)
        arms = [("real", real_x, real_y, 0)]
        for r in ratios:
            sx, sy = first_per_class(syn_x, syn_y, counts[r])
            arms.append((mixed[r], np.concatenate([real_x, sx]),
                         np.concatenate([real_y, sy]), len(sx)))
        sx, sy = first_per_class(syn_x, syn_y, largest)
        arms.append(("syn", sx, sy, len(sx)))
        for arch in classifiers:
            for arm, x, y, n_syn in arms:
                if (arch, arm, seed) in done:
                    results.append(done[arch, arm, seed])
                    continue
                acc = train_and_test(arch, dataset, seed, steps, batch_size, x, y,
                                     (test_x, test_y))
                results.append({"arm": arm, "classifier": arch, "seed": seed, "accuracy": acc,
                                "num_real": 0 if arm == "syn" else len(real_x),
                                "num_synthetic": n_syn})
                with open(partial, "a") as f:
                    f.write(json.dumps(results[-1]) + "\n")
                log(f"seed {seed} {arch} {arm}: {100 * acc:.2f} % "
                    f"({time.time() - started:.0f} s)")
    summary = summarize(results)
    study = {
        "provenance": {
            "generator": os.path.abspath(generator), "generator_step": model.step,
            "generator_weights": model.weights, "dataset": dataset, "per_class": per_class,
            "subset_seed": subset_seed, "ratios": ratios, "seeds": seeds, "steps": steps,
            "batch_size": batch_size, "truncation": truncation,
            "test": f"{dataset}/test ({len(test_y)} images)",
            "command": " ".join(["python -m jaxgan.augmentation_study", *sys.argv[1:]]),
            "jaxgan_version": __version__,
        },
        "results": results, "summary": summary, "table": table(summary),
    }
    with open(out, "x") as f:
        json.dump(study, f, indent=1)
    os.remove(partial)
    return study


def read_partial(path: str, settings: dict) -> dict[tuple[str, str, int], dict]:
    """The trainings an interrupted run of the same study finished, keyed by (classifier,
    arm, seed); {} when there is no partial file. A line cut short by the interruption is
    dropped (its training runs again)."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        lines = f.read().splitlines()
    try:
        saved = json.loads(lines[0])["settings"]
    except (IndexError, KeyError, TypeError, ValueError):
        raise UserError(f"{path} is not a study's partial file; move it away or give another "
                        "--out") from None
    current = json.loads(json.dumps(settings))  # as the file holds it (lists, not tuples)
    if saved != current:
        changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        raise UserError(f"{path} holds a study with other settings ({', '.join(changed)}); "
                        "rerun with its settings to resume it, or give another --out")
    done = {}
    for line in lines[1:]:
        try:
            r = json.loads(line)
            done[r["classifier"], r["arm"], r["seed"]] = r
        except (ValueError, KeyError, TypeError):
            continue
    return done


def main(argv: list[str]) -> None:
    from absl import flags

    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    v = flags.FLAGS
    if not (v.generator and v.out):
        raise UserError("--generator=RUN, --per_class=N and --out=FILE.json are required")
    try:
        ratios = [float(r) for r in v.ratios]
    except ValueError:
        raise UserError(f"--ratios must be numbers, not {v.ratios}") from None
    study = run_study(v.generator, v.per_class, v.out, ratios, v.seeds, v.classifiers, v.steps,
                      v.batch_size, v.subset_seed, v.truncation, v.step, v.test_examples)
    print(study["table"])
    print(f"wrote {v.out}")
