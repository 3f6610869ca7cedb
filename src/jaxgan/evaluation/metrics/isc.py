"""Inception Score, IS (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), over splits."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def inception_score(probs: ArrayLike, splits: int = 10) -> tuple[float, float]:
    """(mean, std) over `splits` consecutive equal parts of softmax probabilities [N, classes].

    Pass probabilities, not logits (apply a softmax first). The standard deviation is the
    population one (ddof=0), as in the original code and torch-fidelity.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be [N, classes], got shape {p.shape}")
    if splits < 1 or p.shape[0] < splits:
        raise ValueError(f"need 1 <= splits <= N, got splits={splits}, N={p.shape[0]}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs must be non-negative rows summing to 1 (apply a softmax to logits)")
    n = p.shape[0]
    scores = []
    for k in range(splits):
        part = p[k * n // splits : (k + 1) * n // splits]
        marginal = part.mean(axis=0)
        # 0 * log 0 = 0: classes a sample never predicts contribute nothing.
        safe = np.where(part > 0, part, 1.0)
        kl = np.sum(part * (np.log(safe) - np.log(np.where(marginal > 0, marginal, 1.0))), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
