"""The canonical DCGAN (Radford et al.; PyTorch's dcgan example) at 64x64x3 on your own images:
nz=100, ngf=ndf=64, BatchNorm, Adam(2e-4, 0.5). Generator 3,576,704 and discriminator 2,765,568
parameters, as in the reference.

    python -m jaxgan.main --config=experiments/dcgan_64.py --workdir=runs/dcgan_64 \
        --config.dataset.data_dir=/path/to/images
"""

from jaxgan import config_lib

VARIANTS = {
    "smoke": {
        "batch_size": 8, "num_train_steps": 2, "log_every_steps": 1,
        "checkpoint_every_steps": 2, "sample_every_steps": 2, "num_sample_images": 8,
        "model.ngf": 8, "model.ndf": 8,
    },
}


def get_config(arg=None):
    c = config_lib.gan_config()
    c.batch_size = 128
    c.num_train_steps = 20000
    c.log_every_steps = 100
    c.checkpoint_every_steps = 2000
    c.sample_every_steps = 1000
    c.dataset.name = "image_folder"
    c.dataset.image_size = 64
    c.dataset.channels = 3
    return config_lib.finalize(c, arg, VARIANTS)
