"""Paired image metrics for image-conditioned generators: L1, PSNR and SSIM between each
generated image and its target, as super-resolution and translation papers report them.

Protocol (every record states it): both images quantised to uint8 as saved files are; `color`
"all" compares every channel, "y" the luma of ITU-R BT.601 (Y = 16 + (65.481 R + 128.553 G +
24.966 B) / 255 for R, G, B in [0, 255], as MATLAB's rgb2ycbcr and BasicSR compute it; gray
images are their own Y); `crop_border` pixels removed from each side first; data range 255.
PSNR is computed per image and averaged (identical images count as 100 dB); SSIM is Wang et
al. (2004): an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, over the valid
region, averaged over channels, then images; L1 is the mean absolute difference in [0, 1].
"""

from __future__ import annotations

import numpy as np

PSNR_CAP_DB = 100.0


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] floats (or uint8) -> uint8, rounding to nearest as a saved PNG would."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.rint((images.astype(np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def luma(images_u8: np.ndarray) -> np.ndarray:
    """float64 BT.601 Y [N, H, W, 1] in [16, 235] of uint8 RGB images (gray: the image)."""
    x = images_u8.astype(np.float64)
    if x.shape[-1] == 1:
        return x
    y = x @ np.array([65.481, 128.553, 24.966]) / 255.0 + 16.0
    return y[..., None]


def prepare(images: np.ndarray, color: str, crop_border: int) -> np.ndarray:
    """float64 [N, H, W, C] in [0, 255] as the protocol compares them."""
    x = to_uint8(images)
    x = luma(x) if color == "y" else x.astype(np.float64)
    if crop_border:
        x = x[:, crop_border:-crop_border, crop_border:-crop_border]
    return x


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB [N] of float images in [0, 255]."""
    mse = np.mean((a - b) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(255.0**2 / mse)
    return np.minimum(db, PSNR_CAP_DB)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def _filter_valid(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """2-D correlation of x [N, H, W] with `window`, valid region only."""
    from numpy.lib.stride_tricks import sliding_window_view

    patches = sliding_window_view(x, window.shape, axis=(1, 2))
    return np.einsum("nhwij,ij->nhw", patches, window)


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image SSIM [N] of float images in [0, 255] (mean over the valid map and channels)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    window = _gaussian_window()
    if a.shape[1] < window.shape[0] or a.shape[2] < window.shape[1]:
        raise ValueError(f"SSIM's 11x11 window needs images of at least 11x11, not "
                         f"{a.shape[1]}x{a.shape[2]}")
    per_channel = []
    for ch in range(a.shape[-1]):
        x, y = a[..., ch], b[..., ch]
        mu_x, mu_y = _filter_valid(x, window), _filter_valid(y, window)
        var_x = _filter_valid(x * x, window) - mu_x**2
        var_y = _filter_valid(y * y, window) - mu_y**2
        cov = _filter_valid(x * y, window) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
        per_channel.append(ssim_map.mean(axis=(1, 2)))
    return np.mean(per_channel, axis=0)


def l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image mean absolute difference [N] of images in [0, 255], on a [0, 1] scale."""
    return np.mean(np.abs(a - b), axis=(1, 2, 3)) / 255.0


PAIRED = {"psnr": psnr, "ssim": ssim, "l1": l1}
