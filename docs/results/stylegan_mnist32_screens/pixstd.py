# usage: python docs/results/stylegan_mnist32_screens/pixstd.py runs/NAME
"""Pixel std over 64 fixed z (const noise) of G and G_ema at each checkpoint of a stylegan run."""
import sys

import jax
import numpy as np

from jaxgan import families
from jaxgan.checkpoint import Checkpointer, generator_item, load_config, restore_generator

wd = sys.argv[1]
config = load_config(wd); family = families.get(config.family); spec = family.setup(config)
abstract = jax.eval_shape(lambda: family.init(spec, config.seed))
steps = Checkpointer(wd, keep=1, read_only=True).all_steps()
z = family.sample_latents(spec, jax.random.key(1), 64)
for step in steps:
    out = []
    for choice in ("params", "ema"):
        item, ag = generator_item(abstract, choice)
        g, _ = restore_generator(wd, ag, step, item)
        x = np.asarray(family.generate(spec, g, z))
        out.append(f"{choice} {x.std(0).mean():.3f}")
    print(step, *out, flush=True)
