"""GANomaly (Akcay et al. 2018): one-class anomaly detection, as samet-akcay/ganomaly trains it
(32x32, latent 100, widths 64, batch 64, Adam 2e-4 (0.5, 0.999), losses weighted 1 / 50 / 1,
~15 epochs). The normal class is `dataset.classes`; the last 500 of its train images are held
out of training (`dataset.holdout`) to calibrate the decision threshold on.

    python -m jaxgan.main --config=experiments/ganomaly.py --workdir=runs/ganomaly_mnist3 \\
        --config.dataset.classes=3
    python -m jaxgan.evaluate --workdir=runs/ganomaly_mnist3 --metrics=auroc,average_precision
    python -m jaxgan.anomaly --workdir=runs/ganomaly_mnist3 --input=images/ --out=scored/

`:fashion` is the same on Fashion-MNIST. The one-class benchmark (each class in turn normal,
the whole test split scored, AUROC per class) is in docs/results/anomaly.md.
"""

from jaxgan import config_lib
from jaxgan.families import ganomaly

VARIANTS = {
    "mnist": {},
    "fashion": {"dataset.name": "fashion_mnist"},
    "smoke": {
        **config_lib.SMOKE_LOOP, "batch_size": 8, "num_sample_images": 8,
        "dataset.holdout": 16, "model.latent_dim": 8, "model.width": 8,
    },
}


def get_config(arg=None):
    return config_lib.finalize(ganomaly.config(), arg, VARIANTS)
