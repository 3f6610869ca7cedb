"""Single-image super-resolution: SRResNet and SRGAN (Ledig et al. 2017), ESRGAN (Wang et al.
2018, as XPixelGroup/BasicSR trains it). A generator `G` maps a low-resolution image (field
`lr`, the high-resolution one downscaled by `dataset.lr_scale`) to its high-resolution version
(`hr`); a discriminator `D` judges HR images.

A run has two stages, each a compiled phase:
- `pretrain` (steps < `training.pretrain_steps`): G alone on the pixel loss (SRResNet's MSE,
  ESRGAN's PSNR-oriented L1);
- `gan` (the steps after): G on pixel + perceptual + adversarial terms, then D. At the first GAN
  step G's Adam starts afresh on the GAN stage's schedule and the EMA restarts from G, as the
  references' second training run does when it loads the pretrained G.

The perceptual term compares features of a frozen network (passed to the phase in the state,
never trained or checkpointed): VGG19 (torchvision's ImageNet weights from
`loss.vgg19_weights`, sha256-checked) at conv5_4 after the ReLU, MSE on features / 12.75
(SRGAN's VGG54), or before it, L1 (ESRGAN); or, for MNIST / Fashion-MNIST without the VGG19
file, the shipped LeNet's features (`loss.perceptual=lenet`, a different loss and named so in
the config and the metrics; `loss.perceptual_dataset` picks the other dataset's LeNet, so that
the loss is not the evaluator's classifier). Adversarial losses: `standard` (SRGAN: non-saturating BCE) or
`ragan` (ESRGAN: relativistic average). Random vertical flips and transposes of (lr, hr) pairs
(with the data's horizontal flips: the 8 rotations and reflections) use the step's key.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import config_lib
from jaxgan import state as state_lib
from jaxgan.errors import UserError
from jaxgan.families import protocol
from jaxgan.models import super_resolution as sr
from jaxgan.models import vgg
from jaxgan.objectives import ema as ema_lib
from jaxgan.objectives import optimizers
from jaxgan.state import NetState, step_key

GENERATORS = ("srresnet", "msrresnet", "rrdbnet")
DISCRIMINATORS = ("srgan", "vgg")
PERCEPTUAL = ("none", "vgg19", "lenet")
LENET_DATASETS = ("mnist", "fashion_mnist")


def config() -> ml_collections.ConfigDict:
    """SRGAN x4 as the paper trains it: 96x96 HR crops of your images (bicubic x4 LR), batch
    16, SRResNet (16 blocks, BatchNorm, PReLU) pretrained on MSE for 10^6 steps at 1e-4, then
    VGG54 / 12.75 + 1e-3 adversarial for 10^5 steps at 1e-4 and 10^5 at 1e-5 against the
    SRGAN discriminator, Adam (0.9, 0.999)."""
    c = config_lib.base_config()
    c.family = "srgan"
    c.batch_size = 16
    c.num_train_steps = 1_200_000
    c.log_every_steps = 100
    c.checkpoint_every_steps = 5000
    c.sample_every_steps = 5000
    c.num_sample_images = 8
    c.dataset.name = "image_folder"
    c.dataset.image_size = 96  # the HR patch
    c.dataset.channels = 3
    c.dataset.preprocess = "crop"
    c.dataset.random_flip = True
    c.dataset.lr_scale = 4
    c.model = ml_collections.ConfigDict({
        "net_g": "srresnet",  # srresnet | msrresnet | rrdbnet
        "num_feat": 64,
        "num_block": 16,  # residual blocks (RRDBNet: RRDB blocks, 23)
        "num_grow_ch": 32,  # RRDBNet's dense-block growth
        "net_d": "srgan",  # srgan (the paper's, for the HR patch size) | vgg (BasicSR's)
        "num_feat_d": 64,
    })
    c.loss = ml_collections.ConfigDict({
        "pixel": "mse",  # mse | l1
        "pretrain_pixel_weight": 1.0,
        "pixel_weight": 0.0,  # in the GAN stage
        "perceptual": "vgg19",  # vgg19 | lenet | none
        # lenet: whose shipped classifier gives the features ("": the run's dataset's). The
        # other dataset's keeps the loss apart from the evaluator's LeNet (fid_lenet, accuracy).
        "perceptual_dataset": "",
        "perceptual_preset": "srgan",  # srgan (conv5_4 after ReLU, MSE, /12.75) | esrgan
        "perceptual_weight": 1.0,
        "vgg19_weights": "",  # torchvision's vgg19-dcbb9e9d.pth
        "gan_mode": "standard",  # standard | ragan
        "gan_weight": 1e-3,
    })
    c.training = ml_collections.ConfigDict({
        "pretrain_steps": 1_000_000,
        "ema_decay": 0.999,
        "augment": True,  # random vertical flips and transposes of the (lr, hr) pairs
        # Learning-rate steps: the rate is multiplied by `lr_gamma` at each milestone, counted
        # in steps from the start of the stage.
        "pretrain_milestones": (),
        "milestones": (100_000,),
        "lr_gamma": 0.1,
    })
    c.pretrain_optimizer = config_lib.optimizer_config(1e-4, b1=0.9, b2=0.999)
    c.g_optimizer = config_lib.optimizer_config(1e-4, b1=0.9, b2=0.999)
    c.d_optimizer = config_lib.optimizer_config(1e-4, b1=0.9, b2=0.999)
    return c


@dataclasses.dataclass(frozen=True)
class Spec:
    config: ml_collections.FrozenConfigDict
    generator: nn.Module
    discriminator: nn.Module
    pretrain_tx: optax.GradientTransformation
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    lr_shape: tuple[int, int, int]
    hr_shape: tuple[int, int, int]
    perceptual: Any  # (frozen variables, fake, real) -> loss, or None


def _schedule(opt, milestones, gamma: float) -> optax.Schedule:
    return optax.piecewise_constant_schedule(
        opt.learning_rate, {int(m): gamma for m in milestones})


def _adam(opt, milestones, gamma: float) -> optax.GradientTransformation:
    if opt.name != "adam":
        raise UserError(f"the srgan family trains with adam, not {opt.name!r}")
    return optax.adam(_schedule(opt, milestones, gamma), b1=opt.b1, b2=opt.b2, eps=opt.eps)


def _generator(m, channels: int, scale: int) -> nn.Module:
    if m.net_g == "srresnet":
        return sr.SRResNet(channels, scale=scale, num_feat=m.num_feat, num_block=m.num_block)
    if m.net_g == "msrresnet":
        return sr.MSRResNet(channels, scale=scale, num_feat=m.num_feat, num_block=m.num_block)
    return sr.RRDBNet(channels, scale=scale, num_feat=m.num_feat, num_block=m.num_block,
                      num_grow_ch=m.num_grow_ch)


def _perceptual(c):
    loss = c.loss
    if loss.perceptual == "vgg19":
        preset = vgg.PRESETS[loss.perceptual_preset]
        return functools.partial(vgg.perceptual_loss, **preset)
    if loss.perceptual == "lenet":
        return lenet_perceptual_loss
    return None


def lenet_perceptual_loss(variables, fake, real) -> jax.Array:
    """MSE between the shipped LeNet's penultimate features of the fake and the real images
    (gray, in [-1, 1], centre-cropped to 28x28); the real features are held constant."""
    from jaxgan.models.lenet import LeNet

    def features(x):
        h, w = x.shape[1:3]
        x = x[:, (h - 28) // 2:(h + 28) // 2, (w - 28) // 2:(w + 28) // 2]
        return LeNet().apply(variables, jnp.clip(x, -1.0, 1.0))[0]

    return jnp.mean(jnp.square(features(fake) - jax.lax.stop_gradient(features(real))))


def setup(c) -> Spec:
    m, loss, t, ds = c.model, c.loss, c.training, c.dataset
    if m.net_g not in GENERATORS:
        raise UserError(f"model.net_g must be one of {GENERATORS}, not {m.net_g!r}")
    if m.net_d not in DISCRIMINATORS:
        raise UserError(f"model.net_d must be one of {DISCRIMINATORS}, not {m.net_d!r}")
    if loss.pixel not in ("mse", "l1"):
        raise UserError(f"loss.pixel must be mse or l1, not {loss.pixel!r}")
    if loss.perceptual not in PERCEPTUAL:
        raise UserError(f"loss.perceptual must be one of {PERCEPTUAL}, not {loss.perceptual!r}")
    if loss.perceptual_preset not in vgg.PRESETS:
        raise UserError(f"loss.perceptual_preset must be one of {tuple(vgg.PRESETS)}, not "
                        f"{loss.perceptual_preset!r}")
    if loss.gan_mode not in ("standard", "ragan"):
        raise UserError(f"loss.gan_mode must be standard or ragan, not {loss.gan_mode!r}")
    if t.pretrain_steps < 0:
        raise UserError(f"training.pretrain_steps must be >= 0, not {t.pretrain_steps}")
    gan_stage = c.num_train_steps > t.pretrain_steps
    if gan_stage and loss.perceptual == "vgg19" and not loss.vgg19_weights:
        raise UserError(
            "loss.perceptual=vgg19 needs torchvision's VGG19 weights: "
            f"--config.loss.vgg19_weights=PATH/{vgg.WEIGHTS_FILENAME} (from {vgg.WEIGHTS_URL}); "
            "for MNIST / Fashion-MNIST without it, --config.loss.perceptual=lenet")
    if loss.perceptual_dataset not in ("", *LENET_DATASETS):
        raise UserError(f"loss.perceptual_dataset must be one of {LENET_DATASETS} (or empty: the "
                        f"run's dataset), not {loss.perceptual_dataset!r}")
    if loss.perceptual == "lenet" and not loss.perceptual_dataset and ds.name not in LENET_DATASETS:
        raise UserError(f"loss.perceptual=lenet uses jaxgan's MNIST / Fashion-MNIST classifier: "
                        f"dataset.name must be one of {LENET_DATASETS}, not {ds.name!r}")
    if loss.perceptual == "lenet" and ds.channels != 1:
        raise UserError(f"loss.perceptual=lenet compares gray images; dataset.channels is "
                        f"{ds.channels}")
    scale, size, ch = ds.lr_scale, ds.image_size, ds.channels
    if scale < 2:
        raise UserError(f"dataset.lr_scale must be the upscaling factor (2, 4), not {scale}")
    if size % scale:
        raise UserError(f"dataset.image_size {size} (the HR patch) is not divisible by "
                        f"dataset.lr_scale {scale}: use a multiple of {scale}")
    generator = _generator(m, ch, scale)
    if m.net_d == "srgan":
        discriminator = sr.SRGANDiscriminator(input_size=size, num_feat=m.num_feat_d)
    else:
        if size not in (128, 256):
            raise UserError(f"model.net_d=vgg (BasicSR's VGGStyleDiscriminator) takes 128 or "
                            f"256 pixel HR patches, not {size}; use model.net_d=srgan")
        discriminator = sr.VGGStyleDiscriminator(num_feat=m.num_feat_d, input_size=size)
    return Spec(
        config=ml_collections.FrozenConfigDict(c), generator=generator,
        discriminator=discriminator,
        pretrain_tx=_adam(c.pretrain_optimizer, t.pretrain_milestones, t.lr_gamma),
        g_tx=_adam(c.g_optimizer, t.milestones, t.lr_gamma),
        d_tx=_adam(c.d_optimizer, t.milestones, t.lr_gamma),
        lr_shape=(size // scale, size // scale, ch), hr_shape=(size, size, ch),
        perceptual=_perceptual(c) if gan_stage else None)


def init(spec: Spec, seed) -> state_lib.TrainState:
    g_key, d_key, run_key = jax.random.split(jax.random.key(seed), 3)
    g_vars = spec.generator.init(g_key, jnp.zeros((1, *spec.lr_shape)), train=False)
    d_vars = spec.discriminator.init(d_key, jnp.zeros((1, *spec.hr_shape)), train=False)
    # G's optimizer state is the pretraining Adam's; the GAN stage's has the same structure.
    return state_lib.initial_state(run_key, {"G": state_lib.trainable(g_vars, spec.pretrain_tx),
                                             "D": state_lib.trainable(d_vars, spec.d_tx)},
                                   ema=("G",))


def frozen(spec: Spec) -> dict[str, Any]:
    loss = spec.config.loss
    if spec.perceptual is None:
        return {}
    if loss.perceptual == "vgg19":
        return {"vgg19": vgg.load_vgg19(loss.vgg19_weights)}
    from jaxgan.evaluation.classifier import load_classifier

    dataset = loss.perceptual_dataset or spec.config.dataset.name
    return {"lenet": {"params": load_classifier(dataset).params}}


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    del step
    return {"lr": protocol.Field(spec.lr_shape), "hr": protocol.Field(spec.hr_shape)}


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    return (stage(spec, step),)


def stage(spec: Spec, step: int) -> str:
    return "pretrain" if step < spec.config.training.pretrain_steps else "gan"


def augment(key, lr, hr):
    """The same random vertical flip and transpose for each (lr, hr) pair."""
    k_flip, k_t = jax.random.split(key)
    flip = jax.random.bernoulli(k_flip, 0.5, (lr.shape[0], 1, 1, 1))
    lr, hr = (jnp.where(flip, x[:, ::-1], x) for x in (lr, hr))
    if lr.shape[1] != lr.shape[2]:
        return lr, hr
    swap = jax.random.bernoulli(k_t, 0.5, (lr.shape[0], 1, 1, 1))
    return tuple(jnp.where(swap, jnp.swapaxes(x, 1, 2), x) for x in (lr, hr))


def _pixel(kind: str, fake, real) -> jax.Array:
    diff = fake - real
    return jnp.mean(jnp.abs(diff)) if kind == "l1" else jnp.mean(jnp.square(diff))


def _bce(logits, target: float) -> jax.Array:
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)))


def generator_adversarial(mode: str, real_logits, fake_logits) -> jax.Array:
    """G's adversarial loss: non-saturating BCE (standard), or ESRGAN's relativistic average
    (the real logits relative to the fakes' mean are pushed to 0, the fakes' to 1)."""
    if mode == "standard":
        return _bce(fake_logits, 1.0)
    real_rel = real_logits - jnp.mean(fake_logits)
    fake_rel = fake_logits - jnp.mean(real_logits)
    return 0.5 * (_bce(real_rel, 0.0) + _bce(fake_rel, 1.0))


def discriminator_loss(mode: str, real_logits, fake_logits) -> jax.Array:
    if mode == "standard":
        return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)
    return 0.5 * (_bce(real_logits - jnp.mean(fake_logits), 1.0)
                  + _bce(fake_logits - jnp.mean(real_logits), 0.0))


def _apply(module, variables, params, x, train: bool = True):
    """(output, variables with updated batch statistics) of a training-mode pass."""
    if "batch_stats" not in variables:
        return module.apply({**variables, "params": params}, x, train=train), variables
    out, mutated = module.apply({**variables, "params": params}, x, train=train,
                                mutable=["batch_stats"])
    return out, {**variables, **mutated}


def train_phase(spec: Spec, phase: str, state, batch):
    c = spec.config
    lr, hr = batch["lr"], batch["hr"]
    if c.training.augment:
        lr, hr = augment(step_key(state, 1), lr, hr)
    g_net, d_net = state.nets["G"], state.nets["D"]
    ema = state.ema["G"]
    metrics = {}
    if phase == "pretrain":
        def loss_fn(params):
            fake, v = _apply(spec.generator, g_net.variables, params, lr)
            return c.loss.pretrain_pixel_weight * _pixel(c.loss.pixel, fake, hr), (fake, v)

        (loss, (fake, g_vars)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g_net.params)
        g_net = optimizers.apply_gradients(spec.pretrain_tx, g_net, grads, variables=g_vars)
        metrics.update(g_loss=loss, g_pixel=loss)
    elif phase == "gan":
        # The first GAN step: a fresh Adam on the GAN schedule, the EMA restarted from G.
        first = state.step == c.training.pretrain_steps
        fresh = spec.g_tx.init(g_net.params)
        g_opt = jax.tree.map(lambda new, old: jnp.where(first, new, old), fresh,
                             g_net.opt_state)
        g_net = NetState(g_net.variables, g_opt)
        ema = jax.tree.map(lambda g, e: jnp.where(first, g, e), g_net.variables, ema)
        frozen_vars = next((n.variables for name, n in state.nets.items()
                            if name in ("vgg19", "lenet")), None)

        def g_loss_fn(params):
            fake, v = _apply(spec.generator, g_net.variables, params, lr)
            pixel = _pixel(c.loss.pixel, fake, hr)
            perceptual = (spec.perceptual(frozen_vars, fake, hr) if spec.perceptual is not None
                          else jnp.zeros(()))
            both, _ = _apply(spec.discriminator, d_net.variables, d_net.params,
                             jnp.concatenate([hr, fake]))
            real_logits, fake_logits = jnp.split(both, 2)
            adversarial = generator_adversarial(c.loss.gan_mode,
                                                jax.lax.stop_gradient(real_logits), fake_logits)
            loss = (c.loss.pixel_weight * pixel + c.loss.perceptual_weight * perceptual
                    + c.loss.gan_weight * adversarial)
            return loss, (fake, v, pixel, perceptual, adversarial)

        (g_loss, (fake, g_vars, pixel, perceptual, adversarial)), g_grads = \
            jax.value_and_grad(g_loss_fn, has_aux=True)(g_net.params)
        g_net = optimizers.apply_gradients(spec.g_tx, g_net, g_grads, variables=g_vars)
        fake = jax.lax.stop_gradient(fake)

        def d_loss_fn(params):
            both, v = _apply(spec.discriminator, d_net.variables, params,
                             jnp.concatenate([hr, fake]))
            real_logits, fake_logits = jnp.split(both, 2)
            return discriminator_loss(c.loss.gan_mode, real_logits, fake_logits), v

        (d_loss, d_vars), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_net.params)
        d_net = optimizers.apply_gradients(spec.d_tx, d_net, d_grads, variables=d_vars)
        metrics.update(g_loss=g_loss, g_pixel=pixel, g_gan=adversarial, d_loss=d_loss)
        metrics[f"g_{c.loss.perceptual}"] = perceptual
    else:
        raise ValueError(f"unknown phase {phase!r}")
    ema = ema_lib.update(ema, g_net.variables, jnp.asarray(c.training.ema_decay, jnp.float32))
    nets = {**state.nets, "G": g_net, "D": d_net}
    return state.replace(step=state.step + 1, nets=nets, ema={"G": ema}), metrics


def generate(spec: Spec, variables, batch, rng=None, truncation=None):
    del rng, truncation
    out = spec.generator.apply(variables, batch["image"], train=False)
    return jnp.clip(out, -1.0, 1.0)


def generators(spec: Spec) -> dict[str, protocol.GeneratorExport]:
    scale = spec.config.dataset.lr_scale
    multiple = 4 // scale if spec.config.model.net_g == "rrdbnet" and scale < 4 else 1
    return {"G": protocol.GeneratorExport(
        network="G", image_shape=spec.hr_shape, generate=functools.partial(generate, spec),
        condition=protocol.Condition(field="lr", shape=spec.lr_shape, target="hr"),
        size_multiple=multiple)}


FAMILY = protocol.Family(name="srgan", config=config, setup=setup, init=init,
                         batch_spec=batch_spec, phases=phases, train_phase=train_phase,
                         stage=stage,
                         generators=generators, frozen=frozen,
                         # Runs written before the key: the LeNet of their own dataset.
                         config_backfill=lambda: {"loss": {"perceptual_dataset": ""}})
