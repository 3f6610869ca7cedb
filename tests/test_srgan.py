"""The super-resolution family through the real loop and CLI: the presets' reference parameter
counts (dry run), the two stages with a bit-exact resume across their boundary, the fresh Adam
and EMA of the GAN stage, the relativistic average loss against hand-computed values, the paired
augmentation, evaluation with the Y-channel protocol, and the mistakes a user can make."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, load_experiment, override, preflight
from PIL import Image
from test_cli import assert_one_line_error, run_cli

import jaxgan
from jaxgan import train
from jaxgan.families import srgan
from jaxgan.state import num_params

SRGAN = f"--config={REPO / 'experiments' / 'srgan.py'}"


@pytest.mark.parametrize("variant, counts", [
    # SRGAN paper's SRResNet and discriminator (96x96), BasicSR's RRDBNet and
    # VGGStyleDiscriminator (128x128): tests/test_super_resolution_models.py tallies them.
    ("srresnet_x4", {"G": 1_549_462, "D": 23_565_505}),
    ("srgan_x4", {"G": 1_549_462, "D": 23_565_505}),
    ("esrgan_x4", {"G": 16_697_987, "D": 14_499_401}),
])
def test_presets_have_the_reference_counts(variant, counts):
    config = override(load_experiment("srgan", variant), **{"loss.perceptual": "none"})
    spec = srgan.setup(config)
    abstract = jax.eval_shape(lambda: srgan.init(spec, 0))
    assert {name: num_params(abstract.nets[name].params) for name in counts} == counts


def test_the_srgan_preset_passes_the_preflight():
    # The VGG19 weights file is not here: the preflight builds the networks without it.
    config = override(load_experiment("srgan", "srgan_x4"), **{"loss.perceptual": "none"})
    assert preflight(config) == {"params/G": 1_549_462, "params/D": 23_565_505}


def _host(state):
    return jax.tree.map(np.asarray, jax.device_get(state))


def _config(**overrides):
    return override(load_experiment("srgan"), **{"mesh.data": 1, **overrides})


def test_resume_across_the_stage_boundary_is_bit_exact_and_the_gan_stage_restarts(tmp_path):
    straight = _host(train.train(_config(), str(tmp_path / "straight")))
    # Stopped after the last pretraining step, resumed into the GAN stage and stopped after
    # its first step, resumed to the end: the same bits as the uninterrupted run.
    interrupted, stopped = str(tmp_path / "interrupted"), {}
    for stop in (2, 3):
        stopped[stop] = _host(train.train(_config(num_train_steps=stop), interrupted))
    resumed = _host(train.train(_config(), interrupted))
    chex.assert_trees_all_equal(straight, resumed)
    # The frozen LeNet is in the state, untrained, and not saved.
    assert set(straight.nets) == {"G", "D", "lenet"} and not straight.nets["lenet"].trainable
    items = {p.name for p in (tmp_path / "straight" / "checkpoints").glob("*/*")}
    assert "net_G" in items and not any("lenet" in item for item in items)
    # The first GAN step: a fresh Adam took one step; the EMA restarted from G's weights
    # before this step's update; D, untouched while G pretrained, trains.
    pre, gan = stopped[2], stopped[3]
    count = lambda s: int(next(x for x in s.nets["G"].opt_state if hasattr(x, "count")).count)
    assert count(pre) == 2 and count(gan) == 1
    decay = 0.999
    expected = jax.tree.map(lambda b, a: decay * b + (1 - decay) * a, pre.nets["G"].params,
                            gan.nets["G"].params)
    chex.assert_trees_all_close(gan.ema["G"]["params"], expected, atol=1e-6)
    spec = srgan.setup(_config())
    initial = _host(srgan.init(spec, _config().seed))
    chex.assert_trees_all_equal(initial.nets["D"].params, pre.nets["D"].params)
    assert not jax.tree.all(jax.tree.map(np.array_equal, pre.nets["D"].params,
                                         gan.nets["D"].params))


def test_relativistic_average_losses_by_hand():
    real, fake = jnp.array([2.0, 0.0]), jnp.array([1.0, -1.0])
    # mean(fake) = 0, mean(real) = 1: real - mean(fake) = [2, 0], fake - mean(real) = [0, -2]
    softplus = lambda x: np.log1p(np.exp(x))
    bce_one = lambda x: np.mean(softplus(-np.asarray(x)))  # -log sigmoid(x)
    bce_zero = lambda x: np.mean(softplus(np.asarray(x)))  # -log(1 - sigmoid(x))
    d = 0.5 * (bce_one([2.0, 0.0]) + bce_zero([0.0, -2.0]))
    g = 0.5 * (bce_zero([2.0, 0.0]) + bce_one([0.0, -2.0]))
    assert float(srgan.discriminator_loss("ragan", real, fake)) == pytest.approx(d, rel=1e-6)
    assert float(srgan.generator_adversarial("ragan", real, fake)) == pytest.approx(g, rel=1e-6)
    assert float(srgan.generator_adversarial("standard", real, fake)) == pytest.approx(
        bce_one([1.0, -1.0]), rel=1e-6)
    assert float(srgan.discriminator_loss("standard", real, fake)) == pytest.approx(
        bce_one([2.0, 0.0]) + bce_zero([1.0, -1.0]), rel=1e-6)


def test_augmentation_moves_each_pair_together():
    hr = jax.random.uniform(jax.random.key(0), (64, 8, 8, 1))
    lr = hr.reshape(64, 2, 4, 2, 4, 1).mean(axis=(2, 4))  # a degradation that commutes
    lr_aug, hr_aug = srgan.augment(jax.random.key(1), lr, hr)
    np.testing.assert_allclose(hr_aug.reshape(64, 2, 4, 2, 4, 1).mean(axis=(2, 4)), lr_aug,
                               atol=1e-6)
    kinds = {(bool(jnp.array_equal(h, x)), bool(jnp.array_equal(h, x[::-1])),
              bool(jnp.array_equal(h, x.T))) for h, x in zip(hr_aug[..., 0], hr[..., 0])}
    assert len(kinds) >= 3  # unchanged, flipped, transposed (and both) all occur


def test_cli_trains_scores_and_samples(tmp_path):
    workdir = tmp_path / "sr"
    run_cli("jaxgan.main", f"{SRGAN}:smoke", f"--workdir={workdir}")
    metrics = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    assert "g_lenet" in metrics[-1] and "d_loss" in metrics[-1] and "d_loss" not in metrics[0]
    run_cli("jaxgan.evaluate", f"--workdir={workdir}", "--once", "--num_samples=16",
            "--metrics=psnr_y_crop4,ssim")
    records = {r["metric"]: r for r in map(json.loads, (workdir / "eval" / "metrics.jsonl")
                                          .open())}
    assert set(records) == {"psnr_y_crop4", "ssim"}
    assert records["psnr_y_crop4"]["paired_protocol"]
    # The bicubic baseline, scored by the same code: recomputed here from the test split.
    from jaxgan.evaluation import job

    job.Evaluator(str(workdir), "psnr,gantest_lenet", 16, 500, None, None,
                  job.Options(generator="bicubic")).run(True, 0.0, 0.0, None)
    bicubic = [r for r in map(json.loads, (workdir / "eval" / "metrics.jsonl").open())
               if r["generator"] == "bicubic"]
    by_metric = {m: [r for r in bicubic if r["metric"] == m] for m in ("psnr", "gantest_lenet")}
    assert [r["step"] for r in by_metric["psnr"]] == [2, 4]
    assert by_metric["psnr"][0]["value"] == by_metric["psnr"][1]["value"]  # weights play no part
    inputs, targets = jaxgan.load(str(workdir)).examples(16)
    to_u8 = lambda x: np.clip(np.rint((np.asarray(x, float) + 1) * 127.5), 0, 255)
    up = np.stack([np.asarray(Image.fromarray(to_u8(x)[..., 0].astype(np.uint8)).resize(
        (32, 32), Image.Resampling.BICUBIC), float) for x in inputs["image"]])
    mse = np.mean((up - to_u8(targets)[..., 0]) ** 2, axis=(1, 2))
    assert by_metric["psnr"][0]["value"] == pytest.approx(np.mean(10 * np.log10(255.0**2 / mse)),
                                                          rel=1e-6)
    # The classifier's accuracy on the upscaled images against their inputs' labels.
    from jaxgan.data import arrays
    from jaxgan.evaluation.extractors import load_extractor

    _, logits = load_extractor("lenet", dataset="mnist")(up[..., None] / 127.5 - 1.0)
    labels = arrays.load_arrays("mnist", "test")[1][:16]
    accuracy = by_metric["gantest_lenet"][0]
    assert accuracy["labels"] == "the inputs'"
    assert accuracy["value"] == pytest.approx(np.mean(np.argmax(logits, 1) == labels))
    # The comparison figure: rows of LR | bicubic | the run at two steps | HR.
    proc = run_cli("jaxgan.sr_compare", f"--workdir={workdir}@2,{workdir}", "--num=3",
                   f"--out={tmp_path / 'cmp.png'}")
    assert "3 rows of LR | bicubic | sr@2 | sr@4 | HR" in proc.stdout
    figure = np.asarray(Image.open(tmp_path / "cmp.png"))
    assert figure.shape == (3 * 34 + 2, 5 * 34 + 2)
    np.testing.assert_array_equal(figure[36:68, 36:68], up[1])
    np.testing.assert_array_equal(figure[2:34, 138:170], to_u8(targets[0])[..., 0])
    from jaxgan.errors import UserError
    from jaxgan.tools.sr_compare import parse_run

    assert parse_run("runs/a@12") == ("runs/a", 12) and parse_run("runs/a") == ("runs/a", None)
    with pytest.raises(UserError, match="a step after '@' must be a whole number"):
        parse_run("runs/a@two")
    # upscale: any size, gray or colour (to this gray model), whole and in blended tiles.
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (37, 53), dtype=np.uint8)).save(inputs / "a.png")
    Image.fromarray(rng.integers(0, 255, (9, 9, 3), dtype=np.uint8)).save(inputs / "b.png")
    proc = run_cli("jaxgan.upscale", f"--workdir={workdir}", f"--input={inputs}",
                   f"--output={tmp_path / 'whole'}")
    assert "upscaled 2 image(s) x4" in proc.stdout
    from jaxgan import upscale

    upscale.upscale(str(workdir), str(inputs), str(tmp_path / "tiled"), tile=16, overlap=4)
    whole, tiled = (np.asarray(Image.open(tmp_path / d / "a.png"), float)
                    for d in ("whole", "tiled"))
    assert whole.shape == (148, 212) and Image.open(tmp_path / "tiled" / "b.png").size == (36, 36)
    assert np.abs(whole - tiled).max() <= 8  # a few grey levels at the seams of a 2-step model


def test_mistakes_are_one_line(tmp_path):
    proc = run_cli("jaxgan.main", f"{SRGAN}:smoke", f"--workdir={tmp_path / 'a'}",
                   "--config.loss.perceptual=vgg19", check=False)
    assert_one_line_error(proc, "needs torchvision's VGG19 weights")
    proc = run_cli("jaxgan.main", f"{SRGAN}:smoke", f"--workdir={tmp_path / 'b'}",
                   "--config.loss.perceptual=vgg19", f"--config.loss.vgg19_weights={tmp_path}/x",
                   check=False)
    assert_one_line_error(proc, "VGG19 weights not found")
    proc = run_cli("jaxgan.main", f"{SRGAN}:smoke", f"--workdir={tmp_path / 'c'}",
                   "--config.dataset.image_size=30", check=False)
    assert_one_line_error(proc, "not divisible by dataset.lr_scale 4")
    assert not (tmp_path / "c" / "checkpoints").exists()


def test_the_perceptual_lenet_can_be_the_other_datasets(tmp_path):
    from jaxgan.errors import UserError
    from jaxgan.evaluation.classifier import load_classifier
    from jaxgan.workdir import load_config

    # The benchmark's Fashion-MNIST runs take their perceptual features from the MNIST LeNet,
    # not from the Fashion-MNIST one that scores their outputs.
    config = load_experiment("srgan", "srgan_fashion_x4")
    assert config.loss.perceptual_dataset == "mnist"
    frozen = srgan.frozen(srgan.setup(config))
    chex.assert_trees_all_equal(frozen["lenet"]["params"], load_classifier("mnist").params)
    # A run written before the key existed trained with its own dataset's LeNet.
    workdir = tmp_path / "old"
    workdir.mkdir()
    saved = json.loads(config.to_json())
    del saved["loss"]["perceptual_dataset"]
    (workdir / "config.json").write_text(json.dumps(saved))
    assert load_config(str(workdir)).loss.perceptual_dataset == ""
    for overrides, words in (({"loss.perceptual_dataset": "cifar10"}, "perceptual_dataset"),
                             ({"dataset.channels": 3}, "compares gray images")):
        with pytest.raises(UserError, match=words):
            srgan.setup(override(load_experiment("srgan"), **overrides))


def test_optimizers_share_one_state_structure():
    spec = srgan.setup(_config())
    params = {"w": jnp.zeros(3)}
    assert jax.tree.structure(spec.pretrain_tx.init(params)) == jax.tree.structure(
        spec.g_tx.init(params))
