"""WGAN-GP (Gulrajani et al. 2017) on mnist: the DCGAN networks with a layer-normalised critic
(no batch statistics under a gradient penalty), the Wasserstein loss, gradient penalty lambda=10,
5 critic steps per generator step, Adam(1e-4, beta1=0, beta2=0.9) as in the paper's Algorithm 1.
`num_train_steps` counts critic steps.

    python -m jaxgan.main --config=experiments/wgan_gp_mnist.py --workdir=runs/wgan_gp_mnist
    python -m jaxgan.main --config=experiments/wgan_gp_mnist.py:smoke --workdir=/tmp/smoke
"""

from jaxgan import config_lib

VARIANTS = {"smoke": config_lib.SMOKE}


def get_config(arg=None):
    c = config_lib.gray_gan_config("mnist", num_train_steps=5000)
    c.loss.name = "wasserstein"
    c.regularizer.gradient_penalty = 10.0
    c.d_layers.norm = "layer"
    c.training.n_critic = 5
    c.g_optimizer = config_lib.optimizer_config(1e-4, b1=0.0, b2=0.9)
    c.d_optimizer = config_lib.optimizer_config(1e-4, b1=0.0, b2=0.9)
    return config_lib.finalize(c, arg, VARIANTS)
