"""DCGAN on MNIST (28x28x1), the data bundled in data/mnist.

    python -m jaxgan.main --config=experiments/dcgan_mnist.py --workdir=runs/dcgan_mnist
    python -m jaxgan.main --config=experiments/dcgan_mnist.py:smoke --workdir=/tmp/smoke
"""

from jaxgan import config_lib

VARIANTS = {"smoke": config_lib.SMOKE}


def get_config(arg=None):
    # 6.4 epochs of batch 64: good digits in about an hour here.
    c = config_lib.gray_gan_config("mnist", num_train_steps=6000)
    return config_lib.finalize(c, arg, VARIANTS)
