"""Experiment configs: the keys every experiment declares, variants as data, and flag parsing that
turns a config mistake into one clear line."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import ml_collections
from absl import flags

from jaxgan.errors import UserError


def optimizer_config(learning_rate: float, b1: float = 0.5, b2: float = 0.999) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        {"name": "adam", "learning_rate": learning_rate, "b1": b1, "b2": b2, "eps": 1e-8}
    )


def base_config() -> ml_collections.ConfigDict:
    """Every key the shared training loop reads, with defaults; experiments override values."""
    c = ml_collections.ConfigDict()
    c.family = "gan"  # module in jaxgan.families
    c.seed = 0
    c.batch_size = 64  # global, over all processes and devices
    c.num_train_steps = 1000
    c.log_every_steps = 100
    c.checkpoint_every_steps = 1000
    c.keep_checkpoints = 3
    c.sample_every_steps = 1000
    c.num_sample_images = 64
    # Device mesh: axis name -> size; -1 takes the remaining devices. Batches are split over 'data'.
    c.mesh = ml_collections.ConfigDict({"data": -1, "model": 1})
    c.dataset = ml_collections.ConfigDict(
        {
            "name": "mnist",  # mnist | fashion_mnist | image_folder
            "data_dir": "",  # IDX files or image folder; '' = $JAXGAN_DATA_DIR or bundled data/
            "tfds_dir": "",  # where tfds prepares array_record; '' = $JAXGAN_TFDS_DIR or ~/tensorflow_datasets
            "split": "train",
            "image_size": 28,
            "channels": 1,
            "max_examples": 0,  # > 0 keeps the first N examples (quick runs)
        }
    )
    c.model = ml_collections.ConfigDict(
        {"name": "dcgan", "latent_dim": 100, "ngf": 64, "ndf": 64, "dtype": "float32"}
    )
    c.loss = ml_collections.ConfigDict({"name": "non_saturating"})
    c.g_optimizer = optimizer_config(2e-4)
    c.d_optimizer = optimizer_config(2e-4)
    return c


def gan_config() -> ml_collections.ConfigDict:
    """`base_config` plus the keys of the `gan` family (DCGAN, cGAN, WGAN-GP, SNGAN, SAGAN) and its
    stabilisation toolbox; every technique is off by default (plain DCGAN)."""
    c = base_config()
    c.model.num_classes = 0  # > 0: conditional G (label embedding) and projection D
    c.model.g_conditional_bn = False  # dcgan + num_classes: class-conditional BatchNorm in G
    c.model.g_spectral_norm = False  # SAGAN puts spectral norm in G as well
    c.model.attention_resolution = 0  # sagan: resolution of the self-attention block
    # > 1: InfoGAN (Chen et al. 2016): G also takes a uniform K-way latent code, which a Q head
    # on D's features learns to predict (no labels used); dcgan only.
    c.model.info_categories = 0
    # The codes' prior: "uniform" (InfoGAN's), or "learned": from `training.info_prior_start_step`
    # on, online EM on the Q head's posteriors of the real batches moves it to the codes' shares
    # of the real data (jaxgan.code_prior), and codes are drawn from it.
    c.model.info_prior = "uniform"
    # True: D's projection head (as a cGAN's) conditioned on the code: generated images by the
    # code they were drawn with, real ones by the code Q assigns them (self-conditioned GAN).
    c.model.info_projection = False
    c.loss.real_label = 1.0  # < 1: one-sided label smoothing (logistic losses)
    c.loss.feature_matching = False  # G matches D's mean features on real data
    c.loss.info_weight = 1.0  # lambda of InfoGAN's code cross entropy (G and Q minimise it)
    # > 0: lambda of MSGAN's mode-seeking term (G): the batch's second half reuses the first
    # half's InfoGAN codes with new z, and G is pushed to make those pairs differ.
    c.loss.mode_seeking = 0.0
    c.loss.mode_seeking_steps = 0  # > 0: anneal that lambda linearly to 0 over these steps
    c.regularizer = ml_collections.ConfigDict({
        "gradient_penalty": 0.0,  # WGAN-GP lambda (10 in the paper)
        "r1_gamma": 0.0,  # gamma of gamma/2 * E||grad D(real)||^2
        "r2_gamma": 0.0,  # the same on generated images
        # > 1: R1 and R2 lazily (StyleGAN2), on every k-th step only and weighted k times, in
        # the same D update as the loss; the other steps skip their double backward pass.
        "r1_interval": 1,
        "orthogonal": 0.0,  # BigGAN's orthogonal regularisation of G (1e-4 in the paper)
    })
    c.d_layers = ml_collections.ConfigDict({
        "norm": "batch",  # batch | layer | none (no batch statistics in a GP critic)
        "spectral_norm": False,
        "minibatch_std": False,  # StyleGAN2's stddev channel before the last layer
        "minibatch_discrimination": 0,  # number of minibatch-discrimination kernels (0: off)
    })
    c.training = ml_collections.ConfigDict({
        "n_critic": 1,  # discriminator steps per generator step
        "ema_decay": 0.0,  # generator EMA (evaluated and sampled when on), e.g. 0.999
        "ema_start_step": 0,  # the EMA copies the generator before this step
        "instance_noise": 0.0,  # std of Gaussian noise added to D's inputs
        "instance_noise_steps": 0,  # anneal that std linearly to 0 over these steps (0: constant)
        # model.info_prior=learned: when the prior starts to move, how slowly (per step), and the
        # share of training codes still drawn uniformly (so every code keeps being trained).
        "info_prior_start_step": 2000,
        "info_prior_momentum": 0.999,
        "info_prior_floor": 0.1,
    })
    c.augment = ml_collections.ConfigDict({"policy": ""})  # DiffAugment, e.g. "translation,cutout,color"
    return c


# Seconds on a CPU: tiny widths, a 512-image subset, every output written. Shared by the small
# gray-image experiments (tests run each experiment through it).
SMOKE = {
    "batch_size": 16, "num_train_steps": 4, "log_every_steps": 2,
    "checkpoint_every_steps": 2, "sample_every_steps": 4, "num_sample_images": 16,
    "dataset.max_examples": 512, "model.ngf": 8, "model.ndf": 8, "model.latent_dim": 16,
}


def gray_gan_config(dataset: str, num_train_steps: int,
                    image_size: int = 28) -> ml_collections.ConfigDict:
    """`gan_config` for MNIST or Fashion-MNIST: batch 64, logging every 100 steps, a checkpoint
    and sample grid every 1000, `num_train_steps` steps."""
    c = gan_config()
    c.batch_size = 64
    c.num_train_steps = num_train_steps
    c.log_every_steps = 100
    c.checkpoint_every_steps = 1000
    c.sample_every_steps = 1000
    c.dataset.name = dataset
    c.dataset.image_size = image_size  # 32: the 28x28 images centred on a 32x32 canvas
    c.dataset.channels = 1
    return c


def wgan_gp_config(dataset: str) -> ml_collections.ConfigDict:
    """WGAN-GP (Gulrajani et al. 2017) on the DCGAN networks: a layer-normalised critic (no batch
    statistics under a gradient penalty), Wasserstein loss, lambda=10, 5 critic steps per
    generator step, Adam(1e-4, beta1=0, beta2=0.9) as in the paper's Algorithm 1."""
    c = gray_gan_config(dataset, num_train_steps=5000)
    c.loss.name = "wasserstein"
    c.regularizer.gradient_penalty = 10.0
    c.d_layers.norm = "layer"
    c.training.n_critic = 5
    c.g_optimizer = optimizer_config(1e-4, b1=0.0, b2=0.9)
    c.d_optimizer = optimizer_config(1e-4, b1=0.0, b2=0.9)
    return c


def sngan_config(dataset: str, width: int = 32) -> ml_collections.ConfigDict:
    """SNGAN's ResNet G and spectrally normalised ResNet D on 28x28 images centred on 32x32, the
    hinge loss, latent 128. Width 32 costs 26 GFLOP per step of 64 here (width 64: 103; the
    28 px DCGAN: 9.2), from `--dry_run`."""
    c = gray_gan_config(dataset, num_train_steps=3000, image_size=32)
    c.model.name = "sngan"
    c.model.latent_dim = 128
    c.model.ngf = width
    c.model.ndf = width
    c.loss.name = "hinge"
    return c


def finalize(
    config: ml_collections.ConfigDict, arg: str | None, variants: Mapping[str, Mapping[str, Any]]
) -> ml_collections.ConfigDict:
    """Applies the variant named `arg` (flat 'a.b' keys -> values) and locks the config."""
    if arg:
        if arg not in variants:
            raise UserError(f"unknown config variant {arg!r}; this experiment has {sorted(variants)}")
        set_keys(config, variants[arg])
    config.lock()
    return config


def set_keys(config: ml_collections.ConfigDict, values: Mapping[str, Any]) -> None:
    """Sets flat 'a.b' keys, as `--config.a.b=value` would."""
    with config.unlocked():
        for key, value in values.items():
            node = config
            *parents, leaf = key.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value


def to_json(config: ml_collections.ConfigDict) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)


def parse_flags_or_exit(argv: list[str], config_flag: str = "config") -> list[str]:
    """absl flag parsing that reports an unknown/mistyped config key or a bad config file as one
    line (no traceback) and exits with status 2."""
    try:
        rest = flags.FLAGS(argv)
        if config_flag in flags.FLAGS and flags.FLAGS[config_flag].present:
            config = flags.FLAGS[config_flag].value
            # config_flags defers load errors to first use; force them now.
            config.to_dict() if isinstance(config, ml_collections.ConfigDict) else config.x
    except UserError as e:
        _die(str(e))
    except (AttributeError, KeyError) as e:
        msg = str(e).strip("'\"").replace("\\n", " ").replace("\\'", "'").replace('\\"', '"')
        _die(f"unknown config key {msg} (run with --config=FILE and see its get_config for keys)")
    except flags.Error as e:
        _die(str(e))
    except (OSError, ImportError, SyntaxError, TypeError, ValueError) as e:
        _die(f"cannot load the config: {e}")
    return rest


def _die(message: str) -> None:
    prog = sys.argv[0].rsplit("/", 1)[-1]
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)
