"""WGAN-GP (Gulrajani et al. 2017) on fashion_mnist: the DCGAN networks with a layer-normalised critic
(no batch statistics under a gradient penalty), the Wasserstein loss, gradient penalty lambda=10,
5 critic steps per generator step, Adam(1e-4, beta1=0, beta2=0.9) as in the paper's Algorithm 1.
`num_train_steps` counts critic steps.

    python -m jaxgan.main --config=experiments/wgan_gp_fashion.py --workdir=runs/wgan_gp_fashion \\
        --config.dataset.data_dir=../shared/data/fashion_mnist
    python -m jaxgan.main --config=experiments/wgan_gp_fashion.py:smoke --workdir=/tmp/smoke
"""

from jaxgan import config_lib

VARIANTS = {"smoke": config_lib.SMOKE}


def get_config(arg=None):
    return config_lib.finalize(config_lib.wgan_gp_config("fashion_mnist"), arg, VARIANTS)
