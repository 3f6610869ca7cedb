"""Class-conditional DCGAN on MNIST: a label embedding concatenated to z in the generator, a
projection discriminator (Miyato & Koyama 2018), generator EMA. Scored by the classification
accuracy score (`--metrics=cas_lenet`) and GAN-test as well as FID/IS/PR.

    python -m jaxgan.main --config=experiments/cgan_mnist.py --workdir=runs/cgan_mnist
    python -m jaxgan.sample --workdir=runs/cgan_mnist --class=7 --out=sevens.png
    python -m jaxgan.evaluate --workdir=runs/cgan_mnist \\
        --metrics=fid_lenet,is_lenet,pr_lenet,cas_lenet

`:mbd` adds minibatch discrimination (100 kernels) to the projection discriminator and trains
16,000 steps.

    python -m jaxgan.main --config=experiments/cgan_mnist.py:mbd --workdir=runs/cgan_mnist_mbd

`:fashion_mbd` is `:mbd` on Fashion-MNIST (the baseline BigGAN is compared with,
docs/results/biggan.md).

Results: docs/results/gan_conditional.md.
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {
    "smoke": {**gan.SMOKE, "training.ema_decay": 0.9},
    "mbd": {"d_layers.minibatch_discrimination": 100, "num_train_steps": 16000},
    "fashion_mbd": {"d_layers.minibatch_discrimination": 100, "num_train_steps": 16000,
                    "dataset.name": "fashion_mnist"},
}


def get_config(arg=None):
    c = gan.build(gan.gray("mnist", num_train_steps=3000),
                  {"model.num_classes": 10, "training.ema_decay": 0.999})
    return config_lib.finalize(c, arg, VARIANTS)
