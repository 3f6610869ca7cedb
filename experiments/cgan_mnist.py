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

`:few10` and `:few100` train on a seeded subset of 10 or 100 labelled images per class
(`dataset.per_class`, the subset `jaxgan.augmentation_study` gives its classifiers) with
DiffAugment (translation, cutout: Zhao et al. 2020, for GANs with little data);
`:fashion_few10` and `:fashion_few100` are the same on Fashion-MNIST.

    python -m jaxgan.main --config=experiments/cgan_mnist.py:few10 --workdir=runs/cgan10
    python -m jaxgan.augmentation_study --generator=runs/cgan10 --per_class=10 --out=s.json

Results: docs/results/gan_conditional.md, docs/results/augmentation.md.
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {
    "smoke": {**gan.SMOKE, "training.ema_decay": 0.9},
    "mbd": {"d_layers.minibatch_discrimination": 100, "num_train_steps": 16000},
    "fashion_mbd": {"d_layers.minibatch_discrimination": 100, "num_train_steps": 16000,
                    "dataset.name": "fashion_mnist"},
}
for _n in (10, 100):
    _few = {"dataset.per_class": _n, "augment.policy": "translation,cutout"}
    VARIANTS[f"few{_n}"] = _few
    VARIANTS[f"fashion_few{_n}"] = {**_few, "dataset.name": "fashion_mnist"}


def get_config(arg=None):
    c = gan.build(gan.gray("mnist", num_train_steps=3000),
                  {"model.num_classes": 10, "training.ema_decay": 0.999})
    return config_lib.finalize(c, arg, VARIANTS)
