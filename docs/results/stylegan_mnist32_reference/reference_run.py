"""NVlabs stylegan2-ada-pytorch's own training iteration (through jaxgan.bench_torch_stylegan) on
real MNIST batches, 32x32 as jaxgan pads them, with jaxgan's `stylegan.py:mnist32` config; every
100 steps it prints the pixel std over 64 fixed latents (const noise) of G and G_ema, and at the
end writes their 8x8 grid. Session 8's diagnostic of the mnist32 collapse (see reference_run.log):

    pip install -e '.[torch]'
    JAXGAN_DATA_DIR=../shared/data python docs/results/stylegan_mnist32_reference/reference_run.py \
        1000 /path/to/stylegan2-ada-pytorch [model.channel_base=16384 model.channel_max=512 ...]

Extra KEY=VALUE arguments override the config (numbers as numbers), e.g. the reference's full
'auto' width above, the screen session 9 left for a GPU.
"""
import functools
import importlib.util
import pathlib
import sys
import time

import numpy as np
import torch
from PIL import Image

from jaxgan import config_lib
from jaxgan.bench_torch_stylegan import TorchStyleGAN2Step
from jaxgan.data import load_idx_arrays
from jaxgan.data.pipeline import preprocess

REPO = pathlib.Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("e", REPO / "experiments" / "stylegan.py")
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
config = m.get_config("mnist32")
for arg in sys.argv[3:]:
    key, value = arg.split("=", 1)
    current = functools.reduce(getattr, key.split("."), config)
    config_lib.set_keys(config, {key: type(current)(value)})
steps = int(sys.argv[1])
step = TorchStyleGAN2Step(config, sys.argv[2], num_threads=2)
print("params G/D", step.num_params(), flush=True)
images, _ = load_idx_arrays("mnist", "train")
data = preprocess(images, 32, 1)  # [N, 32, 32, 1] in [-1, 1], -1 padding
rng = np.random.default_rng(0)
z_eval = torch.randn([64, config.model.latent_dim], generator=torch.Generator().manual_seed(1))

def diag(tag):
    out = {}
    for name, g in (("trained", step.g), ("ema", step.g_ema)):
        with torch.no_grad():
            img = g(z_eval, torch.zeros([64, 0]), noise_mode="const").numpy()
        out[name] = float(img.std(0).mean())
    print(tag, "pixel std over z:", out, flush=True)
    return img

t0 = time.time()
for i in range(1, steps + 1):
    idx = rng.integers(0, len(data), config.batch_size)
    step.real = torch.from_numpy(np.ascontiguousarray(data[idx].transpose(0, 3, 1, 2)))
    step()
    if i % 100 == 0:
        diag(f"step {i} ({(time.time()-t0)/i*1000:.0f} ms/step)")
img = np.clip(diag(f"final, step {steps}"), -1, 1)[:, 0]
grid = ((img.reshape(8, 8, 32, 32).transpose(0, 2, 1, 3).reshape(256, 256) + 1) * 127.5).astype(np.uint8)
Image.fromarray(grid).save(f"reference_mnist32_{steps}.png")
