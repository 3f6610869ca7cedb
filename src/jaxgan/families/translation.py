"""What the image-to-image families (pix2pix, cyclegan) share, as junyanz/pytorch-CycleGAN-and-
pix2pix defines it: the networks named in the config, the GAN losses on patch logits, the
learning-rate schedule in epochs, and how a generator runs at test time."""

from __future__ import annotations

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import config_lib
from jaxgan.errors import UserError
from jaxgan.models import translation as nets

GAN_MODES = ("vanilla", "lsgan")
NORMS = ("batch", "instance", "none")
EVAL_NORMS = ("per_image", "running")


def model_config(net_g: str, norm: str) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({
        # unet_<size> (U-Net with log2(size) downsamplings: unet_256, unet_128, unet_32) or
        # resnet_<n>blocks (resnet_9blocks, resnet_6blocks)
        "net_g": net_g,
        "net_d": "basic",  # basic (PatchGAN, n_layers_d=3: 70x70), n_layers, pixel
        "n_layers_d": 3,
        "ngf": 64,
        "ndf": 64,
        "norm": norm,  # batch | instance | none
        "dropout": net_g.startswith("unet"),  # U-Net: dropout 0.5 as noise (train and test)
        # How a generator with batch norm runs at test time: per_image (each image normalised
        # by its own statistics, as the reference tests at batch size 1 in training mode), or
        # running (the running averages).
        "eval_norm": "per_image",
        "direction": "AtoB",  # AtoB | BtoA: which field is the input
    })


def training_config(epoch_size: int, n_epochs: int, n_epochs_decay: int
                    ) -> ml_collections.ConfigDict:
    """The reference's schedule: the initial learning rate for `n_epochs`, then linear decay to
    0 over `n_epochs_decay`, an epoch being `epoch_size` examples (the training split's size)."""
    return ml_collections.ConfigDict({"epoch_size": epoch_size, "n_epochs": n_epochs,
                                      "n_epochs_decay": n_epochs_decay})


def base_config(net_g: str, norm: str, image_size: int, epoch_size: int, n_epochs: int,
                n_epochs_decay: int) -> ml_collections.ConfigDict:
    c = config_lib.base_config()
    c.batch_size = 1
    c.log_every_steps = 100
    c.checkpoint_every_steps = 5000
    c.sample_every_steps = 1000
    c.num_sample_images = 8
    c.dataset.image_size = image_size
    c.dataset.channels = 3
    c.dataset.preprocess = "resize_crop"  # resize to load_size, random crop image_size
    c.dataset.load_size = image_size * 286 // 256
    c.dataset.random_flip = True
    c.model = model_config(net_g, norm)
    c.training = training_config(epoch_size, n_epochs, n_epochs_decay)
    c.num_train_steps = (n_epochs + n_epochs_decay) * epoch_size // c.batch_size
    c.g_optimizer = config_lib.optimizer_config(2e-4, b1=0.5, b2=0.999)
    c.d_optimizer = config_lib.optimizer_config(2e-4, b1=0.5, b2=0.999)
    return c


def lr_multiplier(training, batch_size: int, step) -> jax.Array:
    """The reference's lambda rule at train step `step`: during (0-based) epoch e the rate is
    scaled by 1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)."""
    epoch = (step * batch_size) // training.epoch_size
    decayed = jnp.maximum(0, epoch + 1 - training.n_epochs)
    return 1.0 - decayed.astype(jnp.float32) / (training.n_epochs_decay + 1)


def optimizer(opt, training, batch_size: int) -> optax.GradientTransformation:
    """Adam with the epoch schedule; one update per train step, so optax's count is the step."""
    if opt.name != "adam":
        raise UserError(f"the translation families train with adam, not {opt.name!r}")
    def schedule(count):
        return opt.learning_rate * lr_multiplier(training, batch_size, count)

    return optax.adam(schedule, b1=opt.b1, b2=opt.b2, eps=opt.eps)


def gan_loss(mode: str, logits: jax.Array, real: bool) -> jax.Array:
    """The reference's GANLoss: binary cross-entropy with logits (vanilla) or mean squared error
    (lsgan) against 1 (real) or 0, averaged over the batch and every patch."""
    target = 1.0 if real else 0.0
    if mode == "lsgan":
        return jnp.mean((logits - target) ** 2)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)))


def check(config) -> None:
    m, t, ds = config.model, config.training, config.dataset
    if m.norm not in NORMS:
        raise UserError(f"model.norm must be one of {NORMS}, not {m.norm!r}")
    if m.eval_norm not in EVAL_NORMS:
        raise UserError(f"model.eval_norm must be one of {EVAL_NORMS}, not {m.eval_norm!r}")
    if m.direction not in ("AtoB", "BtoA"):
        raise UserError(f"model.direction must be AtoB or BtoA, not {m.direction!r}")
    if t.epoch_size < 1 or t.n_epochs < 0 or t.n_epochs_decay < 0:
        raise UserError("training.epoch_size must be >= 1 and n_epochs, n_epochs_decay >= 0")
    if m.net_d not in ("basic", "n_layers", "pixel"):
        raise UserError(f"model.net_d must be basic, n_layers or pixel, not {m.net_d!r}")
    size_multiple(m.net_g, ds.image_size)


def _unet_downs(net_g: str) -> int | None:
    match = re.fullmatch(r"unet_(\d+)", net_g)
    if not match:
        return None
    size = int(match[1])
    if size < 2 or size & (size - 1):
        raise UserError(f"model.net_g={net_g}: a U-Net is named by a power of two (unet_256)")
    return size.bit_length() - 1


def size_multiple(net_g: str, image_size: int) -> int:
    """The total stride of the generator; a training image size must be a multiple of it."""
    downs = _unet_downs(net_g)
    if downs is not None:
        multiple = 2**downs
    elif re.fullmatch(r"resnet_(\d+)blocks", net_g):
        multiple = 4
    else:
        raise UserError(f"unknown model.net_g {net_g!r}; use unet_<size> (unet_256, unet_128, "
                        "unet_32) or resnet_<n>blocks (resnet_9blocks, resnet_6blocks)")
    if image_size % multiple:
        raise UserError(f"model.net_g={net_g} halves the image {multiple.bit_length() - 1} "
                        f"times: dataset.image_size must be a multiple of {multiple}, not "
                        f"{image_size}")
    return multiple


def generator(m, channels: int) -> nn.Module:
    downs = _unet_downs(m.net_g)
    if downs is not None:
        return nets.UnetGenerator(channels, downs, ngf=m.ngf, norm=m.norm,
                                  use_dropout=bool(m.dropout))
    blocks = int(re.fullmatch(r"resnet_(\d+)blocks", m.net_g)[1])
    return nets.ResnetGenerator(channels, ngf=m.ngf, n_blocks=blocks, norm=m.norm,
                                use_dropout=bool(m.dropout))


def discriminator(m) -> nn.Module:
    if m.net_d == "pixel":
        return nets.PixelDiscriminator(ndf=m.ndf, norm=m.norm)
    return nets.NLayerDiscriminator(ndf=m.ndf, n_layers=3 if m.net_d == "basic" else
                                    m.n_layers_d, norm=m.norm)


MUTABLE = ["batch_stats"]


def apply_train(module: nn.Module, variables, params, x, key=None):
    """Training-mode apply (batch statistics, dropout with `key`): (output, new variables)."""
    rngs = {"dropout": key} if key is not None else {}
    out, mutated = module.apply({**variables, "params": params}, x, train=True, mutable=MUTABLE,
                                rngs=rngs)
    return out, {**variables, **mutated}


def apply_test(module: nn.Module, eval_norm: str, variables, x, key):
    """A generator at test time: dropout as noise (with `key`), and batch norm from each image's
    own statistics (per_image, the reference's test mode at batch size 1) or from the running
    averages."""
    rngs = {"dropout": key}
    if "batch_stats" not in variables or eval_norm == "running":
        return module.apply(variables, x, train=False, rngs=rngs)

    def one(image, k):
        out, _ = module.apply(variables, image[None], train=True, mutable=MUTABLE,
                              rngs={"dropout": k})
        return out[0]

    return jax.vmap(one)(x, jax.random.split(key, x.shape[0]))
