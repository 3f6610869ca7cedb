"""The PyTorch reference for `jaxgan.bench --compare_torch` on StyleGAN2 configs: NVlabs'
stylegan2-ada-pytorch itself, imported from a checkout the user names, never a copy of it.

    git clone https://github.com/NVlabs/stylegan2-ada-pytorch /path/to/stylegan2-ada-pytorch
    python -m jaxgan.bench --config=experiments/stylegan.py:cifar32 --config.dataset.channels=1 \
        --compare_torch --torch_reference=/path/to/stylegan2-ada-pytorch --steps=16

One call is one iteration of that repository's `training_loop`: its four phases (Gmain, Greg every
`g_reg_interval`, Dmain, Dreg every `d_reg_interval`), each a `StyleGAN2Loss.accumulate_gradients`
and an Adam step with the lazy-regularisation rescaled learning rate and betas, then the G_ema
update with the same half-life and ramp-up. The networks are built from the jaxgan config's
keys (widths, mapping depth and learning-rate multiplier, D architecture, minibatch-stddev group),
so both sides have the same parameter count. It runs the whole batch in one round (the
reference's `--batch-gpu` equal to the batch) and in float32 with no clamp (its `--fp32`: float16
is a GPU path); the reference's CPU fallbacks ('ref' bias_act / upfirdn2d, stock conv2d) are
what run, since its custom kernels are CUDA-only. Needs torch (pip install -e '.[torch]').
"""

from __future__ import annotations

import copy
import os
import sys

import numpy as np
import torch

from jaxgan.errors import UserError

ENV_VAR = "JAXGAN_STYLEGAN2_REFERENCE"


def _import_reference(reference_dir: str):
    path = reference_dir or os.environ.get(ENV_VAR, "")
    if not path:
        raise UserError(
            "the StyleGAN2 torch comparison needs a checkout of NVlabs/stylegan2-ada-pytorch: "
            f"pass --torch_reference=DIR or set {ENV_VAR}"
        )
    if not os.path.isfile(os.path.join(path, "training", "networks.py")):
        raise UserError(
            f"{path!r} is not a stylegan2-ada-pytorch checkout (no training/networks.py); clone "
            "https://github.com/NVlabs/stylegan2-ada-pytorch and pass its directory"
        )
    sys.path.insert(0, os.path.abspath(path))
    try:
        from training import loss as loss_lib
        from training import networks
    except ImportError as e:  # the checkout is there but one of its own imports is not
        raise UserError(
            f"importing stylegan2-ada-pytorch from {path!r} failed: {e}; install what it "
            "needs (its README lists the packages) into this environment"
        ) from None

    return networks, loss_lib


class TorchStyleGAN2Step:
    """One stylegan2-ada-pytorch training iteration per call on a fixed random real batch."""

    def __init__(self, config, reference_dir: str = "", num_threads: int = 2) -> None:
        networks, loss_lib = _import_reference(reference_dir)
        torch.set_num_threads(num_threads)
        torch.manual_seed(config.seed)
        m, ds, lc = config.model, config.dataset, config.loss
        self.version = torch.__version__
        self.batch_size = b = config.batch_size
        self.z_dim, self.c_dim = m.latent_dim, m.num_classes
        common = {"channel_base": m.channel_base, "channel_max": m.channel_max,
                  "num_fp16_res": 0, "conv_clamp": None}
        self.g = networks.Generator(
            z_dim=m.latent_dim, w_dim=m.w_dim, c_dim=m.num_classes,
            img_resolution=ds.image_size, img_channels=ds.channels,
            mapping_kwargs={"num_layers": m.mapping_layers, "lr_multiplier": m.mapping_lr_mult,
                            "w_avg_beta": m.w_avg_beta},
            synthesis_kwargs=common,
        ).train().requires_grad_(False)
        self.d = networks.Discriminator(
            c_dim=m.num_classes, img_resolution=ds.image_size, img_channels=ds.channels,
            architecture=m.d_architecture, **common,
            epilogue_kwargs={"mbstd_group_size": m.mbstd_group_size,
                             "mbstd_num_channels": m.mbstd_num_channels},
        ).train().requires_grad_(False)
        self.g_ema = copy.deepcopy(self.g).eval()
        self.loss = loss_lib.StyleGAN2Loss(
            device=torch.device("cpu"), G_mapping=self.g.mapping, G_synthesis=self.g.synthesis,
            D=self.d, style_mixing_prob=lc.style_mixing_prob, r1_gamma=lc.r1_gamma,
            pl_batch_shrink=lc.pl_batch_shrink, pl_decay=lc.pl_decay, pl_weight=lc.pl_weight,
        )
        # The training loop's phases: the main optimizer's lr and betas rescaled by
        # interval / (interval + 1) when a regularizer runs every `interval` steps.
        self.phases = []
        for name, net, opt, interval in (("G", self.g, config.g_optimizer, lc.g_reg_interval),
                                         ("D", self.d, config.d_optimizer, lc.d_reg_interval)):
            ratio = interval / (interval + 1)
            adam = torch.optim.Adam(net.parameters(), lr=opt.learning_rate * ratio,
                                    betas=(opt.b1 ** ratio, opt.b2 ** ratio), eps=opt.eps)
            self.phases += [(name + "_main", net, adam, 1), (name + "_reg", net, adam, interval)]
        self.ema_nimg = config.ema.kimg * 1000
        self.ema_rampup = config.ema.rampup or None
        shape = (b, ds.channels, ds.image_size, ds.image_size)
        self.real = torch.rand(shape) * 2 - 1
        self.real_c = self._labels(np.arange(b) % max(self.c_dim, 1))
        self.cur_nimg = 0
        self.batch_idx = 0

    def _labels(self, classes: np.ndarray) -> torch.Tensor:
        if not self.c_dim:
            return torch.zeros([len(classes), 0])
        return torch.nn.functional.one_hot(torch.as_tensor(classes), self.c_dim).float()

    def num_params(self) -> tuple[int, int]:
        count = lambda net: sum(p.numel() for p in net.parameters())
        return count(self.g), count(self.d)

    def _run_phase(self, phase, gen_z: torch.Tensor, gen_c: torch.Tensor) -> None:
        name, net, opt, interval = phase
        opt.zero_grad(set_to_none=True)
        net.requires_grad_(True)
        self.loss.accumulate_gradients(phase=name.replace("_", ""), real_img=self.real,
                                       real_c=self.real_c, gen_z=gen_z, gen_c=gen_c, sync=True,
                                       gain=interval)
        net.requires_grad_(False)
        for p in net.parameters():
            if p.grad is not None:
                torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
        opt.step()

    def _update_ema(self) -> None:
        with torch.no_grad():
            ema_nimg = self.ema_nimg
            if self.ema_rampup is not None:
                ema_nimg = min(ema_nimg, self.cur_nimg * self.ema_rampup)
            beta = 0.5 ** (self.batch_size / max(ema_nimg, 1e-8))
            for p_ema, p in zip(self.g_ema.parameters(), self.g.parameters()):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b_src in zip(self.g_ema.buffers(), self.g.buffers()):
                b_ema.copy_(b_src)

    def __call__(self) -> None:
        b = self.batch_size
        all_z = torch.randn([len(self.phases) * b, self.z_dim]).split(b)
        rng = np.random.default_rng(self.batch_idx)
        for phase, gen_z in zip(self.phases, all_z):
            if self.batch_idx % phase[3]:
                continue
            self._run_phase(phase, gen_z, self._labels(rng.integers(0, max(self.c_dim, 1), b)))
        self._update_ema()
        self.cur_nimg += b
        self.batch_idx += 1

    def phase_names(self) -> list[str]:
        return [phase[0] for phase in self.phases] + ["G_ema"]

    def run_phase(self, name: str) -> None:
        """One phase alone (for the per-phase breakdown), on fresh latents."""
        if name == "G_ema":
            self._update_ema()
            return
        phase = next(p for p in self.phases if p[0] == name)
        b = self.batch_size
        self._run_phase(phase, torch.randn([b, self.z_dim]),
                        self._labels(np.arange(b) % max(self.c_dim, 1)))
