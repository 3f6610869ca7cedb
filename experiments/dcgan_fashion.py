"""DCGAN on Fashion-MNIST (28x28x1): the baseline of the Fashion-MNIST GAN zoo and of its
ablations (turn one remedy on at a time, e.g. `--config.d_layers.minibatch_std=True`,
`--config.augment.policy=translation,cutout,color`, `--config.d_layers.spectral_norm=True`).
The generator EMA is on: it does not change training, so one run gives plain DCGAN
(`python -m jaxgan.evaluate --generator=params`) and DCGAN + EMA (the default).

    python -m jaxgan.main --config=experiments/dcgan_fashion.py --workdir=runs/dcgan_fashion
    python -m jaxgan.main --config=experiments/dcgan_fashion.py:smoke --workdir=/tmp/smoke

Fashion-MNIST is read from `--config.dataset.data_dir=DIR` (the four IDX files) or
`$JAXGAN_DATA_DIR/fashion_mnist`. Results: docs/results/gan_fashion.md.
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {"smoke": gan.SMOKE}


def get_config(arg=None):
    c = gan.build(gan.gray("fashion_mnist", num_train_steps=3000), {"training.ema_decay": 0.999})
    return config_lib.finalize(c, arg, VARIANTS)
