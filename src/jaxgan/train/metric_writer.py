"""Run outputs of process 0: metrics.jsonl, TensorBoard events, sample PNGs, a progress line."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from jaxgan import images


class MetricWriter:
    """Writes nothing unless `active` (only process 0 writes)."""

    def __init__(self, workdir: str, active: bool):
        self.workdir = workdir
        self.active = active
        self._tb = None
        if active:
            from tensorboardX import SummaryWriter

            os.makedirs(workdir, exist_ok=True)
            self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")  # noqa: SIM115
            self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"), flush_secs=30)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if not self.active:
            return
        record = {"step": int(step), **{k: _jsonable(v) for k, v in values.items()}}
        self._jsonl.write(json.dumps(record, sort_keys=True) + "\n")
        self._jsonl.flush()
        for k, v in values.items():
            if isinstance(v, (int, float, np.floating, np.integer)):
                self._tb.add_scalar(k, float(v), int(step))

    def samples(self, step: int, batch: np.ndarray, columns: int | None = None) -> str | None:
        if not self.active:
            return None
        tile = images.grid(batch, columns=columns)
        path = os.path.join(self.workdir, "samples", f"step_{int(step)}.png")
        images.save_png(path, tile)
        self._tb.add_image("samples", tile, int(step), dataformats="HWC")
        return path

    def close(self) -> None:
        if self.active:
            self._jsonl.close()
            self._tb.close()


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


# (metric key, label, format) shown on the progress line when the family reports it.
PROGRESS_KEYS = (
    ("d_loss", "d_loss", ".3f"), ("g_loss", "g_loss", ".3f"), ("d_real", "D(x)", ".2f"),
    ("d_fake", "D(G(z))", ".2f"), ("d_real_logit", "D(x)", ".2f"),
    ("d_fake_logit", "D(G(z))", ".2f"), ("gradient_penalty", "gp", ".3f"),
    ("r1_penalty", "r1", ".3f"), ("pl_penalty", "pl", ".3f"), ("e_loss", "e_loss", ".4f"),
)


class Progress:
    """A one-line terminal report per log step: rate, losses, ETA."""

    def __init__(self, total_steps: int, active: bool):
        self.total, self.active = total_steps, active

    def report(self, step: int, metrics: dict[str, float]) -> None:
        if not self.active:
            return
        rate = metrics.get("steps_per_s", 0.0)
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        shown, labels = [], set()
        for key, label, fmt in PROGRESS_KEYS:
            if key in metrics and label not in labels:  # D(x): a probability if there is one
                shown.append(f"{label} {metrics[key]:{fmt}}")
                labels.add(label)
        line = (
            f"step {step}/{self.total} | {' '.join(shown)}"
            f" | {rate:.2f} steps/s {metrics.get('images_per_s', 0.0):.0f} img/s | ETA "
            f"{_duration(eta)}"
        )
        print(line, file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    return time.strftime("%H:%M:%S", time.gmtime(seconds))
