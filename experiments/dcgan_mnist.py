"""DCGAN on MNIST (28x28x1), the data bundled in data/mnist.

    python -m jaxgan.main --config=experiments/dcgan_mnist.py --workdir=runs/dcgan_mnist
    python -m jaxgan.main --config=experiments/dcgan_mnist.py:smoke --workdir=/tmp/smoke
"""

from jaxgan import config_lib

VARIANTS = {
    # Seconds on a CPU: tiny widths, a 512-image subset, every output written.
    "smoke": {
        "batch_size": 16, "num_train_steps": 4, "log_every_steps": 2,
        "checkpoint_every_steps": 2, "sample_every_steps": 4, "num_sample_images": 16,
        "dataset.max_examples": 512, "model.ngf": 8, "model.ndf": 8, "model.latent_dim": 16,
    },
}


def get_config(arg=None):
    c = config_lib.base_config()
    c.batch_size = 64
    c.num_train_steps = 6000  # 6.4 epochs of batch 64: good digits in about an hour here
    c.log_every_steps = 100
    c.checkpoint_every_steps = 1000
    c.sample_every_steps = 1000
    c.dataset.name = "mnist"
    c.dataset.image_size = 28
    c.dataset.channels = 1
    c.model.ngf = 64
    c.model.ndf = 64
    return config_lib.finalize(c, arg, VARIANTS)
