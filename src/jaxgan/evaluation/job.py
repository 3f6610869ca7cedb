"""The evaluator job: watches a training workdir's checkpoints (read-only) and scores each once,
through the family's `GeneratorExport` only: it restores the network the export reads (its EMA
copy when kept), draws the export's inputs (or reads them from its condition split), and
compares what it makes with reference statistics of real data (`reference.py`). Results go to
DIR/eval/metrics.jsonl (`records.py`) with the provenance of every number. It never imports the
training code and never writes into the checkpoints.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import sys
import time
from typing import Any

import jax
import numpy as np

from jaxgan import families
from jaxgan.checkpoint import Checkpointer, net_item, restore_item
from jaxgan.data import preprocess
from jaxgan.errors import UserError
from jaxgan.evaluation import reference as references
from jaxgan.evaluation.extractors import load_extractor
from jaxgan.evaluation.metrics import resolve_metrics
from jaxgan.evaluation.metrics.registry import NO_EXTRACTOR
from jaxgan.evaluation.records import RecordFile, records_of
from jaxgan.families import inputs as inputs_lib
from jaxgan.generation import choose_export, weights_item
from jaxgan.workdir import load_config

DEFAULT_METRICS = "fid_lenet,kid_lenet,is_lenet,pr_lenet"
DEFAULT_INCEPTION_METRICS = "fid_inception,kid_inception,is_inception,pr_inception"
DEFAULT_PAIRED_METRICS = "l1,psnr,ssim"
DEFAULT_ANOMALY_METRICS = "auroc,average_precision"
DEFAULT_STACKED_METRICS = "modes_lenet,fid_lenet,kid_lenet,pr_lenet"


def default_metrics(dataset_name: str, conditioned: bool = False) -> str:
    """The paired metrics for an image-conditioned generator; the LeNet metrics where jaxgan
    ships a classifier for the data (MNIST, Fashion-MNIST); else the Inception metrics."""
    from jaxgan.evaluation.classifier import DATASETS

    if conditioned:
        return DEFAULT_PAIRED_METRICS
    if dataset_name == "stacked_mnist":
        return DEFAULT_STACKED_METRICS
    return DEFAULT_METRICS if dataset_name in DATASETS else DEFAULT_INCEPTION_METRICS


LAST = -1  # in `only_steps`: the latest checkpoint present


def parse_steps(values: list[str] | None) -> list[int] | None:
    """`--steps`: checkpoint step numbers, `last` for the latest one."""
    if values is None:
        return None
    try:
        return [LAST if v.strip().lower() == "last" else int(v) for v in values]
    except ValueError:
        raise UserError(f"--steps takes checkpoint step numbers or 'last', not "
                        f"{','.join(values)}") from None


EVAL_SEED = 0x5EED  # latents of the generated sets; fixed so scores compare across steps


@dataclasses.dataclass(frozen=True)
class Options:
    """How to draw from the generator: which weights and which tricks (all recorded)."""

    generator: str = "auto"  # auto | ema | params | bicubic (a super-resolution baseline)
    network: str | None = None  # which export (default: the family's first)
    bn_recalibrate: int = 0
    z_truncation: float | None = None
    truncation_psi: float | None = None
    code_prior: str = "uniform"


def score(metrics, fake: dict[str, Any], reference: dict[str, Any] | None,
          num_samples: int) -> dict[str, dict[str, Any]]:
    """{metric name: {value keys..., num_reference, num_generated}} for one extractor's
    metrics (or the paired metrics, which need no reference statistics)."""
    subset = (np.random.default_rng(EVAL_SEED).permutation(len(reference["features"]))
              if reference is not None else None)
    results = {}
    for metric in metrics:
        count = metric.num_samples or num_samples
        if metric.reference == "test_split":
            ref = reference["test_split"]()
            num_ref = len(ref[0])
        elif metric.reference == "stats":
            ref, num_ref = (reference["mu"], reference["sigma"]), len(reference["features"])
        elif metric.reference == "features":
            idx = subset[: min(count, len(subset))]
            ref, num_ref = reference["features"][idx], len(idx)
        elif metric.reference == "labelled_features":
            ref, num_ref = (reference["features"], reference["labels"]()), len(reference["features"])
        else:
            ref, num_ref = None, 0
        outputs = fake[metric.output]
        if isinstance(outputs, tuple):  # (images or logits, requested labels or targets)
            outputs = tuple(a[:count] for a in outputs)
            num_generated = min(count, len(outputs[0]))
            if metric.output == "paired":
                num_ref = num_generated
        else:
            outputs = outputs[:count]
            num_generated = min(count, len(outputs))
        values = metric.compute(outputs, ref)
        results[metric.name] = {"values": values, "num_reference": num_ref,
                                "num_generated": num_generated}
    return results


class RunAtStep:
    """What a code prior may read of the run at one checkpoint (`protocol.RunReader`)."""

    def __init__(self, evaluator: Evaluator, step: int):
        self._evaluator, self.step = evaluator, step
        self.batch_size = evaluator.batch_size

    def variables(self, network: str):
        abstract = self._evaluator.abstract.nets[network].variables
        return restore_item(self._evaluator.workdir, net_item(network), abstract, self.step)[0]

    def extra(self) -> dict[str, Any]:
        a = self._evaluator.abstract
        train = {"step": a.step, "rng": a.rng, "extra": a.extra}
        return restore_item(self._evaluator.workdir, "train", train, self.step)[0]["extra"]

    def real_images(self) -> np.ndarray:
        return self._evaluator.real_training_images()

    def real_name(self) -> str:
        ds = self._evaluator.config.dataset
        return f"{ds.name}/{ds.split}"


class Evaluator:
    def __init__(self, workdir: str, metric_names: str | None, num_samples: int,
                 batch_size: int, classifier_dir: str | None, inception: str | None,
                 options: Options = Options()):
        self.workdir, self.num_samples, self.batch_size = workdir, num_samples, batch_size
        self.config = load_config(workdir)
        self.family = families.get(self.config.family)
        self.spec = self.family.setup(self.config)
        self.export_name, self.export = choose_export(self.family, self.spec, options.network)
        self.abstract = jax.eval_shape(lambda: self.family.init(self.spec, self.config.seed))
        bicubic = options.generator == "bicubic"
        self.item, self.abstract_generator, weights = weights_item(
            self.abstract, self.export, "auto" if bicubic else options.generator)
        self.default_weights = "ema" if self.export.network in self.abstract.ema else "params"
        self.scorer = self.family.anomaly(self.spec)
        if metric_names is None:
            metric_names = (DEFAULT_ANOMALY_METRICS if self.scorer is not None else
                            default_metrics(self.config.dataset.name,
                                            self.export.condition is not None))
        self.metrics = resolve_metrics(metric_names)
        self._check_metrics()
        self.options = options
        self.generator_name = self._generator_name(weights, options)
        self.truncation = self._truncation(options)
        self.code_prior = self._code_prior(options.code_prior)
        self.generate = jax.jit(functools.partial(self.export.generate,
                                                  truncation=options.truncation_psi))
        if bicubic:
            self.generator_name, self.generate = "bicubic", self._bicubic()
        self._real_images = None
        self.records = RecordFile(os.path.join(workdir, "eval", "metrics.jsonl"))
        self.checkpoints = Checkpointer(workdir, keep=1, read_only=True)
        self._tb = None
        ds = self.config.dataset
        condition = self.export.condition
        self.reference_split = condition.split if condition else ds.split
        self.reference_field = (condition.reference if condition else "image")
        self.extractors, self.references = {}, {}
        for kind in sorted({m.extractor for m in self.metrics} - {NO_EXTRACTOR}):
            if condition is not None and not condition.reference:
                raise UserError(f"{kind} metrics compare with real images of the output domain; "
                                "this generator's data has none")
            extractor = load_extractor(kind, dataset=ds.name, classifier_path=classifier_dir,
                                       inception_weights=inception)
            self.extractors[kind] = extractor
            self.references[kind] = references.reference_outputs(
                extractor, ds, self.reference_split, self.reference_field)

    def _bicubic(self):
        """(variables, batch) -> the batch's input images upscaled by PIL's bicubic filter."""
        from jaxgan.data.degrade import upscale_bicubic
        from jaxgan.evaluation.metrics.paired import to_uint8

        condition = self.export.condition
        size, out = (condition.shape if condition else None), self.export.image_shape
        if (condition is None or out[0] % size[0] or out[1] % size[1]
                or out[0] // size[0] != out[1] // size[1] or out[0] == size[0]
                or out[2] != size[2]):
            raise UserError("--generator=bicubic scores a super-resolution model's inputs "
                            "upscaled by bicubic interpolation: this generator does not upscale "
                            "its input image by an integer factor")
        scale = out[0] // size[0]

        def generate(variables, batch):
            del variables
            big = upscale_bicubic(to_uint8(np.asarray(batch["image"])), scale)
            return big.astype(np.float32) / 127.5 - 1.0

        return generate

    def _check_metrics(self) -> None:
        anomaly = [m.name for m in self.metrics if m.output == "anomaly"]
        if anomaly and self.scorer is None:
            raise UserError(f"{', '.join(anomaly)} score(s) an anomaly model (experiments/"
                            f"ganomaly.py); this is a {self.config.family} run")
        if anomaly and not self.config.dataset.classes:
            raise UserError(f"{', '.join(anomaly)}: the one-class test needs a run trained on "
                            "some classes only (dataset.classes)")
        conditional = [m.name for m in self.metrics if m.conditional]
        if conditional and self.export.condition is not None:
            from jaxgan.generation import condition_has_labels

            if not condition_has_labels(self.export, self.config.dataset):
                raise UserError(f"{', '.join(conditional)} score(s) each output against its input's "
                                f"class label; dataset {self.config.dataset.name} has no labels")
        elif conditional and not self.export.num_classes:
            raise UserError(f"{', '.join(conditional)} score(s) generated images against their "
                            "requested labels and need a class-conditional model "
                            "(model.num_classes > 0)")
        paired = [m.name for m in self.metrics if m.output == "paired"]
        if paired and (self.export.condition is None or not self.export.condition.target):
            raise UserError(f"{', '.join(paired)} compare each output with its target image: "
                            "they need an image-conditioned generator on paired data")

    def _generator_name(self, weights: str, options: Options) -> str:
        """The scored generator's name in records: weights, then each trick applied."""
        name = weights if self.export_name == self.family.default_generator(self.spec)[0] \
            else f"{self.export_name}:{weights}"
        if options.bn_recalibrate:
            if options.bn_recalibrate < 0:
                raise UserError(f"--bn_recalibrate takes a number of passes >= 0, not "
                                f"{options.bn_recalibrate}")
            if (self.export.recalibrate is None
                    or "batch_stats" not in self.abstract_generator):
                raise UserError(f"--bn_recalibrate: this {self.config.model.name} generator has "
                                "no BatchNorm statistics to recalibrate")
            name += f"_bn{options.bn_recalibrate}"
        if options.z_truncation is not None:
            name += f"_z{options.z_truncation:g}"
        if options.truncation_psi is not None:
            name += f"_psi{options.truncation_psi:g}"
        return name

    def _truncation(self, options: Options) -> dict[str, float] | None:
        """The truncation trick asked for, as recorded in the provenance, or None."""
        z, psi = options.z_truncation, options.truncation_psi
        kind = self.export.truncation.name if self.export.truncation else None
        if z is not None and psi is not None:
            raise UserError("--z_truncation and --truncation_psi exclude each other")
        if z is not None:
            if kind != "z_threshold":
                raise UserError(f"--z_truncation applies to generators fed N(0, I) latents "
                                f"directly; this {self.config.family} generator's truncation "
                                f"is {kind or 'none'}" + (": use --truncation_psi"
                                                           if kind == "psi" else ""))
            if not (math.isfinite(z) and z > 0):
                raise UserError(f"--z_truncation takes a threshold > 0 (e.g. 1.0), not {z}")
            return {"z_threshold": float(z)}
        if psi is not None:
            if kind != "psi":
                raise UserError(f"--truncation_psi applies to generators with a W space; this "
                                f"{self.config.family} generator's truncation is "
                                f"{kind or 'none'}" + (": use --z_truncation"
                                                       if kind == "z_threshold" else ""))
            if not math.isfinite(psi):
                raise UserError(f"--truncation_psi takes a number (e.g. 0.7), not {psi}")
            return {"psi": float(psi)}
        return None

    def _code_prior(self, name: str):
        """The code prior to draw with: the run's own (None: uniform), or a named one."""
        if name == "uniform":
            return self.export.code_prior
        if name not in self.export.code_priors:
            known = ", ".join(["uniform", *self.export.code_priors])
            if not self.export.num_codes:
                raise UserError(f"--code_prior={name} re-weights a model's latent codes; this "
                                "model has none (model.info_categories is 0)")
            raise UserError(f"--code_prior must be one of {known}, not {name!r}")
        prior = self.export.code_priors[name]
        if prior.tag:
            self.generator_name += f"_{prior.tag}"
        return prior

    def real_training_images(self) -> np.ndarray:
        """The training split as the model sees it (float32 in [-1, 1]), loaded once."""
        if self._real_images is None:
            ds = self.config.dataset
            _, images = references.real_images(ds, ds.split)
            self._real_images = preprocess(images, ds.image_size, ds.channels)
        return self._real_images

    def pending(self, steps: list[int]) -> list[int]:
        return [s for s in steps
                if not all(self.records.done(s, m.name, self.generator_name, self._sha(m))
                           for m in self.metrics)]

    def _sha(self, metric) -> str:
        if metric.extractor == NO_EXTRACTOR:
            return NO_EXTRACTOR
        return self.extractors[metric.extractor].weights_sha256

    def generated_images(self, generator_vars, prior: dict[str, Any] | None = None
                         ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(images, requested labels or None, targets or None). A class-conditional model is
        asked for every class equally often (labels 0, 1, ..., K-1, 0, ...); a model with a
        latent code gets every code equally often, or, with a fitted `prior`, codes in its
        proportions (a seeded stratified draw). An image-conditioned one is given its
        condition split in order; its labels are those of its inputs, where the data has them
        (an output should keep its input's class)."""
        count = max(m.num_samples or self.num_samples for m in self.metrics)
        if self.export.condition is not None:
            return self._conditioned_images(generator_vars, count)
        key = jax.random.key(EVAL_SEED)
        batches = []
        k = self.export.label_count
        labels = np.arange(count + self.batch_size, dtype=np.int32) % k if k else None
        if prior is not None:
            labels = inputs_lib.stratified_codes(
                np.asarray(prior["probs"]) / np.sum(prior["probs"]), count + self.batch_size,
                EVAL_SEED)
        for i, start in enumerate(range(0, count, self.batch_size)):
            batch = {}
            if self.export.latent_dim:
                batch["z"] = inputs_lib.latents(self.export, jax.random.fold_in(key, i),
                                                self.batch_size, self.options.z_truncation)
            if labels is not None:
                batch["label"] = labels[start:start + self.batch_size]
            batches.append(np.asarray(self.generate(generator_vars, batch)))
        if not self.export.num_classes:  # codes are not labels: nothing to score them against
            labels = None
        return np.concatenate(batches)[:count], None if labels is None else labels[:count], None

    def _conditioned_images(self, generator_vars, count: int):
        from jaxgan.generation import labelled_condition_examples

        images, targets, labels = [], [], []
        start = 0
        while start < count:
            try:
                batch, target, label = labelled_condition_examples(
                    self.export, self.config.dataset, min(self.batch_size, count - start), start)
            except ValueError:  # the split is shorter than `count`
                break
            images.append(np.asarray(self.generate(generator_vars, batch)))
            if target is not None:
                targets.append(target)
            if label is not None:
                labels.append(label)
            start += len(batch["image"])
        if not images:
            raise UserError(f"split {self.export.condition.split!r} of the dataset is empty")
        return (np.concatenate(images), np.concatenate(labels) if labels else None,
                np.concatenate(targets) if targets else None)

    def evaluate_step(self, step: int) -> None:
        started = time.time()
        anomaly = [m for m in self.metrics if m.output == "anomaly"
                   and not self.records.done(step, m.name, self.generator_name, NO_EXTRACTOR)]
        if anomaly:  # restores the scorer's own networks
            self._evaluate_anomaly(step, started, anomaly)
        others = [m for m in self.metrics if m.output != "anomaly"]
        if all(self.records.done(step, m.name, self.generator_name, self._sha(m))
               for m in others):
            return
        try:
            generator_vars, _ = restore_item(self.workdir, self.item, self.abstract_generator,
                                             step)
        except UserError as e:  # rotated away by max_to_keep while we were busy
            print(f"skipping step {step}: {e}", file=sys.stderr)
            return
        if self.options.bn_recalibrate:
            generator_vars = self.export.recalibrate(
                generator_vars, jax.random.key(EVAL_SEED + 1), self.options.bn_recalibrate,
                self.batch_size)
        prior = self.code_prior.fit(RunAtStep(self, step)) if self.code_prior else None
        images, labels, targets = self.generated_images(generator_vars, prior)
        groups = sorted({m.extractor for m in others})
        for kind in groups:
            metrics = [m for m in others if m.extractor == kind
                       and not self.records.done(step, m.name, self.generator_name,
                                                 self._sha(m))]
            if not metrics:
                continue
            if kind == NO_EXTRACTOR:
                results = score(metrics, {"paired": (images, targets)}, None, self.num_samples)
                provenance = self._provenance(step, started, None, None, prior)
            else:
                extractor = self.extractors[kind]
                features, logits = extractor(images)
                ref_id, reference = self.references[kind]
                results = score(metrics, {"features": features, "logits": logits,
                                          "labelled_images": (images, labels),
                                          "labelled_logits": (logits, labels),
                                          "labelled_features": (features, labels)}, reference,
                                self.num_samples)
                provenance = self._provenance(step, started, extractor, ref_id, prior)
            for name, result in results.items():
                metric = next(m for m in metrics if m.name == name)
                extra = {"paired_protocol": metric.protocol} if metric.protocol else {}
                for record in records_of(name, result, {**provenance, **extra}):
                    if self.records.has(record):  # recorded before a torn write
                        continue
                    self.records.append(record)
                    self._tensorboard(record)
                    print(f"step {step} {record['metric']} = {record['value']:.4f}", flush=True)

    def _evaluate_anomaly(self, step: int, started: float, metrics) -> None:
        """The one-class test (jaxgan.evaluation.anomaly) at `step`: the whole test split
        scored by the model's anomaly scorer; images outside its normal classes are the
        positives."""
        from jaxgan.evaluation import anomaly

        model = anomaly.load(self.workdir, step, self.options.generator)
        test = anomaly.test_protocol(model, self.batch_size)
        provenance = {
            **self._provenance(step, started, None, None, None),
            "reference": f"{self.config.dataset.name}/test",
            "inputs": f"{self.config.dataset.name}/test (every class)",
            "anomaly": {"score": model.scorer.description, "weights": model.weights,
                        "normal_classes": list(model.normal_classes),
                        "num_normal": int(np.sum(~test["anomalous"])),
                        "num_anomalous": int(np.sum(test["anomalous"]))},
        }
        for metric in metrics:
            values = metric.compute((test["scores"], test["anomalous"]), None)
            result = {"values": values, "num_reference": 0,
                      "num_generated": len(test["scores"])}
            for record in records_of(metric.name, result, provenance):
                if self.records.has(record):
                    continue
                self.records.append(record)
                self._tensorboard(record)
                print(f"step {step} {record['metric']} = {record['value']:.4f}", flush=True)

    def _provenance(self, step: int, started: float, extractor, ref_id: str | None,
                    prior: dict[str, Any] | None) -> dict[str, Any]:
        ds = self.config.dataset
        reference = f"{ds.name}/{self.reference_split}"
        if self.export.condition is not None:
            reference += f":{self.reference_field}"
        return {
            "step": step, "checkpoint_step": step,
            "extractor": extractor.name if extractor else NO_EXTRACTOR,
            "extractor_sha256": extractor.weights_sha256 if extractor else NO_EXTRACTOR,
            "preprocessing": extractor.preprocessing if extractor else None,
            "reference_id": ref_id, "reference": reference,
            "generator": self.generator_name,
            "bn_recalibration": ({"passes": self.options.bn_recalibrate,
                                  "batch_size": self.batch_size}
                                 if self.options.bn_recalibrate else None),
            "truncation": self.truncation,
            "labels": ("balanced" if self.export.num_classes else
                       "the inputs'" if self.export.condition is not None
                       and any(m.conditional for m in self.metrics) else None),
            "latent_codes": (prior or "balanced") if self.export.num_codes else None,
            "inputs": (f"{ds.name}/{self.export.condition.split}:{self.export.condition.field}"
                       if self.export.condition is not None else None),
            "eval_seed": EVAL_SEED,
            "wall_time": time.time(), "seconds": round(time.time() - started, 2),
        }

    def _tensorboard(self, record: dict[str, Any]) -> None:
        if self._tb is None:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(os.path.join(self.workdir, "eval", "tensorboard"))
        # The default generator's curves are plain; an EMA run's raw generator and recalibrated
        # generators get their own.
        name = record.get("generator", "params")
        suffix = "" if name == self.default_weights else f"_{name}"
        self._tb.add_scalar(f"eval/{record['metric']}{suffix}", record["value"], record["step"])
        self._tb.flush()

    def run(self, once: bool, poll_seconds: float, max_idle_minutes: float,
            only_steps: list[int] | None = None) -> int:
        """Scores checkpoints until the final step is scored (or once). Returns how many steps
        it scored."""
        final = int(self.config.num_train_steps)
        last_new, scored = time.time(), 0
        while True:
            steps = self.checkpoints.all_steps()
            if only_steps is not None:
                if LAST in only_steps:
                    if not steps:
                        raise UserError(f"no checkpoint in {self.checkpoints.directory} yet; "
                                        "train first")
                    only_steps = [steps[-1] if s == LAST else s for s in only_steps]
                missing = sorted(set(only_steps) - set(steps))
                if missing:
                    raise UserError(f"no checkpoint at step(s) {missing} in "
                                    f"{self.checkpoints.directory}; have {steps}")
                steps, once = [s for s in steps if s in only_steps], True
            if once and not steps:
                raise UserError(f"no checkpoint in {self.checkpoints.directory} yet; train "
                                "first, or leave out --once to wait for one")
            todo = self.pending(steps)
            for step in todo:
                self.evaluate_step(step)
            scored += len(todo)
            if todo:
                last_new = time.time()
            if once or (final in steps and not self.pending([final])):
                if not todo:
                    print(f"every checkpoint ({', '.join(map(str, steps))}) is already scored "
                          f"for {self.generator_name}; records in {self.records.path}",
                          flush=True)
                break
            if max_idle_minutes and time.time() - last_new > 60 * max_idle_minutes:
                print(f"no new checkpoint for {max_idle_minutes} minutes; exiting", flush=True)
                break
            time.sleep(poll_seconds)
        if self._tb is not None:
            self._tb.close()
        return scored


def reference_floor(dataset_name: str, metric_names: str, data_dir: str | None,
                    classifier_dir: str | None, inception: str | None, out: str | None,
                    num_samples: int) -> list[dict[str, Any]]:
    """Scores the real test split as if it were generated: the best a model can hope for."""
    from jaxgan import config_lib
    from jaxgan.data import arrays

    if dataset_name not in arrays.ARRAY_DATASETS:
        raise UserError(f"--reference scores a built-in dataset's test split against its train "
                        f"split ({', '.join(arrays.ARRAY_DATASETS)}), not {dataset_name!r}")
    dataset = config_lib.dataset_config()
    dataset.name, dataset.data_dir = dataset_name, data_dir or ""
    metrics = resolve_metrics(metric_names)
    other = [m.name for m in metrics if m.extractor == NO_EXTRACTOR]
    if other:
        raise UserError(f"--reference scores real images with a feature extractor; "
                        f"{', '.join(other)} score(s) a model's outputs (paired or anomaly "
                        "metrics): leave them out")
    records = []
    for kind in sorted({m.extractor for m in metrics}):
        extractor = load_extractor(kind, dataset=dataset_name, classifier_path=classifier_dir,
                                   inception_weights=inception)
        ref_id, reference = references.reference_outputs(extractor, dataset, "train")
        test_images, test_labels = arrays.load_arrays(dataset_name, "test", data_dir)
        features, logits = extractor(test_images)
        # The CAS ceiling: the same recipe trained on as many real training images.
        # As many as the largest count asked for (`cas_lenet_60k` -> 60,000; score() then takes
        # each metric's own count from the front).
        count = max(m.num_samples or num_samples for m in metrics if m.extractor == kind)
        train_images, train_labels = arrays.load_arrays(dataset_name, "train", data_dir)
        real_labelled = (train_images[:count].astype(np.float32) / 127.5 - 1.0,
                         train_labels[:count])
        results = score([m for m in metrics if m.extractor == kind],
                        {"features": features, "logits": logits,
                         "labelled_images": real_labelled,
                         "labelled_logits": (logits, test_labels),
                         "labelled_features": (features, test_labels)}, reference, num_samples)
        for name, result in results.items():
            provenance = {
                "step": None, "kind": "real_data_floor", "generated": f"{dataset_name}/test",
                "reference": f"{dataset_name}/train", "extractor": extractor.name,
                "extractor_sha256": extractor.weights_sha256,
                "preprocessing": extractor.preprocessing, "reference_id": ref_id,
                "eval_seed": EVAL_SEED, "wall_time": time.time(),
            }
            records.extend(records_of(name, result, provenance))
    sink = RecordFile(out) if out else None
    for record in records:
        if sink:
            sink.append(record)
        print(json.dumps(record, sort_keys=True), flush=True)
    return records
