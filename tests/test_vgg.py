"""The VGG19 perceptual network: loading torchvision's state-dict layout (with random weights,
written by the torch-free .pth writer), the loader's refusals, the features against a NumPy
computation, the parameter count, the perceptual losses, and (with torch and torchvision
installed) parity with torchvision's own vgg19."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_inception import write_pth

from jaxgan.errors import UserError
from jaxgan.evaluation.extractors.pth import PthFormatError
from jaxgan.hashing import sha256_file
from jaxgan.models import vgg

# VGG configuration E (Simonyan & Zisserman 2015, Table 1), written out independently of the
# module: convolution widths, "M" a max pool.
_CONFIG_E = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
             512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]  # fmt: skip


def _torchvision_keys() -> dict[str, tuple[int, ...]]:
    """The `features` keys of torchvision's vgg19 state dict, walking `make_layers` by hand."""
    keys, index, channels_in = {}, 0, 3
    for item in _CONFIG_E:
        if item == "M":
            index += 1
            continue
        keys[f"features.{index}.weight"] = (item, channels_in, 3, 3)
        keys[f"features.{index}.bias"] = (item,)
        index += 2
        channels_in = item
    return keys


def random_vgg19_state_dict(seed: int = 0, classifier: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in _torchvision_keys().items():
        fan_in = np.prod(shape[1:]) if len(shape) > 1 else 1
        scale = np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.1
        state[key] = (rng.standard_normal(shape, np.float32) * scale).astype(np.float32)
    if classifier:  # the tensors a full vgg19 file also holds (small stand-ins: never read)
        for index in (0, 3, 6):
            state[f"classifier.{index}.weight"] = np.zeros((2, 3), np.float32)
            state[f"classifier.{index}.bias"] = np.zeros((2,), np.float32)
    return state


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """(path, sha256, state dict) of a full random vgg19 file in torchvision's layout."""
    state = random_vgg19_state_dict(classifier=True)
    path = tmp_path_factory.mktemp("vgg") / vgg.WEIGHTS_FILENAME
    write_pth(path, state)
    return str(path), sha256_file(str(path)), state


@pytest.fixture(scope="module")
def variables(weights):
    path, sha, _ = weights
    return vgg.load_vgg19(path, expected_sha256=sha)


def _images(seed: int, shape=(2, 20, 18, 3)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


# --- layout and loading --------------------------------------------------------------------------


def test_layer_table_matches_torchvision_indices():
    assert len(vgg.CONV_LAYERS) == 16
    assert vgg.expected_state_dict_shapes() == _torchvision_keys()
    index = {name: i for name, i, _ in vgg.CONV_LAYERS}
    # BasicSR's NAMES['vgg19'] positions: conv1_1 0, conv2_1 5, conv3_1 10, conv4_1 19, conv5_4 34
    assert (index["conv1_1"], index["conv2_1"], index["conv3_1"]) == (0, 5, 10)
    assert (index["conv4_1"], index["conv5_1"], index["conv5_4"]) == (19, 28, 34)


def test_load_maps_every_key(weights, variables):
    _, _, state = weights
    shapes = jax.eval_shape(vgg.VGG19Features().init, jax.random.key(0),
                            jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32))
    assert jax.tree.map(np.shape, variables) == jax.tree.map(lambda s: s.shape, shapes)
    for name, index, _ in vgg.CONV_LAYERS:
        np.testing.assert_array_equal(variables["params"][name]["kernel"],
                                      state[f"features.{index}.weight"].transpose(2, 3, 1, 0))
        np.testing.assert_array_equal(variables["params"][name]["bias"],
                                      state[f"features.{index}.bias"])


def test_parameter_count_is_torchvision_vgg19_features(variables):
    tally, channels_in = 0, 3
    for item in _CONFIG_E:
        if item != "M":
            tally += 3 * 3 * channels_in * item + item
            channels_in = item
    assert tally == 20_024_384
    assert sum(x.size for x in jax.tree.leaves(variables)) == tally


@pytest.mark.parametrize("damage", ["missing", "shape", "batchnorm"])
def test_wrong_layout_is_one_line_error(tmp_path, damage):
    state = random_vgg19_state_dict()
    if damage == "missing":
        del state["features.34.bias"]
        match = "1 missing keys \\['features.34.bias'\\]"
    elif damage == "shape":
        state["features.2.weight"] = state["features.2.weight"][:, :32]
        match = r"features.2.weight \(64, 32, 3, 3\) \(expected \(64, 64, 3, 3\)\)"
    else:  # vgg19_bn's layout: BatchNorm tensors between the convolutions
        state["features.1.running_mean"] = np.zeros(64, np.float32)
        match = "1 unexpected keys \\['features.1.running_mean'\\]"
    with pytest.raises(PthFormatError, match=match):
        vgg.variables_from_state_dict(state)
    path = tmp_path / "w.pth"
    write_pth(path, state)
    with pytest.raises(UserError, match=match) as error:
        vgg.load_vgg19(str(path), expected_sha256=sha256_file(str(path)))
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_wrong_hash_is_refused_naming_the_expected_hash(weights):
    path, actual, _ = weights
    with pytest.raises(UserError) as error:
        vgg.load_vgg19(path)
    message = str(error.value)
    assert vgg.OFFICIAL_SHA256 in message and actual in message and path in message
    assert vgg.WEIGHTS_URL in message and "\n" not in message


@pytest.mark.parametrize("given", ["missing", "empty"])
def test_missing_file_names_the_url_and_hash(tmp_path, given):
    path = str(tmp_path / vgg.WEIGHTS_FILENAME) if given == "missing" else ""
    with pytest.raises(UserError) as error:
        vgg.load_vgg19(path)
    message = str(error.value)
    assert vgg.WEIGHTS_URL in message and vgg.OFFICIAL_SHA256 in message and "\n" not in message
    assert path in message


def test_pinned_hash_has_torchvision_name_prefix():
    assert vgg.OFFICIAL_SHA256.startswith(vgg.WEIGHTS_FILENAME.split("-")[1][:8])
    assert len(vgg.OFFICIAL_SHA256) == 64 and int(vgg.OFFICIAL_SHA256, 16) >= 0


# --- features ------------------------------------------------------------------------------------


def _np_conv3x3(x_HxWxC: np.ndarray, weight_OIHW: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """PyTorch's Conv2d(kernel 3, padding 1): cross-correlation over a zero-padded image."""
    h, w, _ = x_HxWxC.shape
    padded = np.pad(x_HxWxC.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((h, w, weight_OIHW.shape[0])) + bias
    for dy in range(3):
        for dx in range(3):
            out += padded[dy : dy + h, dx : dx + w] @ weight_OIHW[:, :, dy, dx].T
    return out


def _np_first_block(image_HxWx3: np.ndarray, state: dict) -> dict[str, np.ndarray]:
    x = (image_HxWx3 + 1.0) / 2.0
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    conv1_1 = _np_conv3x3(x, state["features.0.weight"], state["features.0.bias"])
    conv1_2 = _np_conv3x3(np.maximum(conv1_1, 0), state["features.2.weight"],
                          state["features.2.bias"])
    relu1_2 = np.maximum(conv1_2, 0)
    h, w, c = relu1_2.shape
    pool1 = relu1_2[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))
    conv2_1 = _np_conv3x3(pool1, state["features.5.weight"], state["features.5.bias"])
    return {"conv1_1": conv1_1, "relu1_2": relu1_2, "conv2_1": conv2_1}


def test_features_match_numpy_first_block(weights, variables):
    _, _, state = weights
    images = _images(1, (2, 9, 11, 3))  # odd sizes: the pool drops the last row and column
    expected = [_np_first_block(image, state) for image in images]
    cases = [("conv1_1", True, "conv1_1"), ("conv1_2", False, "relu1_2"),
             ("conv2_1", True, "conv2_1")]
    for layer, before, key in cases:
        got = np.asarray(vgg.perceptual_features(variables, images, layer, before))
        want = np.stack([e[key] for e in expected])
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert np.asarray(vgg.perceptual_features(variables, images, "conv2_1", True)).shape == (
        2, 4, 5, 128)


@pytest.mark.parametrize("layer", ["conv3_2", "conv5_4"])
def test_before_and_after_activation_differ_by_relu(variables, layer):
    images = _images(2, (2, 32, 32, 3))
    before = vgg.perceptual_features(variables, images, layer, True)
    after = vgg.perceptual_features(variables, images, layer, False)
    np.testing.assert_array_equal(np.asarray(after), np.maximum(np.asarray(before), 0))
    assert (np.asarray(before) < 0).any()  # so the two really differ


def test_gray_input_equals_repeated_rgb(variables):
    gray = _images(3, (2, 16, 16, 1))
    rgb = np.repeat(gray, 3, axis=-1)
    for layer, before in [("conv2_2", False), ("conv4_1", True)]:
        np.testing.assert_array_equal(
            np.asarray(vgg.perceptual_features(variables, gray, layer, before)),
            np.asarray(vgg.perceptual_features(variables, rgb, layer, before)))


def test_unknown_layer_is_refused(variables):
    with pytest.raises(UserError, match="unknown VGG19 layer 'relu5_4'.*conv5_4"):
        vgg.perceptual_features(variables, _images(0, (1, 8, 8, 3)), "relu5_4", False)


# --- perceptual loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(vgg.PRESETS))
def test_perceptual_loss_zero_symmetric_and_its_formula(variables, preset):
    loss = jax.jit(functools.partial(vgg.perceptual_loss, **vgg.PRESETS[preset]))
    a, b = _images(4, (2, 32, 32, 3)), _images(5, (2, 32, 32, 3))
    assert float(loss(variables, a, a)) == 0.0
    ab, ba = float(loss(variables, a, b)), float(loss(variables, b, a))
    assert ab > 0
    np.testing.assert_allclose(ab, ba, rtol=1e-6)
    options = vgg.PRESETS[preset]
    fa, fb = (np.asarray(vgg.perceptual_features(variables, x, options["layer"],
                                                 options["before_activation"]), np.float64)
              for x in (a, b))
    diff = (fa - fb) * options["feature_scale"]
    want = np.mean(np.abs(diff)) if options["criterion"] == "l1" else np.mean(diff**2)
    np.testing.assert_allclose(ab, want, rtol=1e-4)


def test_presets_are_the_papers():
    assert vgg.PRESETS["srgan"] == {"layer": "conv5_4", "before_activation": False,
                                    "criterion": "mse", "feature_scale": 1 / 12.75}
    assert vgg.PRESETS["esrgan"] == {"layer": "conv5_4", "before_activation": True,
                                     "criterion": "l1", "feature_scale": 1.0}
    # Scaling the features by 1/12.75 scales the MSE by ~0.006, the factor the SRGAN paper quotes.
    assert round(vgg.PRESETS["srgan"]["feature_scale"] ** 2, 3) == 0.006


def test_loss_gradient_reaches_only_the_fake_images(variables):
    fake, real = _images(6, (1, 16, 16, 3)), _images(7, (1, 16, 16, 3))
    loss = functools.partial(vgg.perceptual_loss, layer="conv3_1", before_activation=True)
    d_fake, d_real = jax.grad(loss, argnums=(1, 2))(variables, fake, real)
    assert np.isfinite(np.asarray(d_fake)).all() and np.abs(np.asarray(d_fake)).sum() > 0
    np.testing.assert_array_equal(np.asarray(d_real), 0.0)


def test_unknown_criterion_is_refused(variables):
    a = _images(0, (1, 8, 8, 3))
    with pytest.raises(UserError, match="criterion 'l2'"):
        vgg.perceptual_loss(variables, a, a, "conv1_1", False, criterion="l2")


# --- parity with torchvision (only where torch is installed) -------------------------------------


def test_parity_with_torchvision(tmp_path):
    """torchvision's vgg19 with random weights, saved by torch.save, read by `load_vgg19`."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = torchvision.models.vgg19(weights=None).eval()
    with torch.no_grad():
        for module in net.features:
            if isinstance(module, torch.nn.Conv2d):
                module.bias.uniform_(-0.1, 0.1)  # torchvision initialises them to 0
    path = str(tmp_path / vgg.WEIGHTS_FILENAME)
    torch.save({f"features.{k}": v for k, v in net.features.state_dict().items()}, path)
    variables = vgg.load_vgg19(path, expected_sha256=sha256_file(path))
    images = _images(8, (2, 32, 32, 3))
    x = (torch.from_numpy(images).permute(0, 3, 1, 2) + 1) / 2
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    index = {name: i for name, i, _ in vgg.CONV_LAYERS}
    for layer, before in [("conv2_2", False), ("conv5_4", True), ("conv5_4", False)]:
        stop = index[layer] + (1 if before else 2)  # through the convolution, or its ReLU
        with torch.no_grad():
            want = net.features[:stop](x).permute(0, 2, 3, 1).numpy()
        got = np.asarray(vgg.perceptual_features(variables, images, layer, before))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
