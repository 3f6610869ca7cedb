"""Train-step throughput on synthetic data, optionally side by side with a PyTorch eager reference.

    python -m jaxgan.bench --config=experiments/dcgan_64.py --batch_size=64 --compare_torch

Prints one JSON line. The step is the family's own `train_step`, jitted exactly as training does
(state donated and laid out by `config.sharding`, batch sharded over the mesh's data axis); only
the input pipeline is replaced by a fixed random batch. Timings are the best of `--repeats` runs
of `--steps` steps after `--warmup` steps, because the machines this runs on are shared and the
best run is the one least disturbed by others; every run is reported too so the noise is
visible. With `--compare_torch` the
JAX and PyTorch runs alternate, so both see the same background load.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags
from ml_collections import config_flags

from jaxgan import sharding
from jaxgan.errors import UserError
from jaxgan.models import layers

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Global batch size (overrides the config).")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps per run.")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps after compiling.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs; the best is reported.")
_COMPARE_TORCH = flags.DEFINE_bool("compare_torch", False, "Also time the PyTorch eager step.")
_TORCH_THREADS = flags.DEFINE_integer("torch_threads", 2, "torch.set_num_threads for the reference.")
_TORCH_REFERENCE = flags.DEFINE_string(
    "torch_reference", "", "StyleGAN2 configs: a stylegan2-ada-pytorch checkout to time against "
    "(default: $JAXGAN_STYLEGAN2_REFERENCE)."
)
_INPUT_PIPELINE = flags.DEFINE_bool(
    "input_pipeline", False, "Time the config's real input pipeline (read, shuffle, decode, "
    "preprocess, device transfer) instead of the train step."
)
_PHASES = flags.DEFINE_bool(
    "phases", False,
    "Also time each compiled phase alone, steps/4 calls (at least 2) per run (StyleGAN2: "
    "G_main, G_reg, D_main, D_reg, G_ema; the gan family: d, dg), and the reference's phases "
    "with --compare_torch on a StyleGAN2 config.")
_PEAK = flags.DEFINE_float(
    "peak_gflop_per_s", None, "This machine's peak FP32 GFLOP/s; adds the fraction of it reached."
)


def _time_runs(step: Callable[[], Any], steps: int) -> tuple[float, float]:
    """(wall, process CPU) seconds for `steps` calls of `step`, waiting for the last result.

    CPU time is the steadier number on a loaded machine: other processes stretch the wall time of
    a step much more than the work it does."""
    start, cpu_start = time.perf_counter(), time.process_time()
    out = None
    for _ in range(steps):
        out = step()
    jax.block_until_ready(out)
    return time.perf_counter() - start, time.process_time() - cpu_start


def _flops(compiled) -> float:
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older jax: one dict per computation
        analysis = analysis[0] if analysis else {}
    return float((analysis or {}).get("flops", 0.0))


def synthetic_batch(program, batch_size: int) -> dict[str, jax.Array]:
    """A fixed random batch of the family's batch spec: images uniform in [-1, 1], labels
    cycling through the classes."""
    rng = np.random.default_rng(0)
    classes = max(program.export.num_classes, 1)
    batch = {}
    for name, field in program.batch_spec(0).items():
        if field.is_image:
            value = rng.uniform(-1.0, 1.0, (batch_size, *field.shape)).astype(np.float32)
        else:
            value = (np.arange(batch_size) % classes).astype(field.dtype)
        batch[name] = jax.device_put(jnp.asarray(value), program.batch_sharding)
    return batch


class JaxStep:
    """The family's train step, compiled by `train.Program` exactly as training compiles it (same
    shardings, donation and compiler options), on a fixed random batch. A step runs the phases
    the family schedules for it (lazy regularizers, n_critic), so timing many steps amortises
    them as training does."""

    CYCLE = 64  # steps scanned for the phases a run uses (covers every lazy interval we ship)

    def __init__(self, config) -> None:
        from jaxgan.train.program import Program

        mesh = sharding.make_mesh(config.mesh)
        sharding.check_batch_size(config.batch_size, mesh, config.accumulate_steps)
        self.program = program = Program(config, mesh)
        self.devices = mesh.devices.size
        self.image_shape = program.export.image_shape
        self.state = program.init()
        self.batch = synthetic_batch(program, config.batch_size)
        self.compiler_options = layers.compiler_options(jax.default_backend())
        self.schedule = schedule = [program.phases(s) for s in range(self.CYCLE)]
        names = sorted({name for step in schedule for name in step})
        start = time.perf_counter()
        self.compiled = {name: program.phase(name).lower(self.state, self.batch).compile()
                         for name in names}
        self.compile_s = time.perf_counter() - start
        # Cost analysis describes one device's program; the data-parallel step runs one per
        # device. Per step: the phases' FLOPs averaged over the schedule.
        self.phase_flops = flops = {name: _flops(c) * self.devices
                                    for name, c in self.compiled.items()}
        self.flop_per_step = sum(flops[n] for step in schedule for n in step) / self.CYCLE
        self.phase_names = names
        self._step = 0

    def phase_share(self) -> dict[str, float]:
        """How often each phase runs per step (1 for every step, 1/16 for lazy R1 at 16)."""
        return {n: sum(n in step for step in self.schedule) / self.CYCLE
                for n in self.phase_names}

    def run_phase(self, name: str) -> Any:
        self.state, metrics = self.compiled[name](self.state, self.batch)
        return metrics

    def __call__(self) -> Any:
        metrics = {}
        for name in self.program.phases(self._step):
            self.state, metrics = self.compiled[name](self.state, self.batch)
        self._step += 1
        return metrics


def _torch_dcgan(config, torch_threads: int, torch_reference: str):
    from jaxgan.tools import bench_torch

    return bench_torch.TorchStep(config, num_threads=torch_threads)


def _torch_stylegan2(config, torch_threads: int, torch_reference: str):
    from jaxgan.tools import bench_torch_stylegan

    return bench_torch_stylegan.TorchStyleGAN2Step(config, torch_reference, torch_threads)


# The PyTorch code each family is timed against: PyTorch's DCGAN example, NVlabs' StyleGAN2.
TORCH_REFERENCES = {"gan": _torch_dcgan, "stylegan": _torch_stylegan2}


def _torch_step(config, torch_threads: int, torch_reference: str):
    """The PyTorch side for this config's family; ImportError when torch is not installed."""
    if config.family not in TORCH_REFERENCES:
        raise UserError(f"--compare_torch: no PyTorch reference for family {config.family!r} "
                        f"(there are references for {', '.join(TORCH_REFERENCES)})")
    return TORCH_REFERENCES[config.family](config, torch_threads, torch_reference)


def _time_phases(step, names: list[str], calls: int, repeats: int) -> dict[str, float]:
    """Milliseconds per call of each phase alone (best of `repeats` runs of `calls` calls)."""
    out = {}
    for name in names:
        call = functools.partial(step.run_phase, name)
        _time_runs(call, 1)
        best = min(_time_runs(call, calls)[0] for _ in range(repeats))
        out[name] = round(1e3 * best / calls, 2)
    return out


def run(config, steps: int, warmup: int, repeats: int, compare_torch: bool = False,
        torch_threads: int = 2, peak_gflop_per_s: float | None = None,
        config_name: str = "", torch_reference: str = "",
        phase_breakdown: bool = False) -> dict[str, Any]:
    """Times the train step of `config` and returns the result record (the JSON line)."""
    jax_step = JaxStep(config)
    torch_step = None
    note = None
    if compare_torch:
        try:
            torch_step = _torch_step(config, torch_threads, torch_reference)
        except ImportError as e:
            if (e.name or "").split(".")[0] != "torch":
                raise  # a broken install of something else is not "torch is missing"
            note = f"torch comparison skipped: {e} (pip install -e '.[torch]')"
            print(note, file=sys.stderr)

    _time_runs(jax_step, warmup)
    if torch_step is not None:
        _time_runs(torch_step, warmup)
    jax_runs, torch_runs = [], []
    for _ in range(repeats):
        jax_runs.append([t / steps for t in _time_runs(jax_step, steps)])
        if torch_step is not None:
            torch_runs.append([t / steps for t in _time_runs(torch_step, steps)])

    b = config.batch_size
    step_s, cpu_s = min(jax_runs)
    record = {
        "img_per_s": round(b / step_s, 2),
        "step_ms": round(1e3 * step_s, 2),
        "step_ms_runs": [round(1e3 * t, 1) for t, _ in jax_runs],
        "cpu_ms_per_step": round(1e3 * cpu_s, 1),
        "compile_s": round(jax_step.compile_s, 2),
        "backend": jax.default_backend(),
        "device_count": jax_step.devices,
        "batch_size": b,
        "image_shape": list(jax_step.image_shape),
        "config": config_name,
        "gflop_per_step": float(f"{jax_step.flop_per_step / 1e9:.5g}"),
        "gflop_per_s": round(jax_step.flop_per_step / 1e9 / step_s, 1),
        "steps": steps,
        "repeats": repeats,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "compiler_options": jax_step.compiler_options,
        "phases": jax_step.phase_names,
    }
    if peak_gflop_per_s:
        record["peak_fraction"] = round(record["gflop_per_s"] / peak_gflop_per_s, 3)
    if torch_step is not None:
        torch_s, torch_cpu_s = min(torch_runs)
        record.update(
            torch_img_per_s=round(b / torch_s, 2),
            torch_step_ms=round(1e3 * torch_s, 2),
            torch_step_ms_runs=[round(1e3 * t, 1) for t, _ in torch_runs],
            torch_cpu_ms_per_step=round(1e3 * torch_cpu_s, 1),
            torch_version=torch_step.version,
            torch_threads=torch_threads,
            ratio=round(torch_s / step_s, 3),
            torch_params=list(torch_step.num_params()),
        )
        record["params"] = list(jax_step.program.param_counts().values())
    elif note:
        record["torch_skipped"] = note
    if phase_breakdown:
        # Each phase alone: ms per call, GFLOP per call, and runs per step (lazy regularizers
        # run on 1/interval of the steps), so ms x share summed is the amortised step.
        share = jax_step.phase_share()
        calls = max(2, steps // 4)
        record["phase_calls"] = calls
        record["phase_ms"] = _time_phases(jax_step, jax_step.phase_names, calls, repeats)
        record["phase_share"] = {n: round(v, 4) for n, v in share.items()}
        record["phase_gflop"] = {n: float(f"{v / 1e9:.5g}")
                                 for n, v in jax_step.phase_flops.items()}
        if torch_step is not None and hasattr(torch_step, "run_phase"):
            record["torch_phase_ms"] = _time_phases(torch_step, torch_step.phase_names(),
                                                    calls, repeats)
    return record


def run_input_pipeline(config, steps: int, warmup: int, repeats: int,
                       config_name: str = "") -> dict[str, Any]:
    """Times what the training loop's prefetch thread does per batch, on the real data: the
    iterator's gather, decode and preprocessing, then the transfer to the mesh."""
    from jaxgan import data, families
    from jaxgan.train.loop import batch_iterator

    mesh = sharding.make_mesh(config.mesh)
    sharding.check_batch_size(config.batch_size, mesh, config.accumulate_steps)
    start = time.perf_counter()
    source = data.load_source(config.dataset, prepare=True, barrier=lambda: None)
    load_s = time.perf_counter() - start
    family = families.get(config.family)
    spec = family.batch_spec(family.setup(config), 0)
    iterator = batch_iterator(config, source, spec, position=0)

    def one_batch():
        return sharding.global_batch(next(iterator), mesh)

    _time_runs(one_batch, warmup)
    runs = [[t / steps for t in _time_runs(one_batch, steps)] for _ in range(repeats)]
    batch_s, cpu_s = min(runs)
    return {
        "input_pipeline": True,
        "img_per_s": round(config.batch_size / batch_s, 1),
        "batch_ms": round(1e3 * batch_s, 3),
        "batch_ms_runs": [round(1e3 * t, 3) for t, _ in runs],
        "cpu_ms_per_batch": round(1e3 * cpu_s, 3),
        "source_load_s": round(load_s, 2),
        "dataset": config.dataset.name,
        "batch_size": config.batch_size,
        "image_shape": [config.dataset.image_size] * 2 + [config.dataset.channels],
        "config": config_name,
        "backend": jax.default_backend(),
        "device_count": mesh.size,
        "steps": steps,
        "repeats": repeats,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    config = _CONFIG.value
    if config is None:
        raise UserError("--config=FILE is required (e.g. experiments/dcgan_64.py)")
    if _BATCH_SIZE.value is not None:
        with config.unlocked():
            config.batch_size = _BATCH_SIZE.value
    if _STEPS.value < 1 or _REPEATS.value < 1 or _WARMUP.value < 0:
        raise UserError("--steps and --repeats must be at least 1 and --warmup at least 0")
    if _TORCH_REFERENCE.value and not _COMPARE_TORCH.value:
        raise UserError("--torch_reference is only used with --compare_torch")
    if _INPUT_PIPELINE.value:
        if _COMPARE_TORCH.value or _PHASES.value:
            raise UserError("--input_pipeline times the data only; drop --compare_torch and "
                            "--phases")
        record = run_input_pipeline(config, _STEPS.value, _WARMUP.value, _REPEATS.value,
                                    flags.FLAGS["config"].config_filename)
        print(json.dumps(record), flush=True)
        return
    record = run(config, _STEPS.value, _WARMUP.value, _REPEATS.value, _COMPARE_TORCH.value,
                 _TORCH_THREADS.value, _PEAK.value, flags.FLAGS["config"].config_filename,
                 _TORCH_REFERENCE.value, _PHASES.value)
    print(json.dumps(record), flush=True)

