"""DCGAN on Stacked MNIST (32x32x3: three MNIST digits as R, G, B; 1,000 modes, the digit
triples), the mode-collapse benchmark of Metz et al. 2017, VEEGAN and PacGAN:

    python -m jaxgan.main --config=experiments/dcgan_stacked_mnist.py --workdir=runs/stacked
    python -m jaxgan.evaluate --workdir=runs/stacked --metrics=modes_lenet_26k,fid_lenet
    python -m jaxgan.evaluate --reference --dataset=stacked_mnist --metrics=modes_lenet_26k

`modes_lenet` classifies each channel of the generated images with the shipped MNIST LeNet and
counts the digit triples that occur (of 1,000) and the KL divergence of their distribution from
the uniform one; `_26k` scores 26,000 images, as the literature does. `:mbd` adds minibatch
discrimination (100 kernels) to D; `:pac2` is PacGAN's packing (D judges two images at once,
stacked along channels; Lin et al. 2018). The data are written once from the MNIST files
(`jaxgan.data.stacked_mnist`).
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

STACKED = {**gan.gray("stacked_mnist", num_train_steps=6000, image_size=32),
           "dataset.channels": 3}

VARIANTS = {
    "mbd": {"d_layers.minibatch_discrimination": 100},
    "pac2": {"d_layers.pack": 2},
    "smoke": gan.SMOKE,
}


def get_config(arg=None):
    return config_lib.finalize(gan.build(STACKED), arg, VARIANTS)
