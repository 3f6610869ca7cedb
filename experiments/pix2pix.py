"""Pix2Pix (Isola et al. 2017): paired image-to-image translation, as
junyanz/pytorch-CycleGAN-and-pix2pix trains it.

    python -m jaxgan.main --config=experiments/pix2pix.py:facades --workdir=runs/facades \\
        --config.dataset.data_dir=/data/facades
    python -m jaxgan.translate --workdir=runs/facades --input=photos/ --output=out/
    python -m jaxgan.main --config=experiments/pix2pix.py:smoke --workdir=/tmp/smoke \\
        --config.dataset.data_dir=PAIRED_FOLDER

`:facades` is the reference's facades setting: 256x256x3 pairs in pix2pix's aligned layout
(DIR/train/*.jpg, A|B side by side; or DIR/A/train/ and DIR/B/train/ with matching names),
resized to 286 and randomly cropped to 256 with flips, batch 1, a U-Net with 8 downsamplings
(unet_256), batch norm and dropout, the 70x70 PatchGAN on the 6-channel (A, B) pair, the
vanilla GAN loss + 100 L1, Adam 2e-4 (0.5, 0.999), 100 epochs at that rate then 100 decaying
to 0 (the facades training split has 400 pairs; set training.epoch_size to yours).
`model.direction=BtoA` translates the other way (facades' labels -> photos is BtoA).

The edges2fashion benchmark (Fashion-MNIST images from their edge maps, 32x32 gray; write the
data once with `python -m jaxgan.translation_data --task=edges2fashion --out=DATA`) has the
three rows of the paper's Table 1 at the same budget: `:edges2fashion` (cGAN + L1),
`:edges2fashion_l1` (L1 alone, no discriminator) and `:edges2fashion_gan` (cGAN alone). They
keep the recipe (U-Net, batch norm, dropout, 70x70 PatchGAN's layers, vanilla loss, lambda 100,
Adam 2e-4, jitter 36 -> 32 with flips) at widths 32 and batch 16, for 1 epoch of the 60,000
pairs at the initial rate and 1 decaying to 0:

    python -m jaxgan.main --config=experiments/pix2pix.py:edges2fashion --workdir=runs/e2f \
        --config.dataset.data_dir=DATA
    python -m jaxgan.translation_score --workdir=runs/e2f --data=DATA
"""

from jaxgan import config_lib
from jaxgan.families import pix2pix


def schedule(epoch_size: int, n_epochs: int, n_epochs_decay: int, batch_size: int) -> dict:
    """The epoch schedule's keys and the number of train steps it takes."""
    return {"batch_size": batch_size, "training.epoch_size": epoch_size,
            "training.n_epochs": n_epochs, "training.n_epochs_decay": n_epochs_decay,
            "num_train_steps": (n_epochs + n_epochs_decay) * epoch_size // batch_size}


EDGES2FASHION = {
    **schedule(60_000, 1, 1, 16), "dataset.image_size": 32, "dataset.load_size": 36,
    "dataset.channels": 1, "model.net_g": "unet_32", "model.ngf": 32, "model.ndf": 32,
    "log_every_steps": 250, "checkpoint_every_steps": 2500, "sample_every_steps": 2500,
    "num_sample_images": 8,
}

VARIANTS = {
    "facades": {"model.direction": "BtoA"},
    "edges2fashion": EDGES2FASHION,
    "edges2fashion_l1": {**EDGES2FASHION, "loss.gan_weight": 0.0},
    "edges2fashion_gan": {**EDGES2FASHION, "loss.l1_weight": 0.0},
    "smoke": {
        **config_lib.SMOKE_LOOP, "batch_size": 2, "num_sample_images": 4,
        "dataset.image_size": 32, "dataset.load_size": 36, "dataset.channels": 1,
        "model.net_g": "unet_32", "model.ngf": 8, "model.ndf": 8,
        "training.epoch_size": 8, "training.n_epochs": 1, "training.n_epochs_decay": 1,
    },
}


def get_config(arg=None):
    return config_lib.finalize(pix2pix.config(), arg, VARIANTS)
