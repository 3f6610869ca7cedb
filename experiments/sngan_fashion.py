"""SNGAN (Miyato et al. 2018) on Fashion-MNIST padded to 32x32: the ResNet generator and the
spectrally normalised ResNet discriminator of the paper's CIFAR experiments at reduced widths
for a CPU, the hinge loss, and the paper's setting C (Adam 2e-4, beta1=0.5, beta2=0.999, one D
step per G step).

    python -m jaxgan.main --config=experiments/sngan_fashion.py --workdir=runs/sngan_fashion
    python -m jaxgan.main --config=experiments/sngan_fashion.py:wide --workdir=runs/sngan64_fashion
    python -m jaxgan.main --config=experiments/sngan_fashion.py:smoke --workdir=/tmp/smoke

`:stacked_mnist` is the same network on Stacked MNIST (32x32x3, the 1,000-mode benchmark:
docs/results/stacked_mnist.md). `:wide` doubles both widths to 64 (G 367,617, D 263,489
parameters). The paper's widths:
`--config.model.ngf=256 --config.model.ndf=128` (G 4.28M, D 1.05M parameters at 3 channels).
Results: docs/results/gan_fashion.md.
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {"smoke": gan.SMOKE, "wide": {"model.ngf": 64, "model.ndf": 64},
            "stacked_mnist": {"dataset.name": "stacked_mnist", "dataset.channels": 3}}


def get_config(arg=None):
    c = gan.build(gan.gray("fashion_mnist", num_train_steps=3000, image_size=32), gan.sngan())
    return config_lib.finalize(c, arg, VARIANTS)
