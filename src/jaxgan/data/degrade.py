"""How low-resolution inputs are made from high-resolution images (super-resolution pairs).

`bicubic`: each uint8 image downscaled by an integer factor with PIL's bicubic filter (Keys'
cubic with a = -0.5, its support widened by the factor, so it low-passes before subsampling as
MATLAB's `imresize` does), rounded to uint8. This is the degradation of the SRGAN and ESRGAN
papers' "bicubic x4" benchmarks up to the implementation of the bicubic kernel.
"""

from __future__ import annotations

import numpy as np

from jaxgan.errors import UserError

DEGRADATIONS = ("bicubic",)


def check(degradation: str, scale: int) -> None:
    if degradation not in DEGRADATIONS:
        raise UserError(f"dataset.degradation must be one of {DEGRADATIONS}, not "
                        f"{degradation!r}")
    if scale < 2:
        raise UserError(f"dataset.lr_scale must be at least 2, not {scale}")


def degrade(hr_BxHxWxC: np.ndarray, scale: int, degradation: str = "bicubic") -> np.ndarray:
    """uint8 [B, H, W, C] -> uint8 [B, H / scale, W / scale, C]."""
    from PIL import Image

    check(degradation, scale)
    b, h, w, c = hr_BxHxWxC.shape
    if h % scale or w % scale:
        raise UserError(f"{h}x{w} images do not divide by the scale {scale}")
    out = np.empty((b, h // scale, w // scale, c), np.uint8)
    for i, image in enumerate(hr_BxHxWxC):
        im = Image.fromarray(image[..., 0] if c == 1 else image)
        small = im.resize((w // scale, h // scale), Image.Resampling.BICUBIC)
        out[i] = np.asarray(small, np.uint8).reshape(h // scale, w // scale, c)
    return out


def upscale_bicubic(lr_BxHxWxC: np.ndarray, scale: int) -> np.ndarray:
    """uint8 [B, H, W, C] -> uint8 [B, H scale, W scale, C] with PIL's bicubic filter: the
    baseline a super-resolution network has to beat (`jaxgan.evaluate --generator=bicubic`)."""
    from PIL import Image

    b, h, w, c = lr_BxHxWxC.shape
    out = np.empty((b, h * scale, w * scale, c), np.uint8)
    for i, image in enumerate(lr_BxHxWxC):
        im = Image.fromarray(image[..., 0] if c == 1 else image)
        big = im.resize((w * scale, h * scale), Image.Resampling.BICUBIC)
        out[i] = np.asarray(big, np.uint8).reshape(h * scale, w * scale, c)
    return out
