"""Single-image super-resolution x4: SRResNet, SRGAN (Ledig et al. 2017) and ESRGAN (Wang et al.
2018, XPixelGroup/BasicSR's training options), on high-resolution crops of your images (the low
resolution made on the fly by bicubic downscaling).

    python -m jaxgan.main --config=experiments/srgan.py:srgan_x4 --workdir=runs/srgan \\
        --config.dataset.data_dir=/data/DIV2K_train_HR \\
        --config.loss.vgg19_weights=/weights/vgg19-dcbb9e9d.pth
    python -m jaxgan.evaluate --workdir=runs/srgan --metrics=psnr_y_crop4,ssim_y_crop4,psnr

`:srresnet_x4`: SRResNet (16 blocks, BatchNorm, PReLU), 96x96 HR crops, batch 16, MSE, Adam 1e-4
(0.9, 0.999) for 10^6 steps. `:srgan_x4`: the same pretraining, then 2 x 10^5 steps of VGG54 /
12.75 + 1e-3 adversarial loss against the SRGAN discriminator, the rate 1e-4 then 1e-5.
`:esrgan_x4`: RRDBNet (23 blocks, growth 32), 128x128 HR crops, batch 16; 10^6 steps of L1 at
2e-4 halved every 2 x 10^5, then 4 x 10^5 steps of 0.01 L1 + VGG19 conv5_4 (before the ReLU, L1)
+ 0.005 relativistic-average adversarial loss against BasicSR's VGG-style discriminator, Adam
1e-4 (0.9, 0.99) halved at 50k, 100k, 200k, 300k; EMA 0.999. `:smoke` trains on MNIST with the
LeNet perceptual loss across the stage boundary in seconds.
"""

from jaxgan import config_lib
from jaxgan.families import srgan

SRRESNET = {"num_train_steps": 1_000_000}
ESRGAN = {
    "dataset.image_size": 128, "model.net_g": "rrdbnet", "model.num_block": 23,
    "model.net_d": "vgg", "loss.pixel": "l1", "loss.pixel_weight": 1e-2,
    "loss.perceptual_preset": "esrgan", "loss.gan_mode": "ragan", "loss.gan_weight": 5e-3,
    "num_train_steps": 1_400_000, "training.pretrain_steps": 1_000_000,
    "training.pretrain_milestones": (200_000, 400_000, 600_000, 800_000),
    "training.milestones": (50_000, 100_000, 200_000, 300_000), "training.lr_gamma": 0.5,
    "pretrain_optimizer.learning_rate": 2e-4, "pretrain_optimizer.b2": 0.99,
    "g_optimizer.b2": 0.99, "d_optimizer.b2": 0.99,
}



def benchmark(dataset: str, scale: int, esrgan: bool, pretrain_steps: int, gan_steps: int) -> dict:
    """A 32x32 gray benchmark run: `dataset`'s 28x28 images padded to 32x32 (HR), LR bicubic
    x`scale`; no flips or rotations (digits and garments have an upright); the perceptual loss
    on the features of the other dataset's LeNet (not the one that scores the outputs, as VGG19
    was not trained on the papers' test images); SRGAN's discriminator for 32x32 images; the
    papers' weights and rates."""
    variant = {
        "dataset.name": dataset, "dataset.image_size": 32, "dataset.channels": 1,
        "dataset.lr_scale": scale, "dataset.random_flip": False, "training.augment": False,
        "loss.perceptual": "lenet", "num_train_steps": pretrain_steps + gan_steps,
        "loss.perceptual_dataset": "mnist" if dataset == "fashion_mnist" else "fashion_mnist",
        "training.pretrain_steps": pretrain_steps, "training.milestones": (max(gan_steps // 2, 1),),
        "log_every_steps": 250, "checkpoint_every_steps": 500, "sample_every_steps": 500,
        "num_sample_images": 8, "keep_checkpoints": 20,
    }
    if esrgan:
        variant.update({k: v for k, v in ESRGAN.items() if not k.startswith(
            ("dataset.", "model.net_d", "num_train_steps", "training."))})
        variant.update({**ESRGAN_BENCH_SIZE,
                        "training.pretrain_milestones": (pretrain_steps // 2,),
                        "training.milestones": (max(gan_steps // 2, 1),),
                        "training.lr_gamma": 0.5})
    return variant


# RRDBNet cut to SRResNet's cost per image here (6 blocks, 32 features, growth 16).
ESRGAN_BENCH_SIZE = {"model.num_block": 6, "model.num_feat": 32, "model.num_grow_ch": 16}
BENCH_STEPS = {"pretrain": 5000, "gan": 1500}
BENCH_DATA = (("fashion", "fashion_mnist"), ("mnist", "mnist"))

VARIANTS = {
    "srresnet_x4": SRRESNET,
    "srgan_x4": {},
    "esrgan_x4": ESRGAN,
    **{f"{model}_{short}_x{scale}": benchmark(dataset, scale, model == "esrgan",
                                               BENCH_STEPS["pretrain"], BENCH_STEPS["gan"])
       for model in ("srgan", "esrgan") for short, dataset in BENCH_DATA for scale in (2, 4)},
    # SRResNet alone for the GAN runs' whole budget: the PSNR-oriented row.
    **{f"srresnet_{short}_x{scale}": benchmark(dataset, scale, False, sum(BENCH_STEPS.values()),
                                               0)
       for short, dataset in BENCH_DATA for scale in (2, 4)},
    "smoke": {
        **config_lib.SMOKE_LOOP, "batch_size": 4, "num_sample_images": 4,
        "dataset.name": "mnist", "dataset.image_size": 32, "dataset.channels": 1,
        "dataset.preprocess": "square_resize", "model.net_g": "msrresnet",
        "model.num_feat": 8, "model.num_block": 2, "model.num_feat_d": 8,
        "loss.perceptual": "lenet", "training.pretrain_steps": 2, "training.milestones": (3,),
    },
}


def get_config(arg=None):
    return config_lib.finalize(srgan.config(), arg, VARIANTS)
