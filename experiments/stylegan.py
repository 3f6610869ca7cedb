"""StyleGAN2: Fashion-MNIST by default (reduced widths that train on a CPU), and the reference's
presets for users with accelerators and their own image folders.

    python -m jaxgan.main --config=experiments/stylegan.py --workdir=runs/stylegan_fashion32
    python -m jaxgan.main --config=experiments/stylegan.py:mnist32 --workdir=runs/stylegan_mnist32
    python -m jaxgan.main --config=experiments/stylegan.py:fashion32_auto --workdir=runs/sg_auto  # GPU
    python -m jaxgan.main --config=experiments/stylegan.py:ffhq256 \
        --config.dataset.data_dir=/data/ffhq256 --workdir=runs/ffhq256
    python -m jaxgan.main --config=experiments/stylegan.py:smoke --workdir=/tmp/smoke

Presets follow stylegan2-ada-pytorch's `--cfg` specs (train.py there): channel_base =
fmaps * 32768, channel_max 512, Adam(0, 0.99) at `lrate`, R1 `gamma`, EMA half-life `ema` kimg
with ramp-up `ramp`, `map` mapping layers, `mbstd` group size; `num_train_steps` = kimg * 1000 /
batch. `ffhq1024` is its 'stylegan2' spec (config F at 1024 px), `ffhq256` 'paper256', `cifar32`
'cifar' (no path length, no style mixing, 'orig' D; the paper's CIFAR-10 runs are
class-conditional: set model.num_classes=10 with one sub-folder per class). Their mixed precision
is bfloat16 in the 4 highest resolutions with activations clamped to +-256, as the reference's
float16. The gray presets use the reference's 'auto' heuristics (map 2, mbstd 4, gamma
0.0002 * res^2 / batch, EMA batch * 10 / 32 kimg with ramp-up 0.05) with narrower layers.
"""

import ml_collections

from jaxgan import config_lib


def _gray(dataset: str) -> dict:
    return {
        "dataset.name": dataset, "dataset.image_size": 32, "dataset.channels": 1,
        "batch_size": 32, "num_train_steps": 12000,
        "model.latent_dim": 128, "model.w_dim": 128, "model.mapping_layers": 2,
        "model.channel_base": 1024, "model.channel_max": 128,  # 128 ch at 4-8 px, 64 at 16, 32 at 32
        "loss.r1_gamma": 0.0002 * 32**2 / 32,
        "ema.kimg": 32 * 10 / 32, "ema.rampup": 0.05,
    }


def _auto(dataset: str) -> dict:
    """The gray preset at the reference's full --cfg=auto width for 32 px on one GPU: 512 channels
    at every resolution, z / w 512, and its mixed precision. 88x the gray preset's FLOPs: an
    accelerator recipe (session 12 trained the Fashion-MNIST one on one H100, README)."""
    return {
        **_gray(dataset),
        "num_train_steps": 25000, "checkpoint_every_steps": 1000, "sample_every_steps": 1000,
        "model.latent_dim": 512, "model.w_dim": 512,
        "model.channel_base": 16384, "model.channel_max": 512,
        "model.num_bf16_res": 4, "model.conv_clamp": 256,
    }


def _kimg_steps(kimg: int, batch: int) -> int:
    return kimg * 1000 // batch


VARIANTS = {
    "fashion32": _gray("fashion_mnist"),
    "mnist32": _gray("mnist"),
    "fashion32_auto": _auto("fashion_mnist"),
    "mnist32_auto": _auto("mnist"),
    "cifar32": {
        "dataset.name": "image_folder", "dataset.image_size": 32, "dataset.channels": 3,
        "batch_size": 64, "num_train_steps": _kimg_steps(100000, 64),
        "model.channel_base": 32768, "model.mapping_layers": 2, "model.mbstd_group_size": 32,
        "model.d_architecture": "orig", "model.num_bf16_res": 4, "model.conv_clamp": 256,
        "g_optimizer.learning_rate": 0.0025, "d_optimizer.learning_rate": 0.0025,
        "loss.r1_gamma": 0.01, "loss.pl_weight": 0.0, "loss.style_mixing_prob": 0.0,
        "ema.kimg": 500.0, "ema.rampup": 0.05,
    },
    "ffhq256": {
        "dataset.name": "image_folder", "dataset.image_size": 256, "dataset.channels": 3,
        "batch_size": 64, "num_train_steps": _kimg_steps(25000, 64),
        "model.channel_base": 16384, "model.mbstd_group_size": 8,
        "model.num_bf16_res": 4, "model.conv_clamp": 256,
        "g_optimizer.learning_rate": 0.0025, "d_optimizer.learning_rate": 0.0025,
        "loss.r1_gamma": 1.0, "ema.kimg": 20.0, "ema.rampup": 0.0,
    },
    "ffhq1024": {
        "dataset.name": "image_folder", "dataset.image_size": 1024, "dataset.channels": 3,
        "batch_size": 32, "num_train_steps": _kimg_steps(25000, 32),
        "model.channel_base": 32768, "model.mbstd_group_size": 4,
        "model.num_bf16_res": 4, "model.conv_clamp": 256,
        "g_optimizer.learning_rate": 0.002, "d_optimizer.learning_rate": 0.002,
        "loss.r1_gamma": 10.0, "ema.kimg": 10.0, "ema.rampup": 0.0,
    },
    # Seconds on a CPU: tiny widths, a 512-image subset, every phase and output exercised.
    "smoke": {
        **_gray("mnist"),
        "batch_size": 8, "num_train_steps": 4, "log_every_steps": 2,
        "checkpoint_every_steps": 2, "sample_every_steps": 4, "num_sample_images": 16,
        "dataset.max_examples": 512, "model.latent_dim": 16, "model.w_dim": 16,
        "model.channel_base": 128, "model.channel_max": 16,
    },
}
DEFAULT = "fashion32"


def get_config(arg=None):
    c = config_lib.base_config()
    c.family = "stylegan"
    c.log_every_steps = 100
    c.checkpoint_every_steps = 1000
    c.sample_every_steps = 1000
    c.model = ml_collections.ConfigDict({
        "name": "stylegan2",
        "latent_dim": 512,  # z
        "w_dim": 512,
        "num_classes": 0,  # > 0: label embedding in the mapping network, projection D
        "mapping_layers": 8,
        "mapping_lr_mult": 0.01,
        "w_avg_beta": 0.995,
        "channel_base": 32768,  # channels at resolution r: min(channel_base // r, channel_max)
        "channel_max": 512,
        "d_architecture": "resnet",  # resnet | orig
        "mbstd_group_size": 4,
        "mbstd_num_channels": 1,
        "num_bf16_res": 0,  # bfloat16 compute in this many highest resolutions
        "conv_clamp": 0,  # clamp conv outputs to +-this (0: off; 256 with bfloat16)
    })
    c.loss = ml_collections.ConfigDict({
        "name": "stylegan2",  # non-saturating logistic + lazy R1 + lazy path length
        "r1_gamma": 10.0,
        "d_reg_interval": 16,
        "pl_weight": 2.0,
        "g_reg_interval": 4,
        "pl_decay": 0.01,
        "pl_batch_shrink": 2,
        "style_mixing_prob": 0.9,
    })
    c.ema = ml_collections.ConfigDict({
        "kimg": 10.0,  # half-life of the generator EMA, thousands of images
        "rampup": 0.0,  # > 0: half-life at most rampup * images seen (0: off)
    })
    # DiffAugment (Zhao et al. 2020) on everything D sees, e.g. "translation,cutout" or
    # "color,translation,cutout" (their StyleGAN2 setting); "" = off, as the reference.
    c.augment = ml_collections.ConfigDict({"policy": ""})
    c.g_optimizer = config_lib.optimizer_config(0.0025, b1=0.0, b2=0.99)
    c.d_optimizer = config_lib.optimizer_config(0.0025, b1=0.0, b2=0.99)
    return config_lib.finalize(c, arg or DEFAULT, VARIANTS)
