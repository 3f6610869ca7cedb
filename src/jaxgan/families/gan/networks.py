"""The gan family's generator and discriminator, built from `config.model` and `config.d_layers`:
DCGAN (with conditional, InfoGAN and stabilisation options), SNGAN, SAGAN and BigGAN."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import UserError
from jaxgan.models import dcgan

MUTABLE = ["batch_stats", "spectral"]  # the collections a training-mode apply updates


def build(config, dtype) -> tuple[nn.Module, nn.Module]:
    m, ds, dl = config.model, config.dataset, config.d_layers
    if m.name == "dcgan":
        try:
            dcgan.num_stages(ds.image_size)
        except ValueError as e:
            raise UserError(f"dataset.image_size: {e}") from None
        if dl.norm not in ("batch", "layer", "none"):
            raise UserError(f"d_layers.norm must be batch, layer or none, not {dl.norm!r}")
        if m.g_conditional_bn and not m.num_classes:
            raise UserError("model.g_conditional_bn=True needs a conditional model: set "
                            "model.num_classes (e.g. 10 for MNIST)")
        # The generator embeds the InfoGAN code exactly as it embeds a class label.
        g = dcgan.Generator(ds.image_size, ds.channels, m.ngf, dtype,
                            num_classes=m.num_classes or m.info_categories,
                            spectral_norm=m.g_spectral_norm, conditional_bn=m.g_conditional_bn)
        d = dcgan.Discriminator(
            ds.image_size, m.ndf, dtype, norm=dl.norm, spectral_norm=dl.spectral_norm,
            minibatch_std=dl.minibatch_std, minibatch_kernels=dl.minibatch_discrimination,
            num_classes=m.num_classes, info_categories=m.info_categories,
            code_projection=bool(m.info_projection))
        return g, d
    if m.info_categories:
        raise UserError(f"model.info_categories (InfoGAN's code) is built for model.name=dcgan, "
                        f"not {m.name!r}")
    if m.name in ("sngan", "sagan"):
        from jaxgan.models import sngan

        if ds.image_size not in (32, 64):
            raise UserError(f"{m.name} is built for 32 or 64 px images; set dataset.image_size "
                            f"(28 px MNIST is padded to 32), not {ds.image_size}")
        if m.name == "sagan" and not m.attention_resolution:
            raise UserError("sagan needs model.attention_resolution (e.g. 16)")
        attention = m.attention_resolution if m.name == "sagan" else None
        g = sngan.Generator(image_size=ds.image_size, channels=ds.channels, g_width=m.ngf,
                            num_classes=m.num_classes, attention_resolution=attention,
                            g_spectral_norm=m.g_spectral_norm, dtype=dtype)
        d = sngan.Discriminator(image_size=ds.image_size, d_width=m.ndf,
                                num_classes=m.num_classes, attention_resolution=attention,
                                dtype=dtype)
        try:  # a bad attention resolution or size surfaces at construction-time checks
            labels = jnp.zeros((1,), jnp.int32) if m.num_classes else None
            jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.zeros((1, m.latent_dim)),
                                          labels, train=False))
        except ValueError as e:
            raise UserError(f"model: {e}") from None
        return g, d
    if m.name == "biggan":
        return _biggan(config, dtype)
    raise UserError(f"unknown model.name {m.name!r} for family gan; choose dcgan, sngan, sagan "
                    f"or biggan")


def _biggan(config, dtype) -> tuple[nn.Module, nn.Module]:
    from jaxgan.models import biggan

    m, ds = config.model, config.dataset
    if not m.num_classes:
        raise UserError("biggan is class-conditional: set model.num_classes (e.g. 10)")
    if m.g_norm not in ("batch", "none"):
        raise UserError(f"model.g_norm must be batch or none, not {m.g_norm!r}")
    if m.weight_init not in biggan.INITS:
        raise UserError(f"model.weight_init must be one of {sorted(biggan.INITS)}, not "
                        f"{m.weight_init!r}")
    if m.hier and not m.shared_dim:
        raise UserError("model.hier=True joins z's chunks to the shared class embedding: set "
                        "model.shared_dim (e.g. 128)")
    try:
        biggan.check_resolution(ds.image_size)
        biggan.z_chunks(m.latent_dim, ds.image_size, m.hier)
    except ValueError as e:
        raise UserError(f"model: {e}") from None
    g = biggan.Generator(resolution=ds.image_size, channels=ds.channels, ch=m.ngf,
                         num_classes=m.num_classes, shared_dim=m.shared_dim, hier=m.hier,
                         attention_resolution=m.attention_resolution,
                         spectral_norm=m.g_spectral_norm, batch_norm=m.g_norm == "batch",
                         weight_init=m.weight_init, dtype=dtype)
    d = biggan.Discriminator(resolution=ds.image_size, ch=m.ndf, num_classes=m.num_classes,
                             attention_resolution=m.attention_resolution,
                             weight_init=m.weight_init, dtype=dtype)
    try:  # a bad attention resolution surfaces at construction-time checks
        labels = jnp.zeros((1,), jnp.int32)
        jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.zeros((1, m.latent_dim)), labels,
                                      train=False))
        jax.eval_shape(lambda: d.init(jax.random.key(0), jnp.zeros(
            (1, ds.image_size, ds.image_size, ds.channels)), labels, train=False))
    except ValueError as e:
        raise UserError(f"model: {e}") from None
    return g, d


def apply_train(module: nn.Module, variables: dict, params, *args, **kwargs):
    """Training-mode apply; returns (output, updated variables)."""
    out, mutated = module.apply(
        {**variables, "params": params}, *args, train=True, mutable=MUTABLE, **kwargs
    )
    return out, {**variables, **mutated}
