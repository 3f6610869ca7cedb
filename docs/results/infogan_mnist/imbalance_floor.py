# usage: python docs/results/infogan_mnist/imbalance_floor.py P0,P1,...,P9
"""What a class imbalance alone costs on fid_lenet: the MNIST test split resampled (with
replacement, 10,000 images, seed 0) to the given class proportions, against the train split, with
the real-data LeNet. Real digits, so any excess over the true-proportion resample is the price of
the proportions."""
import sys, numpy as np
from jaxgan.data.idx import read_split
from jaxgan.data.pipeline import preprocess
from jaxgan.metrics.extractors import load_extractor
from jaxgan.metrics import frechet_distance
lenet = load_extractor("lenet", dataset="mnist")
d = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/mnist"
def feats(split):
    x, y = read_split(d, split)
    f, _ = lenet(preprocess(x, 28, 1))
    return np.asarray(f), y
ftr, _ = feats("train"); fte, yte = feats("test")
props = np.array([float(v) for v in sys.argv[1].split(",")]); props /= props.sum()
rng = np.random.default_rng(0)
def resample(p):
    idx = np.concatenate([rng.choice(np.where(yte == c)[0], int(round(p[c] * 10000))) for c in range(10)])
    return fte[idx]
true_p = np.bincount(yte, minlength=10) / len(yte)
print("test as is", frechet_distance(fte, ftr))
print("resampled, true proportions", frechet_distance(resample(true_p), ftr))
print("resampled, given proportions", frechet_distance(resample(props), ftr))
