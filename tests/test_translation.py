"""Pix2Pix and CycleGAN through the real loop and CLI: the reference presets' parameter counts
(dry run), training on small copies of the offline benchmarks (edges2fashion: a paired folder;
thin2thick_mnist: an unpaired one), bit-exact resume with the CycleGAN history pools, the image
pool's rule, the cycle and identity losses, the translate command on images of mixed sizes,
`jaxgan.translation_score` (the identity baseline's numbers recomputed directly, the trained
runs scored with their records, the generator back and the figure), and the mistakes a user
can make. Each smoke run is trained once and shared by the tests that read it."""

import json
import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, SHARED_DATA, load_experiment, override, preflight
from PIL import Image
from test_cli import assert_one_line_error, run_cli

from jaxgan import api, families, train
from jaxgan.evaluation.classifier import load_classifier
from jaxgan.families import cyclegan
from jaxgan.tools import translation_data as td
from jaxgan.tools import translation_score as ts
from jaxgan.translate import pad_to

PIX2PIX = f"--config={REPO / 'experiments' / 'pix2pix.py'}"
CYCLEGAN = f"--config={REPO / 'experiments' / 'cyclegan.py'}"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The three benchmarks, 16 train and 12 test images per folder, 32x32."""
    root = tmp_path_factory.mktemp("benchmarks")
    for task, source in (("thin2thick_mnist", REPO / "data" / "mnist"),
                         ("edges2fashion", SHARED_DATA / "fashion_mnist"),
                         ("sneakers2boots", SHARED_DATA / "fashion_mnist")):
        td.write_task(task, str(root / task), str(source), max_train=16, max_test=12)
    return root


@pytest.fixture(scope="module")
def pix2pix_run(data, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("p2p") / "p2p"
    run_cli("jaxgan.main", f"{PIX2PIX}:smoke", f"--workdir={workdir}",
            f"--config.dataset.data_dir={data / 'edges2fashion'}")
    return workdir


@pytest.fixture(scope="module")
def cyclegan_run(data, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cg") / "cg"
    run_cli("jaxgan.main", f"{CYCLEGAN}:smoke", f"--workdir={workdir}",
            f"--config.dataset.data_dir={data / 'thin2thick_mnist'}",
            "--config.model.paired_test=True")
    return workdir


@pytest.mark.parametrize("experiment, counts", [
    # The reference's networks for the same configuration (tests/test_translation_models.py).
    ("pix2pix.py:facades", {"params/G": 54_413_955, "params/D": 2_768_705}),
    ("cyclegan.py:horse2zebra", {"params/G_A": 11_378_179, "params/G_B": 11_378_179,
                                 "params/D_A": 2_764_737, "params/D_B": 2_764_737}),
])
def test_presets_pass_the_preflight_with_the_reference_counts(experiment, counts):
    name, variant = experiment.split(".py:")
    assert preflight(load_experiment(name, variant)) == counts


def _host(state):
    return jax.tree.map(np.asarray, jax.device_get(state))


def test_pix2pix_trains_scores_and_translates(pix2pix_run, tmp_path):
    workdir = pix2pix_run
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


def test_cyclegan_resumes_bit_exactly_with_its_pools(data, tmp_path):
    def config(**overrides):
        return override(load_experiment("cyclegan"), **{
            "dataset.data_dir": str(data / "thin2thick_mnist"), "mesh.data": 1, **overrides})

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
@pytest.mark.parametrize("experiment, task", [("cyclegan", "thin2thick_mnist")])
def test_four_device_mesh_matches_one_device(data, tmp_path, experiment, task):
    assert jax.device_count() == 4

    def config(devices):
        return override(load_experiment(experiment), **{
            "dataset.data_dir": str(data / task), "batch_size": 4, "num_train_steps": 2,
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


def test_cyclegan_cli_samples_and_translates_both_ways(data, cyclegan_run, tmp_path):
    workdir = cyclegan_run
    for direction in ("AtoB", "BtoA"):
        proc = run_cli("jaxgan.translate", f"--workdir={workdir}",
                       f"--input={data / 'thin2thick_mnist' / 'testA'}",
                       f"--output={tmp_path / direction}", f"--direction={direction}")
        assert ("G_A" if direction == "AtoB" else "G_B") in proc.stdout
    a, b = (np.asarray(Image.open(tmp_path / d / "00000.png")) for d in ("AtoB", "BtoA"))
    assert not np.array_equal(a, b)
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--network=G_B", "--num=3",
            f"--out={tmp_path / 's.png'}")
    assert Image.open(tmp_path / "s.png").size == (3 * 34 + 2, 3 * 34 + 2)  # input, output, truth
    # Without its paired test split the run has no truth to compare with.
    unpaired = tmp_path / "unpaired"
    shutil.copytree(workdir, unpaired, ignore=shutil.ignore_patterns("eval"))
    config = json.loads((unpaired / "config.json").read_text())
    config["model"]["paired_test"] = False
    (unpaired / "config.json").write_text(json.dumps(config))
    proc = run_cli("jaxgan.evaluate", f"--workdir={unpaired}", "--once", "--metrics=psnr",
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


def test_translation_mistakes_are_one_line(data, tmp_path):
    proc = run_cli("jaxgan.main", f"{PIX2PIX}:smoke", f"--workdir={tmp_path / 'a'}",
                   f"--config.dataset.data_dir={data / 'edges2fashion'}",
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


def test_identity_baseline_against_a_direct_computation(data):
    record, _, _ = ts.score_identity(str(data / "thin2thick_mnist"), "A", 0)
    meta = json.loads((data / "thin2thick_mnist" / "meta.json").read_text())
    files = meta["folders"]["testA"]["files"]
    thin = np.stack([np.asarray(Image.open(data / "thin2thick_mnist" / "testA" / f))
                     for f in files]).astype(np.float64)
    thick = np.stack([np.asarray(Image.open(data / "thin2thick_mnist" / "testB" / f))
                      for f in files]).astype(np.float64)
    assert record["l1"] == pytest.approx(np.mean(np.abs(thin - thick)) / 255.0)
    mse = np.mean((thin - thick) ** 2, axis=(1, 2))
    assert record["psnr"] == pytest.approx(np.mean(10 * np.log10(255.0**2 / mse)))
    assert record["cycle_l1"] == 0.0 and record["num"] == len(files) == 12
    _, logits = load_classifier("mnist")(thin.astype(np.uint8)[..., None])
    labels = np.asarray(meta["folders"]["testA"]["labels"])
    assert record["accuracy"] == pytest.approx(np.mean(np.argmax(logits, 1) == labels))
    assert "target_class_rate" not in record and record["fid_lenet"] > 0
    # The other way round, the truth is the thin digit.
    back, _, _ = ts.score_identity(str(data / "thin2thick_mnist"), "B", 0)
    assert back["l1"] == pytest.approx(record["l1"]) and back["direction"] == "BtoA"
    # sneakers2boots has no truth; its one-class output domain is scored by the class rate.
    s2b, test, _ = ts.score_identity(str(data / "sneakers2boots"), "A", 5)
    assert test.target_class == td.ANKLE_BOOT and "l1" not in s2b and "accuracy" not in s2b
    assert 0.0 <= s2b["target_class_rate"] <= 0.2 and s2b["num"] == 5  # sneakers stay sneakers


def test_cyclegan_run_scored_with_its_generator_back(data, cyclegan_run, tmp_path):
    workdir = cyclegan_run
    proc = run_cli("jaxgan.translation_score", f"--workdir={workdir}",
                   f"--data={data / 'thin2thick_mnist'}", "--network=G_B",
                   f"--sheet={tmp_path / 'fig.png'}")
    assert "| cg | 4 | BtoA |" in proc.stdout
    record = json.loads((workdir / "eval" / "translation.jsonl").read_text())
    assert record["network"] == "G_B" and record["step"] == 4
    for key in ("l1", "psnr", "ssim", "fid_lenet", "accuracy", "cycle_l1"):
        assert np.isfinite(record[key]), key
    # cycle_l1 is G_A(G_B(thick)) against thick, recomputed through the public API.
    model_b = api.load(str(workdir), network="G_B")
    model_a = api.load(str(workdir), network="G_A")
    test = ts.test_set(str(data / "thin2thick_mnist"), "B")
    out = ts.translate_all(model_b, test.inputs)
    back = ts.translate_all(model_a, out)
    assert record["cycle_l1"] == pytest.approx(
        np.mean(np.abs(back.astype(float) - test.inputs)) / 255.0)
    # The figure: 8 rows of input, translation and truth.
    assert Image.open(tmp_path / "fig.png").size == (3 * 34 + 2, 8 * 34 + 2)


def test_pix2pix_run_scored_against_the_paired_truth(data, pix2pix_run):
    workdir = pix2pix_run
    proc = run_cli("jaxgan.translation_score", f"--workdir={workdir},{workdir}",
                   f"--data={data / 'edges2fashion'}", "--identity", "--num=10")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert len(lines) == 2 + 3 and "identity map" in lines[2]
    first, again = map(json.loads, (workdir / "eval" / "translation.jsonl").open())
    assert first["num"] == 10 and "cycle_l1" not in first
    del first["seconds"], again["seconds"]
    assert first == again  # a fixed dropout key: the same translations each time
    model = api.load(str(workdir))
    test = ts.test_set(str(data / "edges2fashion"), "A", 10)
    outputs = ts.translate_all(model, test.inputs)
    assert first["l1"] == pytest.approx(
        np.mean(np.abs(outputs.astype(float) - test.truth)) / 255.0)
    keyed = ts.translate_all(model, test.inputs)
    np.testing.assert_array_equal(outputs, keyed)


def test_translation_score_mistakes(data, tmp_path):
    proc = run_cli("jaxgan.translation_score", f"--data={tmp_path}", "--identity", check=False)
    assert_one_line_error(proc, "has no meta.json")
    proc = run_cli("jaxgan.translation_score", f"--data={data / 'edges2fashion'}", check=False)
    assert_one_line_error(proc, "give --workdir=RUN[,RUN...] or --identity")
    proc = run_cli("jaxgan.translation_score", f"--data={data / 'edges2fashion'}",
                   "--identity", "--num=-1", check=False)
    assert_one_line_error(proc, "--num must be >= 0")
