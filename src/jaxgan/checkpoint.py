"""Orbax checkpoints of the train state: arrays only (no pickled code), one item per part so the
evaluator restores just the generator, plus a JSON item with the data-order position.

Layout of `DIR/checkpoints/<step>/`: `generator/`, `discriminator/`, `optimizer/`, `train/`
(step, rng, family extras) as orbax PyTree items, `generator_ema/` when the model keeps an EMA
generator, and `meta/` (JSON). Each restores with plain
orbax, e.g. `ocp.StandardCheckpointer().restore(DIR/checkpoints/<step>/generator)`.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Any

import flax.serialization
import jax
import orbax.checkpoint as ocp

from jaxgan.errors import UserError
from jaxgan.state import TrainState

_log = logging.getLogger(__name__)

ARRAY_ITEMS = ("generator", "discriminator", "optimizer", "train", "generator_ema")
QUARANTINE_DIR = "checkpoints_corrupt"


def state_to_items(state: TrainState) -> dict[str, Any]:
    to_dict = flax.serialization.to_state_dict
    items = {
        "generator": state.generator,
        "discriminator": state.discriminator,
        "optimizer": {"generator": to_dict(state.g_opt_state), "discriminator": to_dict(state.d_opt_state)},
        "train": {"step": state.step, "rng": state.rng, "extra": state.extra},
    }
    if state.generator_ema:  # an empty tree is not an orbax item
        items["generator_ema"] = state.generator_ema
    return items


def items_to_state(template: TrainState, items: dict[str, Any]) -> TrainState:
    from_dict = flax.serialization.from_state_dict
    return template.replace(
        step=items["train"]["step"],
        rng=items["train"]["rng"],
        extra=from_dict(template.extra, items["train"].get("extra", {})),
        generator=items["generator"],
        generator_ema=items.get("generator_ema", {}),
        discriminator=items["discriminator"],
        g_opt_state=from_dict(template.g_opt_state, items["optimizer"]["generator"]),
        d_opt_state=from_dict(template.d_opt_state, items["optimizer"]["discriminator"]),
    )


def _restore_args(abstract_tree):
    """Leaves without a sharding restore onto this process's first device, so a checkpoint
    written by another topology (many hosts) reads anywhere."""
    local = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    tree = jax.tree.map(
        lambda x: x if getattr(x, "sharding", None) is not None
        else jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=local),
        abstract_tree,
    )
    return ocp.args.StandardRestore(tree)


def restore_plain(path: str):
    """What README shows: any item of any checkpoint with plain orbax, onto one local device."""
    checkpointer = ocp.StandardCheckpointer()
    tree = checkpointer.metadata(path).item_metadata.tree
    local = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=local), tree)
    return checkpointer.restore(path, target)


class Checkpointer:
    """Saves asynchronously every call to `save`; restores the newest readable checkpoint."""

    def __init__(self, workdir: str, keep: int, read_only: bool = False):
        self.workdir = workdir
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self._keep = keep
        self._read_only = read_only
        self._manager = self._open()

    def _open(self) -> ocp.CheckpointManager:
        options = ocp.CheckpointManagerOptions(
            max_to_keep=self._keep,
            enable_async_checkpointing=not self._read_only,
            read_only=self._read_only,
            create=not self._read_only,
        )
        handlers = {name: ocp.StandardCheckpointHandler() for name in ARRAY_ITEMS}
        handlers["meta"] = ocp.JsonCheckpointHandler()
        return ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)

    def all_steps(self) -> list[int]:
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        steps = self.all_steps()
        return steps[-1] if steps else None

    def save(self, state: TrainState, meta: dict[str, Any]) -> None:
        step = int(jax.device_get(state.step))
        args = {name: ocp.args.StandardSave(tree) for name, tree in state_to_items(state).items()}
        args["meta"] = ocp.args.JsonSave(meta)
        self._manager.save(step, args=ocp.args.Composite(**args), force=True)

    def restore_items(self, step: int, abstract: dict[str, Any]) -> dict[str, Any]:
        """Restores the named items (a subset of ARRAY_ITEMS, abstract trees with shardings, plus
        'meta' mapped to None) of one step."""
        args = {
            name: (ocp.args.JsonRestore() if name == "meta" else _restore_args(tree))
            for name, tree in abstract.items()
        }
        restored = self._manager.restore(step, args=ocp.args.Composite(**args))
        return {name: restored[name] for name in abstract}

    def restore_latest(self, abstract_state: TrainState) -> tuple[TrainState, dict] | None:
        """The newest checkpoint that restores; unreadable newer ones are moved aside to
        DIR/checkpoints_corrupt/ (kept, never overwritten) with a warning. None if there is none."""
        steps = self.all_steps()
        if not steps:
            return None
        abstract = dict(state_to_items(abstract_state), meta=None)
        for step in reversed(steps):
            self._check_shapes(step, abstract)
            try:
                items = self.restore_items(step, abstract)
            except Exception as e:  # noqa: BLE001 - orbax/tensorstore raise many types for damaged files
                older = [s for s in steps if s < step]
                if not older:
                    raise UserError(
                        f"checkpoint {self.directory}/{step} cannot be read ({type(e).__name__}: "
                        f"{str(e)[:200]}) and there is no earlier one; move it away to start over"
                    ) from None
                self._quarantine(step, e)
                continue
            return items_to_state(abstract_state, items), items["meta"]
        return None

    def _check_shapes(self, step: int, abstract: dict[str, Any]) -> None:
        """A checkpoint written by another model config is a user error, not corruption."""
        try:
            metadata = self._manager.item_metadata(step)
            saved = metadata["generator"]
            saved = getattr(saved, "tree", saved)
        except Exception:  # noqa: BLE001
            return  # unreadable metadata: let the restore fail and be treated as corruption
        if saved is None:
            return
        want = jax.tree.map(lambda x: tuple(x.shape), abstract["generator"])
        have = jax.tree.map(lambda x: tuple(x.shape), saved, is_leaf=lambda x: hasattr(x, "shape"))
        if want != have:
            raise UserError(
                f"checkpoint {self.directory}/{step} holds a generator of other shapes than this "
                "config builds; use the config it was trained with (its config.json) or a new workdir"
            )

    def _quarantine(self, step: int, error: Exception) -> None:
        target = os.path.join(os.path.abspath(self.workdir), QUARANTINE_DIR, f"{step}_{int(time.time())}")
        if jax.process_index() == 0:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.move(os.path.join(self.directory, str(step)), target)
        _log.warning(
            "checkpoint step %d cannot be read (%s: %s); moved it to %s and falling back to the "
            "previous checkpoint", step, type(error).__name__, str(error)[:200], target,
        )
        print(f"WARNING: checkpoint step {step} is unreadable; moved to {target}; resuming from an "
              "earlier checkpoint", flush=True)
        self._manager.close()
        self._manager = self._open()

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()


# Keys the stylegan family gained after runs were written, with the value those runs trained with.
_STYLEGAN_ADDED_KEYS = {"augment": {"policy": ""}}


def load_config(workdir: str):
    """The resolved config a training run wrote to `workdir/config.json`, locked."""
    import json

    import ml_collections

    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise UserError(f"{path} not found: is {workdir!r} the --workdir of a jaxgan training run?")
    with open(path) as f:
        saved = json.load(f)
    if saved.get("family", "gan") == "gan":
        # Runs written before a key existed get its default (which is what they trained with:
        # every gan-family technique is off by default).
        from jaxgan import config_lib

        saved = _with_defaults(config_lib.gan_config().to_dict(), saved)
    elif saved.get("family") == "stylegan":
        saved = _with_defaults(_STYLEGAN_ADDED_KEYS, saved)
    config = ml_collections.ConfigDict(saved)
    config.lock()
    return config


def _with_defaults(defaults: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in saved.items():
        if isinstance(value, dict) and isinstance(defaults.get(key), dict):
            merged[key] = _with_defaults(defaults[key], value)
        else:
            merged[key] = value
    return merged


def generator_item(abstract_state: TrainState, choice: str = "auto") -> tuple[str, Any]:
    """The checkpoint item that generation uses and its abstract tree. `choice`: "auto" (the EMA
    generator when the model keeps one, else the trained generator), "ema" or "params"."""
    if choice == "params" or (choice == "auto" and not abstract_state.generator_ema):
        return "generator", abstract_state.generator
    if choice not in ("auto", "ema"):
        raise UserError(f"--generator must be auto, ema or params, not {choice!r}")
    if not abstract_state.generator_ema:
        raise UserError("--generator=ema: this run keeps no EMA generator "
                        "(training.ema_decay is 0)")
    return "generator_ema", abstract_state.generator_ema


def restore_generator(workdir: str, abstract_generator: Any, step: int | None = None,
                      item: str = "generator"):
    """(generator variables, step) from a run's checkpoint (latest by default), read-only.
    `item` is "generator" or "generator_ema" (see `generator_item`)."""
    return restore_item(workdir, item, abstract_generator, step)


def restore_item(workdir: str, item: str, abstract_tree: Any, step: int | None = None):
    """(one item of ARRAY_ITEMS, step) from a run's checkpoint (latest by default), read-only."""
    checkpointer = Checkpointer(workdir, keep=1, read_only=True)
    steps = checkpointer.all_steps() if os.path.isdir(checkpointer.directory) else []
    if not steps:
        raise UserError(f"no checkpoint in {checkpointer.directory}; train first")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise UserError(f"no checkpoint at step {step} in {checkpointer.directory}; have {steps}")
    try:
        items = checkpointer.restore_items(step, {item: abstract_tree})
    except Exception as e:  # noqa: BLE001 - any read failure becomes one clear UserError
        raise UserError(
            f"cannot read the {item} of checkpoint {checkpointer.directory}/{step}: "
            f"{type(e).__name__}: {str(e)[:200]}"
        ) from None
    return items[item], step
