"""Progressive growing of GANs (Karras et al. 2018), as tkarras/progressive_growing_of_gans trains
it: G and D grow from 4x4 to the run's resolution, each new level faded in over 600k images and
trained stable for 600k, WGAN-GP with drift, Adam 1e-3 (0, 0.99), EMA 0.999.

    python -m jaxgan.main --config=experiments/progan.py:celebahq1024 --workdir=runs/celebahq \\
        --config.dataset.data_dir=/data/celebahq1024
    python -m jaxgan.main --config=experiments/progan.py:fashion32 --workdir=runs/progan_f32
    python -m jaxgan.sample --workdir=runs/progan_f32 --out=grid.png   # at any stage

`:celebahq1024` is the reference's network at 1024x1024x3 (fmap_base 8192, fmap_max 512,
latent 512; 23,079,115 + 23,087,249 parameters) on an image folder, at batch 16 throughout (the
reference lowers the batch at high resolutions). `:cifar10` is the same network at 32x32x3.
`:mnist32`, `:fashion32` and `:stacked_mnist32` are sized for a 2-core CPU: 28x28 images centred
on 32x32 (4 levels), fmap_base 512 with at most 64 maps (64 at 4-16 px, 32 at 32 px), latent 128,
batch 32, 8k images per stable stage and per fade-in (32x32 is fully faded in after 56k images,
about 6 minutes there; 100k in all). Each level costs several times the one before: the 32x32 stage
runs at about 45 images/s on 2 cores. G's EMA decays at 0.99 (a time constant of 100 steps, 3.2k
images): the reference's 0.999 is short beside its 600k-image stages, but here it would still
average in the 16x16 stages' weights long after 32x32 is grown.
"""

from jaxgan import config_lib
from jaxgan.families import progan

CPU32 = {
    "dataset.image_size": 32, "batch_size": 32, "model.fmap_base": 512, "model.fmap_max": 64,
    "model.latent_dim": 128, "training.stable_images": 8_000, "training.fade_images": 8_000,
    "num_train_steps": 100_000 // 32, "training.ema_decay": 0.99, "log_every_steps": 100,
    "checkpoint_every_steps": 500, "sample_every_steps": 500, "num_sample_images": 64,
}

VARIANTS = {
    "celebahq1024": {},
    "cifar10": {"dataset.name": "cifar10", "dataset.image_size": 32, "batch_size": 64,
                "num_train_steps": 12_000_000 // 64},
    "mnist32": {**CPU32, "dataset.name": "mnist", "dataset.channels": 1},
    "fashion32": {**CPU32, "dataset.name": "fashion_mnist", "dataset.channels": 1},
    "stacked_mnist32": {**CPU32, "dataset.name": "stacked_mnist", "dataset.channels": 3},
    "smoke": {
        **config_lib.SMOKE_LOOP, "dataset.name": "mnist", "dataset.image_size": 32,
        "dataset.channels": 1, "batch_size": 8, "model.fmap_base": 64, "model.fmap_max": 16,
        "model.latent_dim": 16, "training.stable_images": 8, "training.fade_images": 8,
        "num_train_steps": 8, "checkpoint_every_steps": 4, "sample_every_steps": 8,
        "log_every_steps": 4,
    },
}


def get_config(arg=None):
    return config_lib.finalize(progan.config(), arg, VARIANTS)
