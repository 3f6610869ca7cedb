"""The PyTorch eager reference for `jaxgan.bench --compare_torch`: the DCGAN of PyTorch's dcgan
example (same layers and parameter counts as `jaxgan.models.dcgan`) and the same train step.

One step, as in that example and in `jaxgan.families.gan.train_step`: a D update on a real batch
and a detached G(z), then a G update on the same G(z) through the updated D; non-saturating
BCE-with-logits loss; Adam(lr, b1, b2) from the config's optimizers. Layout is torch's default NCHW,
as the example uses. Needs the optional extra: pip install -e '.[torch]'.
"""

from __future__ import annotations

import torch
from torch import nn

from jaxgan.models.dcgan import num_stages


def generator(image_size: int, channels: int, nz: int, ngf: int) -> nn.Sequential:
    """z [B, nz, 1, 1] -> images [B, C, S, S]; the first layer maps 1x1 to the base resolution."""
    base, stages = num_stages(image_size)
    width = ngf * 2 ** (stages - 1)
    layers: list[nn.Module] = [
        nn.ConvTranspose2d(nz, width, base, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)
    ]
    for _ in range(stages - 1):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator(image_size: int, channels: int, ndf: int) -> nn.Sequential:
    """images [B, C, S, S] -> logits [B, 1, 1, 1]."""
    base, stages = num_stages(image_size)
    layers: list[nn.Module] = []
    cin, width = channels, ndf
    for i in range(stages):
        layers.append(nn.Conv2d(cin, width, 4, 2, 1, bias=False))
        if i > 0:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        cin, width = width, width * 2
    layers.append(nn.Conv2d(cin, 1, base, 1, 0, bias=False))
    return nn.Sequential(*layers)


def _init_weights(m: nn.Module) -> None:
    # The example's initialisation, so the step sees the same kind of numbers as the JAX one.
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _adam(params, opt) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=opt.learning_rate, betas=(opt.b1, opt.b2), eps=opt.eps)


class TorchStep:
    """One DCGAN train step per call on a fixed random batch (eager, CPU)."""

    def __init__(self, config, num_threads: int = 2) -> None:
        torch.set_num_threads(num_threads)
        torch.manual_seed(config.seed)
        ds, m = config.dataset, config.model
        self.version = torch.__version__
        self.nz = m.latent_dim
        self.batch_size = config.batch_size
        self.g = generator(ds.image_size, ds.channels, m.latent_dim, m.ngf)
        self.d = discriminator(ds.image_size, ds.channels, m.ndf)
        self.g.apply(_init_weights)
        self.d.apply(_init_weights)
        self.g_opt = _adam(self.g.parameters(), config.g_optimizer)
        self.d_opt = _adam(self.d.parameters(), config.d_optimizer)
        self.loss = nn.BCEWithLogitsLoss()
        shape = (config.batch_size, ds.channels, ds.image_size, ds.image_size)
        self.real = torch.rand(shape) * 2 - 1
        self.ones = torch.ones(config.batch_size)
        self.zeros = torch.zeros(config.batch_size)

    def num_params(self) -> tuple[int, int]:
        count = lambda net: sum(p.numel() for p in net.parameters())
        return count(self.g), count(self.d)

    def __call__(self) -> float:
        z = torch.randn(self.batch_size, self.nz, 1, 1)
        fake = self.g(z)

        self.d_opt.zero_grad(set_to_none=True)
        d_loss = self.loss(self.d(self.real).view(-1), self.ones) + self.loss(
            self.d(fake.detach()).view(-1), self.zeros
        )
        d_loss.backward()
        self.d_opt.step()

        self.g_opt.zero_grad(set_to_none=True)
        g_loss = self.loss(self.d(fake).view(-1), self.ones)
        g_loss.backward()
        self.g_opt.step()
        return g_loss.item()  # eager CPU is synchronous; this keeps the result observable
