"""CycleGAN (Zhu et al. 2017), unpaired image-to-image translation, as junyanz/pytorch-
CycleGAN-and-pix2pix trains it: generators `G_A` (A -> B) and `G_B` (B -> A), discriminators
`D_A` (judges the B domain: real B against G_A(A)) and `D_B` (the A domain). Each step: both
generators on the LSGAN loss, the cycle losses lambda |G_B(G_A(A)) - A| and lambda
|G_A(G_B(B)) - B| and the identity losses 0.5 lambda |G_A(B) - B|, 0.5 lambda |G_B(A) - A|;
then each discriminator, its loss halved, on real images and on a generated image drawn through
its history pool of 50 (Shrivastava et al. 2017). The pools live in the train state
(`extra`), so they are checkpointed and a resumed run draws what an uninterrupted one does.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import state as state_lib
from jaxgan.errors import UserError
from jaxgan.families import protocol
from jaxgan.families import translation as tr
from jaxgan.objectives import optimizers
from jaxgan.state import step_key

# Which domain each network reads and writes.
GENERATORS = {"G_A": ("A", "B"), "G_B": ("B", "A")}
DISCRIMINATORS = {"D_A": "B", "D_B": "A"}  # D_A judges B images (real, or G_A's)


def config() -> ml_collections.ConfigDict:
    """CycleGAN's horse2zebra defaults: 256x256x3 (resized to 286, random crop 256, flips),
    batch 1, resnet_9blocks with instance norm, basic PatchGAN, LSGAN, lambda 10 per
    direction, identity 0.5, pools of 50, 100 + 100 epochs of 1,334 images (trainA's size,
    the larger domain)."""
    c = tr.base_config("resnet_9blocks", "instance", image_size=256, epoch_size=1334,
                       n_epochs=100, n_epochs_decay=100)
    c.family = "cyclegan"
    c.dataset.name = "unpaired_folder"
    c.model.dropout = False
    # True when testB holds the true translation of testA, file for file (benchmarks with a
    # known truth): the evaluator then scores L1/PSNR/SSIM against it.
    c.model.paired_test = False
    c.loss = ml_collections.ConfigDict({"gan_mode": "lsgan", "lambda_a": 10.0,
                                        "lambda_b": 10.0, "lambda_identity": 0.5,
                                        "cycle": True})
    c.pool_size = 50
    return c


@dataclasses.dataclass(frozen=True)
class Spec:
    config: ml_collections.FrozenConfigDict
    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    image_shape: tuple[int, int, int]
    size_multiple: int


def setup(c) -> Spec:
    tr.check(c)
    if c.loss.gan_mode not in tr.GAN_MODES:
        raise UserError(f"loss.gan_mode must be one of {tr.GAN_MODES}, not {c.loss.gan_mode!r}")
    if c.pool_size < 0:
        raise UserError(f"pool_size must be >= 0 (0: no history pool), not {c.pool_size}")
    if c.model.direction != "AtoB":
        raise UserError("cyclegan trains both directions: pick one at test time with "
                        "--network=G_A (A to B) or G_B (B to A), not model.direction")
    size, ch = c.dataset.image_size, c.dataset.channels
    return Spec(config=ml_collections.FrozenConfigDict(c),
                generator=tr.generator(c.model, ch), discriminator=tr.discriminator(c.model),
                g_tx=tr.optimizer(c.g_optimizer, c.training, c.batch_size),
                d_tx=tr.optimizer(c.d_optimizer, c.training, c.batch_size),
                image_shape=(size, size, ch),
                size_multiple=tr.size_multiple(c.model.net_g, size))


def empty_pool(size: int, image_shape) -> dict[str, jax.Array]:
    return {"images": jnp.zeros((size, *image_shape), jnp.float32),
            "count": jnp.zeros((), jnp.int32)}


def init(spec: Spec, seed) -> state_lib.TrainState:
    keys = jax.random.split(jax.random.key(seed), 6)
    x = jnp.zeros((1, *spec.image_shape))
    nets = {}
    for name, key in zip(("G_A", "G_B"), keys[:2]):
        variables = spec.generator.init({"params": key, "dropout": key}, x, train=False)
        nets[name] = state_lib.trainable(variables, spec.g_tx)
    for name, key in zip(("D_A", "D_B"), keys[2:4]):
        nets[name] = state_lib.trainable(spec.discriminator.init(key, x, train=False), spec.d_tx)
    size = spec.config.pool_size
    pools = {"pool_A": empty_pool(size, spec.image_shape),
             "pool_B": empty_pool(size, spec.image_shape)}
    return state_lib.initial_state(keys[5], nets, extra=pools)


def query_pool(pool: dict[str, jax.Array], images: jax.Array, key: jax.Array):
    """The reference's ImagePool.query, image by image: while the pool is not full, store the
    image and return it; then with probability 1/2 return a random stored image and put the new
    one in its place, else return the new image. Returns (images for D, new pool)."""
    size = pool["images"].shape[0]
    if size == 0:
        return images, pool

    def one(pool, item):
        image, k = item
        k_swap, k_index = jax.random.split(k)
        count, stored = pool["count"], pool["images"]
        filling = count < size
        swap = jax.random.uniform(k_swap) > 0.5
        index = jnp.where(filling, count, jax.random.randint(k_index, (), 0, size))
        old = stored[index]
        replace = filling | swap
        stored = jnp.where(replace, stored.at[index].set(image), stored)
        out = jnp.where(filling | ~swap, image, old)
        return {"images": stored, "count": jnp.minimum(count + 1, size)}, out

    pool, out = jax.lax.scan(one, pool, (images, jax.random.split(key, images.shape[0])))
    return out, pool


def reconstruction_terms(real, rec, idt, lam, lambda_identity: float) -> dict[str, jax.Array]:
    """The cycle losses lambda_X |rec_X - X| (rec_A = G_B(G_A(A))) and the identity losses
    lambda_identity lambda_Y |idt_Y - Y| (idt_B = G_A(B): G_A should leave B images alone)."""
    terms = {}
    if rec is not None:
        for d in ("A", "B"):
            terms[f"cycle_{d}"] = jnp.mean(jnp.abs(rec[d] - real[d])) * lam[d]
    if idt is not None:
        for d in ("A", "B"):
            terms[f"idt_{d}"] = jnp.mean(jnp.abs(idt[d] - real[d])) * lam[d] * lambda_identity
    return terms


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    del step
    return {"A": protocol.Field(spec.image_shape), "B": protocol.Field(spec.image_shape)}


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    del step
    return ("step",)


def train_phase(spec: Spec, phase: str, state, batch):
    if phase != "step":
        raise ValueError(f"unknown phase {phase!r}")
    c = spec.config
    real = {"A": batch["A"], "B": batch["B"]}
    k_ga, k_gb, k_pool_a, k_pool_b = jax.random.split(step_key(state), 4)
    drop = {"G_A": k_ga, "G_B": k_gb}
    mode, lam = c.loss.gan_mode, {"A": c.loss.lambda_a, "B": c.loss.lambda_b}
    nets = state.nets

    def g_loss_fn(params):
        variables = {name: nets[name].variables for name in GENERATORS}

        def run(name, x, key_salt):
            out, variables[name] = tr.apply_train(
                spec.generator, variables[name], params[name], x,
                jax.random.fold_in(drop[name], key_salt))
            return out

        fake = {"B": run("G_A", real["A"], 0), "A": run("G_B", real["B"], 0)}
        terms = {}
        loss = 0.0
        for d_name, domain in DISCRIMINATORS.items():
            logits, _ = tr.apply_train(spec.discriminator, nets[d_name].variables,
                                       nets[d_name].params, fake[domain])
            terms[f"g_gan_{d_name[-1]}"] = tr.gan_loss(mode, logits, True)
            loss = loss + terms[f"g_gan_{d_name[-1]}"]
        rec = idt = None
        if c.loss.cycle:
            rec = {"A": run("G_B", fake["B"], 1), "B": run("G_A", fake["A"], 1)}
        if c.loss.lambda_identity:
            idt = {"A": run("G_B", real["A"], 2), "B": run("G_A", real["B"], 2)}
        terms.update(reconstruction_terms(real, rec, idt, lam, c.loss.lambda_identity))
        loss = loss + sum(v for k, v in terms.items() if not k.startswith("g_gan"))
        return loss, (jax.lax.stop_gradient(fake), variables, terms)

    g_params = {name: nets[name].params for name in GENERATORS}
    (g_loss, (fake, g_vars, terms)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
        g_params)
    new_nets = dict(nets)
    for name in GENERATORS:
        new_nets[name] = optimizers.apply_gradients(spec.g_tx, nets[name], g_grads[name],
                                                    variables=g_vars[name])
    # The discriminators, on a history of generated images (the pools).
    pooled = {}
    pooled["B"], pool_b = query_pool(state.extra["pool_B"], fake["B"], k_pool_b)
    pooled["A"], pool_a = query_pool(state.extra["pool_A"], fake["A"], k_pool_a)
    metrics = {"g_loss": g_loss, **terms}
    for d_name, domain in DISCRIMINATORS.items():
        d_net = nets[d_name]

        def d_loss_fn(params, d_net=d_net, domain=domain):
            real_logits, v = tr.apply_train(spec.discriminator, d_net.variables, params,
                                            real[domain])
            fake_logits, v = tr.apply_train(spec.discriminator, v, params, pooled[domain])
            return 0.5 * (tr.gan_loss(mode, real_logits, True)
                          + tr.gan_loss(mode, fake_logits, False)), v

        (d_loss, d_vars), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_net.params)
        new_nets[d_name] = optimizers.apply_gradients(spec.d_tx, d_net, d_grads,
                                                      variables=d_vars)
        metrics[f"d_loss_{d_name[-1]}"] = d_loss
    metrics["d_loss"] = 0.5 * (metrics["d_loss_A"] + metrics["d_loss_B"])
    metrics["lr_scale"] = tr.lr_multiplier(c.training, c.batch_size, state.step)
    extra = {**state.extra, "pool_A": pool_a, "pool_B": pool_b}
    return state.replace(step=state.step + 1, nets=new_nets, extra=extra), metrics


def generate(spec: Spec, name: str, variables, batch, rng=None, truncation=None):
    del name, truncation
    key = rng if rng is not None else jax.random.key(0)
    return tr.apply_test(spec.generator, spec.config.model.eval_norm, variables,
                         batch["image"], key)


def generators(spec: Spec) -> dict[str, protocol.GeneratorExport]:
    paired = bool(spec.config.model.paired_test)
    return {name: protocol.GeneratorExport(
        network=name, image_shape=spec.image_shape,
        generate=functools.partial(generate, spec, name),
        condition=protocol.Condition(field=source, shape=spec.image_shape,
                                     target=output if paired else None, domain=output),
        size_multiple=spec.size_multiple)
        for name, (source, output) in GENERATORS.items()}


FAMILY = protocol.Family(name="cyclegan", config=config, setup=setup, init=init,
                         batch_spec=batch_spec, phases=phases, train_phase=train_phase,
                         generators=generators)
