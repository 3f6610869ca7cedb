"""f-AnoGAN (Schlegl et al. 2019): a WGAN-GP trained on normal images, then an encoder E trained
with the generator and critic frozen so that G(E(x)) reconstructs x ("izi_f" training):

    L(x) = mean((x - G(E(x)))^2) + kappa * mean((f(x) - f(G(E(x))))^2),

f being the critic's features before its last layer (the sum-pooled last feature map of the
DCGAN critic). The anomaly score of an image is the same quantity. The run's first
`encoder.start_step` steps are the gan family's WGAN-GP (its phases unchanged, D steps
counted), the rest train E alone; G is read as the evaluator reads it (its EMA copy when kept),
in test mode.

E mirrors the critic: 4x4 stride-2 convolutions (LeakyReLU 0.2, layer norm after the first)
down to the base resolution, then a dense layer to the latent (no squashing: z's prior is
N(0, I)).
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import config_lib
from jaxgan import state as state_lib
from jaxgan.errors import UserError
from jaxgan.families import gan, protocol
from jaxgan.families.gan import config as gan_config
from jaxgan.families.gan import export as gan_export
from jaxgan.families.gan import steps as gan_steps
from jaxgan.models import dcgan
from jaxgan.models.layers import DownConv2x, dcgan_kernel_init
from jaxgan.objectives import optimizers


def config() -> ml_collections.ConfigDict:
    """The WGAN-GP MNIST recipe (experiments/wgan_gp_mnist.py: DCGAN networks, layer-normalised
    critic, gradient penalty 10, 5 critic steps per G step, Adam 1e-4 (0, 0.9), 5,000 critic
    steps) on one class (`dataset.classes`, less `dataset.holdout` for calibration), then
    1,500 encoder steps (~17 epochs of a class) with Adam 2e-4 (0.5, 0.999) and kappa 1."""
    c = gan_config.build(gan_config.gray("mnist", num_train_steps=6500), gan_config.WGAN_GP)
    c.family = "fanogan"
    c.num_train_steps = 6500
    c.checkpoint_every_steps = 500
    c.sample_every_steps = 1000
    c.dataset.classes = "0"
    c.dataset.holdout = 500
    c.encoder = ml_collections.ConfigDict({"start_step": 5000, "kappa": 1.0})
    c.e_optimizer = config_lib.optimizer_config(2e-4, b1=0.5, b2=0.999)
    return c


class Encoder(nn.Module):
    """images [B, S, S, C] -> z [B, latent_dim]."""

    image_size: int
    latent_dim: int
    width: int = 64

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _, stages = dcgan.num_stages(self.image_size)
        width = self.width
        for i in range(stages):
            x = DownConv2x(width, name=f"down{i}")(x)
            if i:
                x = nn.LayerNorm(name=f"down{i}_ln")(x)
            x = nn.leaky_relu(x, 0.2)
            width *= 2
        return nn.Dense(self.latent_dim, kernel_init=dcgan_kernel_init,
                        name="to_latent")(x.reshape(x.shape[0], -1))


@dataclasses.dataclass(frozen=True)
class Spec:
    config: ml_collections.FrozenConfigDict
    gan: gan.Spec
    encoder: nn.Module
    e_tx: optax.GradientTransformation


def setup(c) -> Spec:
    gan_spec = gan.setup(c)
    m = c.model
    if m.name != "dcgan" or m.num_classes or m.info_categories:
        raise UserError("f-AnoGAN is built on the unconditional DCGAN networks "
                        "(model.name=dcgan, no classes or codes)")
    if c.d_layers.pack != 1:
        raise UserError("f-AnoGAN scores one image at a time through the critic's features: "
                        "set d_layers.pack=1")
    if c.encoder.start_step < 1:
        raise UserError(f"encoder.start_step (the GAN's steps, after which the encoder trains) "
                        f"must be >= 1, not {c.encoder.start_step}")
    if c.encoder.kappa < 0:
        raise UserError(f"encoder.kappa must be >= 0, not {c.encoder.kappa}")
    return Spec(config=ml_collections.FrozenConfigDict(c), gan=gan_spec,
                encoder=Encoder(c.dataset.image_size, m.latent_dim, m.ndf),
                e_tx=optimizers.make(c.e_optimizer))


def init(spec: Spec, seed) -> state_lib.TrainState:
    state = gan.init(spec.gan, seed)
    # E's key is folded from the seed apart from the GAN's, so the GAN part is the gan
    # family's run with this seed, bit for bit.
    e_key = jax.random.fold_in(jax.random.key(seed), 0xE)
    e_vars = spec.encoder.init(e_key, jnp.zeros((1, *spec.gan.image_shape)))
    return state.replace(nets={**state.nets, "E": state_lib.trainable(e_vars, spec.e_tx)})


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    return gan.batch_spec(spec.gan, step)


def stage(spec: Spec, step: int) -> str:
    return "gan" if step < spec.config.encoder.start_step else "encoder"


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    if step < spec.config.encoder.start_step:
        return gan_steps.phases(spec.gan, step)
    return ("encoder",)


def _generator_variables(spec: Spec, state) -> dict:
    return state.ema["G"] if "G" in state.ema else state.nets["G"].variables


def izi_f(spec: Spec, e_vars, g_vars, d_vars, x):
    """Per image: (score, image residual term, feature residual term, reconstruction)."""
    z = spec.encoder.apply(e_vars, x)
    x_rec = spec.gan.generator.apply(g_vars, z, None, train=False)

    def features(images):
        return spec.gan.discriminator.apply(d_vars, images, None, train=False,
                                            return_features=True)[1]
    image_term = jnp.mean((x - x_rec) ** 2, axis=(1, 2, 3))
    feature_term = jnp.mean((features(x) - features(x_rec)) ** 2, axis=-1)
    score = image_term + spec.config.encoder.kappa * feature_term
    return score, image_term, feature_term, x_rec


def train_phase(spec: Spec, phase: str, state, batch):
    if phase != "encoder":
        return gan_steps.train_phase(spec.gan, phase, state, batch)
    e_net = state.nets["E"]
    g_vars, d_vars = _generator_variables(spec, state), state.nets["D"].variables

    def loss_fn(params):
        score, image_term, feature_term, _ = izi_f(spec, {**e_net.variables, "params": params},
                                                   g_vars, d_vars, batch["image"])
        return jnp.mean(score), (jnp.mean(image_term), jnp.mean(feature_term))

    (loss, (image_term, feature_term)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(e_net.params)
    nets = {**state.nets, "E": optimizers.apply_gradients(spec.e_tx, e_net, grads)}
    metrics = {"e_loss": loss, "e_image": image_term, "e_features": feature_term}
    return state.replace(step=state.step + 1, nets=nets), metrics


def score(spec: Spec, variables, images):
    value, _, _, x_rec = izi_f(spec, variables["E"], variables["G"], variables["D"], images)
    return {"score": value, "residual": jnp.abs(images - x_rec), "reconstruction": x_rec}


def generators(spec: Spec) -> dict[str, protocol.GeneratorExport]:
    return gan_export.generators(spec.gan)


def anomaly(spec: Spec) -> protocol.AnomalyScorer:
    return protocol.AnomalyScorer(
        networks=("G", "D", "E"), image_shape=spec.gan.image_shape,
        score=functools.partial(score, spec),
        description=f"f-AnoGAN izi_f: mean((x - G(E(x)))^2) + {spec.config.encoder.kappa:g} "
                    "mean((f(x) - f(G(E(x))))^2), f the critic's features")


def _backfill() -> dict:
    return gan_config.config().to_dict()


FAMILY = protocol.Family(name="fanogan", config=config, setup=setup, init=init,
                         batch_spec=batch_spec, phases=phases, train_phase=train_phase,
                         stage=stage,
                         generators=generators, anomaly=anomaly, config_backfill=_backfill)
