"""StyleGAN2 (Karras et al. 2020) as NVlabs/stylegan2-ada-pytorch trains it: Fashion-MNIST at 32
px by default (reduced widths that train on a CPU), and the reference's presets for users with
accelerators and their own data.

    python -m jaxgan.main --config=experiments/stylegan.py --workdir=runs/stylegan_fashion32
    python -m jaxgan.main --config=experiments/stylegan.py:mnist32 --workdir=runs/stylegan_mnist32
    python -m jaxgan.main --config=experiments/stylegan.py:fashion32_auto --workdir=runs/sg_auto
    python -m jaxgan.main --config=experiments/stylegan.py:ffhq256 \\
        --config.dataset.data_dir=/data/ffhq256 --workdir=runs/ffhq256
    python -m jaxgan.main --config=experiments/stylegan.py:smoke --workdir=/tmp/smoke

Presets follow stylegan2-ada-pytorch's `--cfg` specs (its train.py): channel_base =
fmaps * 32768, channel_max 512, Adam(0, 0.99) at `lrate`, R1 `gamma`, EMA half-life `ema` kimg
with ramp-up `ramp`, `map` mapping layers, `mbstd` group size; `num_train_steps` = kimg * 1000 /
batch. `ffhq1024` is its 'stylegan2' spec (config F at 1024 px), `ffhq256` 'paper256', `cifar32`
'cifar' on CIFAR-10 (downloaded where the network allows, or `--config.dataset.data_dir=DIR` with
cifar-10-python.tar.gz; the paper's CIFAR-10 runs are class-conditional:
`--config.model.num_classes=10`). `fashion32` / `mnist32` / `stacked_mnist32` (three channels)
use the reference's 'auto' heuristics with narrower layers; `*_auto` are the same at the reference's
full 'auto' width (an accelerator recipe). The schema and the presets' values are in
jaxgan/families/stylegan/config.py. Results: docs/results/stylegan2.md.
"""

from jaxgan import config_lib
from jaxgan.families.stylegan import config as stylegan

VARIANTS = {
    "fashion32": stylegan.gray("fashion_mnist"),
    "mnist32": stylegan.gray("mnist"),
    "stacked_mnist32": {**stylegan.gray("stacked_mnist"), "dataset.channels": 3},
    "fashion32_auto": stylegan.auto("fashion_mnist"),
    "mnist32_auto": stylegan.auto("mnist"),
    "cifar32": {"dataset.name": "cifar10", **stylegan.CIFAR},
    "ffhq256": stylegan.PAPER256,
    "ffhq1024": stylegan.CONFIG_F,
    "smoke": stylegan.SMOKE,
}
DEFAULT = "fashion32"


def get_config(arg=None):
    return config_lib.finalize(stylegan.config(), arg or DEFAULT, VARIANTS)
