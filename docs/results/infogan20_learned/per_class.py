# usage: python docs/results/infogan20_learned/per_class.py runs/NAME STEP [uniform|posterior]
"""Where an unconditional MNIST generator's fid_lenet and recall come from: the evaluator's
10,000 samples (same seed, same code draw as `python -m jaxgan.evaluate`) split by the real-data
LeNet's class, each class against the real train digits of that class: its share of the
samples, its own fid_lenet, precision and recall (k=3, up to 3,000 real and generated each).
A generator can be off in its class proportions (shares), in the quality of each class, or both."""
import sys

import numpy as np

from jaxgan.checkpoint import restore_generator
from jaxgan.data import load_idx_arrays
from jaxgan.evaluate import Evaluator
from jaxgan.metrics import frechet_distance, precision_recall

wd, step = sys.argv[1], int(sys.argv[2])
prior_mode = sys.argv[3] if len(sys.argv) > 3 else "uniform"
ev = Evaluator(wd, "fid_lenet", 10000, 500, None, None, code_prior=prior_mode)
g, _ = restore_generator(wd, ev.abstract_generator, step, ev.generator_item)
prior = ev.code_prior_of(step) if ev.info_categories else None
images, _ = ev.generated_images(g, prior)
extractor = ev.extractors["lenet"]
feats, logits = extractor(images)
fake_cls = np.argmax(logits, -1)
_, reference = ev.references["lenet"]
real_feats = reference["features"]
_, real_labels = load_idx_arrays(ev.config.dataset.name, "train", None, None)
rng = np.random.default_rng(0)
print(f"{wd} step {step}, generator {ev.generator_name}, {len(images)} samples")
print("class  share%  real%  fid_lenet  precision  recall")
for c in range(10):
    f, r = feats[fake_cls == c], real_feats[real_labels == c]
    r_sub = r[rng.permutation(len(r))[:3000]]
    f_sub = f[rng.permutation(len(f))[:3000]]
    fid = frechet_distance(r, f) if len(f) > 1 else float("nan")
    p, rc = precision_recall(r_sub, f_sub, k=3) if len(f) > 3 else (float("nan"),) * 2
    print(f"{c:>5}  {100 * len(f) / len(feats):6.2f}  {100 * len(r) / len(real_feats):5.2f}"
          f"  {fid:9.2f}  {p:9.3f}  {rc:6.3f}")
print(f"all: fid_lenet {frechet_distance(real_feats, feats):.2f}")
