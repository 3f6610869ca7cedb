"""Scores image-to-image runs on a benchmark written by `python -m jaxgan.translation_data`:

    python -m jaxgan.translation_score --workdir=RUN[,RUN...] --data=DIR
        [--network=G_A] [--step=N] [--num=10000] [--identity] [--sheet=FILE.png]

Each run's generator translates the benchmark's test images of its input domain (all of them,
or the first `--num`), in file order, with a fixed dropout key; then, per run:

- `l1`, `psnr`, `ssim` against the true translation where the benchmark has one (the paired
  test split of edges2fashion; testB for testA of thin2thick_mnist and the reverse), with the
  protocol of `jaxgan.evaluation.metrics.paired` (uint8, every channel);
- `fid_lenet`: the Frechet distance between the shipped LeNet's features of the translations and
  of the real test images of the output domain (the source dataset's classifier: MNIST or
  Fashion-MNIST);
- `accuracy`: how often the classifier gives a translation its source image's label (the
  label a translation should keep: the garment of an edge map, the digit of a stroke width);
  where every image of the output domain has one class and the input domain another
  (sneakers2boots), `target_class_rate` instead: how often it gives the output domain's class;
- `cycle_l1` for a run with a generator back (CycleGAN): the mean |G_back(G(x)) - x| in [0, 1].

`--identity` scores the identity map (the input as its own translation) as a baseline, with
`--network=G_A|G_B` or the paired benchmark's direction; it needs no run. Records are
appended to RUN/eval/translation.jsonl (the baseline's to DIR/identity.jsonl) and printed as a
table. `--sheet` writes a figure: a row per test image, the input, each run's translation and
the truth (or, without one, nothing more).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time

import jax
import numpy as np
from absl import flags

from jaxgan.errors import UserError

EVAL_SEED = 0x5EED
BATCH = 250

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined only when it runs)."""
    flags.DEFINE_list("workdir", [], "Run workdirs to score (comma-separated).")
    flags.DEFINE_string("data", None, "The benchmark folder (with meta.json).")
    flags.DEFINE_string(
        "network", None, "Which generator: G_A (A to B) or G_B of a CycleGAN run; default the "
        "run's first (a Pix2Pix run has one).")
    flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
    flags.DEFINE_integer("num", 0, "Score the first N test images (0: all).")
    flags.DEFINE_bool("identity", False, "Score the identity map as a baseline.")
    flags.DEFINE_string("sheet", None, "Write a figure of the first 8 test images here.")


_SHEET_ROWS = 8


@dataclasses.dataclass(frozen=True)
class TestSet:
    """One direction of a benchmark's test split, as uint8 [N, H, W, C] arrays in file order."""

    task: str
    source_dataset: str  # mnist | fashion_mnist: which shipped classifier scores it
    inputs: np.ndarray
    truth: np.ndarray | None  # the true translation of each input, where known
    real_outputs: np.ndarray  # real test images of the output domain
    labels: np.ndarray  # the label of each input's source image
    target_class: int | None  # the output domain's one class (sneakers2boots), else None
    input_domain: str
    output_domain: str


def _read(path: pathlib.Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L"), np.uint8)


def _read_folder(folder: pathlib.Path, files: list[str]) -> np.ndarray:
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise UserError(f"{folder} lacks {len(missing)} file(s) its meta.json lists (first: "
                        f"{missing[0]}); write the benchmark again with jaxgan.translation_data")
    return np.stack([_read(folder / f) for f in files])[..., None]


def read_meta(data: str) -> dict:
    path = pathlib.Path(data) / "meta.json"
    if not path.is_file():
        raise UserError(f"--data={data} has no meta.json: give a folder written by "
                        "python -m jaxgan.translation_data")
    return json.loads(path.read_text())


def test_set(data: str, input_domain: str, num: int = 0) -> TestSet:
    """The test images translated from `input_domain` ("A" or "B") with what scores them."""
    meta = read_meta(data)
    root, folders = pathlib.Path(data), meta["folders"]
    output_domain = "B" if input_domain == "A" else "A"
    cap = slice(None, num or None)
    if "test" in folders:  # paired, aligned A|B
        entry = folders["test"]
        pairs = _read_folder(root / "test", entry["files"][cap])
        half = pairs.shape[2] // 2
        a, b = pairs[:, :, :half], pairs[:, :, half:]
        inputs, truth = (a, b) if input_domain == "A" else (b, a)
        labels, outputs_labels, real_outputs = entry["labels"][cap], entry["labels"], truth
    else:
        src, dst = folders[f"test{input_domain}"], folders[f"test{output_domain}"]
        inputs = _read_folder(root / f"test{input_domain}", src["files"][cap])
        real_outputs = _read_folder(root / f"test{output_domain}", dst["files"])
        truth = None
        if meta.get("truth", {}).get(f"test{input_domain}") == f"test{output_domain}":
            truth = real_outputs[cap]
        labels, outputs_labels = src["labels"][cap], dst["labels"]
    in_classes, out_classes = set(labels), set(outputs_labels)
    target = (next(iter(out_classes)) if len(out_classes) == 1 and out_classes != in_classes
              else None)
    return TestSet(task=meta["task"], source_dataset=meta["source"]["dataset"], inputs=inputs,
                   truth=truth, real_outputs=real_outputs, labels=np.asarray(labels),
                   target_class=target, input_domain=input_domain,
                   output_domain=output_domain)


def translate_all(model, images_u8: np.ndarray) -> np.ndarray:
    """The model's translations (uint8) of `images_u8`, in fixed batches with a dropout key per
    batch derived from EVAL_SEED."""
    from jaxgan.evaluation.metrics.paired import to_uint8

    out = []
    for i, start in enumerate(range(0, len(images_u8), BATCH)):
        batch = images_u8[start:start + BATCH].astype(np.float32) / 127.5 - 1.0
        n = len(batch)
        batch = np.pad(batch, ((0, BATCH - n), (0, 0), (0, 0), (0, 0)))
        key = jax.random.fold_in(jax.random.key(EVAL_SEED), i)
        out.append(to_uint8(model({"image": batch}, rng=key)[:n]))
    return np.concatenate(out)


def scores(ts: TestSet, outputs: np.ndarray, back: np.ndarray | None = None) -> dict:
    """The benchmark's metrics of `outputs` (uint8 translations of ts.inputs); `back` the
    translations taken back to the input domain, when the run has a generator back."""
    from jaxgan.evaluation.classifier import load_classifier
    from jaxgan.evaluation.metrics import frechet, paired

    result = {}
    if ts.truth is not None:
        a, b = (paired.prepare(x, "all", 0) for x in (outputs, ts.truth))
        result.update(l1=float(np.mean(paired.l1(a, b))), psnr=float(np.mean(paired.psnr(a, b))),
                      ssim=float(np.mean(paired.ssim(a, b))))
    classifier = load_classifier(ts.source_dataset)
    fake_features, logits = classifier(outputs)
    real_features, _ = classifier(ts.real_outputs)
    result["fid_lenet"] = frechet.frechet_distance(fake_features, real_features)
    predicted = np.argmax(logits, axis=1)
    if ts.target_class is not None:
        result["target_class_rate"] = float(np.mean(predicted == ts.target_class))
    else:
        result["accuracy"] = float(np.mean(predicted == ts.labels))
    if back is not None:
        x, y = (paired.prepare(v, "all", 0) for v in (back, ts.inputs))
        result["cycle_l1"] = float(np.mean(paired.l1(x, y)))
    result.update(classifier=classifier.name, classifier_sha256=classifier.weights_sha256,
                  num=len(outputs), num_real_outputs=len(ts.real_outputs))
    return result


def score_run(workdir: str, data: str, network: str | None, step: int | None, num: int):
    """(record, test set, translations) of one run."""
    from jaxgan import api, families
    from jaxgan.generation import choose_export
    from jaxgan.workdir import load_config

    config = load_config(workdir)
    family = families.get(config.family)
    spec = family.setup(config)
    name, export = choose_export(family, spec, network)
    if export.condition is None:
        raise UserError(f"{workdir}: generator {name} is not conditioned on images")
    model = api.load(workdir, step=step, network=name)
    ts = test_set(data, export.condition.field, num)
    if model.export.condition.shape[-1] != ts.inputs.shape[-1]:
        raise UserError(f"{workdir} translates {model.export.condition.shape[-1]}-channel "
                        f"images; the benchmark's are {ts.inputs.shape[-1]}-channel")
    started = time.time()
    outputs = translate_all(model, ts.inputs)
    back = None
    back_name = next((n for n, e in family.generators(spec).items() if e.condition is not None
                      and e.condition.field == ts.output_domain), None)
    if back_name is not None:
        back_model = api.load(workdir, step=model.step, network=back_name)
        back = translate_all(back_model, outputs)
    record = {"workdir": os.path.abspath(workdir), "family": config.family, "step": model.step, "network": name,
              "weights": model.weights, "task": ts.task,
              "direction": f"{ts.input_domain}to{ts.output_domain}",
              **scores(ts, outputs, back), "seconds": round(time.time() - started, 1)}
    return record, ts, outputs


def score_identity(data: str, input_domain: str, num: int):
    ts = test_set(data, input_domain, num)
    record = {"workdir": None, "network": "identity", "task": ts.task,
              "direction": f"{ts.input_domain}to{ts.output_domain}",
              **scores(ts, ts.inputs, ts.inputs)}
    return record, ts, ts.inputs


def _append(path: str, record: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


COLUMNS = ("l1", "psnr", "ssim", "fid_lenet", "accuracy", "target_class_rate", "cycle_l1")


def table(records: list[dict]) -> str:
    columns = [c for c in COLUMNS if any(c in r for r in records)]
    lines = ["| run | step | direction | " + " | ".join(columns) + " |",
             "| --- | --- | --- |" + " --- |" * len(columns)]
    for r in records:
        name = os.path.basename(r["workdir"]) if r.get("workdir") else "identity map"
        cells = [f"{r[c]:.4f}" if c in r else "" for c in columns]
        lines.append(f"| {name} | {r.get('step', '')} | {r['direction']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_sheet(path: str, ts: TestSet, outputs: list[np.ndarray]) -> None:
    from jaxgan import images

    columns = [ts.inputs[:_SHEET_ROWS], *(o[:_SHEET_ROWS] for o in outputs)]
    if ts.truth is not None:
        columns.append(ts.truth[:_SHEET_ROWS])
    grid = np.stack(columns, axis=1)  # [rows, columns, H, W, C]
    flat = grid.reshape(-1, *grid.shape[2:]).astype(np.float32) / 127.5 - 1.0
    images.save_png(path, images.grid(flat, columns=len(columns)))


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.data:
        raise UserError("--data is required: the benchmark folder written by "
                        "python -m jaxgan.translation_data")
    if not FLAGS.workdir and not FLAGS.identity:
        raise UserError("give --workdir=RUN[,RUN...] or --identity")
    if FLAGS.num < 0:
        raise UserError(f"--num must be >= 0 (0: every test image), not {FLAGS.num}")
    records, outputs, ts = [], [], None
    if FLAGS.identity:
        domain = {"G_B": "B", "BtoA": "B"}.get(FLAGS.network or "", "A")
        record, ts, out = score_identity(FLAGS.data, domain, FLAGS.num)
        _append(os.path.join(FLAGS.data, "identity.jsonl"), record)
        records.append(record)  # its outputs are the inputs: no column of its own
    for workdir in FLAGS.workdir:
        record, run_ts, out = score_run(workdir, FLAGS.data, FLAGS.network, FLAGS.step,
                                        FLAGS.num)
        if ts is not None and run_ts.input_domain != ts.input_domain:
            raise UserError(f"{workdir} translates {record['direction']}, the runs before it "
                            f"{ts.input_domain}to{ts.output_domain}: score them apart")
        ts = run_ts
        _append(os.path.join(workdir, "eval", "translation.jsonl"), record)
        records.append(record)
        outputs.append(out)
    print(table(records))
    if FLAGS.sheet:
        write_sheet(FLAGS.sheet, ts, outputs)
        print(f"wrote {FLAGS.sheet}: rows of input, "
              + ", ".join(os.path.basename(r["workdir"]) for r in records if r.get("workdir"))
              + (", truth" if ts.truth is not None else ""))
