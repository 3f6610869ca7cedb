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
"""

from jaxgan import config_lib
from jaxgan.families import cyclegan

VARIANTS = {
    "horse2zebra": {},
    "smoke": {
        **config_lib.SMOKE_LOOP, "batch_size": 2, "num_sample_images": 4,
        "dataset.image_size": 32, "dataset.load_size": 36, "dataset.channels": 1,
        "model.net_g": "resnet_2blocks", "model.ngf": 8, "model.ndf": 8, "pool_size": 3,
        "training.epoch_size": 8, "training.n_epochs": 1, "training.n_epochs_decay": 1,
    },
}


def get_config(arg=None):
    return config_lib.finalize(cyclegan.config(), arg, VARIANTS)
