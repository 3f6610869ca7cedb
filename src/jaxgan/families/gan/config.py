"""The gan family's config schema, and its presets as data (flat 'a.b' keys -> values).

An experiment composes them: `config()`, then `config_lib.set_keys` with presets, then
`config_lib.finalize` with its variants.
"""

from __future__ import annotations

import ml_collections

from jaxgan import config_lib


def config() -> ml_collections.ConfigDict:
    """Every key of the `gan` family (DCGAN, cGAN, InfoGAN, WGAN-GP, SNGAN, SAGAN) and its
    stabilisation toolbox; every technique is off by default (plain DCGAN)."""
    c = config_lib.base_config()
    c.family = "gan"
    c.model = ml_collections.ConfigDict({
        "name": "dcgan",  # dcgan | sngan | sagan | biggan
        "latent_dim": 100,
        "ngf": 64,
        "ndf": 64,
        "dtype": "float32",
        "num_classes": 0,  # > 0: conditional G (label embedding) and projection D
        "g_conditional_bn": False,  # dcgan + num_classes: class-conditional BatchNorm in G
        "g_spectral_norm": False,  # SAGAN puts spectral norm in G as well
        "attention_resolution": 0,  # sagan, biggan: resolution of the self-attention block
        # biggan (Brock et al. 2019): the shared class embedding's size (0: each conditional
        # BatchNorm embeds the class itself), the hierarchical latent (z split into one chunk
        # for the input layer and one per block), G's normalisation ("batch"; "none": gain and
        # bias only, no batch statistics, BigGAN-PyTorch's norm_style=nonorm) and the weights'
        # initialisation ("ortho" or "N02": N(0, 0.02)).
        "shared_dim": 0,
        "hier": False,
        "g_norm": "batch",
        "weight_init": "ortho",
        # > 1: InfoGAN (Chen et al. 2016): G also takes a uniform K-way latent code, which a Q
        # head on D's features learns to predict (no labels used); dcgan only.
        "info_categories": 0,
        # The codes' prior: "uniform" (InfoGAN's), or "learned": from
        # `training.info_prior_start_step` on, online EM on the Q head's posteriors of the real
        # batches moves it to the codes' shares of the real data, and codes are drawn from it.
        "info_prior": "uniform",
        # True: D's projection head (as a cGAN's) conditioned on the code: generated images by
        # the code they were drawn with, real ones by the code Q assigns them.
        "info_projection": False,
    })
    c.loss = ml_collections.ConfigDict({
        "name": "non_saturating",  # non_saturating | minimax | hinge | wasserstein | least_squares
        "real_label": 1.0,  # < 1: one-sided label smoothing (logistic losses)
        "feature_matching": False,  # G matches D's mean features on real data
        "info_weight": 1.0,  # lambda of InfoGAN's code cross entropy (G and Q minimise it)
        # > 0: lambda of MSGAN's mode-seeking term (G): the batch's second half reuses the first
        # half's InfoGAN codes with new z, and G is pushed to make those pairs differ.
        "mode_seeking": 0.0,
        "mode_seeking_steps": 0,  # > 0: anneal that lambda linearly to 0 over these steps
    })
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
        # PacGAN (Lin et al. 2018): D judges `pack` samples at once, stacked along channels
        # (all real or all generated), which penalises a G that repeats itself. 1: off.
        "pack": 1,
    })
    c.training = ml_collections.ConfigDict({
        "n_critic": 1,  # discriminator steps per generator step
        "ema_decay": 0.0,  # generator EMA (evaluated and sampled when on), e.g. 0.999
        "ema_start_step": 0,  # the EMA copies the generator before this step
        "instance_noise": 0.0,  # std of Gaussian noise added to D's inputs
        "instance_noise_steps": 0,  # anneal that std linearly to 0 over these steps (0: constant)
        # model.info_prior=learned: when the prior starts to move, how slowly (per step), and
        # the share of training codes still drawn uniformly (so every code keeps being trained).
        "info_prior_start_step": 2000,
        "info_prior_momentum": 0.999,
        "info_prior_floor": 0.1,
    })
    # DiffAugment (Zhao et al. 2020) on what D sees, e.g. "translation,cutout,color"
    c.augment = ml_collections.ConfigDict({"policy": ""})
    c.g_optimizer = config_lib.optimizer_config(2e-4)
    c.d_optimizer = config_lib.optimizer_config(2e-4)
    return c


def gray(dataset: str, num_train_steps: int, image_size: int = 28) -> dict:
    """MNIST or Fashion-MNIST, batch 64, logs every 100 steps, a checkpoint and a sample grid
    every 1000. `image_size` 32 centres the 28x28 images on a 32x32 canvas."""
    return {
        "batch_size": 64, "num_train_steps": num_train_steps, "log_every_steps": 100,
        "checkpoint_every_steps": 1000, "sample_every_steps": 1000,
        "dataset.name": dataset, "dataset.image_size": image_size, "dataset.channels": 1,
    }


# WGAN-GP (Gulrajani et al. 2017) on the DCGAN networks: a layer-normalised critic (no batch
# statistics under a gradient penalty), Wasserstein loss, lambda 10, 5 critic steps per
# generator step, Adam(1e-4, beta1=0, beta2=0.9) as in the paper's Algorithm 1.
WGAN_GP = {
    "num_train_steps": 5000, "loss.name": "wasserstein", "regularizer.gradient_penalty": 10.0,
    "d_layers.norm": "layer", "training.n_critic": 5,
    "g_optimizer.learning_rate": 1e-4, "g_optimizer.b1": 0.0, "g_optimizer.b2": 0.9,
    "d_optimizer.learning_rate": 1e-4, "d_optimizer.b1": 0.0, "d_optimizer.b2": 0.9,
}


def sngan(width: int = 32) -> dict:
    """SNGAN's ResNet G and spectrally normalised ResNet D (Miyato et al. 2018), the hinge loss,
    latent 128, at channel width `width` (the paper's CIFAR widths: ngf 256, ndf 128)."""
    return {"model.name": "sngan", "model.latent_dim": 128, "model.ngf": width,
            "model.ndf": width, "loss.name": "hinge"}


# Seconds on a CPU: tiny widths, a 512-image subset, every output written (the tests run every
# experiment through it).
SMOKE = {**config_lib.SMOKE_LOOP, "model.ngf": 8, "model.ndf": 8, "model.latent_dim": 16}


def build(*presets: dict) -> ml_collections.ConfigDict:
    """`config()` with the presets applied in order (unlocked, for the experiment to finish)."""
    c = config()
    for preset in presets:
        config_lib.set_keys(c, preset)
    return c
