"""Metrics by protocol name: `<metric>_<extractor>[_<count>k]`, e.g. `fid_lenet`, `kid_lenet_10k`,
`fid_inception_50k`; and the paired metrics of image-conditioned generators,
`<l1|psnr|ssim>[_y][_crop<N>]` (jaxgan.evaluation.metrics.paired), e.g. `psnr_y_crop4`.

An evaluator asks for names and gets `Metric`s that say which feature extractor they need, which
of its outputs ("features" or "logits"), what they need of the reference set ("stats" = (mu,
sigma), "features", or "none"), and a `compute(fake, reference) -> {record key: float}`.
Precision and recall are one computation: `precision_lenet`, `recall_lenet` and `pr_lenet` all
resolve to the metric `pr_lenet`, which reports both.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from jaxgan.errors import UserError
from jaxgan.evaluation.metrics import paired
from jaxgan.evaluation.metrics.frechet import feature_stats, frechet_distance_from_stats
from jaxgan.evaluation.metrics.isc import inception_score
from jaxgan.evaluation.metrics.kid import kernel_inception_distance
from jaxgan.evaluation.metrics.prc import precision_recall

EXTRACTORS = ("lenet", "inception")


@dataclasses.dataclass(frozen=True)
class Metric:
    """One protocol: `compute(fake_outputs, reference)` -> {record key: value}."""

    name: str  # canonical protocol name, e.g. "fid_lenet" or "fid_inception_50k"
    extractor: str  # "lenet" (jaxgan's domain classifier) or "inception" (FID InceptionV3)
    # What it reads: extractor "features" or "logits", or, with the requested labels,
    # "labelled_images" = (images, labels), "labelled_logits" = (logits, labels) or
    # "labelled_features" = (features, labels).
    output: str
    # What it needs of the real set: "stats" = (mu, sigma), "features", "none", "test_split" =
    # (uint8 test images, test labels, dataset name), or "labelled_features" = (features, the
    # split's labels).
    reference: str
    compute: Callable[[np.ndarray, Any], dict[str, float]]
    num_samples: int | None = None  # from a `_<count>k` suffix; None = the evaluator's default
    conditional: bool = False  # needs requested labels: a class-conditional model
    # Paired metrics (output "paired" = (generated, target) images): how they compare.
    protocol: dict[str, Any] | None = None


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _fid(key: str):
    def compute(fake, reference_stats):
        return {key: frechet_distance_from_stats(*feature_stats(fake), *reference_stats)}

    return compute


def _kid(key: str):
    def compute(fake, reference_features):
        mean, std = kernel_inception_distance(fake, reference_features)
        return {key: mean, f"{key}_std": std}

    return compute


def _is(key: str):
    def compute(fake_logits, _):
        mean, std = inception_score(_softmax(fake_logits))
        return {key: mean, f"{key}_std": std}

    return compute


def _pr(extractor: str):
    def compute(fake, reference_features):
        precision, recall = precision_recall(reference_features, fake)
        return {f"precision_{extractor}": precision, f"recall_{extractor}": recall}

    return compute


def _cas(fake_labelled, test_split):
    """Classification accuracy score (Ravuri & Vinyals 2019): jaxgan's domain classifier, trained
    with its own recipe on generated (image, requested label) pairs, tested on the real test
    split. Generated [-1, 1] images are quantised to uint8 as a saved image would be, and
    centre-cropped to 28x28 when made on a padded 32x32 canvas."""
    from jaxgan.evaluation.classifier import PRESETS, accuracy, to_classifier_input, train

    images, labels = fake_labelled
    test_images, test_labels, dataset = test_split
    # At the classifier's 28x28, as the test split (a 32x32 canvas is centre-cropped).
    images_u8 = np.round((to_classifier_input(images) + 1.0) * 127.5).astype(np.uint8)
    config = PRESETS[dataset]
    params = train(config, images_u8, np.asarray(labels, np.int32), log=lambda _: None)
    return {"cas_lenet": accuracy(config.model(), params, test_images, test_labels)}


def _intra_fid(fake_labelled, reference_labelled):
    """Intra-class FID (Miyato & Koyama 2018; BigGAN's and StudioGAN's iFID): for each class,
    the FID of the images generated for it against the real images of it, then the mean over
    classes (with their std). Where the class-conditional distributions are wrong but their
    mixture is right (classes swapped, one class drawn for another), FID misses what this
    sees."""
    features, labels = (np.asarray(a) for a in fake_labelled)
    real, real_labels = (np.asarray(a) for a in reference_labelled)
    per_class = []
    for c in np.unique(real_labels):
        fake_c = features[labels == c]
        if len(fake_c) < 2:
            raise UserError(f"intra-class FID needs at least 2 generated images of each class; "
                            f"class {c} has {len(fake_c)}: raise --num_samples")
        per_class.append(frechet_distance_from_stats(*feature_stats(fake_c),
                                                     *feature_stats(real[real_labels == c])))
    return {"ifid_lenet": float(np.mean(per_class)), "ifid_lenet_std": float(np.std(per_class))}


def _gan_test(fake_labelled_logits, _):
    """GAN-test (Shmelkov et al. 2018, "How good is my GAN?"): the accuracy of the domain
    classifier trained on real images, on generated images against the labels they were asked
    for. Near the classifier's real test accuracy when the generator draws the requested class
    recognisably; it cannot see diversity (one perfect image per class scores 100 %), which is
    what CAS adds. Read together: a CAS gap with a high GAN-test is missing variety, not wrong
    labels."""
    logits, labels = fake_labelled_logits
    predicted = np.argmax(np.asarray(logits), axis=1)
    return {"gantest_lenet": float(np.mean(predicted == np.asarray(labels)))}


def _anomaly(key: str):
    def compute(scored, _):
        from jaxgan.evaluation import anomaly

        scores, anomalous = scored
        fn = anomaly.auroc if key == "auroc" else anomaly.average_precision
        return {key: fn(scores, anomalous)}

    return compute


def _modes(extractor: str):
    def compute(logits, _):
        from jaxgan.data.stacked_mnist import mode_counts

        logits = np.asarray(logits)
        counted = mode_counts(np.argmax(logits, axis=1), logits.shape[1])
        return {f"modes_{extractor}": counted["modes"],
                f"modes_kl_{extractor}": counted["kl"]}

    return compute


def _base_metrics() -> dict[str, Metric]:
    metrics = {}
    for ext in EXTRACTORS:
        for metric in (
            Metric(f"fid_{ext}", ext, "features", "stats", _fid(f"fid_{ext}")),
            Metric(f"kid_{ext}", ext, "features", "features", _kid(f"kid_{ext}")),
            Metric(f"is_{ext}", ext, "logits", "none", _is(f"is_{ext}")),
            Metric(f"pr_{ext}", ext, "features", "features", _pr(ext)),
        ):
            metrics[metric.name] = metric
    # Mode coverage (Stacked MNIST's 1,000 digit triples; any labelled data's classes): the
    # classes the classifier sees among the generated images and KL(generated || uniform).
    metrics["modes_lenet"] = Metric("modes_lenet", "lenet", "logits", "none", _modes("lenet"))
    metrics["cas_lenet"] = Metric("cas_lenet", "lenet", "labelled_images", "test_split", _cas,
                                  conditional=True)
    metrics["gantest_lenet"] = Metric("gantest_lenet", "lenet", "labelled_logits", "none",
                                      _gan_test, conditional=True)
    metrics["ifid_lenet"] = Metric("ifid_lenet", "lenet", "labelled_features",
                                   "labelled_features", _intra_fid, conditional=True)
    # Anomaly models (output "anomaly" = (scores, is anomalous) of the whole test split): the
    # one-class protocol of jaxgan.evaluation.anomaly.
    for key in ("auroc", "average_precision"):
        metrics[key] = Metric(key, NO_EXTRACTOR, "anomaly", "none", _anomaly(key))
    return metrics


NO_EXTRACTOR = "none"
METRICS = _base_metrics()
_ALIASES = {f"{kind}_{ext}": f"pr_{ext}" for ext in EXTRACTORS for kind in ("precision", "recall")}
_NAME = re.compile(r"^(?P<base>[a-z]+(?:_[a-z]+)?)(?:_(?P<thousands>[1-9][0-9]*)k)?$")
_PAIRED = re.compile(r"^(?P<kind>l1|psnr|ssim)(?P<y>_y)?(?:_crop(?P<crop>[0-9]+))?$")


def _paired_metric(name: str, kind: str, color: str, crop: int) -> Metric:
    def compute(generated_and_target, _):
        generated, target = generated_and_target
        a = paired.prepare(generated, color, crop)
        b = paired.prepare(target, color, crop)
        return {name: float(np.mean(paired.PAIRED[kind](a, b)))}

    protocol = {"color": "all" if color == "all" else "y_bt601", "crop_border": crop,
                "data_range": 255, "quantized": "uint8", "average": "per image"}
    if kind == "ssim":
        protocol["window"] = "gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, valid region"
    if kind == "psnr":
        protocol["identical_images_db"] = paired.PSNR_CAP_DB
    return Metric(name, NO_EXTRACTOR, "paired", "none", compute, protocol=protocol)


def metric_names() -> list[str]:
    """Every base protocol name (each also accepts a `_<count>k` suffix) and the paired ones."""
    return sorted([*METRICS, *_ALIASES, "l1", "psnr", "ssim"])


def get_metric(name: str) -> Metric:
    """The metric for a protocol name; raises UserError naming the choices when unknown."""
    match = _PAIRED.match(name.strip())
    if match:
        return _paired_metric(name.strip(), match["kind"], "y" if match["y"] else "all",
                              int(match["crop"] or 0))
    match = _NAME.match(name.strip())
    base = _ALIASES.get(match["base"], match["base"]) if match else None
    if base not in METRICS:
        raise UserError(
            f"unknown metric {name!r}; known: {', '.join(metric_names())} "
            "(optionally with a sample count suffix such as _10k; the paired metrics with _y "
            "and _cropN)"
        )
    metric = METRICS[base]
    if match["thousands"] and metric.output == "anomaly":
        raise UserError(f"{base} scores the whole test split: it takes no sample count suffix")
    if match["thousands"]:
        count = int(match["thousands"]) * 1000
        metric = dataclasses.replace(
            metric, name=f"{base}_{match['thousands']}k", num_samples=count
        )
    return metric


def resolve_metrics(names: Iterable[str] | str) -> list[Metric]:
    """Metrics for a list (or comma-separated string) of names, duplicates removed, in order."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    resolved: dict[str, Metric] = {}
    for name in names:
        metric = get_metric(name)
        resolved.setdefault(metric.name, metric)
    return list(resolved.values())
