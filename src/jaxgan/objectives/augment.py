"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to both the real and the
generated images that D sees, so gradients reach G through them.

Images are NHWC in [-1, 1], as in the reference code (its BigGAN and StyleGAN2 pipelines feed
[-1, 1] images; the brightness range U(-0.5, 0.5) is for that scale). Each op is also exposed with
explicit per-sample parameters; `diff_augment` draws them and applies the policy's groups in the
order given, as the reference does:

- color: brightness (add U(-0.5, 0.5)), saturation (scale the deviation from the per-pixel
  channel mean by U(0, 2)), contrast (scale the deviation from the per-image mean by U(0.5, 1.5));
- translation: an integer shift of up to 1/8 of the size along each axis, zero-filled;
- cutout: a zeroed square of half the size centred at a random position (clipped at the border).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgan.errors import UserError

POLICY_GROUPS = ("color", "translation", "cutout")


def _per_sample(v_B: jax.Array) -> jax.Array:
    return jnp.asarray(v_B)[:, None, None, None]


def brightness(images: jax.Array, delta_B: jax.Array) -> jax.Array:
    return images + _per_sample(delta_B).astype(images.dtype)


def saturation(images: jax.Array, factor_B: jax.Array) -> jax.Array:
    mean = jnp.mean(images, axis=-1, keepdims=True)
    return (images - mean) * _per_sample(factor_B).astype(images.dtype) + mean


def contrast(images: jax.Array, factor_B: jax.Array) -> jax.Array:
    mean = jnp.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * _per_sample(factor_B).astype(images.dtype) + mean


def translate(images: jax.Array, shift_x_B: jax.Array, shift_y_B: jax.Array) -> jax.Array:
    """out[b, i, j] = images[b, i - shift_y[b], j - shift_x[b]], zero where that falls outside:
    content moves right by shift_x and down by shift_y pixels (integers)."""
    _, h, w, _ = images.shape

    def one(image, sx, sy):
        rows = jnp.arange(h) - sy
        cols = jnp.arange(w) - sx
        inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
        moved = image[jnp.clip(rows, 0, h - 1)][:, jnp.clip(cols, 0, w - 1)]
        return jnp.where(inside[..., None], moved, jnp.zeros((), image.dtype))

    return jax.vmap(one)(images, jnp.asarray(shift_x_B, jnp.int32),
                         jnp.asarray(shift_y_B, jnp.int32))


def cutout(images: jax.Array, center_x_B: jax.Array, center_y_B: jax.Array,
           size: int | tuple[int, int]) -> jax.Array:
    """Zero a size_h x size_w rectangle whose rows are center_y - size_h // 2 ... + size_h - 1
    (columns likewise), clipped to the image."""
    size_h, size_w = (size, size) if isinstance(size, int) else size
    _, h, w, _ = images.shape
    top = _per_sample(jnp.asarray(center_y_B, jnp.int32) - size_h // 2)[..., 0]  # [B, 1, 1]
    left = _per_sample(jnp.asarray(center_x_B, jnp.int32) - size_w // 2)[..., 0]
    rows = jnp.arange(h)[None, :, None]
    cols = jnp.arange(w)[None, None, :]
    hole = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
    return jnp.where(hole[..., None], jnp.zeros((), images.dtype), images)


def parse_policy(policy: str) -> tuple[str, ...]:
    """"color,translation" -> ("color", "translation"); "" -> no augmentation."""
    groups = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [g for g in groups if g not in POLICY_GROUPS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {list(POLICY_GROUPS)}"
                         f" joined by commas, e.g. 'color,translation,cutout'")
    return groups


def config_policy(policy: str) -> str:
    """`augment.policy` from a config, checked: a bad one is a UserError naming the key."""
    try:
        parse_policy(policy)
    except ValueError as e:
        raise UserError(f"augment.policy: {e}") from None
    return policy


def _random_color(images: jax.Array, key: jax.Array) -> jax.Array:
    b = images.shape[0]
    kb, ks, kc = jax.random.split(key, 3)
    images = brightness(images, jax.random.uniform(kb, (b,)) - 0.5)
    images = saturation(images, jax.random.uniform(ks, (b,)) * 2.0)
    return contrast(images, jax.random.uniform(kc, (b,)) + 0.5)


def _random_translation(images: jax.Array, key: jax.Array, ratio: float = 0.125) -> jax.Array:
    b, h, w, _ = images.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    kx, ky = jax.random.split(key)
    return translate(images, jax.random.randint(kx, (b,), -max_x, max_x + 1),
                     jax.random.randint(ky, (b,), -max_y, max_y + 1))


def _random_cutout(images: jax.Array, key: jax.Array, ratio: float = 0.5) -> jax.Array:
    b, h, w, _ = images.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    kx, ky = jax.random.split(key)
    # The reference's centre range: [0, size] for even cutout sizes, [0, size) for odd ones.
    cy = jax.random.randint(ky, (b,), 0, h + 1 - size_h % 2)
    cx = jax.random.randint(kx, (b,), 0, w + 1 - size_w % 2)
    return cutout(images, cx, cy, (size_h, size_w))


_RANDOM_OPS = {
    "color": _random_color,
    "translation": _random_translation,
    "cutout": _random_cutout,
}


def diff_augment(images_BxHxWxC: jax.Array, key: jax.Array,
                 policy: str = "color,translation,cutout") -> jax.Array:
    """Random DiffAugment of a batch, differentiable w.r.t. the images; fresh parameters per
    sample. Use the same policy (and independent keys) on real and fake batches."""
    groups = parse_policy(policy)
    x = images_BxHxWxC
    for group, k in zip(groups, jax.random.split(key, max(len(groups), 1)), strict=False):
        x = _RANDOM_OPS[group](x, k)
    return x
