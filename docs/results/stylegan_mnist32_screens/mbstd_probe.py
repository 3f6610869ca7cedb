# usage: python docs/results/stylegan_mnist32_screens/mbstd_probe.py runs/NAME STEP
"""Does the trained D penalise zero within-group variety? Mean D logit of 32 distinct reals vs
the same 8 reals tiled so each mbstd group of 4 holds 4 copies of one image; and of G's fakes."""
import sys, jax, jax.numpy as jnp, numpy as np
from jaxgan import families
from jaxgan.checkpoint import Checkpointer, load_config
from jaxgan.data import load_idx_arrays
from jaxgan.data.pipeline import preprocess
from jaxgan.families import stylegan
wd, step = sys.argv[1], int(sys.argv[2])
config = load_config(wd); spec = stylegan.setup(config)
abstract = jax.eval_shape(lambda: stylegan.init(spec, config.seed))
items = Checkpointer(wd, keep=1, read_only=True).restore_items(
    step, {"discriminator": abstract.discriminator, "generator": abstract.generator})
d, g = items["discriminator"], items["generator"]
im, _ = load_idx_arrays(config.dataset.name, "train")
rng = np.random.default_rng(0)
D = lambda x: np.asarray(spec.discriminator.apply(d, jnp.asarray(x), None)).ravel()
for trial in range(3):
    x = preprocess(im[rng.choice(len(im), 32, replace=False)], 32, 1)
    tiled = np.concatenate([x[:8]] * 4)
    z = stylegan.sample_latents(spec, jax.random.key(trial), 32)
    fake = np.asarray(stylegan.generate(spec, g, z))
    ftile = np.concatenate([fake[:8]] * 4)
    print(f"reals {D(x).mean():+.2f} reals-tiled {D(tiled).mean():+.2f} "
          f"fakes {D(fake).mean():+.2f} fakes-tiled {D(ftile).mean():+.2f}", flush=True)
