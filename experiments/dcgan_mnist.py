"""DCGAN (Radford et al. 2016) on MNIST (28x28x1), and the unconditional MNIST recipes built on it.

    python -m jaxgan.main --config=experiments/dcgan_mnist.py --workdir=runs/dcgan_mnist
    python -m jaxgan.main --config=experiments/dcgan_mnist.py:smoke --workdir=/tmp/smoke

Variants (still unconditional: no labels are read):
- `:infogan`: InfoGAN (Chen et al. 2016): G also takes a 10-way categorical latent code that a
  Q head on D learns to predict; minibatch discrimination (100 kernels) in D, the generator
  EMA, 16,000 steps.
- `:infogan20`: the same with 20 codes, so the uniform code prior does not force each digit to
  exactly one code.
- `:infogan20_learned`: also learns the codes' prior (online EM on Q's posteriors of the real
  batches, from step 2000), so codes are drawn in the real digits' proportions.
- `:infogan20_learned_ms`: adds MSGAN's mode-seeking term (Mao et al. 2019, lambda 1).
- `:infogan20_learned_r1`: adds an R1 penalty on D (gamma 0.02) and trains 30,000 steps.
- `:infogan20_learned_r1_lazy`: that R1 applied StyleGAN2's way, on every 16th step weighted
  16 times (the every-step double backward pass halves a CPU's speed).

    python -m jaxgan.main --config=experiments/dcgan_mnist.py:infogan20_learned_r1_lazy \\
        --workdir=runs/infogan20_learned_r1_lazy

Results: docs/results/gan_mnist.md.
"""

from jaxgan import config_lib
from jaxgan.families.gan import config as gan

VARIANTS = {
    "smoke": gan.SMOKE,
    "infogan": {"model.info_categories": 10, "d_layers.minibatch_discrimination": 100,
                "training.ema_decay": 0.999, "num_train_steps": 16000},
}
VARIANTS["infogan20"] = {**VARIANTS["infogan"], "model.info_categories": 20}
VARIANTS["infogan20_learned"] = {**VARIANTS["infogan20"], "model.info_prior": "learned"}
VARIANTS["infogan20_learned_ms"] = {**VARIANTS["infogan20_learned"], "loss.mode_seeking": 1.0}
VARIANTS["infogan20_learned_r1"] = {**VARIANTS["infogan20_learned"], "regularizer.r1_gamma": 0.02,
                                    "num_train_steps": 30000}
VARIANTS["infogan20_learned_r1_lazy"] = {**VARIANTS["infogan20_learned_r1"],
                                         "regularizer.r1_interval": 16}


def get_config(arg=None):
    # 6.4 epochs of batch 64.
    return config_lib.finalize(gan.build(gan.gray("mnist", num_train_steps=6000)), arg, VARIANTS)
