"""Feature extractors by the name a `Metric` gives (`Metric.extractor`).

- "lenet": jaxgan's own classifier for the run's dataset (MNIST or Fashion-MNIST), its weights
  shipped with the package (reproduced by `python -m jaxgan.classifier`); features = its 128-d
  penultimate layer. For Stacked MNIST, the MNIST one on each channel (`per_channel`).
- "inception": the FID InceptionV3 with the official pytorch-fid weights, which the user
  supplies; features = the 2048-d pool, logits = the 1008-way fc without bias (for IS).

Every extractor carries what a metric record's provenance needs: `name`, `weights_sha256` and
`preprocessing`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from jaxgan.errors import UserError


class FeatureExtractor(Protocol):
    """`(features [N, feature_dim], logits [N, num_classes]) = extractor(images)`, images being
    uint8 or [-1, 1] float [N, H, W, C], computed in jitted batches."""

    name: str
    weights_sha256: str
    preprocessing: str

    @property
    def feature_dim(self) -> int: ...

    @property
    def num_classes(self) -> int: ...

    def __call__(self, images: Any, batch_size: int = ...) -> tuple[np.ndarray, np.ndarray]: ...


def load_extractor(
    kind: str,
    *,
    dataset: str | None = None,
    classifier_path: str | None = None,
    inception_weights: str | None = None,
) -> FeatureExtractor:
    """The extractor `kind` ("lenet" or "inception"); raises UserError when its weights are
    missing or do not match their recorded / official sha256."""
    if kind == "lenet":
        from jaxgan.evaluation import classifier

        if dataset == "stacked_mnist":
            from jaxgan.evaluation.extractors.per_channel import PerChannelLeNet

            return PerChannelLeNet(classifier.load_classifier("mnist", classifier_path))

        if dataset not in classifier.DATASETS:
            raise UserError(
                f"the *_lenet metrics need a {' or '.join(classifier.DATASETS)} run, not "
                f"dataset {dataset!r}; use the *_inception metrics for other data"
            )
        return classifier.load_classifier(dataset, classifier_path)
    if kind == "inception":
        from jaxgan.evaluation.extractors import inception

        return inception.load_fid_inception(inception_weights)
    raise UserError(f"unknown feature extractor {kind!r}; known: lenet, inception")
