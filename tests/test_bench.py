"""`python -m jaxgan.bench`: one JSON line with the required keys; the PyTorch reference has the
same networks; the fast stride-2 layers behind the benchmark numbers (custom VJPs, two forward
forms of UpConv2x) equal the stock operators, values and gradients."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, load_experiment

from jaxgan.errors import UserError
from jaxgan.models import dcgan
from jaxgan.models.layers import DownConv2x, UpConv2x, downconv2x
from jaxgan.state import num_params
from jaxgan.tools import bench

HAS_TORCH = importlib.util.find_spec("torch") is not None

# A few seconds to compile: 8x8 images, tiny widths (one stride-2 stage in G and D).
TINY = ["--config.dataset.image_size=8", "--config.model.ngf=4", "--config.model.ndf=4",
        "--config.model.latent_dim=8", "--batch_size=4"]
REQUIRED = {"img_per_s", "step_ms", "compile_s", "backend", "device_count", "batch_size", "config",
            "gflop_per_step", "gflop_per_s", "cpu_ms_per_step", "step_ms_runs"}


def _bench_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jaxgan.bench", "--config=experiments/dcgan_mnist.py:smoke", *args],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )


def test_cli_prints_one_json_line_with_the_required_keys():
    proc = _bench_cli(*TINY, "--steps=2", "--warmup=1", "--repeats=2", "--compare_torch")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    record = json.loads(lines[0])
    assert REQUIRED <= set(record), REQUIRED - set(record)
    assert record["batch_size"] == 4 and record["image_shape"] == [8, 8, 1]
    assert record["backend"] == "cpu" and record["device_count"] >= 1
    assert record["img_per_s"] > 0 and record["gflop_per_step"] > 0
    assert len(record["step_ms_runs"]) == 2
    assert record["config"].endswith("dcgan_mnist.py:smoke")
    if HAS_TORCH:
        assert record["torch_img_per_s"] > 0 and record["torch_threads"] == 2
        assert record["ratio"] == pytest.approx(record["img_per_s"] / record["torch_img_per_s"],
                                                rel=0.02)
    else:
        assert "torch" in record["torch_skipped"]


@pytest.mark.parametrize("args", [["--steps=0"], ["--config.model.bogus=1"], ["stray"],
                                  ["--input_pipeline", "--compare_torch"], ["--torch_reference=/x"],
                                  ["--input_pipeline", "--phases"]])
def test_cli_rejects_bad_flags_in_one_line(args):
    proc = _bench_cli(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_run_on_the_test_mesh():
    # conftest gives this process 4 CPU devices: the batch is sharded over all of them.
    config = load_experiment("dcgan_mnist")
    with config.unlocked():
        config.dataset.image_size, config.batch_size = 8, 8
        config.model.ngf = config.model.ndf = 4
    record = bench.run(config, steps=1, warmup=0, repeats=1)
    assert record["device_count"] == jax.device_count() == 4
    assert record["step_ms"] > 0 and record["img_per_s"] > 0


def test_phase_breakdown():
    # n_critic=2: D alone on every other step, then D and G; each phase is timed alone.
    config = load_experiment("dcgan_mnist")
    with config.unlocked():
        config.dataset.image_size, config.batch_size = 8, 8
        config.model.ngf = config.model.ndf = 4
        config.training.n_critic = 2
    record = bench.run(config, steps=2, warmup=0, repeats=1, phase_breakdown=True)
    assert record["phase_share"] == {"d": 0.5, "dg": 0.5}
    assert set(record["phase_ms"]) == {"d", "dg"} and min(record["phase_ms"].values()) > 0
    assert record["phase_gflop"]["dg"] > record["phase_gflop"]["d"] > 0
    # The step's FLOPs are the phases' FLOPs weighted by how often they run.
    per_step = sum(record["phase_gflop"][n] * record["phase_share"][n] for n in ("d", "dg"))
    assert per_step == pytest.approx(record["gflop_per_step"], rel=1e-2)
    assert "phase_ms" not in bench.run(config, steps=1, warmup=0, repeats=1)


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed (pip install -e '.[torch]')")
@pytest.mark.parametrize("size, channels", [(64, 3), (28, 1), (32, 3)])
def test_torch_reference_has_the_same_networks(size, channels):
    from jaxgan.tools import bench_torch

    g_torch = bench_torch.generator(size, channels, nz=100, ngf=64)
    d_torch = bench_torch.discriminator(size, channels, ndf=64)
    g_vars = jax.eval_shape(dcgan.Generator(size, channels, 64).init, jax.random.key(0),
                            jnp.zeros((1, 100)))
    d_vars = jax.eval_shape(dcgan.Discriminator(size, 64).init, jax.random.key(0),
                            jnp.zeros((1, size, size, channels)))
    g_count, d_count = (sum(p.numel() for p in net.parameters()) for net in (g_torch, d_torch))
    assert g_count == num_params(g_vars["params"])
    assert d_count == num_params(d_vars["params"])
    if size == 64:
        assert (g_count, d_count) == (3_576_704, 2_765_568)


@pytest.mark.parametrize("shape, features", [((2, 8, 6, 3), 5), ((3, 4, 4, 16), 32)])
def test_downconv_equals_stock_conv_and_its_gradients(shape, features):
    """DownConv2x (custom VJP) against `nn.Conv(4x4, stride 2, pad 1)` with the same kernel."""
    x = jax.random.normal(jax.random.key(0), shape)
    layer = DownConv2x(features)
    stock = nn.Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False)
    variables = layer.init(jax.random.key(1), x)
    chex.assert_trees_all_equal_shapes(variables, stock.init(jax.random.key(1), x))

    def loss(module, x, kernel):
        return jnp.sum(jnp.sin(module.apply({"params": {"kernel": kernel}}, x)))

    kernel = variables["params"]["kernel"]
    np.testing.assert_allclose(layer.apply(variables, x), stock.apply(variables, x), atol=1e-5)
    got = jax.jit(jax.grad(lambda x, k: loss(layer, x, k), argnums=(0, 1)))(x, kernel)
    want = jax.grad(lambda x, k: loss(stock, x, k), argnums=(0, 1))(x, kernel)
    chex.assert_trees_all_close(got, want, atol=1e-5)


@pytest.mark.parametrize("shape, features", [((2, 8, 6, 3), 5), ((3, 4, 4, 16), 32)])
def test_downconv_second_order_gradients_equal_the_stock_convs(shape, features):
    """A gradient penalty differentiates D's input gradient again, in x and in the kernel: the
    custom VJP of `downconv2x_transpose` must give XLA autodiff's second-order gradients."""
    x = jax.random.normal(jax.random.key(0), shape)
    kernel = 0.3 * jax.random.normal(jax.random.key(1), (4, 4, shape[-1], features))

    def stock(x, k):
        return jax.lax.conv_general_dilated(x, k, (2, 2), ((1, 1), (1, 1)),
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def penalty(conv, x, k):  # || d/dx sum(sin(conv(x, k))) ||^2, as a gradient penalty
        dx = jax.grad(lambda x: jnp.sum(jnp.sin(conv(x, k))))(x)
        return jnp.sum(jnp.square(dx))

    got = jax.jit(jax.grad(lambda x, k: penalty(downconv2x, x, k), argnums=(0, 1)))(x, kernel)
    want = jax.grad(lambda x, k: penalty(stock, x, k), argnums=(0, 1))(x, kernel)
    chex.assert_trees_all_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("features", [3, 32])  # the single-convolution and four-convolution forms
def test_upconv_equals_transposed_convolution_and_its_gradients(features):
    x = jax.random.normal(jax.random.key(0), (2, 4, 5, 6))
    layer = UpConv2x(features)
    kernel = layer.init(jax.random.key(1), x)["params"]["kernel"]

    def transposed_conv(x, k):  # PyTorch ConvTranspose2d(4, 2, 1): input-dilated, flipped kernel
        return jax.lax.conv_general_dilated(x, k[::-1, ::-1], (1, 1), ((2, 2), (2, 2)),
                                            lhs_dilation=(2, 2),
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def loss(fn, x, k):
        return jnp.sum(jnp.sin(fn(x, k)))

    def ours(x, k):
        return layer.apply({"params": {"kernel": k}}, x)

    np.testing.assert_allclose(ours(x, kernel), transposed_conv(x, kernel), atol=1e-5)
    got = jax.jit(jax.grad(lambda x, k: loss(ours, x, k), argnums=(0, 1)))(x, kernel)
    want = jax.grad(lambda x, k: loss(transposed_conv, x, k), argnums=(0, 1))(x, kernel)
    chex.assert_trees_all_close(got, want, atol=1e-5)


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed (pip install -e '.[torch]')")
def test_stylegan_torch_comparison_names_the_missing_reference(tmp_path, monkeypatch):
    from jaxgan.tools import bench_torch_stylegan

    monkeypatch.delenv(bench_torch_stylegan.ENV_VAR, raising=False)
    config = load_experiment("stylegan", "smoke")
    with pytest.raises(UserError, match="JAXGAN_STYLEGAN2_REFERENCE"):
        bench_torch_stylegan.TorchStyleGAN2Step(config)
    with pytest.raises(UserError, match="not a stylegan2-ada-pytorch checkout"):
        bench_torch_stylegan.TorchStyleGAN2Step(config, reference_dir=str(tmp_path))
    # A checkout whose own dependencies are missing: named as such, not "torch is missing".
    (tmp_path / "training").mkdir()
    for name in ("networks", "loss"):
        (tmp_path / "training" / f"{name}.py").write_text("import no_such_package_xyz\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        with pytest.raises(UserError, match="no_such_package_xyz.*install what it needs"):
            bench_torch_stylegan.TorchStyleGAN2Step(config, reference_dir=str(tmp_path))
    finally:
        for module in [m for m in sys.modules if m == "training" or m.startswith("training.")]:
            del sys.modules[module]


def test_input_pipeline_mode_reads_the_real_data():
    config = load_experiment("dcgan_mnist", "smoke")
    record = bench.run_input_pipeline(config, steps=3, warmup=1, repeats=2)
    assert record["input_pipeline"] and record["dataset"] == "mnist"
    assert record["img_per_s"] > 0 and len(record["batch_ms_runs"]) == 2
    assert record["image_shape"] == [config.dataset.image_size] * 2 + [1]
