"""The stylegan family's config schema and its presets as data (stylegan2-ada-pytorch's `--cfg`
specs; `experiments/stylegan.py` applies them)."""

from __future__ import annotations

import ml_collections

from jaxgan import config_lib


def config() -> ml_collections.ConfigDict:
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
    return c


def _kimg_steps(kimg: int, batch: int) -> int:
    return kimg * 1000 // batch


def gray(dataset: str) -> dict:
    """32 px MNIST / Fashion-MNIST with the reference's 'auto' heuristics (map 2, mbstd 4,
    gamma 0.0002 * res^2 / batch, EMA batch * 10 / 32 kimg with ramp-up 0.05) and narrower
    layers that train on a CPU: 128 channels at 4-8 px, 64 at 16, 32 at 32."""
    return {
        "dataset.name": dataset, "dataset.image_size": 32, "dataset.channels": 1,
        "batch_size": 32, "num_train_steps": 12000,
        "model.latent_dim": 128, "model.w_dim": 128, "model.mapping_layers": 2,
        "model.channel_base": 1024, "model.channel_max": 128,
        "loss.r1_gamma": 0.0002 * 32**2 / 32,
        "ema.kimg": 32 * 10 / 32, "ema.rampup": 0.05,
    }


def auto(dataset: str) -> dict:
    """`gray` at the reference's full --cfg=auto width for 32 px on one GPU: 512 channels at
    every resolution, z / w 512, and its mixed precision (an accelerator recipe)."""
    return {
        **gray(dataset),
        "num_train_steps": 25000, "checkpoint_every_steps": 1000, "sample_every_steps": 1000,
        "model.latent_dim": 512, "model.w_dim": 512,
        "model.channel_base": 16384, "model.channel_max": 512,
        "model.num_bf16_res": 4, "model.conv_clamp": 256,
    }


# stylegan2-ada-pytorch's specs: 'cifar' (no path length, no style mixing, 'orig' D),
# 'paper256' and 'stylegan2' (config F at 1024 px). Their mixed precision is bfloat16 in the 4
# highest resolutions with activations clamped to +-256, as the reference's float16.
CIFAR = {
    "dataset.image_size": 32, "dataset.channels": 3,
    "batch_size": 64, "num_train_steps": _kimg_steps(100000, 64),
    "model.channel_base": 32768, "model.mapping_layers": 2, "model.mbstd_group_size": 32,
    "model.d_architecture": "orig", "model.num_bf16_res": 4, "model.conv_clamp": 256,
    "g_optimizer.learning_rate": 0.0025, "d_optimizer.learning_rate": 0.0025,
    "loss.r1_gamma": 0.01, "loss.pl_weight": 0.0, "loss.style_mixing_prob": 0.0,
    "ema.kimg": 500.0, "ema.rampup": 0.05,
}
PAPER256 = {
    "dataset.name": "image_folder", "dataset.image_size": 256, "dataset.channels": 3,
    "batch_size": 64, "num_train_steps": _kimg_steps(25000, 64),
    "model.channel_base": 16384, "model.mbstd_group_size": 8,
    "model.num_bf16_res": 4, "model.conv_clamp": 256,
    "g_optimizer.learning_rate": 0.0025, "d_optimizer.learning_rate": 0.0025,
    "loss.r1_gamma": 1.0, "ema.kimg": 20.0, "ema.rampup": 0.0,
}
CONFIG_F = {
    "dataset.name": "image_folder", "dataset.image_size": 1024, "dataset.channels": 3,
    "batch_size": 32, "num_train_steps": _kimg_steps(25000, 32),
    "model.channel_base": 32768, "model.mbstd_group_size": 4,
    "model.num_bf16_res": 4, "model.conv_clamp": 256,
    "g_optimizer.learning_rate": 0.002, "d_optimizer.learning_rate": 0.002,
    "loss.r1_gamma": 10.0, "ema.kimg": 10.0, "ema.rampup": 0.0,
}
# Seconds on a CPU: tiny widths, a 512-image subset, every phase and output exercised.
SMOKE = {
    **gray("mnist"), **config_lib.SMOKE_LOOP, "batch_size": 8,
    "model.latent_dim": 16, "model.w_dim": 16,
    "model.channel_base": 128, "model.channel_max": 16,
}
