"""The real command lines on the real MNIST files: outputs, dry runs, sampling, bad input,
preemption, plain-orbax restore, several devices and processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import FAST_COMPILE_FLAGS, REPO, load_experiment, preflight

EXPERIMENTS = sorted(p.stem for p in (REPO / "experiments").glob("*.py"))
# Their presets' preflights, with the reference parameter counts, are in their own test files
# (StyleGAN2's: every phase of every preset traced in test_stylegan).
PREFLIGHT_ELSEWHERE = {"pix2pix": "test_translation", "cyclegan": "test_translation",
                       "srgan": "test_srgan", "stylegan": "test_stylegan"}
SMOKE = f"--config={REPO / 'experiments' / 'dcgan_mnist.py'}:smoke"


def run_cli(*args, env=None, timeout=300, check=True):
    """`python -m ARGS` in the repo; one device and the suite's fast-compile flags (conftest)
    unless `env` sets XLA_FLAGS itself."""
    full_env = {**os.environ, "XLA_FLAGS": FAST_COMPILE_FLAGS, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=REPO, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def assert_one_line_error(proc, pattern):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and pattern in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def assert_samples_by_class(workdir, tmp_path, what):
    """`jaxgan.sample` of a model with 10 classes or InfoGAN codes (`what`): --class=3 and
    --class=7 (same latents) draw different images (kept as 3.png and 7.png in tmp_path), the
    default grid has a column per class, and --class=10 is one clear error."""
    from PIL import Image

    for label in (3, 7):
        run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=4", f"--class={label}",
                f"--out={tmp_path / f'{label}.png'}")
    pixels = {label: np.asarray(Image.open(tmp_path / f"{label}.png")) for label in (3, 7)}
    assert not np.array_equal(pixels[3], pixels[7]), f"{what} 3 and 7 drew the same images"
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=20", f"--out={tmp_path / 'g.png'}")
    assert Image.open(tmp_path / "g.png").size == (10 * 30 + 2, 2 * 30 + 2), f"a column per {what}"
    proc = run_cli("jaxgan.sample", f"--workdir={workdir}", "--class=10",
                   f"--out={tmp_path / 'x.png'}", check=False)
    assert_one_line_error(proc, "--class must be in [0, 10)")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One smoke run of the real CLI, shared by the read-only checks below."""
    workdir = tmp_path_factory.mktemp("cli") / "run"
    proc = run_cli("jaxgan.main", SMOKE, f"--workdir={workdir}")
    return workdir, proc


def test_training_writes_every_output(trained):
    workdir, proc = trained
    config = json.loads((workdir / "config.json").read_text())
    assert config["dataset"]["name"] == "mnist" and config["num_train_steps"] == 4
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm",
                "steps_per_s", "images_per_s"):
        assert all(np.isfinite(r[key]) for r in records), key
    assert records[0]["params/G"] > 0 and records[0]["params/D"] > 0
    assert any(p.name.startswith("events.out.tfevents") for p in (workdir / "tensorboard").iterdir())
    assert (workdir / "samples" / "step_4.png").is_file()
    assert sorted(os.listdir(workdir / "checkpoints")) == ["2", "4"]
    assert "step 4/4" in proc.stderr and "ETA" in proc.stderr


def test_checkpoint_restores_with_plain_orbax(trained):
    workdir, _ = trained
    code = (
        "import sys, jax, orbax.checkpoint as ocp, numpy as np\n"
        f"path = '{workdir}/checkpoints/4/net_G'\n"
        "ckpt = ocp.StandardCheckpointer()\n"
        "dev = jax.sharding.SingleDeviceSharding(jax.devices()[0])\n"
        "target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=dev),\n"
        "                      ckpt.metadata(path).item_metadata.tree)\n"
        "tree = ckpt.restore(path, target)\n"
        "assert 'jaxgan' not in sys.modules\n"
        "k = tree['params']['project']['kernel']\n"
        "print(type(k).__name__, k.shape, np.isfinite(np.asarray(k)).all())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "(16, 784) True" in proc.stdout, proc.stdout + proc.stderr


def test_sample_grid_and_interpolation(trained, tmp_path):
    workdir, _ = trained
    from PIL import Image
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=9", f"--out={tmp_path}/g.png")
    assert Image.open(tmp_path / "g.png").size == (3 * 30 + 2, 3 * 30 + 2)
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=2", "--interpolate", "--frames=5",
            f"--out={tmp_path}/i.png")
    assert Image.open(tmp_path / "i.png").size == (5 * 30 + 2, 2 * 30 + 2)


def test_a_run_from_before_a_config_key_existed_still_samples(trained, tmp_path):
    import shutil
    workdir = tmp_path / "old"
    shutil.copytree(trained[0], workdir)
    config = json.loads((workdir / "config.json").read_text())
    for key in ("regularizer", "d_layers", "training", "augment"):  # keys the schema gained later
        del config[key]
    del config["model"]["num_classes"]
    (workdir / "config.json").write_text(json.dumps(config))
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=4", f"--out={tmp_path}/o.png")
    assert (tmp_path / "o.png").exists()


@pytest.mark.parametrize("experiment", [e for e in EXPERIMENTS if e not in PREFLIGHT_ELSEWHERE])
def test_every_experiment_passes_the_preflight(experiment):
    counts = preflight(load_experiment(experiment, None))
    assert len(counts) >= 2 and all(v > 0 for v in counts.values())  # G(s) and D(s)


def test_dry_run_reports_sizes_and_cost_and_writes_no_checkpoint(tmp_path):
    proc = run_cli("jaxgan.main", f"--config={REPO / 'experiments' / 'dcgan_64.py'}",
                   f"--workdir={tmp_path}", "--dry_run")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["params/G"], summary["params/D"]) == (3576704, 2765568)
    phases = summary["phases"]
    assert summary["step_gflop"] > 0 and all(summary[f"phase/{name}/gflop"] > 0 for name in phases)
    assert all(summary[f"phase/{name}/memory/temp_size_in_bytes"] > 0 for name in phases)
    assert all(summary[f"phase/{name}/memory/per_device_bytes"] > 0 for name in phases)
    # Parameters and Adam's two moments (12 bytes a parameter), BatchNorm statistics, the step:
    # all of it on the one device.
    total = summary["state_bytes_total"]
    assert summary["state_bytes_per_device"] == total
    assert 12 * (3576704 + 2765568) < total < 12.01 * (3576704 + 2765568)
    assert "trainable parameters" in proc.stdout and "MiB per device" in proc.stdout
    assert not (tmp_path / "checkpoints").exists()


def test_unknown_config_key(tmp_path):
    proc = run_cli("jaxgan.main", SMOKE, f"--workdir={tmp_path}", "--config.batch_sise=8",
                   check=False)
    assert_one_line_error(proc, "batch_sise")


def test_missing_data_directory(tmp_path):
    proc = run_cli("jaxgan.main", SMOKE, f"--workdir={tmp_path}",
                   f"--config.dataset.data_dir={tmp_path}/nope", check=False)
    assert_one_line_error(proc, "holds no mnist IDX files")


def test_batch_not_divisible_by_devices(tmp_path):
    proc = run_cli("jaxgan.main", SMOKE, f"--workdir={tmp_path}", "--config.batch_size=6",
                   env={"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}, check=False)
    assert_one_line_error(proc, "not divisible by the 4 devices")


def test_corrupt_latest_checkpoint_falls_back_and_keeps_it(trained, tmp_path):
    import shutil
    workdir = tmp_path / "run"
    shutil.copytree(trained[0], workdir)
    ocdbt = next((workdir / "checkpoints" / "4" / "net_G").rglob("manifest.ocdbt"))
    ocdbt.write_bytes(b"garbage")
    proc = run_cli("jaxgan.main", SMOKE, f"--workdir={workdir}", "--config.num_train_steps=6")
    assert "checkpoint step 4 is unreadable" in proc.stdout
    assert "moved it to" in proc.stderr  # the checkpointer's warning (module logger) is shown
    assert "resumed" in proc.stdout and "from step 2" in proc.stdout
    kept = list((workdir / "checkpoints_corrupt").iterdir())
    assert len(kept) == 1 and kept[0].name.startswith("4_")
    assert sorted(os.listdir(workdir / "checkpoints")) == ["2", "4", "6"]


def test_sigterm_saves_a_checkpoint_and_exits_zero(tmp_path):
    workdir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxgan.main", SMOKE, f"--workdir={workdir}",
         "--config.num_train_steps=100000", "--config.checkpoint_every_steps=100000",
         "--config.log_every_steps=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    metrics = workdir / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "preempted: checkpoint saved at step" in out
    steps = [int(s) for s in os.listdir(workdir / "checkpoints")]
    assert len(steps) == 1 and steps[0] >= 2


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _restore_params(workdir):
    from jaxgan.checkpoint import restore_plain
    step = max(int(s) for s in os.listdir(workdir / "checkpoints"))
    return {name: restore_plain(str(workdir / "checkpoints" / str(step) / name))
            for name in ("net_G", "net_D")}


def test_two_processes_match_one(tmp_path):
    args = [SMOKE, "--config.num_train_steps=3", "--config.checkpoint_every_steps=3"]
    run_cli("jaxgan.main", *args, f"--workdir={tmp_path / 'one'}")
    port = _free_port()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "jaxgan.main", *args, f"--workdir={tmp_path / 'two'}",
         f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2", f"--process_id={i}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO) for i in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    assert "2 process(es)" in outputs[0][0]
    one, two = _restore_params(tmp_path / "one"), _restore_params(tmp_path / "two")
    import jax
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(two)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5, rtol=1e-4)


def test_rough_edges_a_new_user_hits(trained, tmp_path):
    workdir, _ = trained
    afile = tmp_path / "afile"
    afile.write_text("")
    for command in (["jaxgan.main", SMOKE], ["jaxgan.main", SMOKE, "--dry_run"]):
        proc = run_cli(*command, f"--workdir={afile}", check=False)
        assert_one_line_error(proc, "is a file; give a directory")
        assert proc.stderr.startswith("jaxgan.main: error:")
    for command in ("jaxgan.sample", "jaxgan.evaluate"):
        proc = run_cli(command, f"--workdir={afile}", check=False)
        assert_one_line_error(proc, "is a file")
    proc = run_cli("jaxgan.main", f"--config={tmp_path / 'nope.py'}:smoke",
                   f"--workdir={tmp_path}", check=False)
    assert_one_line_error(proc, f"config file not found: {tmp_path / 'nope.py'}")
    # A run's config.json without a checkpoint yet: evaluating it once says so, exit 2.
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((workdir / "config.json").read_text())
    proc = run_cli("jaxgan.evaluate", f"--workdir={empty}", "--once", check=False)
    assert_one_line_error(proc, "no checkpoint in")
    for command in ("jaxgan.main", "jaxgan.evaluate", "jaxgan.sample", "jaxgan.report"):
        assert run_cli(command, "--help").returncode == 0
    # Sampling prints what it wrote, not orbax's notices about read-only checkpoints.
    proc = run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=4",
                   f"--out={tmp_path / 's.png'}")
    assert "read_only" not in proc.stderr and "read only" not in proc.stderr, proc.stderr
    # Training a finished run again says it is complete.
    import shutil
    done = tmp_path / "done"
    shutil.copytree(workdir, done)
    proc = run_cli("jaxgan.main", SMOKE, f"--workdir={done}")
    assert "it is already complete (4 steps)" in proc.stdout


def test_the_package_knows_its_version():
    import jaxgan
    assert jaxgan.__version__.count(".") >= 2, jaxgan.__version__


def test_cifar10_experiments_train_from_the_tarball(tmp_path):
    """The CIFAR-10 experiments run from a cifar-10-python.tar.gz a user supplies (here a small
    one in the official format), and their default metrics are the Inception ones, which
    need the FID weights: one clear error without them."""
    from test_download import _write_cifar_archive

    data = tmp_path / "cifar"
    data.mkdir()
    _write_cifar_archive(data / "cifar-10-python.tar.gz", per_batch=8)
    workdir = tmp_path / "run"
    env = {"JAXGAN_TFDS_DIR": str(tmp_path / "tfds")}
    run_cli("jaxgan.main", f"--config={REPO / 'experiments' / 'sngan_cifar10.py'}:smoke",
            f"--workdir={workdir}", f"--config.dataset.data_dir={data}", env=env)
    assert (workdir / "checkpoints" / "4").is_dir()
    config = json.loads((workdir / "config.json").read_text())
    assert config["dataset"]["name"] == "cifar10" and config["dataset"]["channels"] == 3
    proc = run_cli("jaxgan.evaluate", f"--workdir={workdir}", "--once", env=env, check=False)
    assert_one_line_error(proc, "Inception")
