"""The evaluator job (`jaxgan.evaluation.job`): watches a training workdir's checkpoints
(read-only), scores each once.

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

from absl import flags

from jaxgan import cli
from jaxgan.errors import UserError
from jaxgan.evaluation import job

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's workdir.")
_METRICS = flags.DEFINE_string(
    "metrics", None, "Comma-separated protocol names (default: fid_lenet,kid_lenet,is_lenet,"
    "pr_lenet on MNIST / Fashion-MNIST, the *_inception ones on other data, l1,psnr,ssim for an "
    "image-conditioned generator).")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Generated images per metric.")
_ONCE = flags.DEFINE_bool("once", False, "Evaluate the checkpoints present now, then exit.")
_POLL = flags.DEFINE_float("poll_seconds", 30.0, "How often to look for new checkpoints.")
_MAX_IDLE = flags.DEFINE_float(
    "max_idle_minutes", 0.0, "Exit after this long with no new checkpoint (0: wait for the final "
    "step however long it takes).")
_REFERENCE = flags.DEFINE_bool(
    "reference", False, "Score the real test split against the train split (the floor).")
_DATASET = flags.DEFINE_string(
    "dataset", None, "Dataset for --reference (mnist, fashion_mnist, cifar10).")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "With --reference: the dataset's files (default: found or downloaded).")
_OUT = flags.DEFINE_string("out", None, "With --reference: JSONL to append to (default: stdout).")
_INCEPTION = flags.DEFINE_string(
    "inception_weights", None, "pt_inception-2015-12-05-6726825d.pth for *_inception metrics "
    "(or $JAXGAN_INCEPTION_WEIGHTS).")
_CLASSIFIER = flags.DEFINE_string(
    "classifier_dir", None, "A LeNet you trained (python -m jaxgan.classifier --out=DIR) to score "
    "the *_lenet metrics with, instead of the weights shipped with jaxgan.")
_BATCH = flags.DEFINE_integer("batch_size", 500, "Generation batch size.")
_BN_RECALIBRATE = flags.DEFINE_integer(
    "bn_recalibrate", 0, "Before scoring, re-estimate the generator's BatchNorm running statistics "
    "with N training-mode passes of --batch_size latents (weights unchanged; BigGAN's standing "
    "statistics). Records get generator 'ema_bnN' / 'params_bnN'. 0: as checkpointed.")
_Z_TRUNCATION = flags.DEFINE_float(
    "z_truncation", None, "Generators fed N(0, I) latents: score samples of z drawn from "
    "N(0, 1) truncated to [-T, T] (BigGAN's truncation trick; trades recall for precision). "
    "Records get generator 'ema_zT'.")
_PSI = flags.DEFINE_float(
    "truncation_psi", None, "Generators with a W space (StyleGAN): score samples of "
    "w_avg + psi * (w - w_avg) (the StyleGAN truncation trick). Records get generator 'ema_psiP'.")
_STEPS = flags.DEFINE_list(
    "steps", None, "Only these checkpoint steps (e.g. 3000, 1000,3000, or last: the latest "
    "checkpoint); implies --once.")
_CODE_PRIOR = flags.DEFINE_string(
    "code_prior", "uniform", "Models with a categorical latent code (InfoGAN): the distribution "
    "of the code. uniform: the run's own prior (uniform, or the prior it learned). posterior: "
    "the prior that matches the codes' shares to the real training split, by EM on the Q "
    "head's posteriors of the real images (label-shift EM, Saerens et al. 2002; no labels "
    "read); codes are then drawn in those proportions. Records get generator 'ema_qprior'.")
_NETWORK = flags.DEFINE_string(
    "network", None, "Which of the model's generators to score (e.g. G_BA); default its first.")
_GENERATOR = flags.DEFINE_enum(
    "generator", "auto", ["auto", "ema", "params", "bicubic"], "Which generator to score: the "
    "EMA one when the model keeps it (auto), or the trained weights themselves (params); "
    "bicubic: a super-resolution model's inputs upscaled by PIL's bicubic filter, the "
    "baseline to beat, scored by the same code.")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    if _REFERENCE.value:
        if not _DATASET.value:
            raise UserError("--reference needs --dataset=mnist or --dataset=fashion_mnist")
        job.reference_floor(_DATASET.value, _METRICS.value or job.default_metrics(_DATASET.value),
                            _DATA_DIR.value, _CLASSIFIER.value, _INCEPTION.value, _OUT.value,
                            _NUM_SAMPLES.value)
        return
    if not _WORKDIR.value:
        raise UserError("--workdir is required (or --reference --dataset=NAME)")
    only_steps = job.parse_steps(_STEPS.value)
    options = job.Options(generator=_GENERATOR.value, network=_NETWORK.value,
                          bn_recalibrate=_BN_RECALIBRATE.value, z_truncation=_Z_TRUNCATION.value,
                          truncation_psi=_PSI.value, code_prior=_CODE_PRIOR.value)
    evaluator = job.Evaluator(_WORKDIR.value, _METRICS.value, _NUM_SAMPLES.value, _BATCH.value,
                              _CLASSIFIER.value, _INCEPTION.value, options)
    evaluator.run(_ONCE.value, _POLL.value, _MAX_IDLE.value, only_steps)


if __name__ == "__main__":
    cli.run(main, "jaxgan.evaluate")
