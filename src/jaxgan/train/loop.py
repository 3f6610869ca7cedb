"""The training loop shared by every family: mesh, sharded init or resume, the jitted phases,
logging, samples, checkpoints, preemption. It knows nothing about any one family."""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxgan import config_lib, data, generation, sharding
from jaxgan.checkpoint import Checkpointer
from jaxgan.data.folders import MissingSplit
from jaxgan.errors import UserError
from jaxgan.state import TrainState
from jaxgan.train.metric_writer import MetricWriter, Progress
from jaxgan.train.program import Program

SAMPLE_KEY = 0x5A4D  # folded into the seed for the fixed sample latents


class TrainingDiverged(UserError):
    """A non-finite loss or parameter: the run stops, the last good checkpoint is kept."""


def fetch(tree: Any) -> Any:
    """Host copy of replicated arrays (works in multi-process runs too)."""
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), tree)


class _Prefetcher:
    """Reads the next host batches in a thread so the step never waits on the input pipeline."""

    def __init__(self, iterator: data.BatchIterator, depth: int = 2):
        self._iterator, self._queue = iterator, queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop = False
        self._thread.start()

    def _run(self):
        try:
            while not self._stop:
                self._queue.put((self._iterator.position, next(self._iterator)))
        except Exception as e:  # noqa: BLE001 - surfaced in the main thread
            self._queue.put((None, e))

    def next(self) -> tuple[int, dict[str, np.ndarray]]:
        """(the stream position after this batch, the batch)."""
        position, item = self._queue.get()
        if position is None:
            raise item
        return position + self._iterator.global_batch_size, item

    def close(self):
        self._stop = True
        while self._thread.is_alive():  # unblock a put() waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)


class _Preemption:
    """SIGTERM -> save and exit 0. Across processes, JAX's preemption sync point agrees on the
    step."""

    def __init__(self):
        self.requested = False
        self.multi = jax.process_count() > 1
        if not self.multi:
            self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def reached(self, step: int) -> bool:
        if self.multi:
            return multihost_utils.reached_preemption_sync_point(step)
        return self.requested

    def restore(self):
        if not self.multi:
            signal.signal(signal.SIGTERM, self._previous)


def _barrier(name: str) -> Callable[[], None]:
    def wait():
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(name)
    return wait


def batch_iterator(config, source, spec, position: int) -> data.BatchIterator:
    """This process's slice of the config's global batch stream, from example `position`."""
    return data.BatchIterator(
        source, config.batch_size, config.seed, spec,
        position=position, process_index=jax.process_index(),
        process_count=jax.process_count(),
    )


def train(config, workdir: str) -> TrainState:
    """Trains `config` in `workdir`, resuming from its latest checkpoint. Returns the final
    state."""
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise UserError(f"--workdir={workdir} is a file; give a directory (new or of a run)")
    mesh = sharding.make_mesh(config.mesh)
    sharding.check_batch_size(config.batch_size, mesh, config.accumulate_steps)
    primary = jax.process_index() == 0
    program = Program(config, mesh)
    source = data.load_source(config.dataset, seed=config.seed, prepare=primary,
                              barrier=_barrier("data"))
    data.check_fields(source, program.batch_spec(0))  # before anything is written

    checkpointer = Checkpointer(workdir, config.keep_checkpoints)
    restored = checkpointer.restore_latest(program.abstract_state)
    if restored is None:
        state, position = program.init(), 0
        _say(f"new run in {workdir}: {config.num_train_steps} steps of batch {config.batch_size} "
             f"on {mesh.size} device(s), {jax.process_count()} process(es)")
    else:
        state, meta = restored
        state = program.with_frozen(state)
        position = int(meta["data_position"])
        done = int(meta["step"]) >= config.num_train_steps
        _say(f"resumed {workdir} from step {meta['step']} (data position {position})"
             + (f"; it is already complete ({config.num_train_steps} steps): raise "
                "--config.num_train_steps to train further" if done else ""))
    start_step = int(fetch(state.step))
    if primary:  # only after the checkpoint matched this config: a failed resume changes nothing
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config_lib.to_json(config))

    spec = program.batch_spec(start_step)
    iterator = batch_iterator(config, source, spec, position)
    writer = MetricWriter(workdir, active=primary)
    progress = Progress(config.num_train_steps, active=primary)
    sample_key = jax.random.fold_in(jax.random.key(config.seed), SAMPLE_KEY)
    sample_inputs = sample_target = None
    if program.export.condition is not None:
        try:  # a fixed held-out batch; the first training examples when there is no such split
            sample_inputs, sample_target = generation.condition_examples(
                program.export, config.dataset, config.num_sample_images)
        except MissingSplit:
            _say(f"sample grids show training examples: the {program.export.condition.split} "
                 "split cannot be read")
            sample_inputs, sample_target = generation.condition_examples(
                program.export, config.dataset, config.num_sample_images,
                split=config.dataset.split)
    else:
        sample_inputs = generation.fixed_inputs(program.export, config.dataset, sample_key,
                                                config.num_sample_images)
    preemption = _Preemption()
    prefetcher = _Prefetcher(iterator) if start_step < config.num_train_steps else None

    def save(step: int, position: int):
        if not bool(fetch(program.all_finite(state))):
            raise TrainingDiverged(
                f"parameters are not finite at step {step}; not saving. The last good checkpoint "
                f"(step {checkpointer.latest_step()}) is kept in {checkpointer.directory}"
            )
        checkpointer.save(state, {"step": step, "data_position": position,
                                  "global_batch_size": config.batch_size})

    def log(step: int, metrics, elapsed: float, steps: int, first: bool):
        values = {k: float(v) for k, v in fetch(metrics).items()}
        bad = {k: v for k, v in values.items() if not np.isfinite(v)}
        if bad:
            raise TrainingDiverged(
                f"non-finite metrics at step {step}: {bad}. Training stopped; the last good "
                f"checkpoint (step {checkpointer.latest_step()}) is kept in "
                f"{checkpointer.directory}. Lower the learning rates or check the data."
            )
        values["steps_per_s"] = steps / elapsed
        values["images_per_s"] = steps * config.batch_size / elapsed
        if first:
            values.update(program.param_counts())
        writer.scalars(step, values)
        progress.report(step, values)

    def samples(step: int):
        outputs = fetch(program.generate(program.generation_vars(state), sample_inputs))
        images, columns = generation.picture(program.export, sample_inputs, outputs,
                                             sample_target)
        writer.samples(step, images, columns)

    step, pending, last_log = start_step, None, (time.perf_counter(), start_step)
    metrics: dict[str, Any] = {}
    first_log, stage = start_step == 0, program.stage(start_step)
    try:
        while step < config.num_train_steps:
            step_spec = program.batch_spec(step)
            if step_spec != spec:  # a new stage (image size): the same stream, re-batched
                prefetcher.close()
                spec = step_spec
                prefetcher = _Prefetcher(batch_iterator(config, source, spec, position))
            position, host_batch = prefetcher.next()
            batch = sharding.global_batch(host_batch, mesh)
            state, step_metrics = program.step(state, batch, step)
            # The latest value of every quantity: a step that skips a phase (n_critic, lazy
            # regularizers) keeps reporting that phase's last values, until the family moves
            # to another stage (the GAN after pretraining), whose phases never run the old ones.
            step_stage = program.stage(step)
            if step_stage != stage:
                metrics, stage = {}, step_stage
            metrics = {**metrics, **step_metrics}
            step += 1
            if pending is not None:  # fetch the previous log step's metrics after dispatching
                log(*pending)
                pending = None
            if step % config.log_every_steps == 0 or step == config.num_train_steps:
                now = time.perf_counter()
                pending = (step, metrics, now - last_log[0], step - last_log[1], first_log)
                last_log, first_log = (now, step), False
            if step % config.sample_every_steps == 0 or step == config.num_train_steps:
                samples(step)
            preempted = preemption.reached(step)  # every step: multi-process sync needs it
            if step % config.checkpoint_every_steps == 0 or step == config.num_train_steps:
                save(step, position)
            if preempted:
                if step % config.checkpoint_every_steps and step != config.num_train_steps:
                    save(step, position)
                _say(f"preempted: checkpoint saved at step {step}; rerun the same command to "
                     "resume")
                break
        if pending is not None:
            log(*pending)
    finally:
        if prefetcher is not None:
            prefetcher.close()
        preemption.restore()
        checkpointer.close()
        writer.close()
    return state


def _say(message: str) -> None:
    if jax.process_index() == 0:
        print(message, flush=True)


def write_json(path: str, payload: dict) -> None:
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
