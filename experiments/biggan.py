"""BigGAN (Brock et al. 2019), as ajbrock/BigGAN-PyTorch trains it: a shared class embedding and a
hierarchical latent feeding class-conditional BatchNorm (gain 1 + linear), residual blocks,
self-attention, spectral norm in G and D, orthogonal initialisation, a projection discriminator,
the hinge loss, a generator EMA, orthogonal regularisation; truncation and BatchNorm standing
statistics at sampling time (`jaxgan.evaluate --z_truncation=0.5 --bn_recalibrate=16`).

    python -m jaxgan.main --config=experiments/biggan.py:fashion --workdir=runs/biggan_fashion
    python -m jaxgan.evaluate --workdir=runs/biggan_fashion --bn_recalibrate=16 \\
        --metrics=fid_lenet,pr_lenet,cas_lenet
    python -m jaxgan.sample --workdir=runs/biggan_fashion --class=7 --out=sneakers.png

Variants:
- `imagenet128`: the paper's 128x128 ImageNet model, channel width 96, attention at 64, z 120
  split into 6 chunks, shared embedding 128 (G 70,433,988 / D 87,982,370 parameters), batch 2048
  as 8 accumulated micro-batches of 256 (BigGAN-PyTorch's bs256x8), Adam (0, 0.999) with G 5e-5
  and D 2e-4, 2 D steps per G step, orthogonal regularisation 1e-4, EMA 0.9999 from step 20,000,
  parameters and Adam moments sharded over the data axis. Images come from a class-per-folder
  tree (`--config.dataset.data_dir=imagenet/train`). Check what a mesh needs first:
  `python -m jaxgan.main --config=experiments/biggan.py:imagenet128 --workdir=/tmp/x --dry_run`.
- `imagenet128_launch`: the settings of the reference's launch script instead (G 1e-4, D 4e-4,
  1 D step, Adam eps 1e-6, no orthogonal regularisation).
- `cifar10`: the reference's CIFAR-10 script (width 64, per-block class embeddings, z 128, no
  attention, N(0, 0.02) initialisation, 2e-4 for both, 4 D steps, batch 50, EMA from 1000).
- `fashion`: Fashion-MNIST padded to 32x32, width 16 (64 channels in every block), attention at
  16, G 1e-4 / D 4e-4, sized for a 2-core CPU (width 32 runs at 0.6-0.9 steps/s there).
- `smoke`: seconds on a CPU (on the bundled MNIST).
Results: docs/results/biggan.md.
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

# The paper's training recipe (BigGAN-PyTorch's defaults).
PAPER = {
    "model.name": "biggan", "model.g_spectral_norm": True, "model.weight_init": "ortho",
    "loss.name": "hinge", "training.n_critic": 2, "regularizer.orthogonal": 1e-4,
    "g_optimizer.learning_rate": 5e-5, "g_optimizer.b1": 0.0, "g_optimizer.b2": 0.999,
    "d_optimizer.learning_rate": 2e-4, "d_optimizer.b1": 0.0, "d_optimizer.b2": 0.999,
    "training.ema_decay": 0.9999,
}

IMAGENET128 = {
    **PAPER,
    "dataset.name": "image_folder", "dataset.image_size": 128, "dataset.channels": 3,
    "model.num_classes": 1000, "model.ngf": 96, "model.ndf": 96, "model.latent_dim": 120,
    "model.hier": True, "model.shared_dim": 128, "model.attention_resolution": 64,
    "batch_size": 2048, "accumulate_steps": 8, "num_train_steps": 300_000,
    "training.ema_start_step": 20_000, "sharding.rules": "fsdp",
    "log_every_steps": 100, "checkpoint_every_steps": 2000, "sample_every_steps": 2000,
}

VARIANTS = {
    "imagenet128": IMAGENET128,
    "imagenet128_launch": {
        **IMAGENET128, "training.n_critic": 1, "regularizer.orthogonal": 0.0,
        "g_optimizer.learning_rate": 1e-4, "d_optimizer.learning_rate": 4e-4,
        "g_optimizer.eps": 1e-6, "d_optimizer.eps": 1e-6,
    },
    "cifar10": {
        **PAPER, "dataset.name": "cifar10", "dataset.image_size": 32, "dataset.channels": 3,
        "model.num_classes": 10, "model.ngf": 64, "model.ndf": 64, "model.latent_dim": 128,
        "model.weight_init": "N02", "model.attention_resolution": 0, "model.shared_dim": 0,
        "model.hier": False,
        "regularizer.orthogonal": 0.0, "training.n_critic": 4,
        "g_optimizer.learning_rate": 2e-4, "d_optimizer.learning_rate": 2e-4,
        "training.ema_start_step": 1000, "batch_size": 50, "num_train_steps": 500_000,
        "log_every_steps": 500, "checkpoint_every_steps": 10_000, "sample_every_steps": 5000,
    },
    "fashion": {},
    "smoke": {
        **gan.SMOKE, "dataset.name": "mnist", "model.ngf": 4, "model.ndf": 4, "model.latent_dim": 8,
        "model.shared_dim": 8, "training.ema_decay": 0.9,
    },
}


def get_config(arg=None):
    c = gan.build(gan.gray("fashion_mnist", num_train_steps=20_000, image_size=32), PAPER, {
        "model.num_classes": 10, "model.ngf": 16, "model.ndf": 16, "model.latent_dim": 120,
        "model.hier": True, "model.shared_dim": 128, "model.attention_resolution": 16,
        "g_optimizer.learning_rate": 1e-4, "d_optimizer.learning_rate": 4e-4,
        "training.ema_decay": 0.999, "training.ema_start_step": 1000,
    })
    return config_lib.finalize(c, arg, VARIANTS)
