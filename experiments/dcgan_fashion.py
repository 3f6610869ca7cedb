"""DCGAN on Fashion-MNIST (28x28x1): the baseline of the GAN-zoo results and of the ablation
(turn one remedy on at a time, e.g. `--config.d_layers.minibatch_std=True`,
`--config.augment.policy=translation,cutout,color`, `--config.d_layers.spectral_norm=True`,
and the EMA generator, on by default: `python -m jaxgan.evaluate --generator=params` scores the
trained generator itself).

    python -m jaxgan.main --config=experiments/dcgan_fashion.py --workdir=runs/dcgan_fashion \\
        --config.dataset.data_dir=../shared/data/fashion_mnist
    python -m jaxgan.main --config=experiments/dcgan_fashion.py:smoke --workdir=/tmp/smoke
"""

from jaxgan import config_lib

VARIANTS = {"smoke": config_lib.SMOKE}


def get_config(arg=None):
    c = config_lib.gray_gan_config("fashion_mnist", num_train_steps=3000)
    # The EMA generator is a by-product: it does not change training, so one run gives plain
    # DCGAN (`evaluate --generator=params`) and DCGAN + EMA (the default, `--generator=ema`).
    c.training.ema_decay = 0.999
    return config_lib.finalize(c, arg, VARIANTS)
