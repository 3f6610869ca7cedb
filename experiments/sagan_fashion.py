"""SAGAN (Zhang et al. 2019) on Fashion-MNIST padded to 32x32: the SNGAN ResNet networks with a
self-attention block at 16x16 in both, spectral norm in the generator too, the hinge loss and
TTUR (Adam 1e-4 for G, 4e-4 for D, beta1=0, beta2=0.9), widths reduced for a CPU.

    python -m jaxgan.main --config=experiments/sagan_fashion.py --workdir=runs/sagan_fashion
    python -m jaxgan.main --config=experiments/sagan_fashion.py:smoke --workdir=/tmp/smoke

Results: docs/results/gan_fashion.md.
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {"smoke": gan.SMOKE}


def get_config(arg=None):
    c = gan.build(gan.gray("fashion_mnist", num_train_steps=3000, image_size=32), gan.sngan(), {
        "model.name": "sagan", "model.attention_resolution": 16, "model.g_spectral_norm": True,
        "g_optimizer.learning_rate": 1e-4, "g_optimizer.b1": 0.0, "g_optimizer.b2": 0.9,
        "d_optimizer.learning_rate": 4e-4, "d_optimizer.b1": 0.0, "d_optimizer.b2": 0.9,
    })
    return config_lib.finalize(c, arg, VARIANTS)
