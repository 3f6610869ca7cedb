"""The FID Inception port: torch-free .pth reading, the loader's refusals, pytorch-fid's resize,
and (with torch installed) parity with an independent PyTorch build of the same network."""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.errors import UserError
from jaxgan.evaluation.extractors import inception, load_extractor
from jaxgan.evaluation.extractors.pth import PthFormatError, load_state_dict
from jaxgan.hashing import sha256_file

# --- a torch-free writer of the .pth layouts (zip and legacy) ----------------------------------


def _fake_global(module: str, name: str) -> type:
    """A class that pickles as the global `module.name` (torch need not exist)."""
    return type(name, (), {"__module__": module, "__qualname__": name})


_REBUILD = _fake_global("torch._utils", "_rebuild_tensor_v2")
_STORAGE_TYPES = {
    np.dtype(np.float32): _fake_global("torch", "FloatStorage"),
    np.dtype(np.int64): _fake_global("torch", "LongStorage"),
}


class _Storage:
    def __init__(self, key: str, array: np.ndarray):
        self.key, self.array = key, np.ascontiguousarray(array).reshape(-1)


class _Tensor:
    def __init__(self, storage: _Storage, shape: tuple[int, ...]):
        self.storage, self.shape = storage, shape


class _PthPickler(pickle._Pickler):  # the pure-Python pickler lets us write fake globals
    def __init__(self, file, legacy: bool):
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            storage_type = _STORAGE_TYPES[obj.array.dtype]
            pid = ("storage", storage_type, obj.key, "cpu", obj.array.size)
            return (*pid, None) if self.legacy else pid
        return None

    def reducer_override(self, obj):
        if isinstance(obj, _Tensor):
            strides = tuple(int(np.prod(obj.shape[i + 1 :])) for i in range(len(obj.shape)))
            args = (obj.storage, 0, obj.shape, strides, False, collections.OrderedDict())
            return _REBUILD, args
        return NotImplemented

    def save_global(self, obj, name=None):
        if obj is _REBUILD or obj in _STORAGE_TYPES.values():
            self.write(pickle.GLOBAL + f"{obj.__module__}\n{obj.__qualname__}\n".encode())
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def write_pth(path, state_dict: dict[str, np.ndarray], legacy: bool = False) -> None:
    """Writes arrays as torch.save would (zip layout, or the pre-1.6 legacy stream)."""
    storages = {k: _Storage(str(i), v) for i, (k, v) in enumerate(state_dict.items())}
    obj = collections.OrderedDict(
        (k, _Tensor(storages[k], tuple(v.shape))) for k, v in state_dict.items()
    )
    buffer = io.BytesIO()
    if legacy:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
            pickle.dump(header, buffer, protocol=2)
        _PthPickler(buffer, legacy=True).dump(obj)
        keys = sorted(s.key for s in storages.values())
        pickle.dump(keys, buffer, protocol=2)
        by_key = {s.key: s for s in storages.values()}
        for key in keys:
            buffer.write(np.int64(by_key[key].array.size).tobytes())
            buffer.write(
                by_key[key].array.astype(by_key[key].array.dtype.newbyteorder("<")).tobytes()
            )
        path.write_bytes(buffer.getvalue())
        return
    _PthPickler(buffer, legacy=False).dump(obj)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        for storage in storages.values():
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())


def random_fid_state_dict(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in inception.expected_state_dict_shapes().items():
        if key.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) > 1:
            value = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[1:])), shape)
        else:
            value = rng.normal(0.0, 0.1, shape)
        state[key] = value.astype(np.float32)
        if key.endswith("bn.running_var"):
            state[key.replace("running_var", "num_batches_tracked")] = np.array(0, np.int64)
    return state


# --- reader --------------------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True])
def test_pth_reader_round_trip(tmp_path, legacy):
    rng = np.random.default_rng(1)
    state = {
        "a.weight": rng.normal(size=(3, 4, 2, 2)).astype(np.float32),
        "a.bias": rng.normal(size=(3,)).astype(np.float32),
        "n": np.array(7, np.int64),
    }
    write_pth(tmp_path / "w.pth", state, legacy=legacy)
    loaded = load_state_dict(str(tmp_path / "w.pth"))
    assert sorted(loaded) == sorted(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key], value)


def test_pth_reader_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    buffer = io.BytesIO()
    pickle.dump({"x": Evil()}, buffer, protocol=2)
    with zipfile.ZipFile(tmp_path / "evil.pth", "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
    with pytest.raises(PthFormatError, match="refusing to load .*print"):
        load_state_dict(str(tmp_path / "evil.pth"))


def test_state_dict_layout_matches_the_official_file():
    shapes = inception.expected_state_dict_shapes()
    # The official file holds 566 entries: these 472 tensors plus 94 num_batches_tracked.
    assert len(shapes) == 472
    assert sum(1 for k in shapes if k.endswith("running_var")) == 94
    assert sum(int(np.prod(s)) for s in shapes.values()) == 23_885_392
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Mixed_7c.branch_pool.conv.weight"] == (192, 2048, 1, 1)
    assert shapes["fc.weight"] == (1008, 2048)


# --- loader --------------------------------------------------------------------------------------


def test_missing_weights_error_names_file_hash_and_place(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    missing = tmp_path / "nowhere" / "pt_inception.pth"
    with pytest.raises(UserError) as err:
        inception.load_fid_inception(str(missing))
    message = str(err.value)
    assert str(missing) in message and "6726825d" in message
    assert "--inception_weights" in message and inception.WEIGHTS_ENV in message
    with pytest.raises(UserError, match="6726825d"):
        inception.load_fid_inception(None)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(missing))
    with pytest.raises(UserError, match="not found at .*nowhere"):
        inception.load_fid_inception()


def test_load_extractor_by_name(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    with pytest.raises(UserError, match="6726825d"):
        load_extractor("inception", inception_weights=str(tmp_path / "missing.pth"))
    with pytest.raises(UserError, match="unknown feature extractor 'vgg'"):
        load_extractor("vgg")


def test_wrong_hash_is_refused(tmp_path):
    path = tmp_path / inception.WEIGHTS_FILENAME
    write_pth(path, random_fid_state_dict())
    with pytest.raises(UserError) as err:
        inception.load_fid_inception(str(path))
    message = str(err.value)
    assert str(path) in message and "6726825d" in message and sha256_file(str(path))[:8] in message


def test_wrong_layout_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    write_pth(path, {"fc.weight": np.zeros((10, 3), np.float32)})
    with pytest.raises(UserError, match="not the FID Inception layout"):
        inception.load_fid_inception(str(path), expected_sha256=sha256_file(str(path)))


# --- preprocessing -------------------------------------------------------------------------------


def test_bilinear_matrix_closed_form():
    # PyTorch, align_corners=False, 2 -> 4: [a, 3/4 a + 1/4 b, 1/4 a + 3/4 b, b].
    np.testing.assert_allclose(
        inception.bilinear_resize_matrix(2, 4),
        [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]],
    )
    # 4 -> 2 samples at source 0.5 and 2.5 (no antialiasing).
    np.testing.assert_allclose(
        inception.bilinear_resize_matrix(4, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]]
    )
    rows = inception.bilinear_resize_matrix(28, 299)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-6)


def test_preprocess_range_and_gray_to_rgb():
    images = np.zeros((2, 28, 28, 1), np.uint8)
    images[1] = 255
    x = np.asarray(inception.preprocess(inception.to_unit_range(images)))
    assert x.shape == (2, 299, 299, 3)
    np.testing.assert_allclose(x[0], -1.0)
    np.testing.assert_allclose(x[1], 1.0, rtol=1e-6)
    floats = np.asarray(inception.to_unit_range(np.array([-1.0, 0.0, 1.0], np.float32)))
    np.testing.assert_allclose(floats, [0.0, 0.5, 1.0])


def test_forward_on_random_weights_without_torch(tmp_path):
    path = tmp_path / "random.pth"
    state = random_fid_state_dict()
    write_pth(path, state, legacy=True)
    extractor = inception.load_fid_inception(str(path), expected_sha256=sha256_file(str(path)))
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    features, logits = extractor(images, batch_size=2)  # two batches, the last one padded
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    assert np.all(np.isfinite(features)) and np.all(features >= 0)  # ReLU then average pool
    # logits_unbiased: the fc layer without its bias.
    np.testing.assert_allclose(logits, features @ state["fc.weight"].T, rtol=1e-4, atol=1e-4)
    assert extractor.weights_sha256 == sha256_file(str(path))


# --- parity with PyTorch (optional) --------------------------------------------------------------


def _torch_fid_inception(torch):
    """pytorch-fid's FID InceptionV3 rebuilt from torch.nn layers, as the reference."""
    nn, F = torch.nn, torch.nn.functional

    class Conv(nn.Module):
        def __init__(self, cin, cout, kernel, stride=1, padding=0):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
            self.bn = nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    def avg(x):
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)

    class A(nn.Module):
        def __init__(self, cin, pool):
            super().__init__()
            self.branch1x1 = Conv(cin, 64, 1)
            self.branch5x5_1, self.branch5x5_2 = Conv(cin, 48, 1), Conv(48, 64, 5, padding=2)
            self.branch3x3dbl_1 = Conv(cin, 64, 1)
            self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
            self.branch3x3dbl_3 = Conv(96, 96, 3, padding=1)
            self.branch_pool = Conv(cin, pool, 1)

        def forward(self, x):
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(avg(x))], 1)

    class B(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.branch3x3 = Conv(cin, 384, 3, stride=2)
            self.branch3x3dbl_1 = Conv(cin, 64, 1)
            self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
            self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

        def forward(self, x):
            bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return torch.cat([self.branch3x3(x), bd, F.max_pool2d(x, 3, 2)], 1)

    class C(nn.Module):
        def __init__(self, cin, c7):
            super().__init__()
            self.branch1x1 = Conv(cin, 192, 1)
            self.branch7x7_1 = Conv(cin, c7, 1)
            self.branch7x7_2 = Conv(c7, c7, (1, 7), padding=(0, 3))
            self.branch7x7_3 = Conv(c7, 192, (7, 1), padding=(3, 0))
            self.branch7x7dbl_1 = Conv(cin, c7, 1)
            self.branch7x7dbl_2 = Conv(c7, c7, (7, 1), padding=(3, 0))
            self.branch7x7dbl_3 = Conv(c7, c7, (1, 7), padding=(0, 3))
            self.branch7x7dbl_4 = Conv(c7, c7, (7, 1), padding=(3, 0))
            self.branch7x7dbl_5 = Conv(c7, 192, (1, 7), padding=(0, 3))
            self.branch_pool = Conv(cin, 192, 1)

        def forward(self, x):
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            bd = self.branch7x7dbl_1(x)
            for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
                bd = layer(bd)
            bd = self.branch7x7dbl_5(bd)
            return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(avg(x))], 1)

    class D(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.branch3x3_1, self.branch3x3_2 = Conv(cin, 192, 1), Conv(192, 320, 3, stride=2)
            self.branch7x7x3_1 = Conv(cin, 192, 1)
            self.branch7x7x3_2 = Conv(192, 192, (1, 7), padding=(0, 3))
            self.branch7x7x3_3 = Conv(192, 192, (7, 1), padding=(3, 0))
            self.branch7x7x3_4 = Conv(192, 192, 3, stride=2)

        def forward(self, x):
            b3 = self.branch3x3_2(self.branch3x3_1(x))
            b7 = self.branch7x7x3_1(x)
            for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
                b7 = layer(b7)
            return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)

    class E(nn.Module):
        def __init__(self, cin, use_max):
            super().__init__()
            self.use_max = use_max
            self.branch1x1 = Conv(cin, 320, 1)
            self.branch3x3_1 = Conv(cin, 384, 1)
            self.branch3x3_2a = Conv(384, 384, (1, 3), padding=(0, 1))
            self.branch3x3_2b = Conv(384, 384, (3, 1), padding=(1, 0))
            self.branch3x3dbl_1 = Conv(cin, 448, 1)
            self.branch3x3dbl_2 = Conv(448, 384, 3, padding=1)
            self.branch3x3dbl_3a = Conv(384, 384, (1, 3), padding=(0, 1))
            self.branch3x3dbl_3b = Conv(384, 384, (3, 1), padding=(1, 0))
            self.branch_pool = Conv(cin, 192, 1)

        def forward(self, x):
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
            pooled = F.max_pool2d(x, 3, 1, 1) if self.use_max else avg(x)
            return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.Conv2d_1a_3x3 = Conv(3, 32, 3, stride=2)
            self.Conv2d_2a_3x3 = Conv(32, 32, 3)
            self.Conv2d_2b_3x3 = Conv(32, 64, 3, padding=1)
            self.Conv2d_3b_1x1 = Conv(64, 80, 1)
            self.Conv2d_4a_3x3 = Conv(80, 192, 3)
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = A(192, 32), A(256, 64), A(288, 64)
            self.Mixed_6a = B(288)
            self.Mixed_6b, self.Mixed_6c = C(768, 128), C(768, 160)
            self.Mixed_6d, self.Mixed_6e = C(768, 160), C(768, 192)
            self.Mixed_7a = D(768)
            self.Mixed_7b, self.Mixed_7c = E(1280, use_max=False), E(2048, use_max=True)
            self.fc = nn.Linear(2048, 1008)

        def forward(self, x01):  # [B, 3, H, W] in [0, 1], as pytorch-fid's InceptionV3
            x = F.interpolate(x01, size=(299, 299), mode="bilinear", align_corners=False)
            x = 2 * x - 1
            x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
            x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
            x = F.max_pool2d(x, 3, 2)
            for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
                x = getattr(self, f"Mixed_{name}")(x)
            pool = F.adaptive_avg_pool2d(x, 1).flatten(1)
            return pool, pool @ self.fc.weight.T

    return Net()


@pytest.fixture(scope="module")
def torch_random_inception(tmp_path_factory):
    """(torch, the reference network with random weights, its .pth path, the Flax port)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = _torch_fid_inception(torch)
    # Calibrate BatchNorm statistics on random images so activations stay O(1) through the
    # 94 layers (with default statistics, random weights blow up or vanish).
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
    net.train()
    with torch.no_grad():
        net(torch.rand(2, 3, 40, 40))  # resized to 299x299 inside
    net.eval()
    state = net.state_dict()
    assert len(state) == 566  # as many entries as the official file
    path = tmp_path_factory.mktemp("inception") / "torch_random.pth"
    torch.save(state, path)
    extractor = inception.load_fid_inception(str(path), expected_sha256=sha256_file(str(path)))
    return torch, net, extractor


def test_parity_with_pytorch(torch_random_inception):
    torch, net, extractor = torch_random_inception
    # The same shapes as the torch-free test above: the jitted forward compiles once.
    images = np.random.default_rng(1).integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    features, logits = extractor(images, batch_size=2)
    with torch.no_grad():
        x01 = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
        ref_pool, ref_logits = (t.numpy() for t in net(x01))
    assert ref_pool.std() > 0.05  # a meaningful comparison, not of zeros
    # float32 through 94 layers in two libraries: agree to 1e-4 of the feature scale.
    scale = np.abs(ref_pool).max()
    np.testing.assert_allclose(features, ref_pool, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-4, atol=1e-4 * np.abs(ref_logits).max())


@pytest.mark.slow
def test_parity_with_pytorch_in_float64(torch_random_inception):
    # In float64 both sides are the same computation up to rounding (measured: 4e-13).
    torch, net, extractor = torch_random_inception
    images = np.random.default_rng(2).integers(0, 256, (1, 40, 40, 3), dtype=np.uint8)
    with jax.enable_x64(True):
        variables = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), extractor.variables)
        x = inception.preprocess(jnp.asarray(images, jnp.float64) / 255.0)
        pool64 = np.asarray(jax.jit(inception.FIDInceptionV3().apply)(variables, x)["pool"])
    with torch.no_grad():
        x01 = torch.from_numpy(images).permute(0, 3, 1, 2).double() / 255.0
        ref_pool64 = net.double()(x01)[0].numpy()
    net.float()
    np.testing.assert_allclose(pool64, ref_pool64, rtol=1e-9, atol=1e-9 * np.abs(ref_pool64).max())


def test_reader_matches_torch_load(tmp_path):
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    state = collections.OrderedDict(
        weight=torch.randn(4, 3, 2, 2, generator=generator),
        transposed=torch.randn(5, 3, generator=generator).t(),  # non-contiguous strides
        view=torch.arange(10.0)[2:7],  # a storage offset
        count=torch.tensor(7),
        half=torch.randn(3, generator=generator).half(),
    )
    for zip_layout in (True, False):
        path = tmp_path / f"state_{zip_layout}.pth"
        torch.save(state, path, _use_new_zipfile_serialization=zip_layout)
        loaded = load_state_dict(str(path))
        assert list(loaded) == list(state)
        for key, value in state.items():
            assert loaded[key].dtype == value.numpy().dtype
            np.testing.assert_array_equal(loaded[key], value.numpy())


@pytest.mark.parametrize("size", [28, 40, 512])
def test_resize_matches_torch_interpolate(size):
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(size).random((2, size, size, 3), dtype=np.float32)
    ours = np.asarray(inception.preprocess(images))
    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    ref = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    ref = (2 * ref - 1).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
