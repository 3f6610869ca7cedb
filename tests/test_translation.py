"""Pix2Pix and CycleGAN through the real loop and CLI: the reference presets' parameter counts
(dry run), training on paired and unpaired folders made from MNIST, bit-exact resume with the
CycleGAN history pools, the image pool's rule, the cycle and identity losses, the translate
command on images of mixed sizes, and the mistakes a user can make."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, load_experiment, override
from PIL import Image
from test_cli import assert_one_line_error, run_cli

from jaxgan import families, train
from jaxgan.data import idx
from jaxgan.families import cyclegan
from jaxgan.translate import pad_to

PIX2PIX = f"--config={REPO / 'experiments' / 'pix2pix.py'}"
CYCLEGAN = f"--config={REPO / 'experiments' / 'cyclegan.py'}"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A paired folder (A: the digit inverted | B: the digit) and an unpaired one (A: digits of
    the first half of MNIST's train split, B: the inverted digits of the second half), 32x32."""
    root = tmp_path_factory.mktemp("translation")
    images = np.pad(idx.read_split(str(REPO / "data" / "mnist"), "test")[0][:48, :, :, 0],
                    ((0, 0), (2, 2), (2, 2)))
    for split, part in (("train", images[:32]), ("test", images[32:])):
        os.makedirs(root / "paired" / split)
        for i, b in enumerate(part):
            Image.fromarray(np.concatenate([255 - b, b], axis=1)).save(
                root / "paired" / split / f"{i}.png")
        for domain, subset in (("A", part[: len(part) // 2]), ("B", 255 - part[len(part) // 2:])):
            os.makedirs(root / "unpaired" / f"{split}{domain}")
            for i, image in enumerate(subset):
                Image.fromarray(image).save(root / "unpaired" / f"{split}{domain}" / f"{i}.png")
    return root


@pytest.mark.parametrize("experiment, counts", [
    # The reference's networks for the same configuration (tests/test_translation_models.py).
    ("pix2pix.py:facades", {"params/G": 54_413_955, "params/D": 2_768_705}),
    ("cyclegan.py:horse2zebra", {"params/G_A": 11_378_179, "params/G_B": 11_378_179,
                                 "params/D_A": 2_764_737, "params/D_B": 2_764_737}),
])
def test_presets_pass_the_preflight_with_the_reference_counts(experiment, counts, tmp_path):
    run_cli("jaxgan.main", f"--config={REPO / 'experiments' / experiment}",
            f"--workdir={tmp_path}", "--dry_run")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {k: summary[k] for k in counts} == counts


def _host(state):
    return jax.tree.map(np.asarray, jax.device_get(state))


def test_pix2pix_trains_scores_and_translates(folders, tmp_path):
    workdir = tmp_path / "p2p"
    run_cli("jaxgan.main", f"{PIX2PIX}:smoke", f"--workdir={workdir}",
            f"--config.dataset.data_dir={folders / 'paired'}")
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    assert all(np.isfinite(r["g_l1"]) and np.isfinite(r["d_loss"]) for r in records)
    assert Image.open(workdir / "samples" / "step_4.png").size == (3 * 34 + 2, 4 * 34 + 2)
    run_cli("jaxgan.evaluate", f"--workdir={workdir}", "--once", "--num_samples=16")
    scored = {r["metric"] for r in map(json.loads, (workdir / "eval" / "metrics.jsonl").open())}
    assert scored == {"l1", "psnr", "ssim"}
    # translate: any size (padded to the U-Net's 32 and cropped back), gray or colour input.
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(inputs / "gray.png")
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(inputs / "rgb.jpg")
    proc = run_cli("jaxgan.translate", f"--workdir={workdir}", f"--input={inputs}",
                   f"--output={tmp_path / 'out'}", "--sheet")
    assert "wrote 2 image(s)" in proc.stdout and "1 padded" in proc.stdout
    assert Image.open(tmp_path / "out" / "gray.png").size == (50, 40)
    assert Image.open(tmp_path / "out" / "rgb.png").size == (32, 32)
    assert (tmp_path / "out" / "gray_sheet.png").is_file()
    proc = run_cli("jaxgan.translate", f"--workdir={workdir}", f"--input={inputs}",
                   f"--output={tmp_path / 'x'}", "--direction=BtoA", check=False)
    assert_one_line_error(proc, "--direction=BtoA: this run translates AtoB only")
    proc = run_cli("jaxgan.evaluate", f"--workdir={workdir}", "--once", "--generator=bicubic",
                   check=False)
    assert_one_line_error(proc, "does not upscale its input image by an integer factor")


def test_cyclegan_resumes_bit_exactly_with_its_pools(folders, tmp_path):
    def config(**overrides):
        return override(load_experiment("cyclegan"), **{
            "dataset.data_dir": str(folders / "unpaired"), "mesh.data": 1, **overrides})

    straight = _host(train.train(config(), str(tmp_path / "straight")))
    interrupted = str(tmp_path / "interrupted")
    first = _host(train.train(config(num_train_steps=2), interrupted))
    resumed = _host(train.train(config(), interrupted))
    chex.assert_trees_all_equal(straight, resumed)
    # The pools were checkpointed: full (3 images) from step 2 on, batches of 2.
    assert int(first.extra["pool_A"]["count"]) == 3 and int(resumed.extra["pool_A"]["count"]) == 3
    assert set(resumed.nets) == {"G_A", "G_B", "D_A", "D_B"}


# CycleGAN: the pools, instance norm and four networks (batch norm over a sharded batch is
# the gan family's mesh test).
@pytest.mark.parametrize("experiment, data", [("cyclegan", "unpaired")])
def test_four_device_mesh_matches_one_device(folders, tmp_path, experiment, data):
    assert jax.device_count() == 4

    def config(devices):
        return override(load_experiment(experiment), **{
            "dataset.data_dir": str(folders / data), "batch_size": 4, "num_train_steps": 2,
            "mesh.data": devices})

    one = _host(train.train(config(1), str(tmp_path / "one")))
    four = _host(train.train(config(-1), str(tmp_path / "four")))
    instance_norm = one.nets["G" if experiment == "pix2pix" else "G_A"].variables.keys() \
        == {"params"}

    def compared(tree):
        # A convolution's bias in front of an InstanceNorm is cancelled by it: its gradient is
        # rounding noise, which Adam scales to +-lr steps, so it differs between meshes and
        # changes no output (the outputs are compared below).
        return {jax.tree_util.keystr(p): v for p, v in
                jax.tree_util.tree_flatten_with_path(tree)[0]
                if not (instance_norm and jax.tree_util.keystr(p).endswith("['bias']"))}

    for name in one.nets:
        chex.assert_trees_all_close(compared(one.nets[name].variables),
                                    compared(four.nets[name].variables), atol=2e-5, rtol=1e-4)
    chex.assert_trees_all_close(one.extra, four.extra, atol=2e-5, rtol=1e-4)
    cfg = config(1)
    family = families.get(cfg.family)
    x = {"image": jnp.asarray(np.linspace(-1, 1, 2 * 32 * 32).reshape(2, 32, 32, 1),
                              jnp.float32)}
    for name, export in family.generators(family.setup(cfg)).items():
        a, b = (export.generate(s.nets[name].variables, x, jax.random.key(0))
                for s in (one, four))
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_cyclegan_cli_samples_and_translates_both_ways(folders, tmp_path):
    workdir = tmp_path / "cg"
    run_cli("jaxgan.main", f"{CYCLEGAN}:smoke", f"--workdir={workdir}",
            f"--config.dataset.data_dir={folders / 'unpaired'}")
    for direction in ("AtoB", "BtoA"):
        proc = run_cli("jaxgan.translate", f"--workdir={workdir}",
                       f"--input={folders / 'unpaired' / 'testA'}",
                       f"--output={tmp_path / direction}", f"--direction={direction}")
        assert ("G_A" if direction == "AtoB" else "G_B") in proc.stdout
    a, b = (np.asarray(Image.open(tmp_path / d / "0.png")) for d in ("AtoB", "BtoA"))
    assert not np.array_equal(a, b)
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--network=G_B", "--num=3",
            f"--out={tmp_path / 's.png'}")
    assert Image.open(tmp_path / "s.png").size == (2 * 34 + 2, 3 * 34 + 2)  # input, output
    proc = run_cli("jaxgan.evaluate", f"--workdir={workdir}", "--once", "--metrics=psnr",
                   check=False)
    assert_one_line_error(proc, "need an image-conditioned generator on paired data")


def test_image_pool_returns_new_images_until_full_then_half_stored():
    pool = cyclegan.empty_pool(3, (1, 1, 1))
    images = jnp.arange(1.0, 4.0).reshape(3, 1, 1, 1)
    out, pool = cyclegan.query_pool(pool, images, jax.random.key(0))
    np.testing.assert_array_equal(out, images)  # filling: each new image comes back
    np.testing.assert_array_equal(pool["images"], images)
    assert int(pool["count"]) == 3
    new = jnp.arange(100.0, 500.0).reshape(400, 1, 1, 1)  # image i is 100 + i
    out, _ = cyclegan.query_pool(pool, new, jax.random.key(1))
    out = np.asarray(out).ravel()
    incoming = out == np.arange(100.0, 500.0)
    assert 0.4 < incoming.mean() < 0.6  # the new image with probability 1/2
    # Otherwise an image stored earlier (the first three, or an earlier incoming one), each
    # handed out once, since it leaves the pool when it is returned.
    stored = out[~incoming]
    earlier = np.concatenate([[1.0, 2.0, 3.0], np.arange(100.0, 500.0)])
    assert np.all(np.isin(stored, earlier)) and len(set(stored.tolist())) == len(stored)
    assert all(v < 100 + i for v, i in zip(out, range(400)) if v != 100 + i)
    again, _ = cyclegan.query_pool(pool, new, jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(again).ravel(), out)  # a function of the key
    passthrough = cyclegan.empty_pool(0, (1, 1, 1))
    same, _ = cyclegan.query_pool(passthrough, new, jax.random.key(2))
    np.testing.assert_array_equal(same, new)


def test_cycle_and_identity_losses_vanish_for_perfect_generators():
    real = {"A": jnp.ones((2, 4, 4, 1)), "B": -jnp.ones((2, 4, 4, 1))}
    lam = {"A": 10.0, "B": 10.0}
    terms = cyclegan.reconstruction_terms(real, real, real, lam, 0.5)
    assert set(terms) == {"cycle_A", "cycle_B", "idt_A", "idt_B"}
    assert all(float(v) == 0.0 for v in terms.values())
    off = cyclegan.reconstruction_terms(real, {"A": real["A"] + 0.5, "B": real["B"]}, None,
                                        lam, 0.5)
    assert float(off["cycle_A"]) == pytest.approx(5.0) and float(off["cycle_B"]) == 0.0


def test_translation_mistakes_are_one_line(folders, tmp_path):
    proc = run_cli("jaxgan.main", f"{PIX2PIX}:smoke", f"--workdir={tmp_path / 'a'}",
                   f"--config.dataset.data_dir={folders / 'paired'}",
                   "--config.dataset.image_size=24", "--config.dataset.load_size=28",
                   check=False)
    assert_one_line_error(proc, "dataset.image_size must be a multiple of 32, not 24")
    empty = tmp_path / "no_b"
    (empty / "trainA").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(empty / "trainA" / "0.png")
    proc = run_cli("jaxgan.main", f"{CYCLEGAN}:smoke", f"--workdir={tmp_path / 'b'}",
                   f"--config.dataset.data_dir={empty}", check=False)
    assert_one_line_error(proc, f"no images in {empty / 'trainB'}")
    for split in ("train", "test"):
        (tmp_path / "odd" / split).mkdir(parents=True)
        Image.fromarray(np.zeros((32, 65), np.uint8)).save(tmp_path / "odd" / split / "0.png")
    proc = run_cli("jaxgan.main", f"{PIX2PIX}:smoke", f"--workdir={tmp_path / 'c'}",
                   f"--config.dataset.data_dir={tmp_path / 'odd'}", check=False)
    assert_one_line_error(proc, "an aligned A|B image has an even width")


def test_translate_pads_by_reflection_and_remembers_the_size():
    image = np.arange(3 * 5, dtype=np.uint8).reshape(3, 5, 1)
    padded, size = pad_to(image, 4)
    assert padded.shape == (4, 8, 1) and size == (3, 5)
    np.testing.assert_array_equal(padded[:3, :5], image)
    np.testing.assert_array_equal(padded[3, :5], image[1])  # reflection
    tiny, _ = pad_to(np.zeros((1, 1, 3), np.uint8), 8)
    assert tiny.shape == (8, 8, 3)
