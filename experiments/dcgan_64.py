"""The canonical DCGAN (Radford et al. 2016; PyTorch's dcgan example) at 64x64x3 on your own
images: nz=100, ngf=ndf=64, BatchNorm, Adam(2e-4, 0.5). Generator 3,576,704 and discriminator
2,765,568 parameters, as in the reference.

    python -m jaxgan.main --config=experiments/dcgan_64.py --workdir=runs/dcgan_64 \\
        --config.dataset.data_dir=/path/to/images
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {
    "smoke": {
        "batch_size": 8, "num_train_steps": 2, "log_every_steps": 1,
        "checkpoint_every_steps": 2, "sample_every_steps": 2, "num_sample_images": 8,
        "model.ngf": 8, "model.ndf": 8,
    },
}


def get_config(arg=None):
    c = gan.build({
        "batch_size": 128, "num_train_steps": 20000, "log_every_steps": 100,
        "checkpoint_every_steps": 2000, "sample_every_steps": 1000,
        "dataset.name": "image_folder", "dataset.image_size": 64, "dataset.channels": 3,
    })
    return config_lib.finalize(c, arg, VARIANTS)
