"""f-AnoGAN (Schlegl et al. 2019): one-class anomaly detection with a WGAN-GP and an encoder
trained izi_f-style with the GAN frozen. The GAN is experiments/wgan_gp_mnist.py's recipe
(5,000 critic steps) on the normal class (`dataset.classes`, less the last 500 train images held
out to calibrate the threshold on), then 1,500 encoder steps; score = image residual + kappa
(1) x critic-feature residual.

    python -m jaxgan.main --config=experiments/fanogan.py --workdir=runs/fanogan_mnist3 \\
        --config.dataset.classes=3
    python -m jaxgan.evaluate --workdir=runs/fanogan_mnist3 --metrics=auroc,average_precision
    python -m jaxgan.anomaly --workdir=runs/fanogan_mnist3 --input=images/ --out=scored/

`:fashion` is the same on Fashion-MNIST.
"""

from jaxgan import config_lib
from jaxgan.families import fanogan
from jaxgan.families.gan import config as gan_config

VARIANTS = {
    "mnist": {},
    "fashion": {"dataset.name": "fashion_mnist"},
    "smoke": {
        **gan_config.SMOKE, "batch_size": 8, "num_train_steps": 6, "encoder.start_step": 3,
        "checkpoint_every_steps": 3, "sample_every_steps": 6, "num_sample_images": 8,
        "dataset.holdout": 16, "training.n_critic": 2,
    },
}


def get_config(arg=None):
    return config_lib.finalize(fanogan.config(), arg, VARIANTS)
