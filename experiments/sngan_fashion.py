"""SNGAN (Miyato et al. 2018) on Fashion-MNIST padded to 32x32: the ResNet generator and the
spectrally normalised ResNet discriminator of the paper's CIFAR experiments at reduced widths for a
CPU, the hinge loss, and the paper's setting C (Adam 2e-4, beta1=0.5, beta2=0.999, one D step per
G step).

    python -m jaxgan.main --config=experiments/sngan_fashion.py --workdir=runs/sngan_fashion \\
        --config.dataset.data_dir=../shared/data/fashion_mnist
    python -m jaxgan.main --config=experiments/sngan_fashion.py:wide --workdir=runs/sngan64_fashion \\
        --config.dataset.data_dir=../shared/data/fashion_mnist
    python -m jaxgan.main --config=experiments/sngan_fashion.py:smoke --workdir=/tmp/smoke

`:wide` doubles both widths to 64 (G 367,617, D 263,489 parameters; 103 GFLOP per step of 64,
11x DCGAN's): the zoo's Fashion-MNIST row that beats DCGAN at 3000 steps (README).

Paper widths: `--config.model.ngf=256 --config.model.ndf=128` (G 4.28M, D 1.05M parameters at
3 channels).
"""

from jaxgan import config_lib

VARIANTS = {"smoke": config_lib.SMOKE, "wide": {"model.ngf": 64, "model.ndf": 64}}


def get_config(arg=None):
    c = config_lib.sngan_config("fashion_mnist")
    c.g_optimizer = config_lib.optimizer_config(2e-4, b1=0.5, b2=0.999)  # the paper's setting C
    c.d_optimizer = config_lib.optimizer_config(2e-4, b1=0.5, b2=0.999)
    return config_lib.finalize(c, arg, VARIANTS)
