"""Orbax checkpoints of the train state: arrays only (no pickled code), one item per network so a
tool restores just what it needs, plus a JSON item with the data-order position.

Layout of `DIR/checkpoints/<step>/`: `net_<name>/` (a network's variables), `opt_<name>/` (its
optimizer state), `ema_<name>/` (its moving average, when kept), `train/` (step, rng, the
family's extras) as orbax PyTree items, and `meta/` (JSON). Frozen networks are not written:
they are reloaded from their checked files. Each item restores with plain orbax, e.g.
`ocp.StandardCheckpointer().restore(DIR/checkpoints/<step>/net_G)`.

Checkpoints of the first layout (`generator/`, `discriminator/`, `optimizer/`, `train/`,
`generator_ema/`: one generator G and one discriminator D) restore as `net_G`, `net_D`,
`opt_G`, `opt_D`, `ema_G`.
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
from jaxgan.state import NetState, TrainState

_log = logging.getLogger(__name__)


class _ExpectedOrbaxNotices(logging.Filter):
    """Drops what orbax logs as warnings on every read-only use (the evaluator, the sampler,
    `jaxgan.load`): they describe intended behaviour, not a problem."""

    EXPECTED = ("read_only=True, setting", "Given directory is read only",
                "Metadata file does not exist")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in self.EXPECTED)


logging.getLogger("absl").addFilter(_ExpectedOrbaxNotices())

QUARANTINE_DIR = "checkpoints_corrupt"
META = "meta"
# The first layout's items, as (item, key inside it or None) of each item of today's.
_V1 = {"net_G": ("generator", None), "net_D": ("discriminator", None),
       "opt_G": ("optimizer", "generator"), "opt_D": ("optimizer", "discriminator"),
       "ema_G": ("generator_ema", None), "train": ("train", None)}


def net_item(name: str) -> str:
    return f"net_{name}"


def ema_item(name: str) -> str:
    return f"ema_{name}"


def state_to_items(state: TrainState) -> dict[str, Any]:
    to_dict = flax.serialization.to_state_dict
    items = {"train": {"step": state.step, "rng": state.rng, "extra": state.extra}}
    for name, net in state.nets.items():
        if net.trainable:
            items[net_item(name)] = net.variables
            items[f"opt_{name}"] = to_dict(net.opt_state)
    for name, variables in state.ema.items():
        items[ema_item(name)] = variables
    return items


def items_to_state(template: TrainState, items: dict[str, Any]) -> TrainState:
    """`template` (abstract or concrete) with every checkpointed part taken from `items`;
    frozen networks stay as in `template`."""
    from_dict = flax.serialization.from_state_dict
    nets = {}
    for name, net in template.nets.items():
        if not net.trainable:
            nets[name] = net
            continue
        nets[name] = NetState(variables=items[net_item(name)],
                              opt_state=from_dict(net.opt_state, items[f"opt_{name}"]))
    return template.replace(
        step=items["train"]["step"],
        rng=items["train"]["rng"],
        extra=from_dict(template.extra, items["train"].get("extra", {})),
        nets=nets,
        ema={name: items[ema_item(name)] for name in template.ema},
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
    """Saves asynchronously every call to `save`; restores the newest readable checkpoint.
    Reads checkpoints of either layout."""

    def __init__(self, workdir: str, keep: int, read_only: bool = False):
        self.workdir = workdir
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self._keep = keep
        self._read_only = read_only
        self._managers: dict[tuple[str, ...], ocp.CheckpointManager] = {}

    def _manager(self, names) -> ocp.CheckpointManager:
        """A manager for these items (orbax registers item handlers per manager)."""
        key = tuple(sorted(set(names) - {META}))
        if key not in self._managers:
            options = ocp.CheckpointManagerOptions(
                max_to_keep=self._keep,
                enable_async_checkpointing=not self._read_only,
                read_only=self._read_only,
                create=not self._read_only,
            )
            handlers = {name: ocp.StandardCheckpointHandler() for name in key}
            handlers[META] = ocp.JsonCheckpointHandler()
            self._managers[key] = ocp.CheckpointManager(self.directory, options=options,
                                                        item_handlers=handlers)
        return self._managers[key]

    def all_steps(self) -> list[int]:
        if not os.path.isdir(self.directory):
            return []
        return sorted(int(name) for name in os.listdir(self.directory)
                      if name.isdigit() and self._committed(int(name)))

    def _committed(self, step: int) -> bool:
        """A finished checkpoint (orbax writes into a temporary directory, then renames)."""
        path = os.path.join(self.directory, str(step))
        return os.path.isdir(path) and os.path.isdir(os.path.join(path, META))

    def latest_step(self) -> int | None:
        steps = self.all_steps()
        return steps[-1] if steps else None

    def items_at(self, step: int) -> set[str]:
        path = os.path.join(self.directory, str(step))
        return {name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name))}

    def save(self, state: TrainState, meta: dict[str, Any]) -> None:
        step = int(jax.device_get(state.step))
        items = state_to_items(state)
        args = {name: ocp.args.StandardSave(tree) for name, tree in items.items()}
        args[META] = ocp.args.JsonSave(meta)
        self._manager(items).save(step, args=ocp.args.Composite(**args), force=True)

    def restore_items(self, step: int, abstract: dict[str, Any]) -> dict[str, Any]:
        """Restores the named items (abstract trees with shardings; 'meta' mapped to None) of
        one step, in this layout's names whatever layout the step was written in."""
        on_disk = self.items_at(step)
        wanted = [name for name in abstract if name != META]
        if all(name in on_disk for name in wanted):
            return self._restore(step, abstract)
        if not all(name in _V1 and _V1[name][0] in on_disk for name in wanted):
            missing = sorted(name for name in wanted if name not in on_disk)
            raise UserError(f"checkpoint {self.directory}/{step} has no {', '.join(missing)} "
                            f"(it has {', '.join(sorted(on_disk))})")
        return self._restore_v1(step, abstract)

    def _restore(self, step: int, abstract: dict[str, Any]) -> dict[str, Any]:
        args = {name: (ocp.args.JsonRestore() if name == META else _restore_args(tree))
                for name, tree in abstract.items()}
        restored = self._manager(abstract).restore(step, args=ocp.args.Composite(**args))
        return {name: restored[name] for name in abstract}

    def _restore_v1(self, step: int, abstract: dict[str, Any]) -> dict[str, Any]:
        disk: dict[str, Any] = {}
        for name, tree in abstract.items():
            if name == META:
                disk[META] = None
                continue
            item, key = _V1[name]
            if key is None:
                disk[item] = tree
            else:
                disk.setdefault(item, {})[key] = tree
        restored = self._restore(step, disk)
        out = {}
        for name in abstract:
            if name == META:
                out[META] = restored[META]
                continue
            item, key = _V1[name]
            out[name] = restored[item] if key is None else restored[item][key]
        return out

    def restore_latest(self, abstract_state: TrainState) -> tuple[TrainState, dict] | None:
        """The newest checkpoint that restores; unreadable newer ones are moved aside to
        DIR/checkpoints_corrupt/ (kept, never overwritten) with a warning. None if there is none."""
        steps = self.all_steps()
        if not steps:
            return None
        abstract = dict(state_to_items(abstract_state), meta=None)
        for step in reversed(steps):
            self.check_shapes(step, abstract)
            try:
                items = self.restore_items(step, abstract)
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 - orbax/tensorstore raise many types for damaged files
                older = [s for s in steps if s < step]
                if not older:
                    raise UserError(
                        f"checkpoint {self.directory}/{step} cannot be read ({type(e).__name__}: "
                        f"{str(e)[:200]}) and there is no earlier one; move it away to start over"
                    ) from None
                self._quarantine(step, e)
                continue
            return items_to_state(abstract_state, items), items[META]
        return None

    def check_shapes(self, step: int, abstract: dict[str, Any]) -> None:
        """A checkpoint written by another model config is a user error, not corruption."""
        on_disk = self.items_at(step)
        for name, tree in abstract.items():
            if not name.startswith(("net_", "ema_")):
                continue
            item = name if name in on_disk else _V1.get(name, (name,))[0]
            try:
                saved = ocp.StandardCheckpointer().metadata(
                    os.path.join(self.directory, str(step), item)).item_metadata.tree
            except Exception:  # noqa: BLE001, S112 - unreadable metadata: the restore decides
                continue
            want = jax.tree.map(lambda x: tuple(x.shape), tree)
            have = jax.tree.map(lambda x: tuple(x.shape), saved,
                                is_leaf=lambda x: hasattr(x, "shape"))
            if want != have:
                raise UserError(
                    f"checkpoint {self.directory}/{step} holds a network {name[4:]} of other "
                    "shapes than this config builds; use the config it was trained with (its "
                    "config.json) or a new workdir")

    def _quarantine(self, step: int, error: Exception) -> None:
        target = os.path.join(os.path.abspath(self.workdir), QUARANTINE_DIR,
                              f"{step}_{int(time.time())}")
        if jax.process_index() == 0:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.move(os.path.join(self.directory, str(step)), target)
        _log.warning(
            "checkpoint step %d cannot be read (%s: %s); moved it to %s and falling back to the "
            "previous checkpoint", step, type(error).__name__, str(error)[:200], target,
        )
        print(f"WARNING: checkpoint step {step} is unreadable; moved to {target}; resuming from an "
              "earlier checkpoint", flush=True)
        self._close_managers()

    def _close_managers(self) -> None:
        for manager in self._managers.values():
            manager.close()
        self._managers = {}

    def wait(self) -> None:
        for manager in self._managers.values():
            manager.wait_until_finished()

    def close(self) -> None:
        self.wait()
        self._close_managers()


def restore_item(workdir: str, item: str, abstract_tree: Any, step: int | None = None):
    """(one item, step) from a run's checkpoint (latest by default), read-only."""
    checkpointer = Checkpointer(workdir, keep=1, read_only=True)
    steps = checkpointer.all_steps()
    if not steps:
        raise UserError(f"no checkpoint in {checkpointer.directory}; train first")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise UserError(f"no checkpoint at step {step} in {checkpointer.directory}; have {steps}")
    try:
        checkpointer.check_shapes(step, {item: abstract_tree})
        items = checkpointer.restore_items(step, {item: abstract_tree})
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - any read failure becomes one clear UserError
        raise UserError(
            f"cannot read {item} of checkpoint {checkpointer.directory}/{step}: "
            f"{type(e).__name__}: {str(e)[:200]}"
        ) from None
    finally:
        checkpointer.close()
    return items[item], step
