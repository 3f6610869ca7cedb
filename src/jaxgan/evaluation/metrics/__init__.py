"""GAN evaluation metrics on arrays of features: arrays in (numpy or jax, [N, D] features or
[N, classes] probabilities), Python floats out.

- `frechet_distance`, `frechet_distance_from_stats`, `feature_stats`: FID's math.
- `kernel_inception_distance`: KID, unbiased MMD² with the cubic polynomial kernel.
- `inception_score`: IS from class probabilities.
- `precision_recall`: improved precision and recall (k-NN balls).
- `get_metric` / `resolve_metrics`: the protocol-name registry used by the evaluator, and
  `load_extractor` for the feature extractor a metric names.

Feature extractors live beside them: `jaxgan.metrics.inception` (FID InceptionV3, needs the
official weights file) and `jaxgan.classifier` (jaxgan's own MNIST / Fashion-MNIST classifier).
"""

from jaxgan.evaluation.extractors import FeatureExtractor, load_extractor
from jaxgan.evaluation.metrics.frechet import (
    feature_stats,
    frechet_distance,
    frechet_distance_from_stats,
)
from jaxgan.evaluation.metrics.isc import inception_score
from jaxgan.evaluation.metrics.kid import kernel_inception_distance
from jaxgan.evaluation.metrics.prc import knn_radii, precision_recall
from jaxgan.evaluation.metrics.registry import Metric, get_metric, metric_names, resolve_metrics

__all__ = [
    "FeatureExtractor",
    "Metric",
    "feature_stats",
    "frechet_distance",
    "frechet_distance_from_stats",
    "get_metric",
    "inception_score",
    "kernel_inception_distance",
    "knn_radii",
    "load_extractor",
    "metric_names",
    "precision_recall",
    "resolve_metrics",
]
