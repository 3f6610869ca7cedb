"""SNGAN (Miyato et al. 2018) on CIFAR-10 at 32x32x3, the paper's standard ResNet setting: G of
width 256 and spectrally normalised D of width 128 (G 4.28M, D 1.05M parameters), z of 128,
the hinge loss, Adam(2e-4, beta1=0, beta2=0.9), 5 D steps per G step, batch 64, 50,000
generator updates (`num_train_steps` counts D steps: 250,000). CIFAR-10 is downloaded on first
use where the network allows, or read from `--config.dataset.data_dir=DIR` holding
cifar-10-python.tar.gz. An accelerator recipe; `:smoke` runs in seconds on a CPU.

    python -m jaxgan.main --config=experiments/sngan_cifar10.py --workdir=runs/sngan_cifar10
    python -m jaxgan.evaluate --workdir=runs/sngan_cifar10 \\
        --inception_weights=pt_inception-2015-12-05-6726825d.pth
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {"smoke": {**gan.SMOKE, "dataset.max_examples": 0}}


def get_config(arg=None):
    c = gan.build(gan.sngan(), {
        "dataset.name": "cifar10", "dataset.image_size": 32, "dataset.channels": 3,
        "batch_size": 64, "num_train_steps": 250_000, "log_every_steps": 500,
        "checkpoint_every_steps": 10_000, "sample_every_steps": 5_000,
        "model.ngf": 256, "model.ndf": 128, "training.n_critic": 5,
        "g_optimizer.learning_rate": 2e-4, "g_optimizer.b1": 0.0, "g_optimizer.b2": 0.9,
        "d_optimizer.learning_rate": 2e-4, "d_optimizer.b1": 0.0, "d_optimizer.b2": 0.9,
    })
    return config_lib.finalize(c, arg, VARIANTS)
