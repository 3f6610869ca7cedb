"""Stacked MNIST (Metz et al. 2017, "Unrolled GANs"; VEEGAN; PacGAN): colour images whose red,
green and blue channels are three MNIST digits, a mode being the digit triple (1,000 modes).

Example i of a split takes the MNIST images of that split at the indices
`default_rng([SEED, split number]).integers(0, n, (count, 3))[i]` (independent and uniform, so
each of the 1,000 triples has probability 1/1000), each 28x28 digit centred on a 32x32 black
channel; its label is 100 r + 10 g + b of the three digits' labels. Train: 60,000 images from
MNIST's train split; test: 10,000 from its test split. The same files give the same bytes.
"""

from __future__ import annotations

import numpy as np

SEED = 0
SPLITS = {"train": (0, 60_000), "test": (1, 10_000)}  # split -> (number in the seed, count)
SIZE = 32


def choose(num_source: int, split: str) -> np.ndarray:
    """The [count, 3] source indices of a split's examples (R, G, B)."""
    number, count = SPLITS[split]
    return np.random.default_rng([SEED, number]).integers(0, num_source, (count, 3))


def stack(images: np.ndarray, labels: np.ndarray, indices: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, 32, 32, 3], int64 labels [N]) from MNIST images [M, 28, 28, 1] and labels and
    [N, 3] indices into them."""
    pad = (SIZE - images.shape[1]) // 2
    digits = np.pad(images[..., 0], ((0, 0), (pad, pad), (pad, pad)))
    stacked = np.stack([digits[indices[:, c]] for c in range(3)], axis=-1)
    triple = labels[indices].astype(np.int64)
    return stacked, triple[:, 0] * 100 + triple[:, 1] * 10 + triple[:, 2]


def mode_counts(modes: np.ndarray, num_modes: int) -> dict[str, float]:
    """How many of `num_modes` modes occur in `modes` (one per image), and the KL divergence
    KL(p || uniform) of their distribution p from the uniform one, in nats."""
    p = np.bincount(np.asarray(modes, np.int64), minlength=num_modes) / len(modes)
    nonzero = p[p > 0]
    return {"modes": float(len(nonzero)),
            "kl": float(np.sum(nonzero * np.log(nonzero * num_modes)))}
