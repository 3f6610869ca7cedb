"""The FID InceptionV3 in Flax: a port of pytorch-fid's network (TensorFlow's 2015-12-05
Inception graph) loading the official `pt_inception-2015-12-05-6726825d.pth`.

It differs from torchvision's InceptionV3 as pytorch-fid's `FIDInceptionA/C/E_1/E_2` do: the
3x3 average pools in the A, C and first E blocks exclude the zero padding from the average
(TensorFlow's behaviour), the last E block max-pools instead, and the classifier has 1008
outputs. Outputs: `pool` (2048-d final average pool, FID's features), `logits` (fc with bias),
`logits_unbiased` (fc without bias: what the original Inception Score code applied its softmax
to, and torch-fidelity's `isc` feature).

Preprocessing (`PREPROCESSING`) is pytorch-fid's: images in [0, 1] (uint8 / 255, or (x + 1) / 2
for [-1, 1] floats), gray repeated to RGB, resized to 299x299 with
`F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False)` (half-pixel centres,
source coordinates clamped at 0, no antialiasing even when shrinking), then mapped to [-1, 1] by
2x - 1. The resize here is that formula written as two interpolation matrices.

The weights are never downloaded or substituted: `load_fid_inception` takes a path (or
$JAXGAN_INCEPTION_WEIGHTS), checks the file's sha256 and refuses anything else.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import UserError
from jaxgan.evaluation.extractors.pth import PthFormatError, load_state_dict
from jaxgan.hashing import sha256_file

WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILENAME
)
# The full sha256 of the official file (95,628,359 bytes); torch.hub names files by its prefix.
OFFICIAL_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
WEIGHTS_ENV = "JAXGAN_INCEPTION_WEIGHTS"
INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008
PREPROCESSING = (
    "pytorch-fid: [0,1] (uint8/255 or (x+1)/2), gray->RGB, "
    "F.interpolate(299x299, bilinear, align_corners=False, no antialias), 2x-1"
)


class BasicConv(nn.Module):
    """Conv (no bias) + BatchNorm (eps 1e-3, running statistics) + ReLU."""

    features: int
    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ph, pw = self.padding
        x = nn.Conv(
            self.features,
            self.kernel,
            self.strides,
            padding=((ph, ph), (pw, pw)),
            use_bias=False,
            name="conv",
        )(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def _avg_pool_3x3_excluding_padding(x: jax.Array) -> jax.Array:
    return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


class FIDInceptionA(nn.Module):
    pool_features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b1 = BasicConv(64, (1, 1), name="branch1x1")(x)
        b5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
        b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
        b3 = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
        bp = BasicConv(self.pool_features, (1, 1), name="branch_pool")(
            _avg_pool_3x3_excluding_padding(x)
        )
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = BasicConv(384, (3, 3), strides=(2, 2), name="branch3x3")(x)
        bd = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = BasicConv(96, (3, 3), strides=(2, 2), name="branch3x3dbl_3")(bd)
        bp = nn.max_pool(x, (3, 3), (2, 2))
        return jnp.concatenate([b3, bd, bp], axis=-1)


class FIDInceptionC(nn.Module):
    channels_7x7: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c7 = self.channels_7x7
        b1 = BasicConv(192, (1, 1), name="branch1x1")(x)
        b7 = BasicConv(c7, (1, 1), name="branch7x7_1")(x)
        b7 = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv(c7, (1, 1), name="branch7x7dbl_1")(x)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv(192, (1, 1), name="branch_pool")(_avg_pool_3x3_excluding_padding(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
        b3 = BasicConv(320, (3, 3), strides=(2, 2), name="branch3x3_2")(b3)
        b7 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
        b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv(192, (3, 3), strides=(2, 2), name="branch7x7x3_4")(b7)
        bp = nn.max_pool(x, (3, 3), (2, 2))
        return jnp.concatenate([b3, b7, bp], axis=-1)


class FIDInceptionE(nn.Module):
    """pytorch-fid's FIDInceptionE_1 (pool="avg", padding excluded) and FIDInceptionE_2
    (pool="max": the TensorFlow graph max-pools in the last block)."""

    pool: str

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b1 = BasicConv(320, (1, 1), name="branch1x1")(x)
        b3 = BasicConv(384, (1, 1), name="branch3x3_1")(x)
        b3 = jnp.concatenate(
            [
                BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3),
            ],
            axis=-1,
        )
        bd = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate(
            [
                BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd),
            ],
            axis=-1,
        )
        if self.pool == "avg":
            pooled = _avg_pool_3x3_excluding_padding(x)
        else:
            pooled = nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)))
        bp = BasicConv(192, (1, 1), name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
    """[B, H, W, 3] images in [-1, 1] (299x299 for FID) -> dict(pool, logits, logits_unbiased)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        x = BasicConv(32, (3, 3), strides=(2, 2), name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        x = nn.max_pool(x, (3, 3), (2, 2))
        x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
        x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
        x = nn.max_pool(x, (3, 3), (2, 2))
        x = FIDInceptionA(32, name="Mixed_5b")(x)
        x = FIDInceptionA(64, name="Mixed_5c")(x)
        x = FIDInceptionA(64, name="Mixed_5d")(x)
        x = InceptionB(name="Mixed_6a")(x)
        x = FIDInceptionC(128, name="Mixed_6b")(x)
        x = FIDInceptionC(160, name="Mixed_6c")(x)
        x = FIDInceptionC(160, name="Mixed_6d")(x)
        x = FIDInceptionC(192, name="Mixed_6e")(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = FIDInceptionE("avg", name="Mixed_7b")(x)
        x = FIDInceptionE("max", name="Mixed_7c")(x)
        pool = jnp.mean(x, axis=(1, 2))
        fc = nn.Dense(NUM_CLASSES, name="fc")
        logits = fc(pool)
        logits_unbiased = logits - fc.variables["params"]["bias"]
        return {"pool": pool, "logits": logits, "logits_unbiased": logits_unbiased}


# --- state dict <-> Flax variables ------------------------------------------------------------

_BN = {"weight": ("params", "scale"), "bias": ("params", "bias"),
       "running_mean": ("batch_stats", "mean"), "running_var": ("batch_stats", "var")}  # fmt: skip


@functools.cache
def _variable_shapes() -> dict[str, Any]:
    dummy = jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32)
    return jax.eval_shape(FIDInceptionV3().init, jax.random.key(0), dummy)


def _torch_layout() -> dict[str, tuple[str, tuple[str, ...], tuple[int, ...]]]:
    """{torch state-dict key: (collection, Flax path, torch shape)} for every tensor we load."""
    layout = {}
    flat = jax.tree_util.tree_flatten_with_path(_variable_shapes())[0]
    for key_path, leaf in flat:
        collection, *path = (k.key for k in key_path)
        *module, leaf_name = path
        shape = tuple(leaf.shape)
        if module[-1] == "conv":  # Flax HWIO -> torch OIHW
            torch_name, shape = "weight", (shape[3], shape[2], shape[0], shape[1])
        elif module[-1] == "fc":
            torch_name = "weight" if leaf_name == "kernel" else "bias"
            shape = shape[::-1]
        else:
            torch_name = {v: k for k, v in _BN.items()}[(collection, leaf_name)]
        layout[".".join([*module, torch_name])] = (collection, tuple(path), shape)
    return layout


def expected_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """{key: shape} of the tensors a FID Inception .pth must hold (num_batches_tracked aside)."""
    return {key: shape for key, (_, _, shape) in _torch_layout().items()}


def variables_from_state_dict(state_dict: dict[str, np.ndarray]) -> dict[str, Any]:
    """Flax variables {"params", "batch_stats"} from pytorch-fid's state dict; raises
    PthFormatError when keys or shapes differ from the FID Inception layout."""
    layout = _torch_layout()
    extra = sorted(
        k for k in state_dict if k not in layout and not k.endswith(".num_batches_tracked")
    )
    missing = sorted(k for k in layout if k not in state_dict)
    if extra or missing:
        raise PthFormatError(
            f"not the FID Inception layout: {len(missing)} missing keys {missing[:3]}, "
            f"{len(extra)} unexpected keys {extra[:3]}"
        )
    variables: dict[str, Any] = {"params": {}, "batch_stats": {}}
    for key, (collection, path, shape) in layout.items():
        value = np.asarray(state_dict[key], np.float32)
        if value.shape != shape:
            raise PthFormatError(f"{key} has shape {value.shape}, expected {shape}")
        if value.ndim == 4:
            value = value.transpose(2, 3, 1, 0)
        elif value.ndim == 2:
            value = value.T
        node = variables[collection]
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = jnp.asarray(value)
    return variables


# --- preprocessing ------------------------------------------------------------------------------


def bilinear_resize_matrix(in_size: int, out_size: int, dtype: Any = np.float32) -> np.ndarray:
    """[out, in] weights of PyTorch's `interpolate(mode='bilinear', align_corners=False)` along
    one axis: source = (dst + 0.5) * in / out - 0.5, clamped below at 0; the right neighbour is
    clamped to the last pixel. Rounded as PyTorch's CPU kernel rounds in `dtype`: the scale in
    `dtype`, then the source coordinate as one fused multiply-add (float32 weights then match
    PyTorch's bit for bit)."""
    dt = np.dtype(dtype).type
    scale = dt(in_size) / dt(out_size)
    # For float32 the float64 product is exact, so one rounding at the end is the FMA's.
    src = (np.float64(scale) * (np.arange(out_size) + 0.5) - 0.5).astype(dt)
    src = np.maximum(src, dt(0))
    left = np.minimum(src.astype(np.int64), in_size - 1)
    right = np.minimum(left + 1, in_size - 1)
    frac = np.clip(src - left.astype(dt), dt(0), dt(1))
    matrix = np.zeros((out_size, in_size), dt)
    np.add.at(matrix, (np.arange(out_size), left), dt(1) - frac)
    np.add.at(matrix, (np.arange(out_size), right), frac)
    return matrix


def to_unit_range(images: np.ndarray | jax.Array) -> jax.Array:
    """uint8 -> x / 255; floats are taken as [-1, 1] (jaxgan's generator range) -> (x + 1) / 2."""
    if images.dtype == np.uint8:
        return jnp.asarray(images, jnp.float32) / 255.0
    return jnp.clip((jnp.asarray(images, jnp.float32) + 1.0) / 2.0, 0.0, 1.0)


def preprocess(images_unit_BxHxWxC: jax.Array) -> jax.Array:
    """[B, H, W, 1 or 3] in [0, 1] -> [B, 299, 299, 3] in [-1, 1], as pytorch-fid does."""
    x = images_unit_BxHxWxC
    if x.shape[-1] == 1:
        x = jnp.repeat(x, 3, axis=-1)
    _, h, w, _ = x.shape
    if (h, w) != (INPUT_SIZE, INPUT_SIZE):
        rows = jnp.asarray(bilinear_resize_matrix(h, INPUT_SIZE, x.dtype))
        cols = jnp.asarray(bilinear_resize_matrix(w, INPUT_SIZE, x.dtype))
        hi = jax.lax.Precision.HIGHEST
        x = jnp.einsum("oh,bhwc->bowc", rows, x, precision=hi)
        x = jnp.einsum("pw,bowc->bopc", cols, x, precision=hi)
    return 2.0 * x - 1.0


@jax.jit
def _features_and_logits(variables, images_unit):
    out = FIDInceptionV3().apply(variables, preprocess(images_unit))
    return out["pool"], out["logits_unbiased"]


@dataclasses.dataclass(frozen=True)
class FIDInception:
    """The loaded FID Inception as a feature extractor: `(features, logits) = extractor(images)`."""

    variables: Any
    weights_sha256: str
    weights_path: str
    name: str = "inception_fid"
    preprocessing: str = PREPROCESSING
    feature_dim: int = FEATURE_DIM
    num_classes: int = NUM_CLASSES

    def __call__(self, images: Any, batch_size: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """uint8 or [-1, 1] float [N, H, W, 1|3] -> (pool features [N, 2048], logits_unbiased
        [N, 1008]) as float32 numpy, computed in jitted batches (the last one padded)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise UserError(f"expected images [N, H, W, 1 or 3], got shape {images.shape}")
        features, logits = [], []
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            n = len(batch)
            batch = np.pad(batch, ((0, batch_size - n), (0, 0), (0, 0), (0, 0)))
            f, lg = _features_and_logits(self.variables, to_unit_range(batch))
            features.append(np.asarray(f)[:n])
            logits.append(np.asarray(lg)[:n])
        if not features:
            return np.zeros((0, FEATURE_DIM), np.float32), np.zeros((0, NUM_CLASSES), np.float32)
        return np.concatenate(features), np.concatenate(logits)


# --- loading ----------------------------------------------------------------------------------


def _where_to_put_it(expected_sha256: str) -> str:
    return (
        f"Download {WEIGHTS_FILENAME} (sha256 {expected_sha256[:8]}...) from {WEIGHTS_URL} and "
        f"pass --inception_weights=PATH or set {WEIGHTS_ENV}=PATH. jaxgan never substitutes "
        "other Inception weights: their FID is not comparable."
    )


def load_fid_inception(
    path: str | None = None, expected_sha256: str = OFFICIAL_SHA256
) -> FIDInception:
    """Loads the FID Inception from `path` (else $JAXGAN_INCEPTION_WEIGHTS) after checking the
    file's sha256. A missing file, a wrong hash or a wrong layout raise UserError."""
    path = path or os.environ.get(WEIGHTS_ENV) or ""
    if not path:
        raise UserError(f"no FID Inception weights given. {_where_to_put_it(expected_sha256)}")
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise UserError(
            f"FID Inception weights not found at {path}. {_where_to_put_it(expected_sha256)}"
        )
    actual = sha256_file(path)
    if actual != expected_sha256.lower():
        raise UserError(
            f"{path} is not the FID Inception weights file: its sha256 is {actual[:8]}..., "
            f"expected {expected_sha256[:8]}... Refusing it. {_where_to_put_it(expected_sha256)}"
        )
    try:
        variables = variables_from_state_dict(load_state_dict(path))
    except PthFormatError as e:
        raise UserError(f"cannot read FID Inception weights {path}: {e}") from None
    return FIDInception(variables=variables, weights_sha256=actual, weights_path=path)
