"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation, as
junyanz/pytorch-CycleGAN-and-pix2pix trains it.

    python -m jaxgan.main --config=experiments/cyclegan.py:horse2zebra --workdir=runs/h2z \\
        --config.dataset.data_dir=/data/horse2zebra
    python -m jaxgan.translate --workdir=runs/h2z --input=horses/ --output=zebras/
    python -m jaxgan.translate --workdir=runs/h2z --input=zebras/ --output=horses/ \\
        --direction=BtoA

`:horse2zebra` is the reference's setting: CycleGAN's folder layout (DIR/trainA/, trainB/,
testA/, testB/), 256x256x3 resized to 286 and randomly cropped with flips, batch 1, ResNet
generators with 9 residual blocks and instance norm, 70x70 PatchGANs, LSGAN, cycle lambda 10
per direction, identity 0.5, history pools of 50 generated images, Adam 2e-4 (0.5, 0.999),
100 epochs then 100 decaying to 0 (horse2zebra's trainA has 1,067 images and trainB 1,334;
an epoch is the larger, as the reference's unaligned dataset: set training.epoch_size).

Two benchmarks written by `python -m jaxgan.translation_data --task=TASK --out=DATA` (32x32
gray), both with ResNet generators of 6 blocks at width 16, PatchGANs at width 16, batch 8 and
otherwise the recipe above (LSGAN, lambda 10, identity 0.5, pools of 50, jitter 36 -> 32):
`:thin2thick` (MNIST digits with thin strokes <-> thick strokes, the domains drawn from disjoint
halves of the train split, 2 epochs of 24,000 images) with `:thin2thick_no_cycle`, the same
without the cycle and identity losses (the paper's "GAN alone" ablation), and
`:sneakers2boots` (Fashion-MNIST sneakers <-> ankle boots, 2 + 2 epochs of the 6,000 images):

    python -m jaxgan.main --config=experiments/cyclegan.py:thin2thick --workdir=runs/t2t \
        --config.dataset.data_dir=DATA
    python -m jaxgan.translation_score --workdir=runs/t2t --data=DATA --network=G_A
"""

from jaxgan import config_lib
from jaxgan.families import cyclegan


def schedule(epoch_size: int, n_epochs: int, n_epochs_decay: int, batch_size: int) -> dict:
    """The epoch schedule's keys and the number of train steps it takes."""
    return {"batch_size": batch_size, "training.epoch_size": epoch_size,
            "training.n_epochs": n_epochs, "training.n_epochs_decay": n_epochs_decay,
            "num_train_steps": (n_epochs + n_epochs_decay) * epoch_size // batch_size}


SMALL = {
    "dataset.image_size": 32, "dataset.load_size": 36, "dataset.channels": 1,
    "model.net_g": "resnet_6blocks", "model.ngf": 16, "model.ndf": 16,
    "log_every_steps": 250, "checkpoint_every_steps": 2000, "sample_every_steps": 2000,
    "num_sample_images": 8,
}
THIN2THICK = {**SMALL, **schedule(24_000, 1, 1, 8), "model.paired_test": True}

VARIANTS = {
    "horse2zebra": {},
    "thin2thick": THIN2THICK,
    "thin2thick_no_cycle": {**THIN2THICK, "loss.cycle": False, "loss.lambda_identity": 0.0},
    "sneakers2boots": {**SMALL, **schedule(6_000, 2, 2, 8)},
    "smoke": {
        **config_lib.SMOKE_LOOP, "batch_size": 2, "num_sample_images": 4,
        "dataset.image_size": 32, "dataset.load_size": 36, "dataset.channels": 1,
        "model.net_g": "resnet_2blocks", "model.ngf": 8, "model.ndf": 8, "pool_size": 3,
        "training.epoch_size": 8, "training.n_epochs": 1, "training.n_epochs_decay": 1,
    },
}


def get_config(arg=None):
    return config_lib.finalize(cyclegan.config(), arg, VARIANTS)
