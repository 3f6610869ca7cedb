# usage: python docs/results/infogan_mnist/code_classes.py runs/NAME STEP [SAMPLES_PER_CODE]
"""Which digits each InfoGAN code draws: the real-data MNIST LeNet's class histogram (%) of
N samples per code from the EMA generator, each code's purity (share of its majority class),
and the class balance of all samples together (a uniform code prior gives 10 % per class only
if the codes split the classes evenly)."""
import sys

import jax
import numpy as np

from jaxgan import families
from jaxgan.checkpoint import generator_item, load_config, restore_generator
from jaxgan.metrics.extractors import load_extractor

wd, step = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
config = load_config(wd); family = families.get(config.family); spec = family.setup(config)
abstract = jax.eval_shape(lambda: family.init(spec, config.seed))
item, abstract_g = generator_item(abstract, "auto")
g, _ = restore_generator(wd, abstract_g, step, item)
lenet = load_extractor("lenet", dataset=config.dataset.name)
generate = jax.jit(lambda z, c: family.generate(spec, g, z, c))
k = spec.info_categories
counts = np.zeros((k, 10))
for code in range(k):
    z = family.sample_latents(spec, jax.random.fold_in(jax.random.key(7), code), n)
    _, logits = lenet(np.asarray(generate(z, jax.numpy.full((n,), code))))
    counts[code] = np.bincount(np.argmax(logits, -1), minlength=10)
print(f"step {step}, {n} samples per code; rows: codes, columns: LeNet class (%)")
print("code " + " ".join(f"{c:>5}" for c in range(10)) + "  purity")
for code in range(k):
    row = 100 * counts[code] / n
    print(f"{code:>4} " + " ".join(f"{v:5.1f}" for v in row) + f"  {row.max():5.1f}")
total = 100 * counts.sum(0) / counts.sum()
print("all  " + " ".join(f"{v:5.1f}" for v in total))
print(f"mean purity {100 * (counts.max(1) / n).mean():.1f} %")
