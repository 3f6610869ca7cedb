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
"""

from jaxgan import config_lib
from jaxgan.families import pix2pix

VARIANTS = {
    "facades": {"model.direction": "BtoA"},
    "smoke": {
        **config_lib.SMOKE_LOOP, "batch_size": 2, "num_sample_images": 4,
        "dataset.image_size": 32, "dataset.load_size": 36, "dataset.channels": 1,
        "model.net_g": "unet_32", "model.ngf": 8, "model.ndf": 8,
        "training.epoch_size": 8, "training.n_epochs": 1, "training.n_epochs_decay": 1,
    },
}


def get_config(arg=None):
    return config_lib.finalize(pix2pix.config(), arg, VARIANTS)
