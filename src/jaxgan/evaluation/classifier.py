"""jaxgan's domain classifiers for MNIST and Fashion-MNIST: train, save, load, extract features.

The `*_lenet` metrics score with the classifiers shipped in this package (weights/lenet_<dataset>/,
sha256 pinned in SHIPPED_SHA256), so their numbers compare across machines. Training reproduces
them, or makes others to score with (`python -m jaxgan.evaluate --classifier_dir=DIR`):

    python -m jaxgan.classifier --dataset=mnist [--out=DIR] [--data_dir=DIR]
    python -m jaxgan.classifier --dataset=fashion_mnist [--data_dir=DIR]

Training is deterministic (fixed seed, fixed data order, jitted steps): the same command on the
same software and CPU gives the same weight bytes, hence the same sha256; another CPU can give
other bytes (XLA's kernels differ). The weights are a flat .npz of arrays (written with fixed zip
timestamps); beside it a JSON records the sha256, the test accuracy and the training config.
Training writes to $JAXGAN_CACHE_DIR/classifiers/<dataset>/ unless told --out
(JAXGAN_CACHE_DIR defaults to ~/.cache/jaxgan).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import time
import zipfile
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
import optax

from jaxgan.errors import UserError
from jaxgan.hashing import sha256_file
from jaxgan.models.lenet import LeNet

DATASETS = ("mnist", "fashion_mnist")
WEIGHTS_FILE = "lenet.npz"
META_FILE = "lenet.json"
FORMAT = "jaxgan-lenet-v1"
PREPROCESSING = (
    "gray 28x28: uint8/127.5-1 or [-1,1] floats clipped; larger centred-padded images "
    "(e.g. 32x32) centre-cropped to 28x28"
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained weights (recorded in the JSON)."""

    dataset: str = "mnist"
    seed: int = 0
    epochs: int = 5
    batch_size: int = 128
    learning_rate: float = 3e-3  # peak of a one-cycle cosine schedule (AdamW)
    weight_decay: float = 1e-4
    max_shift: int = 2  # random translation augmentation, pixels
    hflip: bool = False  # random horizontal flips (clothes are symmetric, digits are not)
    stages: tuple[tuple[int, ...], ...] = ((32,), (64,), (128,))
    feature_dim: int = 128
    dropout: float = 0.25
    max_train_examples: int = 0  # > 0: the first N training examples only (tests)
    max_steps: int = 0  # > 0: stop after N steps (tests)
    # lenet (the metrics' feature extractor) or resnet (jaxgan.models.small_resnet: the
    # synthetic-data study's second classifier; `stages` and `feature_dim` do not apply)
    arch: str = "lenet"

    def model(self) -> LeNet:
        if self.arch == "resnet":
            from jaxgan.models.small_resnet import SmallResNet

            return SmallResNet(dropout=self.dropout)
        if self.arch != "lenet":
            raise UserError(f"unknown classifier arch {self.arch!r}; use lenet or resnet")
        return LeNet(
            stages=self.stages,
            feature_dim=self.feature_dim,
            dropout=self.dropout,
        )


PRESETS = {
    "mnist": TrainConfig(dataset="mnist"),
    # Epochs from a sweep of test accuracy: Fashion-MNIST with 1-pixel shifts and flips reached
    # 92.5 / 92.8 / 93.4 % after 8 / 12 / 16 epochs; MNIST 99.4-99.5 % after 4-5.
    "fashion_mnist": TrainConfig(dataset="fashion_mnist", epochs=12, max_shift=1, hflip=True),
}


# Every *_lenet number is a function of these bytes: changing a shipped file changes the metrics,
# so it takes changing its pin here too.
SHIPPED_SHA256 = {
    "mnist": "5d33bdd6ba6f240dbb02589b40339453f0f07038ca7199589314b1214eb94ef3",
    "fashion_mnist": "e02422a19b09d20893eaa6b9c391bc9c51b7f72003092d4fabc78153cafce3cc",
}
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def shipped_dir(dataset: str) -> str:
    """The package's directory of the `dataset` classifier (lenet.npz + lenet.json)."""
    return os.path.join(WEIGHTS_DIR, f"lenet_{dataset}")


def default_train_dir(dataset: str) -> str:
    """Where `python -m jaxgan.classifier` writes unless told --out (never read by default)."""
    root = os.environ.get("JAXGAN_CACHE_DIR") or os.path.join("~", ".cache", "jaxgan")
    return os.path.join(os.path.expanduser(root), "classifiers", dataset)


# --- training -----------------------------------------------------------------------------------


def _augment(key: jax.Array, x: jax.Array, max_shift: int, hflip: bool) -> jax.Array:
    """Random translations (background-filled) and optional horizontal flips, per example."""
    b, h, w, _ = x.shape
    shift_key, flip_key = jax.random.split(key)
    if max_shift:
        s = max_shift
        padded = jnp.pad(x, ((0, 0), (s, s), (s, s), (0, 0)), constant_values=-1.0)
        offsets = jax.random.randint(shift_key, (b, 2), 0, 2 * s + 1)
        x = jax.vmap(lambda im, o: jax.lax.dynamic_slice(im, (o[0], o[1], 0), (h, w, 1)))(
            padded, offsets
        )
    if hflip:
        flip = jax.random.bernoulli(flip_key, 0.5, (b, 1, 1, 1))
        x = jnp.where(flip, x[:, :, ::-1], x)
    return x


def _to_model_input(images_u8: jax.Array) -> jax.Array:
    return images_u8.astype(jnp.float32) / 127.5 - 1.0


def _optimizer(config: TrainConfig, total_steps: int) -> optax.GradientTransformation:
    schedule = optax.cosine_onecycle_schedule(total_steps, config.learning_rate)
    return optax.adamw(schedule, weight_decay=config.weight_decay)


# Module-level and keyed on the (hashable) config, so training twice compiles once. The data are
# arguments, not closed-over constants: XLA would fold a 47 MB constant into the program. One
# jitted step per call: a `lax.scan` over an epoch ran ~8x slower on XLA:CPU.
@functools.partial(
    jax.jit, static_argnames=("config", "total_steps"), donate_argnames=("params", "opt_state")
)
def _train_step(params, opt_state, key, batch_B, images, labels, *, config, total_steps):
    aug_key, dropout_key = jax.random.split(key)
    x = _augment(aug_key, _to_model_input(images[batch_B]), config.max_shift, config.hflip)

    def loss_fn(p):
        _, logits = config.model().apply(
            {"params": p}, x, train=True, rngs={"dropout": dropout_key}
        )
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels[batch_B]).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = _optimizer(config, total_steps).update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


def train(
    config: TrainConfig,
    images: np.ndarray,
    labels: np.ndarray,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Trains the classifier on uint8 [N, 28, 28, 1] images; returns its params.

    Deterministic: the data order of epoch e is `default_rng([seed, e])`'s permutation, and
    each step's augmentation and dropout keys fold the step number into the seed's key."""
    n = len(images)
    steps_per_epoch = n // config.batch_size
    if steps_per_epoch == 0:
        raise UserError(f"{n} training examples are fewer than batch_size={config.batch_size}")
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    root_key = jax.random.key(config.seed)
    params = config.model().init(root_key, jnp.zeros((1, 28, 28, 1)))["params"]
    opt_state = _optimizer(config, total_steps).init(params)
    images_dev, labels_dev = jnp.asarray(images), jnp.asarray(labels)
    # The compiled step depends on the recipe, not on the seed or the length of the run.
    static = dataclasses.replace(config, seed=0, epochs=0, max_steps=0, max_train_examples=0)
    step_fn = functools.partial(_train_step, config=static, total_steps=total_steps)
    step = 0
    for epoch in range(config.epochs):
        if step >= total_steps:
            break
        order = np.random.default_rng([config.seed, epoch]).permutation(n)
        batches = order[: steps_per_epoch * config.batch_size].reshape(steps_per_epoch, -1)
        start, losses = time.time(), []
        for batch in batches[: total_steps - step]:
            key = jax.random.fold_in(root_key, step)
            params, opt_state, loss = step_fn(params, opt_state, key, batch, images_dev, labels_dev)
            losses.append(loss)
            step += 1
        mean_loss = float(np.mean(jax.device_get(losses)))
        log(
            f"epoch {epoch + 1}/{config.epochs}: loss {mean_loss:.4f} ({time.time() - start:.0f} s)"
        )
    return jax.device_get(params)


# --- inference ----------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=0)
def _apply(model: LeNet, params: Any, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return model.apply({"params": params}, x)


def to_classifier_input(images: Any) -> np.ndarray:
    """uint8 or [-1, 1] float [N, H, W, 1] -> float32 [N, 28, 28, 1] in [-1, 1] (larger images
    with an even margin, like jaxgan's 32x32 padded MNIST, are centre-cropped)."""
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] != 1:
        raise UserError(f"the classifier takes gray images [N, H, W, 1], got shape {x.shape}")
    h, w = x.shape[1:3]
    if h < 28 or w < 28 or (h - 28) % 2 or (w - 28) % 2:
        raise UserError(f"the classifier takes 28x28 images (or centred padding), got {h}x{w}")
    x = x[:, (h - 28) // 2 : (h + 28) // 2, (w - 28) // 2 : (w + 28) // 2]
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 127.5 - 1.0
    return np.clip(x.astype(np.float32), -1.0, 1.0)


def features_and_logits(
    model: LeNet, params: Any, images: Any, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, feature_dim], logits [N, classes]) as float32 numpy, in jitted batches of a
    fixed size (the last one padded, so one compilation serves every N)."""
    x = to_classifier_input(images)
    features, logits = [], []
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        n = len(batch)
        batch = np.pad(batch, ((0, batch_size - n), (0, 0), (0, 0), (0, 0)))
        f, lg = _apply(model, params, batch)
        features.append(np.asarray(f)[:n])
        logits.append(np.asarray(lg)[:n])
    if not features:
        empty = np.zeros((0, model.feature_dim), np.float32)
        return empty, np.zeros((0, model.num_classes), np.float32)
    return np.concatenate(features), np.concatenate(logits)


def accuracy(model: LeNet, params: Any, images: np.ndarray, labels: np.ndarray) -> float:
    _, logits = features_and_logits(model, params, images, min(1000, max(1, len(images))))
    return float(np.mean(np.argmax(logits, axis=1) == labels))


# --- saving and loading -------------------------------------------------------------------------


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    flat = {}
    for key in sorted(tree):
        value = tree[key]
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = np.asarray(value)
    return flat


def _unflatten(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        *path, leaf = key.split("/")
        node = tree
        for name in path:
            node = node.setdefault(name, {})
        node[leaf] = value
    return tree


def _write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """np.savez's format with fixed timestamps, so equal weights give equal bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", (1980, 1, 1, 0, 0, 0)), buffer.getvalue()
            )


def save(out_dir: str, params: Any, meta: dict[str, Any]) -> str:
    """Writes lenet.npz and lenet.json (meta plus the weights' sha256); returns the npz path."""
    os.makedirs(out_dir, exist_ok=True)
    weights = os.path.join(out_dir, WEIGHTS_FILE)
    tmp = weights + ".tmp"
    _write_npz(tmp, _flatten(params))
    os.replace(tmp, weights)
    meta = {**meta, "format": FORMAT, "weights_file": WEIGHTS_FILE}
    meta["weights_sha256"] = sha256_file(weights)
    with open(os.path.join(out_dir, META_FILE), "w") as file:
        json.dump(meta, file, indent=2, sort_keys=True)
        file.write("\n")
    return weights


@dataclasses.dataclass(frozen=True)
class Classifier:
    """A loaded domain classifier; `(features, logits) = classifier(images)`."""

    dataset: str
    model: LeNet
    params: Any
    weights_sha256: str
    test_accuracy: float
    path: str
    preprocessing: str = PREPROCESSING

    @property
    def name(self) -> str:
        return f"lenet_{self.dataset}"

    @property
    def feature_dim(self) -> int:
        return self.model.feature_dim

    @property
    def num_classes(self) -> int:
        return self.model.num_classes

    def __call__(self, images: Any, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """uint8 or [-1, 1] float gray images -> (features, logits), float32 numpy."""
        return features_and_logits(self.model, self.params, images, batch_size)


def load_classifier(dataset: str, path: str | None = None) -> Classifier:
    """Loads the classifier for `dataset`: the one shipped with jaxgan (its sha256 checked against
    SHIPPED_SHA256), or with `path` (a directory or its .npz) one trained by
    `python -m jaxgan.classifier` (its sha256 checked against the JSON beside it)."""
    if dataset not in DATASETS:
        raise UserError(f"no classifier for dataset {dataset!r}; there are {DATASETS}")
    train_cmd = f"python -m jaxgan.classifier --dataset={dataset}"
    if path is None:
        directory = shipped_dir(dataset)
        missing = f"jaxgan's shipped {dataset} classifier is missing"
        remedy = (f"reinstall jaxgan, or train a classifier (`{train_cmd} --out=DIR`) and "
                  "score with it (python -m jaxgan.evaluate --classifier_dir=DIR)")
    else:
        directory = os.path.expanduser(path)
        if directory.endswith(".npz"):
            directory = os.path.dirname(directory)
        missing = f"no {dataset} classifier in {directory}"
        remedy = f"train it with `{train_cmd} --out={directory}`"
    meta_path, weights = os.path.join(directory, META_FILE), os.path.join(directory, WEIGHTS_FILE)
    if not (os.path.isfile(meta_path) and os.path.isfile(weights)):
        raise UserError(f"{missing} ({directory}: {META_FILE}, {WEIGHTS_FILE}); {remedy}")
    try:
        with open(meta_path) as file:
            meta = json.load(file)
        config = TrainConfig(
            **{**meta["train_config"], "stages": tuple(map(tuple, meta["train_config"]["stages"]))}
        )
        recorded = meta["weights_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"cannot read {meta_path} ({e}); {remedy}") from None
    if meta.get("format") != FORMAT or config.dataset != dataset:
        raise UserError(f"{meta_path} is not a {FORMAT} classifier for {dataset}; {remedy}")
    actual = sha256_file(weights)
    if path is None and actual != SHIPPED_SHA256[dataset]:
        raise UserError(
            f"{weights} has sha256 {actual[:12]}..., but jaxgan pins "
            f"{SHIPPED_SHA256[dataset][:12]}... for its {dataset} classifier: the file was changed "
            f"or corrupted; {remedy}"
        )
    if actual != recorded:
        raise UserError(
            f"{weights} has sha256 {actual[:12]}..., but {META_FILE} records {recorded[:12]}...: "
            f"the weights were changed or corrupted; {remedy}"
        )
    model = config.model()
    abstract = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
    try:
        with np.load(weights, allow_pickle=False) as archive:
            params = _unflatten({name: archive[name] for name in archive.files})
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise UserError(f"cannot read {weights} ({e}); {remedy}") from None
    if jax.tree.structure(params) != jax.tree.structure(abstract) or any(
        a.shape != b.shape for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(abstract))
    ):
        raise UserError(f"{weights} does not match the model in {META_FILE}; {remedy}")
    return Classifier(
        dataset=dataset,
        model=model,
        params=jax.tree.map(jnp.asarray, params),
        weights_sha256=actual,
        test_accuracy=float(meta.get("test_accuracy", float("nan"))),
        path=weights,
    )


# --- command line -------------------------------------------------------------------------------


def run(
    dataset: str,
    out: str | None = None,
    data_dir: str | None = None,
    tfds_dir: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Trains the `dataset` preset (with `overrides` of TrainConfig fields), evaluates it on the
    test split, saves it to `out` (default: `default_train_dir`); returns the saved metadata."""
    from jaxgan.data import load_arrays
    from jaxgan.data.arrays import resolve_data_dir

    if dataset not in DATASETS:
        raise UserError(f"--dataset must be one of {DATASETS}, got {dataset!r}")
    if data_dir:
        # Checked even when tfds already holds the dataset: a wrong path is a mistake to report.
        resolve_data_dir(dataset, data_dir)
    config = dataclasses.replace(PRESETS[dataset], **overrides)
    out = os.path.expanduser(out or default_train_dir(dataset))
    train_images, train_labels = load_arrays(
        dataset, "train", data_dir, tfds_dir, config.max_train_examples
    )
    test_images, test_labels = load_arrays(dataset, "test", data_dir, tfds_dir)
    print(f"training the {dataset} classifier on {len(train_images)} images: {config}", flush=True)
    start = time.time()
    params = train(config, train_images, train_labels, log=lambda m: print(m, flush=True))
    train_seconds = time.time() - start
    test_accuracy = accuracy(config.model(), params, test_images, test_labels)
    meta = {
        "dataset": dataset,
        "test_accuracy": test_accuracy,
        "train_config": dataclasses.asdict(config),
        "train_wall_time_s": round(train_seconds, 1),
        "num_train_examples": len(train_images),
        "num_test_examples": len(test_images),
        "preprocessing": PREPROCESSING,
        "versions": {"jax": jax.__version__, "jaxlib": jaxlib.__version__},
        "platform": jax.default_backend(),
    }
    weights = save(out, params, meta)
    with open(os.path.join(out, META_FILE)) as file:
        meta = json.load(file)
    sha = meta["weights_sha256"]
    shipped = SHIPPED_SHA256[dataset]
    same = "the shipped weights, bit for bit" if sha == shipped else f"shipped: {shipped[:12]}..."
    print(
        f"test accuracy {test_accuracy:.4f}; trained in {train_seconds:.0f} s; trained weights "
        f"written to {weights} (sha256 {sha}; {same}); pass --classifier_dir={out} to "
        "python -m jaxgan.evaluate to score with them instead of the shipped ones",
        flush=True,
    )
    return meta


def main(argv: list[str]) -> None:
    from absl import flags

    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    values = flags.FLAGS
    overrides = {}
    for name in ("seed", "epochs", "max_train_examples", "max_steps"):
        if values[name].present:
            overrides[name] = values[name].value
    if overrides.get("epochs", 1) < 1:
        raise UserError("--epochs must be at least 1")
    run(values.dataset, values.out, values.data_dir, values.tfds_dir, **overrides)


def define_flags() -> None:
    # Only when run as a program: importing this module (the evaluator does) defines no flags.
    from absl import flags

    flags.DEFINE_enum("dataset", None, list(DATASETS), "Dataset to train the classifier on.")
    flags.DEFINE_string(
        "out", None, "Output directory (default: $JAXGAN_CACHE_DIR/classifiers/<dataset>). The "
        "evaluator scores with the shipped weights unless given --classifier_dir=DIR.")
    flags.DEFINE_string("data_dir", None, "Directory of the dataset's IDX files.")
    flags.DEFINE_string("tfds_dir", None, "tfds data directory (default: $JAXGAN_TFDS_DIR).")
    flags.DEFINE_integer("seed", 0, "Random seed.")
    flags.DEFINE_integer("epochs", 0, "Epochs (default: the dataset's preset).")
    flags.DEFINE_integer("max_train_examples", 0, "Train on the first N examples only.")
    flags.DEFINE_integer("max_steps", 0, "Stop after N steps (smoke tests).")
    flags.mark_flag_as_required("dataset")

