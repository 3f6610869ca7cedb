"""Anomaly models at a checkpoint: their scores of images, the one-class test protocol, the
ranking metrics (AUROC, average precision) and a decision threshold calibrated on held-out
normal images. Shared by the evaluator and `jaxgan.anomaly`; reads checkpoints only.

The protocol: a model trained on the classes `dataset.classes` of a labelled dataset (the
"normal" data) scores the whole test split; normal test images are the negatives, the rest
the positives. The threshold is calibrated on `dataset.holdout`'s training images of the
normal classes, which training never saw, so that a single new image can be decided.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxgan import families
from jaxgan.checkpoint import ema_item, net_item, restore_item
from jaxgan.data import load_source, read_all
from jaxgan.data.pipeline import preprocess
from jaxgan.data.sources import HOLDOUT, parse_classes
from jaxgan.errors import UserError
from jaxgan.families.protocol import AnomalyScorer
from jaxgan.workdir import load_config


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of `scores` (higher: more likely positive) for the boolean
    labels `positive`: the probability that a random positive outscores a random negative,
    ties counting one half (the Mann-Whitney U statistic over n_pos * n_neg)."""
    from scipy.stats import rankdata

    scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        raise ValueError("AUROC needs both positives and negatives")
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Average precision: sum over the distinct thresholds (scores, high to low) of precision
    times the gain in recall (scikit-learn's `average_precision_score`, no interpolation)."""
    scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
    n_pos = int(positive.sum())
    if not n_pos:
        raise ValueError("average precision needs positives")
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]  # end of each tie group
    true_pos = np.cumsum(positive)[last]
    precision = true_pos / (last + 1)
    recall_gain = np.diff(np.r_[0, true_pos]) / n_pos
    return float(np.sum(precision * recall_gain))


def calibrate(normal_scores: np.ndarray, fpr: float) -> dict[str, Any]:
    """The threshold t for "anomalous iff score > t" that flags at most `fpr` of the held-out
    normal scores: the (k+1)-th largest of the n scores, k = floor(fpr * n); exactly k / n of
    them when no score ties with t."""
    if not 0.0 <= fpr < 1.0:
        raise UserError(f"--fpr must be in [0, 1), not {fpr}")
    scores = np.sort(np.asarray(normal_scores, np.float64))[::-1]
    n = len(scores)
    k = int(np.floor(fpr * n + 1e-9))
    threshold = float(scores[k])
    return {"threshold": threshold, "fpr_requested": fpr, "num_calibration": n,
            "fpr_calibration": float(np.mean(scores > threshold))}


@dataclasses.dataclass
class Model:
    """An anomaly model restored at one step."""

    config: ml_collections.ConfigDict
    scorer: AnomalyScorer
    variables: dict[str, Any]
    step: int
    weights: str  # "ema" or "params" (several networks: "G:ema+D:params+...")
    normal_classes: tuple[int, ...]

    @functools.cached_property
    def _score(self):
        return jax.jit(self.scorer.score)

    def score(self, images: np.ndarray, batch_size: int = 500) -> dict[str, np.ndarray]:
        """{"score": [N], "residual": [N, H, W, C], "reconstruction": ...} of float32 images
        in [-1, 1], in batches."""
        parts = [jax.device_get(self._score(self.variables, images[i:i + batch_size]))
                 for i in range(0, len(images), batch_size)]
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def load(workdir: str, step: int | None = None, weights: str = "auto") -> Model:
    """The anomaly model of a run at `step` (latest by default), with the EMA copy of each of
    its networks that the run keeps one of (`weights="auto"`), or the trained weights
    ("params")."""
    config = load_config(workdir)
    family = families.get(config.family)
    spec = family.setup(config)
    scorer = family.anomaly(spec)
    if scorer is None:
        raise UserError(f"{workdir} is a {config.family} run, not an anomaly model; train one "
                        "of the anomaly families (experiments/ganomaly.py)")
    if weights not in ("auto", "ema", "params"):
        raise UserError(f"--weights must be auto, ema or params, not {weights!r}")
    abstract = jax.eval_shape(lambda: family.init(spec, config.seed))
    kept = [name for name in scorer.networks if name in abstract.ema]
    if weights == "ema" and not kept:
        raise UserError("--weights=ema: this run keeps no EMA copy of its networks")
    use_ema = set(kept) if weights != "params" else set()
    variables = {}
    for name in scorer.networks:
        item, tree = ((ema_item(name), abstract.ema[name]) if name in use_ema
                      else (net_item(name), abstract.nets[name].variables))
        variables[name], step = restore_item(workdir, item, tree, step)
    return Model(config, scorer, variables, step,
                 "+".join(f"{n}:{'ema' if n in use_ema else 'params'}" for n in scorer.networks)
                 if len(scorer.networks) > 1 else ("ema" if use_ema else "params"),
                 parse_classes(config.dataset.classes))


def whole_dataset(dataset) -> ml_collections.ConfigDict:
    """`dataset` with every class and example (the test protocol scores the whole split)."""
    whole = ml_collections.ConfigDict(dataset.to_dict())
    whole.classes, whole.holdout, whole.max_examples = "", 0, 0
    return whole


def split_images(dataset, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(float32 images in [-1, 1] as the model sees them, labels or None) of a split."""
    source = load_source(dataset, split=split, train=False)
    images = preprocess(read_all(source, "image"), dataset.image_size, dataset.channels)
    labels = read_all(source, "label") if "label" in source.fields else None
    return images, labels


def test_protocol(model: Model, batch_size: int = 500) -> dict[str, Any]:
    """The one-class test: the whole test split scored; positives are the images outside the
    model's normal classes."""
    if not model.normal_classes:
        raise UserError("the one-class test needs a run trained on some classes only "
                        "(dataset.classes)")
    images, labels = split_images(whole_dataset(model.config.dataset), "test")
    anomalous = ~np.isin(labels, model.normal_classes)
    scores = model.score(images, batch_size)["score"]
    return {"scores": scores, "anomalous": anomalous, "labels": labels}


def holdout_scores(model: Model, batch_size: int = 500) -> np.ndarray:
    """The scores of the run's held-out normal training images (`dataset.holdout`)."""
    dataset = model.config.dataset
    if not dataset.holdout:
        raise UserError("this run held out no normal images to calibrate a threshold on "
                        "(dataset.holdout=0); retrain with dataset.holdout > 0")
    images, _ = split_images(dataset, HOLDOUT)
    return model.score(images, batch_size)["score"]
