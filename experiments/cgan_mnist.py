"""Class-conditional DCGAN on MNIST: a label embedding concatenated to z in the generator, a
projection discriminator (Miyato & Koyama 2018), generator EMA. Scored by the classification
accuracy score (`--metrics=cas_lenet`) as well as FID/IS/PR.

    python -m jaxgan.main --config=experiments/cgan_mnist.py --workdir=runs/cgan_mnist
    python -m jaxgan.sample --workdir=runs/cgan_mnist --class=7 --out=sevens.png
    python -m jaxgan.evaluate --workdir=runs/cgan_mnist --metrics=fid_lenet,is_lenet,pr_lenet,cas_lenet

`:mbd` is the best recipe measured (README): minibatch discrimination (100 kernels) in the
projection discriminator, 16,000 steps; CAS 97.00 % at its last step on the 2-core CPU (~48 min).

    python -m jaxgan.main --config=experiments/cgan_mnist.py:mbd --workdir=runs/cgan_mnist_mbd
"""

from jaxgan import config_lib

VARIANTS = {
    "smoke": {**config_lib.SMOKE, "training.ema_decay": 0.9},
    "mbd": {"d_layers.minibatch_discrimination": 100, "num_train_steps": 16000},
}


def get_config(arg=None):
    c = config_lib.gray_gan_config("mnist", num_train_steps=3000)
    c.model.num_classes = 10
    c.training.ema_decay = 0.999
    return config_lib.finalize(c, arg, VARIANTS)
