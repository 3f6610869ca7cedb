"""torchvision's VGG19 `features` (Simonyan & Zisserman 2015, configuration E) in Flax, and the
perceptual losses of the super-resolution family built on it, with torchvision's ImageNet weights
`vgg19-dcbb9e9d.pth`.

The network: five blocks of 3x3 convolutions (padding 1, with bias), each followed by a ReLU,
and a 2x2 max pool after each block: 16 convolutions, 20,024,384 parameters. The classifier is
left out. Layers carry BasicSR's names (`conv1_1` ... `conv5_4`); `CONV_LAYERS` maps each to its
index in torchvision's `features`, so `features.<i>.weight` / `features.<i>.bias` become
`params/<name>/kernel` (OIHW -> HWIO) / `params/<name>/bias`. `VGG19Features(layer,
before_activation)` stops at `layer` and returns its convolution output, or that output after
its ReLU. SRGAN's "VGG54" (the 4th convolution before the 5th pool, after activation) is
`conv5_4` after its ReLU; ESRGAN takes `conv5_4` before it.

Inputs are jaxgan images in [-1, 1], [B, H, W, 1 or 3]: mapped to [0, 1] by (x + 1) / 2, then
normalised with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), as
torchvision's weights expect (BasicSR's `VGGFeatureExtractor` with `use_input_norm`). A gray image
is repeated to 3 channels. Nothing is clipped, so a generator output slightly outside [-1, 1]
still gets its gradient.

The weights are never downloaded or substituted: `load_vgg19(path)` checks the file's full
sha256 and its layout, and raises one UserError naming the file, the expected hash and where
to get it otherwise. The variables it returns are an argument of every function here (a frozen
network in the train state), never a constant of the compiled program.
"""

from __future__ import annotations

import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import UserError
from jaxgan.evaluation.extractors.pth import PthFormatError, load_state_dict
from jaxgan.hashing import sha256_file
from jaxgan.models.lenet import max_pool_2x2

WEIGHTS_FILENAME = "vgg19-dcbb9e9d.pth"
WEIGHTS_URL = "https://download.pytorch.org/models/" + WEIGHTS_FILENAME
# The full sha256 of the file torchvision serves (574,673,361 bytes). torchvision itself only
# checks that the hash starts with the 8 hex digits in the file name (`check_hash`); jaxgan
# checks all 64.
OFFICIAL_SHA256 = "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44"
WEIGHTS_BYTES = 574_673_361

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Output channels of the convolutions of each block (configuration E); a max pool ends a block.
_BLOCKS = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))


def _conv_layers() -> tuple[tuple[str, int, int], ...]:
    """(name, index in torchvision's `features`, output channels) of each convolution."""
    layers, index = [], 0
    for block, widths in enumerate(_BLOCKS, start=1):
        for position, width in enumerate(widths, start=1):
            layers.append((f"conv{block}_{position}", index, width))
            index += 2  # the convolution, then its ReLU
        index += 1  # the block's max pool
    return tuple(layers)


CONV_LAYERS = _conv_layers()
LAYER_NAMES = tuple(name for name, _, _ in CONV_LAYERS)

# The published perceptual losses, as keyword arguments of `perceptual_loss` (bind them with
# functools.partial). The loss weight in the generator's total loss belongs to the family.
PRESETS: dict[str, dict[str, Any]] = {
    # Ledig et al. 2017: MSE between VGG54 features (after the ReLU), "VGG feature maps were
    # also rescaled by a factor of 1/12.75", i.e. the MSE times 1/12.75**2 (the paper's "~0.006").
    "srgan": {"layer": "conv5_4", "before_activation": False, "criterion": "mse",
              "feature_scale": 1.0 / 12.75},
    # Wang et al. 2018 / BasicSR's ESRGAN configs: L1 between conv5_4 features before the ReLU
    # (layer weight 1, perceptual_weight 1.0).
    "esrgan": {"layer": "conv5_4", "before_activation": True, "criterion": "l1",
               "feature_scale": 1.0},
}


def _check_layer(layer: str) -> None:
    if layer not in LAYER_NAMES:
        raise UserError(f"unknown VGG19 layer {layer!r}; choose one of {', '.join(LAYER_NAMES)}")


class VGG19Features(nn.Module):
    """[B, H, W, 3] ImageNet-normalised images -> the output of convolution `layer`, before or
    after its ReLU: [B, H / 2^k, W / 2^k, C] with k the pools before it (odd edges dropped, as
    PyTorch's `MaxPool2d(2, 2)` drops them)."""

    layer: str = "conv5_4"
    before_activation: bool = False

    @nn.compact
    def __call__(self, x_BxHxWx3: jax.Array) -> jax.Array:
        _check_layer(self.layer)
        x = x_BxHxWx3
        for block, widths in enumerate(_BLOCKS, start=1):
            if block > 1:
                x = max_pool_2x2(x)
            for position, width in enumerate(widths, start=1):
                name = f"conv{block}_{position}"
                x = nn.Conv(width, (3, 3), padding=((1, 1), (1, 1)), name=name)(x)
                if name == self.layer and self.before_activation:
                    return x
                x = nn.relu(x)
                if name == self.layer:
                    return x
        raise AssertionError("unreachable: the layer name was checked")


def preprocess(images_BxHxWxC: jax.Array) -> jax.Array:
    """[B, H, W, 1 or 3] images in [-1, 1] -> [B, H, W, 3] ImageNet-normalised inputs."""
    x = jnp.asarray(images_BxHxWxC, jnp.float32)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected images [B, H, W, 1 or 3], got shape {x.shape}")
    if x.shape[-1] == 1:
        x = jnp.repeat(x, 3, axis=-1)
    x = (x + 1.0) / 2.0
    return (x - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)


def perceptual_features(variables: Any, images_BxHxWxC: jax.Array, layer: str,
                        before_activation: bool) -> jax.Array:
    """The VGG19 features of `layer` (before or after its ReLU) of images in [-1, 1]."""
    module = VGG19Features(layer=layer, before_activation=before_activation)
    return module.apply(variables, preprocess(images_BxHxWxC))


def perceptual_loss(variables: Any, fake_BxHxWxC: jax.Array, real_BxHxWxC: jax.Array,
                    layer: str, before_activation: bool, criterion: str = "l1",
                    feature_scale: float = 1.0) -> jax.Array:
    """Mean over batch, positions and channels of |f(fake) - f(real)| ("l1") or
    (f(fake) - f(real))^2 ("mse"), with f the features of `layer` times `feature_scale`
    (PyTorch's L1Loss / MSELoss on the features, as BasicSR computes them). `PRESETS` holds
    SRGAN's and ESRGAN's choices. Both image batches go through the network as one batch; the
    real images' features are held constant (no gradient flows into them, as BasicSR detaches
    the ground truth). Images in [-1, 1], [B, H, W, 1 or 3]."""
    if criterion not in ("l1", "mse"):
        raise UserError(f"unknown perceptual loss criterion {criterion!r}; choose 'l1' or 'mse'")
    if fake_BxHxWxC.shape[:3] != real_BxHxWxC.shape[:3]:
        raise ValueError(f"fake {fake_BxHxWxC.shape} and real {real_BxHxWxC.shape} images differ "
                         "in batch or spatial size")
    n = fake_BxHxWxC.shape[0]
    both = jnp.concatenate([preprocess(fake_BxHxWxC), preprocess(real_BxHxWxC)], axis=0)
    module = VGG19Features(layer=layer, before_activation=before_activation)
    features = module.apply(variables, both) * feature_scale
    diff = features[:n] - jax.lax.stop_gradient(features[n:])
    return jnp.mean(jnp.abs(diff)) if criterion == "l1" else jnp.mean(jnp.square(diff))


# --- torchvision state dict -> Flax variables -----------------------------------------------


def expected_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """{key: torch shape} of the `features` tensors a vgg19 state dict must hold."""
    shapes, channels_in = {}, 3
    for _, index, width in CONV_LAYERS:
        shapes[f"features.{index}.weight"] = (width, channels_in, 3, 3)
        shapes[f"features.{index}.bias"] = (width,)
        channels_in = width
    return shapes


def variables_from_state_dict(state_dict: dict[str, np.ndarray]) -> dict[str, Any]:
    """Flax variables {"params": {conv1_1: {kernel, bias}, ...}} (float32 numpy) from
    torchvision's vgg19 state dict; `classifier.*` tensors are ignored. Raises PthFormatError
    when a `features` key is missing or unexpected (vgg19_bn's BatchNorm tensors, another
    depth) or a tensor has another shape."""
    expected = expected_state_dict_shapes()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key.startswith("features.") and key not in expected]
    if missing or unexpected:
        raise PthFormatError(
            f"not torchvision's vgg19 layout: {len(missing)} missing keys {missing[:3]}, "
            f"{len(unexpected)} unexpected keys {unexpected[:3]}"
        )
    wrong = [f"{key} {tuple(np.shape(state_dict[key]))} (expected {shape})"
             for key, shape in expected.items() if tuple(np.shape(state_dict[key])) != shape]
    if wrong:
        raise PthFormatError(f"{len(wrong)} tensors have the wrong shape: {', '.join(wrong[:3])}")
    params = {}
    for name, index, _ in CONV_LAYERS:
        weight = np.asarray(state_dict[f"features.{index}.weight"], np.float32)
        params[name] = {
            "kernel": np.ascontiguousarray(weight.transpose(2, 3, 1, 0)),  # OIHW -> HWIO
            "bias": np.asarray(state_dict[f"features.{index}.bias"], np.float32),
        }
    return {"params": params}


def _where_to_get_it(expected_sha256: str) -> str:
    return (f"Download {WEIGHTS_FILENAME} (sha256 {expected_sha256}) from {WEIGHTS_URL} and give "
            "its path; jaxgan never substitutes other VGG19 weights.")


def load_vgg19(path: str, expected_sha256: str = OFFICIAL_SHA256) -> dict[str, Any]:
    """The VGG19 variables from torchvision's `vgg19-dcbb9e9d.pth` at `path`, after checking
    the file's sha256 and its layout. A missing file, another hash or another layout raise one
    UserError that names the file, the expected hash and where to get the file."""
    if not path:
        raise UserError(f"no VGG19 weights given. {_where_to_get_it(expected_sha256)}")
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise UserError(f"VGG19 weights not found at {path}. {_where_to_get_it(expected_sha256)}")
    actual = sha256_file(path)
    if actual != expected_sha256.lower():
        raise UserError(f"{path} is not torchvision's VGG19 weights file: its sha256 is {actual}, "
                        f"expected {expected_sha256}. {_where_to_get_it(expected_sha256)}")
    try:
        return variables_from_state_dict(load_state_dict(path))
    except PthFormatError as e:
        raise UserError(f"cannot read VGG19 weights {path}: {e}. "
                        f"{_where_to_get_it(expected_sha256)}") from None
