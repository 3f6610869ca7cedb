"""WGAN-GP (Gulrajani et al. 2017) on Fashion-MNIST: the DCGAN networks with a layer-normalised
critic (no batch statistics under a gradient penalty), the Wasserstein loss, gradient penalty
lambda=10, 5 critic steps per generator step, Adam(1e-4, beta1=0, beta2=0.9) as in the paper's
Algorithm 1. `num_train_steps` counts critic steps.

    python -m jaxgan.main --config=experiments/wgan_gp_fashion.py --workdir=runs/wgan_gp_fashion
    python -m jaxgan.main --config=experiments/wgan_gp_fashion.py:smoke --workdir=/tmp/smoke
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {"smoke": gan.SMOKE}


def get_config(arg=None):
    c = gan.build(gan.gray("fashion_mnist", num_train_steps=5000), gan.WGAN_GP)
    return config_lib.finalize(c, arg, VARIANTS)
