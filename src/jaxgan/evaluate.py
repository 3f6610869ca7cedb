"""The evaluator job: watches a training workdir's checkpoints (read-only), scores each once.

    python -m jaxgan.evaluate --workdir=DIR [--metrics=fid_lenet,kid_lenet,is_lenet,pr_lenet]
        [--num_samples=10000] [--once]
    python -m jaxgan.evaluate --reference --dataset=mnist     # the real-data floor
    python -m jaxgan.evaluate --workdir=DIR --steps=S --z_truncation=1.0   # (or --truncation_psi)
    python -m jaxgan.evaluate --workdir=DIR --code_prior=posterior  # InfoGAN codes, data's shares

Records (one JSON object per step and metric) are appended to DIR/eval/metrics.jsonl, with the
provenance of every number: extractor and its weights' sha256, preprocessing, sample counts, the
id of the cached reference statistics, the checkpoint step, the generator scored (EMA or
trained weights, recalibrated BatchNorm, truncation, the code prior) and the wall time. The
JSONL is also the job's memory: a restarted evaluator skips what is recorded, so killing it
loses nothing. It never imports the training code and never writes into the checkpoints.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sys
import time
from typing import Any

import jax
import numpy as np
from absl import flags

from jaxgan import cli, families, filelock
from jaxgan.checkpoint import (
    Checkpointer,
    generator_item,
    load_config,
    restore_generator,
    restore_item,
)
from jaxgan.errors import UserError
from jaxgan.evaluation.metrics import load_extractor, resolve_metrics

DEFAULT_METRICS = "fid_lenet,kid_lenet,is_lenet,pr_lenet"
EVAL_SEED = 0x5EED  # latents of the generated sets; fixed so scores compare across steps

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's workdir.")
_METRICS = flags.DEFINE_string("metrics", DEFAULT_METRICS, "Comma-separated protocol names.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Generated images per metric.")
_ONCE = flags.DEFINE_bool("once", False, "Evaluate the checkpoints present now, then exit.")
_POLL = flags.DEFINE_float("poll_seconds", 30.0, "How often to look for new checkpoints.")
_MAX_IDLE = flags.DEFINE_float(
    "max_idle_minutes", 0.0, "Exit after this long with no new checkpoint (0: wait for the final "
    "step however long it takes).")
_REFERENCE = flags.DEFINE_bool(
    "reference", False, "Score the real test split against the train split (the floor).")
_DATASET = flags.DEFINE_string("dataset", None, "Dataset for --reference (mnist, fashion_mnist).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "IDX files of the dataset (default: as training).")
_OUT = flags.DEFINE_string("out", None, "With --reference: JSONL to append to (default: stdout).")
_INCEPTION = flags.DEFINE_string(
    "inception_weights", None, "pt_inception-2015-12-05-6726825d.pth for *_inception metrics "
    "(or $JAXGAN_INCEPTION_WEIGHTS).")
_CLASSIFIER = flags.DEFINE_string(
    "classifier_dir", None, "Directory of the lenet classifier (default: its cache directory).")
_BATCH = flags.DEFINE_integer("batch_size", 500, "Generation batch size.")
_BN_RECALIBRATE = flags.DEFINE_integer(
    "bn_recalibrate", 0, "Before scoring, re-estimate the generator's BatchNorm running statistics "
    "with N training-mode passes of --batch_size latents (weights unchanged; BigGAN's standing "
    "statistics). Records get generator 'ema_bnN' / 'params_bnN'. 0: as checkpointed.")
_Z_TRUNCATION = flags.DEFINE_float(
    "z_truncation", None, "gan family: score samples of z drawn from N(0, 1) truncated to "
    "[-T, T] (BigGAN's truncation trick; trades recall for precision). Records get generator "
    "'ema_zT'.")
_PSI = flags.DEFINE_float(
    "truncation_psi", None, "stylegan family: score samples of w_avg + psi * (w - w_avg) "
    "(the StyleGAN truncation trick). Records get generator 'ema_psiP'.")
_STEPS = flags.DEFINE_list(
    "steps", None, "Only these checkpoint steps (e.g. 3000 or 1000,3000); implies --once.")
_CODE_PRIOR = flags.DEFINE_enum(
    "code_prior", "uniform", ["uniform", "posterior"], "InfoGAN models: the distribution of the "
    "latent code. uniform: the training prior, every code equally often. posterior: the prior "
    "that matches the codes' shares to the real training split, by EM on the Q head's "
    "posteriors of the real images (label-shift EM, Saerens et al. 2002; no labels read); codes "
    "are then drawn in those proportions. Records get generator 'ema_qprior'.")
_GENERATOR = flags.DEFINE_enum(
    "generator", "auto", ["auto", "ema", "params"], "Which generator to score: the EMA one when "
    "the model keeps it (auto), or the trained weights themselves (params).")


# --- feature extractors and reference statistics ------------------------------------------------


def cache_dir() -> str:
    root = os.environ.get("JAXGAN_CACHE_DIR") or os.path.join("~", ".cache", "jaxgan")
    return os.path.join(os.path.expanduser(root), "reference_stats")


def reference_outputs(extractor, dataset: str, split: str, data_dir: str | None,
                      tfds_dir: str | None) -> tuple[str, dict[str, np.ndarray]]:
    """(id, {'features', 'logits', 'mu', 'sigma'}) of a whole real split, cached on disk under a
    hash of (dataset, split, extractor, its weights, preprocessing, count)."""
    from jaxgan.data import load_arrays
    from jaxgan.evaluation.metrics import feature_stats

    images, _ = load_arrays(dataset, split, data_dir, tfds_dir)
    # Only CAS reads the test split: load it on first use, not at every evaluator start.
    test_split = functools.cache(
        lambda: (*load_arrays(dataset, "test", data_dir, tfds_dir), dataset))
    key = json.dumps({
        "dataset": dataset, "split": split, "count": len(images), "extractor": extractor.name,
        "weights_sha256": extractor.weights_sha256, "preprocessing": extractor.preprocessing,
    }, sort_keys=True)
    ref_id = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"{ref_id}.npz")

    def cached():
        with np.load(path, allow_pickle=False) as archive:
            return ref_id, {**{name: archive[name] for name in archive.files},
                            "test_split": test_split}

    if os.path.isfile(path):
        return cached()
    # Evaluators that start together compute the statistics once: the others wait and read them.
    with filelock.exclusive(f"{path}.lock"):
        if os.path.isfile(path):
            return cached()
        features, logits = extractor(images)
        mu, sigma = feature_stats(features)
        outputs = {"features": features, "logits": logits, "mu": mu, "sigma": sigma}
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **outputs)
        os.replace(tmp, path)  # atomic: a killed job leaves no half-written cache
    return ref_id, {**outputs, "test_split": test_split}


def score(metrics, fake: dict[str, np.ndarray], reference: dict[str, np.ndarray],
          num_samples: int) -> dict[str, dict[str, Any]]:
    """{metric name: {value keys..., num_reference}} for one extractor's metrics."""
    subset = np.random.default_rng(EVAL_SEED).permutation(len(reference["features"]))
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
        else:
            ref, num_ref = None, 0
        outputs = fake[metric.output]
        if isinstance(outputs, tuple):  # (images or logits, requested labels)
            outputs = tuple(a[:count] for a in outputs)
            num_generated = min(count, len(outputs[0]))
        else:
            outputs = outputs[:count]
            num_generated = min(count, len(outputs))
        values = metric.compute(outputs, ref)
        results[metric.name] = {"values": values, "num_reference": num_ref,
                                "num_generated": num_generated}
    return results


# --- the record file: append-only, also the job's memory --------------------------------------


class RecordFile:
    """Append-only JSONL; each record is flushed and fsynced, a torn last line is dropped."""

    def __init__(self, path: str):
        self.path = path
        self.records: list[dict[str, Any]] = []
        if os.path.isfile(path):
            with open(path, "rb") as f:
                raw = f.read()
            complete = raw[: raw.rfind(b"\n") + 1]
            if len(complete) != len(raw):  # killed mid-write: drop the partial record
                with open(path, "wb") as f:
                    f.write(complete)
            self.records = [json.loads(line) for line in complete.decode().splitlines() if line]

    def done(self, step: int | None, protocol: str, generator: str,
             extractor_sha256: str) -> bool:
        """True when every quantity of `protocol` at `step` is recorded for `generator` with
        these extractor weights (a LeNet trained on another CPU has other weights: a workdir
        scored with those is scored again with these)."""
        found = [r for r in self.records if r.get("step") == step and r.get("protocol") == protocol
                 and r.get("generator", "params") == generator
                 and r.get("extractor_sha256") == extractor_sha256]
        return bool(found) and len({r["metric"] for r in found}) >= found[0]["outputs"]

    def has(self, record: dict[str, Any]) -> bool:
        # The protocol too: `cas_lenet` and `cas_lenet_60k` both record the metric "cas_lenet".
        return any(r.get("step") == record["step"] and r.get("metric") == record["metric"]
                   and r.get("protocol", r.get("metric")) == record.get("protocol",
                                                                        record["metric"])
                   and r.get("generator", "params") == record.get("generator", "params")
                   and r.get("extractor_sha256") == record.get("extractor_sha256")
                   for r in self.records)

    def append(self, record: dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records.append(record)


def _records(protocol: str, result: dict[str, Any], provenance: dict[str, Any]):
    """One record per reported quantity (pr_* reports precision and recall)."""
    values = result["values"]
    outputs = [key for key in values if not key.endswith("_std")]
    for key in outputs:
        yield {
            "metric": key, "protocol": protocol, "value": float(values[key]),
            "outputs": len(outputs),
            **({"std": float(values[f"{key}_std"])} if f"{key}_std" in values else {}),
            "num_generated": result["num_generated"], "num_reference": result["num_reference"],
            **provenance,
        }


# --- the job -----------------------------------------------------------------------------------


class Evaluator:
    def __init__(self, workdir: str, metric_names: str, num_samples: int, batch_size: int,
                 classifier_dir: str | None, inception: str | None, generator: str = "auto",
                 bn_recalibrate: int = 0, z_truncation: float | None = None,
                 truncation_psi: float | None = None, code_prior: str = "uniform"):
        self.workdir, self.num_samples, self.batch_size = workdir, num_samples, batch_size
        self.config = load_config(workdir)
        self.metrics = resolve_metrics(metric_names)
        self.family = families.get(self.config.family)
        self.spec = self.family.setup(self.config)
        abstract = jax.eval_shape(lambda: self.family.init(self.spec, self.config.seed))
        # The EMA generator when the model keeps one: what users sample and papers report.
        self.generator_item, self.abstract_generator = generator_item(abstract, generator)
        self.default_generator = "ema" if abstract.generator_ema else "params"
        self.generator_name = "ema" if self.generator_item == "generator_ema" else "params"
        self.abstract_discriminator = abstract.discriminator
        self.abstract_train = {"step": abstract.step, "rng": abstract.rng, "extra": abstract.extra}
        self.bn_recalibrate = int(bn_recalibrate)
        if self.bn_recalibrate:
            if self.bn_recalibrate < 0:
                raise UserError(f"--bn_recalibrate takes a number of passes >= 0, not "
                                f"{self.bn_recalibrate}")
            if (not hasattr(self.family, "recalibrate_batch_stats")
                    or "batch_stats" not in self.abstract_generator):
                raise UserError(f"--bn_recalibrate: this {self.config.model.name} generator has "
                                "no BatchNorm statistics to recalibrate")
            self.generator_name += f"_bn{self.bn_recalibrate}"
        self.truncation = self._truncation(z_truncation, truncation_psi)
        if z_truncation is not None:
            self.generator_name += f"_z{z_truncation:g}"
        if truncation_psi is not None:
            self.generator_name += f"_psi{truncation_psi:g}"
        # Keyword arguments of family.sample_latents and family.generate.
        self.latent_options = {} if z_truncation is None else {"truncation": z_truncation}
        generate_options = {} if truncation_psi is None else {"truncation_psi": truncation_psi}
        self.num_classes = int(getattr(self.spec, "num_classes", 0) or 0)
        self.info_categories = int(getattr(self.spec, "info_categories", 0) or 0)
        if code_prior not in ("uniform", "posterior"):
            raise UserError(f"--code_prior must be uniform or posterior, not {code_prior!r}")
        if code_prior == "posterior" and not self.info_categories:
            raise UserError("--code_prior=posterior re-weights an InfoGAN model's latent codes; "
                            "this model has none (model.info_categories is 0)")
        self.code_prior = code_prior
        if code_prior == "posterior":
            self.generator_name += "_qprior"
        conditional = [m.name for m in self.metrics if m.conditional]
        if self.num_classes == 0 and conditional:
            raise UserError(f"{', '.join(conditional)} score(s) generated images against their "
                            "requested labels and need a class-conditional model "
                            "(model.num_classes > 0)")
        self.generate = jax.jit(
            lambda v, z, y: self.family.generate(self.spec, v, z, y, **generate_options))
        self._real_images = None  # the real split, for --code_prior=posterior
        self.records = RecordFile(os.path.join(workdir, "eval", "metrics.jsonl"))
        self.checkpoints = Checkpointer(workdir, keep=1, read_only=True)
        self._tb = None
        ds = self.config.dataset
        self.extractors, self.references = {}, {}
        for kind in sorted({m.extractor for m in self.metrics}):
            extractor = load_extractor(kind, dataset=ds.name, classifier_path=classifier_dir,
                                       inception_weights=inception)
            self.extractors[kind] = extractor
            if ds.name not in ("mnist", "fashion_mnist"):
                raise UserError("reference statistics are built for mnist and fashion_mnist; "
                                f"{ds.name!r} is not supported by the evaluator yet")
            self.references[kind] = reference_outputs(
                extractor, ds.name, ds.split, ds.data_dir or None, ds.tfds_dir or None)

    def _truncation(self, z_threshold: float | None, psi: float | None) -> dict[str, float] | None:
        """The truncation trick asked for, as recorded in the provenance, or None."""
        family = self.config.family
        if z_threshold is not None and psi is not None:
            raise UserError("--z_truncation (gan family) and --truncation_psi (stylegan) "
                            "exclude each other")
        if z_threshold is not None:
            if family != "gan":
                raise UserError(f"--z_truncation applies to the gan family's N(0, I) latents; "
                                f"this is a {family} model: use --truncation_psi")
            if not (math.isfinite(z_threshold) and z_threshold > 0):
                raise UserError(f"--z_truncation takes a threshold > 0 (e.g. 1.0), not "
                                f"{z_threshold}")
            return {"z_threshold": float(z_threshold)}
        if psi is not None:
            if family != "stylegan":
                raise UserError(f"--truncation_psi applies to StyleGAN's w; this is a {family} "
                                "model: use --z_truncation")
            if not math.isfinite(psi):
                raise UserError(f"--truncation_psi takes a number (e.g. 0.7), not {psi}")
            return {"psi": float(psi)}
        return None

    def pending(self, steps: list[int]) -> list[int]:
        return [s for s in steps
                if not all(self.records.done(s, m.name, self.generator_name, self._sha(m))
                           for m in self.metrics)]

    def _sha(self, metric) -> str:
        return self.extractors[metric.extractor].weights_sha256

    def learned_code_prior(self, step: int) -> np.ndarray | None:
        """The code prior a `model.info_prior=learned` run learned by `step`, or None (uniform)."""
        if getattr(self.spec, "info_prior", "uniform") != "learned":
            return None
        train, _ = restore_item(self.workdir, "train", self.abstract_train, step)
        prior = np.asarray(train["extra"]["code_prior"], np.float64)
        return prior / prior.sum()

    def code_prior_of(self, step: int) -> dict[str, Any] | None:
        """How this evaluation draws InfoGAN codes at `step` (None: every code equally often):
        the run's learned prior, or with --code_prior=posterior the prior fitted to real data."""
        learned = self.learned_code_prior(step)
        if self.code_prior == "posterior":
            return self.estimated_code_prior(step, learned)
        if learned is None:
            return None
        return {"prior": "learned", "probs": [round(float(p), 6) for p in learned]}

    def estimated_code_prior(self, step: int, learned: np.ndarray | None) -> dict[str, Any]:
        """The code prior matched to the real training split by the Q head of D at `step`
        (see `jaxgan.code_prior`), with what the provenance records of it. Q's posteriors are
        taken as computed under the prior its training codes were drawn from: uniform, or a
        learned prior's sampling mixture."""
        from jaxgan import code_prior
        from jaxgan.data import load_arrays
        from jaxgan.data.pipeline import preprocess

        ds = self.config.dataset
        d_vars, _ = restore_item(self.workdir, "discriminator", self.abstract_discriminator, step)
        if self._real_images is None:
            images, _ = load_arrays(ds.name, ds.split, ds.data_dir or None,
                                        ds.tfds_dir or None)
            self._real_images = preprocess(images, ds.image_size, ds.channels)
        posteriors = code_prior.q_posteriors(self.spec, d_vars, self._real_images,
                                             self.batch_size)
        trained_with = None if learned is None else np.asarray(
            code_prior.sampling_prior(learned, self.spec.info_prior_floor))
        prior, iterations = code_prior.em_prior(posteriors, trained_with)
        return {"prior": "q_posterior_em", "probs": [round(float(p), 6) for p in prior],
                "em_iterations": iterations, "real_images": len(posteriors),
                "real": f"{ds.name}/{ds.split}"}

    def generated_images(self, generator_vars, prior: dict[str, Any] | None = None
                         ) -> tuple[np.ndarray, np.ndarray | None]:
        """(images, requested labels or None). A conditional model is asked for every class
        equally often (labels 0, 1, ..., K-1, 0, ...); an InfoGAN model gets every code equally
        often, or, with an estimated `prior`, codes in its proportions (a seeded stratified
        draw)."""
        count = max(m.num_samples or self.num_samples for m in self.metrics)
        key = jax.random.key(EVAL_SEED)
        batches = []
        k = self.num_classes or self.info_categories  # InfoGAN: every code equally often
        labels = np.arange(count + self.batch_size, dtype=np.int32) % k if k else None
        if prior is not None:
            from jaxgan.code_prior import stratified_codes

            labels = stratified_codes(np.asarray(prior["probs"]) / np.sum(prior["probs"]),
                                      count + self.batch_size, EVAL_SEED)
        for i, start in enumerate(range(0, count, self.batch_size)):
            z = self.family.sample_latents(self.spec, jax.random.fold_in(key, i), self.batch_size,
                                           **self.latent_options)
            y = None if labels is None else labels[start:start + self.batch_size]
            batches.append(np.asarray(self.generate(generator_vars, z, y)))
        if not self.num_classes:  # codes are not labels: nothing to score them against
            labels = None
        return np.concatenate(batches)[:count], None if labels is None else labels[:count]

    def evaluate_step(self, step: int) -> None:
        started = time.time()
        try:
            generator_vars, _ = restore_generator(self.workdir, self.abstract_generator, step,
                                                  self.generator_item)
        except UserError as e:  # rotated away by max_to_keep while we were busy
            print(f"skipping step {step}: {e}", file=sys.stderr)
            return
        if self.bn_recalibrate:
            generator_vars = self.family.recalibrate_batch_stats(
                self.spec, generator_vars, jax.random.key(EVAL_SEED + 1), self.bn_recalibrate,
                self.batch_size)
        prior = self.code_prior_of(step) if self.info_categories else None
        images, labels = self.generated_images(generator_vars, prior)
        for kind, extractor in self.extractors.items():
            metrics = [m for m in self.metrics if m.extractor == kind
                       and not self.records.done(step, m.name, self.generator_name,
                                                 self._sha(m))]
            if not metrics:
                continue
            features, logits = extractor(images)
            ref_id, reference = self.references[kind]
            results = score(metrics, {"features": features, "logits": logits,
                                      "labelled_images": (images, labels),
                                      "labelled_logits": (logits, labels)}, reference,
                            self.num_samples)
            for name, result in results.items():
                provenance = {
                    "step": step, "checkpoint_step": step, "extractor": extractor.name,
                    "extractor_sha256": extractor.weights_sha256,
                    "preprocessing": extractor.preprocessing, "reference_id": ref_id,
                    "reference": f"{self.config.dataset.name}/{self.config.dataset.split}",
                    "generator": self.generator_name,
                    "bn_recalibration": ({"passes": self.bn_recalibrate,
                                          "batch_size": self.batch_size}
                                         if self.bn_recalibrate else None),
                    "truncation": self.truncation,
                    "labels": "balanced" if self.num_classes else None,
                    "latent_codes": (prior or "balanced") if self.info_categories else None,
                    "eval_seed": EVAL_SEED,
                    "wall_time": time.time(), "seconds": round(time.time() - started, 2),
                }
                for record in _records(name, result, provenance):
                    if self.records.has(record):  # recorded before a torn write
                        continue
                    self.records.append(record)
                    self._tensorboard(record)
                    print(f"step {step} {record['metric']} = {record['value']:.4f}", flush=True)

    def _tensorboard(self, record: dict[str, Any]) -> None:
        if self._tb is None:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(os.path.join(self.workdir, "eval", "tensorboard"))
        # The default generator's curves are plain; an EMA run's raw generator and recalibrated
        # generators get their own.
        name = record.get("generator", "params")
        suffix = "" if name == self.default_generator else f"_{name}"
        self._tb.add_scalar(f"eval/{record['metric']}{suffix}", record["value"], record["step"])
        self._tb.flush()

    def run(self, once: bool, poll_seconds: float, max_idle_minutes: float,
            only_steps: list[int] | None = None) -> None:
        final = int(self.config.num_train_steps)
        last_new = time.time()
        while True:
            steps = self.checkpoints.all_steps() if os.path.isdir(self.checkpoints.directory) \
                else []
            if only_steps is not None:
                missing = sorted(set(only_steps) - set(steps))
                if missing:
                    raise UserError(f"no checkpoint at step(s) {missing} in "
                                    f"{self.checkpoints.directory}; have {steps}")
                steps, once = [s for s in steps if s in only_steps], True
            todo = self.pending(steps)
            for step in todo:
                self.evaluate_step(step)
            if todo:
                last_new = time.time()
            if once or (final in steps and not self.pending([final])):
                break
            if max_idle_minutes and time.time() - last_new > 60 * max_idle_minutes:
                print(f"no new checkpoint for {max_idle_minutes} minutes; exiting", flush=True)
                break
            time.sleep(poll_seconds)
        if self._tb is not None:
            self._tb.close()


def reference_floor(dataset: str, metric_names: str, data_dir: str | None,
                    classifier_dir: str | None, inception: str | None, out: str | None,
                    num_samples: int) -> list[dict[str, Any]]:
    """Scores the real test split as if it were generated: the best a model can hope for."""
    from jaxgan.data import load_arrays

    metrics = resolve_metrics(metric_names)
    records = []
    for kind in sorted({m.extractor for m in metrics}):
        extractor = load_extractor(kind, dataset=dataset, classifier_path=classifier_dir,
                                   inception_weights=inception)
        ref_id, reference = reference_outputs(extractor, dataset, "train", data_dir, None)
        test_images, test_labels = load_arrays(dataset, "test", data_dir)
        features, logits = extractor(test_images)
        # The CAS ceiling: the same recipe trained on as many real training images.
        # As many as the largest count asked for (`cas_lenet_60k` -> 60,000; score() then takes
        # each metric's own count from the front).
        count = max(m.num_samples or num_samples for m in metrics if m.extractor == kind)
        train_images, train_labels = load_arrays(dataset, "train", data_dir)
        real_labelled = (train_images[:count].astype(np.float32) / 127.5 - 1.0,
                         train_labels[:count])
        results = score([m for m in metrics if m.extractor == kind],
                        {"features": features, "logits": logits,
                         "labelled_images": real_labelled,
                         "labelled_logits": (logits, test_labels)}, reference, num_samples)
        for name, result in results.items():
            provenance = {
                "step": None, "kind": "real_data_floor", "generated": f"{dataset}/test",
                "reference": f"{dataset}/train", "extractor": extractor.name,
                "extractor_sha256": extractor.weights_sha256,
                "preprocessing": extractor.preprocessing, "reference_id": ref_id,
                "eval_seed": EVAL_SEED, "wall_time": time.time(),
            }
            records.extend(_records(name, result, provenance))
    sink = RecordFile(out) if out else None
    for record in records:
        if sink:
            sink.append(record)
        print(json.dumps(record, sort_keys=True), flush=True)
    return records


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    if _REFERENCE.value:
        if not _DATASET.value:
            raise UserError("--reference needs --dataset=mnist or --dataset=fashion_mnist")
        reference_floor(_DATASET.value, _METRICS.value, _DATA_DIR.value, _CLASSIFIER.value,
                        _INCEPTION.value, _OUT.value, _NUM_SAMPLES.value)
        return
    if not _WORKDIR.value:
        raise UserError("--workdir is required (or --reference --dataset=NAME)")
    evaluator = Evaluator(_WORKDIR.value, _METRICS.value, _NUM_SAMPLES.value, _BATCH.value,
                          _CLASSIFIER.value, _INCEPTION.value, _GENERATOR.value,
                          _BN_RECALIBRATE.value, _Z_TRUNCATION.value, _PSI.value,
                          _CODE_PRIOR.value)
    try:
        only_steps = None if _STEPS.value is None else [int(s) for s in _STEPS.value]
    except ValueError:
        raise UserError(f"--steps takes checkpoint step numbers, not {_STEPS.value}") from None
    evaluator.run(_ONCE.value, _POLL.value, _MAX_IDLE.value, only_steps)


if __name__ == "__main__":
    cli.run(main, "jaxgan.evaluate")
