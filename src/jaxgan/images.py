"""Image grids and PNG files."""

from __future__ import annotations

import math
import os

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> uint8, rounding to nearest."""
    x = np.nan_to_num(np.asarray(images, np.float32), nan=-1.0)  # a diverged run still writes
    return np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid(images_BxHxWxC: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """Tiles a batch into one uint8 [rows*(H+pad)+pad, cols*(W+pad)+pad, C] image."""
    images = to_uint8(images_BxHxWxC)
    b, h, w, c = images.shape
    cols = columns or math.ceil(math.sqrt(b))
    rows = math.ceil(b / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(b):
        r, q = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        out[top : top + h, left : left + w] = images[i]
    return out


def save_png(path: str, image_HxWxC: np.ndarray) -> None:
    from PIL import Image

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    array = image_HxWxC[..., 0] if image_HxWxC.shape[-1] == 1 else image_HxWxC
    Image.fromarray(array).save(path)
