"""`python -m jaxgan.anomaly`: score image files with a trained anomaly model, decide each with
a threshold calibrated on held-out normal images, and draw where each image departs from what
the model expected.

    python -m jaxgan.anomaly --workdir=RUN --input=FILE_OR_DIR [--out=DIR] [--fpr=0.05]
        [--step=N] [--weights=auto|ema|params]

The threshold is the one that flags `--fpr` of the run's held-out normal training images
(`dataset.holdout`, never trained on) as anomalous; it does not depend on the other images
scored, so one image can be decided alone. Images are read as the model's data were: gray or
colour as the model, smaller images padded around the centre (28x28 MNIST digits for a
32x32 model), larger ones averaged down by a whole factor. With --out: DIR/scores.csv (file,
score, anomalous, threshold), DIR/calibration.json and DIR/heatmaps/<name>.png (input |
reconstruction | |residual|, the residual scaled so that 1 is white); without it the scores
are printed as CSV.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import sys
import time

import numpy as np

from jaxgan.errors import UserError
from jaxgan.image_files import check_image, input_files, output_names, read_image


def define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("workdir", None, "The anomaly model's training workdir.")
    flags.DEFINE_string("input", None, "An image file or a folder of images.")
    flags.DEFINE_string("out", None, "Folder for scores.csv, calibration.json and heatmaps/ "
                        "(default: print the scores).")
    flags.DEFINE_float("fpr", 0.05, "False-positive rate the threshold is calibrated to on the "
                       "held-out normal images.")
    flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
    flags.DEFINE_enum("weights", "auto", ["auto", "ema", "params"],
                      "The EMA weights when the run keeps them (auto), or the trained.")
    flags.DEFINE_integer("batch_size", 500, "Images scored at once.")


def load_images(files: list[pathlib.Path], image_size: int, channels: int) -> np.ndarray:
    """float32 [N, S, S, channels] in [-1, 1], each file as the model's data were read."""
    from jaxgan.data.pipeline import preprocess

    out = []
    for path in files:
        pixels = read_image(path, channels)
        try:
            out.append(preprocess(pixels[None], image_size, channels)[0])
        except UserError:
            h, w = pixels.shape[:2]
            raise UserError(f"{path} is {h}x{w}; this model scores {image_size}x{image_size} "
                            "images (smaller ones are padded around the centre, larger ones "
                            "averaged down by a whole factor): resize it first") from None
    return np.stack(out)


def heatmap(image: np.ndarray, reconstruction: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """uint8 [S, 3S + 4, C]: input | reconstruction | residual (|x - x_hat| / 2 of [-1, 1]
    images, 0 black, the largest possible difference white), 2 px apart."""
    from jaxgan import images

    def u8(x):
        return images.to_uint8(x[None])[0]

    residual_u8 = np.clip(np.rint(residual * 127.5), 0, 255).astype(np.uint8)
    gap = np.full((image.shape[0], 2, image.shape[2]), 255, np.uint8)
    return np.concatenate([u8(image), gap, u8(reconstruction), gap, residual_u8], axis=1)


def score_files(workdir: str, source: str, out: str | None, fpr: float = 0.05,
                step: int | None = None, weights: str = "auto",
                batch_size: int = 500) -> list[dict]:
    """The rows of scores.csv for the images of `source` (and with `out`, the files)."""
    from jaxgan import images
    from jaxgan.evaluation import anomaly

    if not 0.0 <= fpr < 1.0:
        raise UserError(f"--fpr must be in [0, 1), not {fpr}")
    if batch_size < 1:
        raise UserError(f"--batch_size must be >= 1, not {batch_size}")
    if out is not None and (pathlib.Path(out) / "scores.csv").exists():
        raise UserError(f"{out} already holds scores.csv; give a new --out folder (nothing is "
                        "overwritten)")
    files = input_files(source, out)
    names = output_names(files, source)
    for path in files:
        check_image(path)
    started = time.time()
    model = anomaly.load(workdir, step, weights)
    size, _, channels = model.scorer.image_shape
    x = load_images(files, size, channels)
    calibration = {**anomaly.calibrate(anomaly.holdout_scores(model, batch_size), fpr),
                   "run": os.path.abspath(workdir), "step": model.step,
                   "weights": model.weights, "score": model.scorer.description,
                   "normal_classes": list(model.normal_classes)}
    scored = model.score(x, batch_size)
    threshold = calibration["threshold"]
    rows = [{"file": str(path), "score": float(s), "anomalous": int(s > threshold),
             "threshold": threshold} for path, s in zip(files, scored["score"])]
    if out is None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        print(buffer.getvalue(), end="")
    else:
        root = pathlib.Path(out)
        (root / "heatmaps").mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            print(f"\r[{i + 1}/{len(names)}] {name}", end="", file=sys.stderr, flush=True)
            images.save_png(str(root / "heatmaps" / name),
                            heatmap(x[i], scored["reconstruction"][i], scored["residual"][i]))
        print(file=sys.stderr)
        with open(root / "scores.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        (root / "calibration.json").write_text(json.dumps(calibration, indent=1) + "\n")
    flagged = sum(r["anomalous"] for r in rows)
    print(f"scored {len(rows)} image(s) with step {model.step} ({model.weights}): {flagged} "
          f"anomalous at threshold {threshold:.6g} (fpr {fpr} on "
          f"{calibration['num_calibration']} held-out normal images: "
          f"{calibration['fpr_calibration']:.4f}) in {time.time() - started:.1f} s"
          + (f"; wrote {out}" if out else ""), file=sys.stderr if out is None else sys.stdout)
    return rows


def main(argv: list[str]) -> None:
    from absl import flags

    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    values = flags.FLAGS
    if not (values.workdir and values.input):
        raise UserError("--workdir and --input are required")
    score_files(values.workdir, values.input, values.out, values.fpr, values.step,
                values.weights, values.batch_size)
