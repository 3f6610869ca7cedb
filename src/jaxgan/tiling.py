"""Running an upscaling generator on an image of any size: whole, or in overlapping tiles so that
memory is bounded by the tile.

`fn` maps float32 [1, h, w, C] to [1, h*scale, w*scale, C'] (a jitted generator). Both ways pad
the image by reflection at the bottom and right to multiples of the generator's size `multiple`
(its total stride) and crop the output back, so a tiled run sees the same pixels as a whole one.

Tiles are `tile` x `tile` input pixels, neighbours share at least `overlap` of them, and every
tile starts at a multiple of `multiple` (a network that pixel-unshuffles its input computes the
same thing in a tile as in the whole image only on the same phase of the grid); the last tile of
a row or column is shifted inward to end at the border, so all tiles have the full size (an
image axis shorter than a tile is one tile of its padded length). A tile's outermost outputs
saw the network's zero padding, where the whole image had pixels: its output is weighted by a
separable window that is 1 inside the tile and ramps linearly, over the `overlap * scale` output
pixels at each edge shared with a neighbour, down to EDGE_WEIGHT at that edge (edges on the image
border keep 1). The weighted outputs are summed and divided by the summed weights, which the
separable windows on a grid of tiles make an outer product of two 1-D sums (no second
image-sized buffer). A network whose receptive field fits in one output pixel of the tile edge
gives the whole-image output to float precision; a wider one a cross-fade with no seam.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from jaxgan.errors import UserError

# What the outermost output pixel of a tile weighs where a neighbour covers it: positive, so the
# summed weights are never 0, and small enough that it adds nothing a float32 image can show.
EDGE_WEIGHT = 1e-6

UpscaleFn = Callable[[np.ndarray], np.ndarray]


def check_tiling(tile: int, overlap: int, multiple: int = 1) -> None:
    """A `UserError` saying what to change unless `tile` and `overlap` (input pixels) can tile
    images for a generator whose inputs are multiples of `multiple`."""
    if tile <= 0:
        raise UserError(f"--tile must be a positive number of input pixels, not {tile}")
    if overlap < 0:
        raise UserError(f"--tile_overlap must be 0 or more input pixels, not {overlap}")
    if tile < 2 * overlap:
        raise UserError(f"--tile={tile} is less than twice --tile_overlap={overlap}: use "
                        f"--tile={2 * overlap} or more, or --tile_overlap={tile // 2} or less")
    if tile % multiple:
        below, above = tile - tile % multiple, tile - tile % multiple + multiple
        hint = f"--tile={below} or --tile={above}" if below else f"--tile={above}"
        raise UserError(f"--tile={tile} is not a multiple of {multiple}, the size multiple of "
                        f"this generator: use {hint}")
    if overlap and tile == multiple:
        raise UserError(f"--tile={tile} leaves no room for --tile_overlap={overlap}: tiles start "
                        f"at multiples of {multiple} (this generator's size multiple); use "
                        f"--tile={2 * multiple} or more, or --tile_overlap=0")


def pad_to_multiple(image_HxWxC: np.ndarray, multiple: int) -> np.ndarray:
    """The image padded at the bottom and right to multiples of `multiple`: by reflection, or
    by symmetry or the edge value where the image is too small to reflect."""
    padded = image_HxWxC
    for axis in (0, 1):
        length = padded.shape[axis]
        amount = -length % multiple
        if amount:
            mode = "reflect" if amount < length else "symmetric" if amount <= length else "edge"
            widths = [(0, 0)] * padded.ndim
            widths[axis] = (0, amount)
            padded = np.pad(padded, widths, mode=mode)
    return padded


@dataclasses.dataclass(frozen=True)
class AxisPlan:
    """The tiles along one (padded) image axis: input offsets `starts`, each `span` pixels long;
    `windows[i]` weighs the `span * scale` outputs of tile i; `total` is their sum over the
    `length * scale` outputs of the axis."""

    starts: tuple[int, ...]
    span: int
    windows: tuple[np.ndarray, ...]
    total: np.ndarray


def _ramp(distance: np.ndarray, width: int) -> np.ndarray:
    """Linear from EDGE_WEIGHT at distance 0 from an edge to 1 at `width` and beyond."""
    if width == 0:
        return np.ones(distance.shape, np.float32)
    return np.clip(distance / width, EDGE_WEIGHT, 1.0).astype(np.float32)


def plan_axis(length: int, tile: int, overlap: int, scale: int, multiple: int = 1) -> AxisPlan:
    """The tiles and blending windows along an axis of `length` input pixels, a multiple of
    `multiple` (see the module docstring)."""
    if length % multiple:
        raise ValueError(f"length {length} is not a multiple of {multiple}: pad it first")
    span = min(tile, length)
    stride = max((tile - overlap) // multiple * multiple, multiple)
    starts = (*range(0, length - span, stride), length - span)
    out_span, ramp_width = span * scale, overlap * scale
    distance = np.arange(out_span)
    windows, total = [], np.zeros(length * scale, np.float32)
    for start in starts:
        window = np.ones(out_span, np.float32)
        if start > 0:  # a neighbour before: fade in
            window = np.minimum(window, _ramp(distance, ramp_width))
        if start + span < length:  # a neighbour after: fade out
            window = np.minimum(window, _ramp(out_span - 1 - distance, ramp_width))
        windows.append(window)
        total[start * scale : start * scale + out_span] += window
    return AxisPlan(starts=starts, span=span, windows=tuple(windows), total=total)


def _run(fn: UpscaleFn, x_1xHxWxC: np.ndarray, scale: int) -> np.ndarray:
    y = np.asarray(fn(x_1xHxWxC), np.float32)
    _, h, w, _ = x_1xHxWxC.shape
    if y.ndim != 4 or y.shape[:3] != (1, h * scale, w * scale):
        raise ValueError(f"the generator turned {list(x_1xHxWxC.shape)} into {list(y.shape)}, "
                         f"not [1, {h * scale}, {w * scale}, C] (scale {scale})")
    return y


def upscale_whole(fn: UpscaleFn, image_HxWxC: np.ndarray, scale: int,
                  multiple: int = 1) -> np.ndarray:
    """fn of the whole image, padded to multiples of `multiple` and cropped back:
    [H*scale, W*scale, C'] float32."""
    h, w = image_HxWxC.shape[:2]
    padded = pad_to_multiple(np.asarray(image_HxWxC, np.float32), multiple)
    return _run(fn, padded[None], scale)[0, : h * scale, : w * scale]


def upscale_tiled(fn: UpscaleFn, image_HxWxC: np.ndarray, scale: int, tile: int, overlap: int,
                  multiple: int = 1,
                  on_tile: Callable[[int, int], None] | None = None) -> np.ndarray:
    """fn of overlapping tiles of the image, blended: [H*scale, W*scale, C'] float32.
    `on_tile(done, total)` is called after each tile (progress)."""
    check_tiling(tile, overlap, multiple)
    h, w = image_HxWxC.shape[:2]
    padded = pad_to_multiple(np.asarray(image_HxWxC, np.float32), multiple)
    rows = plan_axis(padded.shape[0], tile, overlap, scale, multiple)
    cols = plan_axis(padded.shape[1], tile, overlap, scale, multiple)
    out_h, out_w = rows.span * scale, cols.span * scale
    total, done, out = len(rows.starts) * len(cols.starts), 0, None
    for top, row_window in zip(rows.starts, rows.windows):
        for left, col_window in zip(cols.starts, cols.windows):
            x = padded[None, top : top + rows.span, left : left + cols.span]
            y = _run(fn, x, scale)[0]
            if out is None:
                out = np.zeros((padded.shape[0] * scale, padded.shape[1] * scale, y.shape[-1]),
                               np.float32)
            weights = row_window[:, None, None] * col_window[None, :, None]
            out[top * scale : top * scale + out_h, left * scale : left * scale + out_w] += (
                y * weights)
            done += 1
            if on_tile is not None:
                on_tile(done, total)
    out /= rows.total[:, None, None]
    out /= cols.total[None, :, None]
    return out[: h * scale, : w * scale]
