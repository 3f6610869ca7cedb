"""SAGAN (Zhang et al. 2019) on Fashion-MNIST padded to 32x32: the SNGAN ResNet networks with a
self-attention block at 16x16 in both, spectral norm in the generator too, the hinge loss and
TTUR (Adam 1e-4 for G, 4e-4 for D, beta1=0, beta2=0.9), widths reduced for a CPU.

    python -m jaxgan.main --config=experiments/sagan_fashion.py --workdir=runs/sagan_fashion \\
        --config.dataset.data_dir=../shared/data/fashion_mnist
    python -m jaxgan.main --config=experiments/sagan_fashion.py:smoke --workdir=/tmp/smoke
"""

from jaxgan import config_lib

VARIANTS = {"smoke": config_lib.SMOKE}


def get_config(arg=None):
    c = config_lib.sngan_config("fashion_mnist")
    c.model.name = "sagan"
    c.model.attention_resolution = 16
    c.model.g_spectral_norm = True
    c.g_optimizer = config_lib.optimizer_config(1e-4, b1=0.0, b2=0.9)  # TTUR
    c.d_optimizer = config_lib.optimizer_config(4e-4, b1=0.0, b2=0.9)
    return config_lib.finalize(c, arg, VARIANTS)
