"""Anomaly detection: the ranking metrics against closed forms and scikit-learn, the calibrated
threshold, one-class data (dataset.classes, dataset.holdout), GANomaly's losses, parameter
counts, D re-initialisation and bit-exact resume, and the real CLI: train, evaluate (AUROC),
`jaxgan.anomaly` (scores, calibration, heat maps), with the mistakes a user can make."""

import csv
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, load_experiment, override
from PIL import Image
from sklearn.metrics import average_precision_score, roc_auc_score
from test_cli import assert_one_line_error, run_cli

from jaxgan import train
from jaxgan.errors import UserError
from jaxgan.evaluation import anomaly
from jaxgan.families import ganomaly
from jaxgan.state import num_params, step_key

EXPERIMENT = f"--config={REPO / 'experiments' / 'ganomaly.py'}:smoke"


def test_auroc_closed_forms_and_scikit_learn():
    positive = np.array([0, 0, 0, 1, 1], bool)
    assert anomaly.auroc([0.1, 0.2, 0.3, 0.8, 0.9], positive) == 1.0  # separated
    assert anomaly.auroc([0.9, 0.8, 0.7, 0.2, 0.1], positive) == 0.0  # reversed
    assert anomaly.auroc(np.ones(5), positive) == 0.5  # all tied
    # One positive ties one negative, beats the other two: (2 + 0.5) / 3 for it, 1 for the other.
    assert anomaly.auroc([0.1, 0.2, 0.5, 0.5, 0.9], positive) == pytest.approx(
        (2.5 + 3) / 6)
    rng = np.random.default_rng(0)
    for _ in range(5):
        labels = rng.random(300) < 0.3
        scores = np.round(rng.normal(labels * 0.7, 1.0), 1)  # rounded: many ties
        assert anomaly.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores),
                                                              abs=1e-12)
        assert anomaly.average_precision(scores, labels) == pytest.approx(
            average_precision_score(labels, scores), abs=1e-12)
    assert anomaly.average_precision([0.1, 0.2, 0.3, 0.8, 0.9], positive) == 1.0
    with pytest.raises(ValueError, match="both positives and negatives"):
        anomaly.auroc([0.1, 0.2], [True, True])


@pytest.mark.parametrize("fpr", [0.0, 0.01, 0.05, 0.1, 0.333])
def test_the_threshold_flags_the_requested_share_of_its_calibration_set(fpr):
    scores = np.random.default_rng(1).normal(size=500)
    calibration = anomaly.calibrate(scores, fpr)
    flagged = np.mean(scores > calibration["threshold"])
    assert flagged == calibration["fpr_calibration"] == np.floor(fpr * 500) / 500
    assert flagged <= fpr
    with pytest.raises(UserError, match="--fpr must be in"):
        anomaly.calibrate(scores, 1.0)


def test_one_class_data_and_its_holdout():
    from jaxgan.data import arrays, load_source

    config = override(load_experiment("ganomaly", None), **{
        "dataset.classes": "3,5", "dataset.holdout": 100, "dataset.max_examples": 2000})
    images, labels = arrays.load_arrays("mnist", "train", max_examples=2000)
    keep = np.isin(labels, (3, 5))
    train_source = load_source(config.dataset)
    held = load_source(config.dataset, split="holdout")
    assert len(train_source) == keep.sum() - 100 and len(held) == 100
    np.testing.assert_array_equal(np.concatenate([train_source.images, held.images]),
                                  images[keep])
    assert set(np.unique(train_source.labels)) == {3, 5}
    assert train_source.name != held.name != "mnist"  # the evaluator's caches tell them apart
    test = load_source(config.dataset, split="test")  # other splits: classes, no holdout
    assert set(np.unique(test.labels)) == {3, 5}
    for classes, words in (("3,x", "class numbers separated by commas"),
                           ("10", "the classes are 0 to 9")):
        with pytest.raises(UserError, match=words):
            load_source(override(config.copy_and_resolve_references(),
                                 **{"dataset.classes": classes}).dataset)


def test_the_reference_networks_counts():
    # samet-akcay/ganomaly at isize 32, nc 1, nz 100, ngf = ndf = 64 (BUILD_NOTES.md tallies
    # the layers).
    spec = ganomaly.setup(load_experiment("ganomaly", None))
    abstract = jax.eval_shape(lambda: ganomaly.init(spec, 0))
    assert num_params(abstract.nets["G"].params) == 3_200_384
    assert num_params(abstract.nets["D"].params) == 661_248


def _config(**overrides):
    return override(load_experiment("ganomaly"), **{"mesh.data": 1, **overrides})


def test_losses_by_hand_on_a_tiny_network():
    config = _config(**{"model.latent_dim": 3, "model.width": 2, "dataset.image_size": 8})
    spec = ganomaly.setup(config)
    state = ganomaly.init(spec, 0)
    x = jax.random.uniform(jax.random.key(1), (4, 8, 8, 1), minval=-1, maxval=1)
    _, metrics = jax.jit(lambda s, b: ganomaly.train_phase(spec, "gd", s, b))(state, {"image": x})
    g, d = state.nets["G"].variables, state.nets["D"].variables
    mutable = ["batch_stats"]
    (x_hat, z, z_hat), _ = spec.generator.apply(g, x, train=True, mutable=mutable)
    (_, f_real), d1 = spec.discriminator.apply(d, x, train=True, mutable=mutable)
    (_, f_fake), d2 = spec.discriminator.apply({**d, **d1}, x_hat, train=True, mutable=mutable)
    x, x_hat, z, z_hat = map(np.asarray, (x, x_hat, z, z_hat))
    adv = np.mean((np.asarray(f_real) - np.asarray(f_fake)) ** 2)
    con = np.mean(np.abs(x - x_hat))
    enc = np.mean((z - z_hat) ** 2)
    np.testing.assert_allclose(
        [metrics["g_adv"], metrics["g_con"], metrics["g_enc"], metrics["g_loss"]],
        [adv, con, enc, adv + 50 * con + enc], rtol=2e-5)
    # D, after G's step, on x (label 1) and the reconstruction made before it (label 0).
    (real_logits, _), d3 = spec.discriminator.apply({**d, **d2}, x, train=True,
                                                    mutable=mutable)
    (fake_logits, _), _ = spec.discriminator.apply({**d, **d3}, x_hat, train=True,
                                                   mutable=mutable)
    sigmoid = lambda v: 1 / (1 + np.exp(-np.asarray(v, np.float64)))
    bce = -0.5 * (np.mean(np.log(sigmoid(real_logits))) + np.mean(np.log(1 - sigmoid(
        fake_logits))))
    np.testing.assert_allclose(metrics["d_loss"], bce, rtol=2e-5)
    assert float(metrics["d_reinit"]) == 0.0


def test_d_is_drawn_afresh_when_its_loss_falls_below_the_bound():
    spec = ganomaly.setup(_config(**{"loss.reinit_d_below": 1e9}))  # every step
    state = ganomaly.init(spec, 0)
    x = jax.random.uniform(jax.random.key(1), (8, 32, 32, 1), minval=-1, maxval=1)
    new, metrics = jax.jit(lambda s, b: ganomaly.train_phase(spec, "gd", s, b))(
        state, {"image": x})
    assert float(metrics["d_reinit"]) == 1.0
    fresh = ganomaly._init_d(spec, step_key(state, 1))
    chex.assert_trees_all_close(new.nets["D"].variables, fresh, atol=1e-7, rtol=1e-6)
    assert not jax.tree.all(jax.tree.map(jnp.array_equal, fresh["params"],
                                         state.nets["D"].params))
    # Adam's state is the reference's: kept, one step on.
    assert int(new.nets["D"].opt_state[0].count) == 1


def _host(state):
    return jax.tree.map(np.asarray, jax.device_get(state))


def test_resume_is_bit_exact(tmp_path):
    straight = _host(train.train(_config(), str(tmp_path / "straight")))
    interrupted = str(tmp_path / "interrupted")
    first = _host(train.train(_config(num_train_steps=2), interrupted))
    resumed = _host(train.train(_config(), interrupted))
    assert int(first.step) == 2 and int(resumed.step) == 4
    chex.assert_trees_all_equal(straight, resumed)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ganomaly") / "run"
    run_cli("jaxgan.main", EXPERIMENT, f"--workdir={workdir}")
    return workdir


def test_cli_trains_evaluates_and_scores_files(run, tmp_path):
    workdir = tmp_path / "run"
    import shutil
    shutil.copytree(run, workdir)
    run_cli("jaxgan.evaluate", f"--workdir={workdir}", "--steps=4")  # the default: AUROC, AP
    records = {r["metric"]: r for r in map(json.loads, (workdir / "eval" / "metrics.jsonl")
                                          .open())}
    assert set(records) == {"auroc", "average_precision"}
    model = anomaly.load(str(workdir))
    test = anomaly.test_protocol(model)
    assert len(test["scores"]) == 10_000 and test["anomalous"].sum() == 10_000 - 980
    assert records["auroc"]["value"] == pytest.approx(
        roc_auc_score(test["anomalous"], test["scores"]), abs=1e-6)
    assert records["auroc"]["anomaly"]["normal_classes"] == [0]
    assert records["auroc"]["anomaly"]["num_normal"] == 980  # MNIST's test zeros

    # Files: 28x28 digits (padded as the model's data were), one of them a colour image.
    from jaxgan.data import arrays

    digits, labels = arrays.load_arrays("mnist", "test", max_examples=5)
    folder = tmp_path / "in"
    folder.mkdir()
    for i, (digit, label) in enumerate(zip(digits, labels)):
        Image.fromarray(digit[..., 0]).save(folder / f"{i}_{label}.png")
    Image.fromarray(np.repeat(digits[0], 3, -1)).save(folder / "rgb.png")
    out = tmp_path / "out"
    proc = run_cli("jaxgan.anomaly", f"--workdir={workdir}", f"--input={folder}",
                   f"--out={out}", "--fpr=0.25")
    assert "scored 6 image(s) with step 4" in proc.stdout
    rows = list(csv.DictReader((out / "scores.csv").open()))
    calibration = json.loads((out / "calibration.json").read_text())
    held = anomaly.holdout_scores(model)
    assert calibration == {**anomaly.calibrate(held, 0.25), "run": str(workdir),
                           "step": 4, "weights": "params", "score": model.scorer.description,
                           "normal_classes": [0]}
    assert calibration["num_calibration"] == 16 and calibration["fpr_calibration"] == 0.25
    scores = {r["file"].split("/")[-1]: float(r["score"]) for r in rows}
    assert scores["rgb.png"] == pytest.approx(scores[f"0_{labels[0]}.png"], rel=1e-5)
    expected = model.score(anomaly.split_images(
        anomaly.whole_dataset(model.config.dataset), "test")[0][:5])["score"]
    np.testing.assert_allclose([scores[f"{i}_{y}.png"] for i, y in enumerate(labels)],
                               expected, rtol=1e-5)
    for r in rows:
        assert int(r["anomalous"]) == (float(r["score"]) > calibration["threshold"])
    # A second scoring into the same folder is refused: the first one's files stay.
    before = (out / "scores.csv").read_text()
    proc = run_cli("jaxgan.anomaly", f"--workdir={workdir}", f"--input={folder}",
                   f"--out={out}", check=False)
    assert_one_line_error(proc, "already holds scores.csv")
    assert (out / "scores.csv").read_text() == before
    heat = np.asarray(Image.open(out / "heatmaps" / "rgb.png"))
    assert heat.shape == (32, 3 * 32 + 4)
    np.testing.assert_array_equal(heat[2:30, 2:30], digits[0][..., 0])  # the padded input


def test_mistakes_are_one_line(run, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("jaxgan.anomaly", f"--workdir={run}", f"--input={empty}", check=False)
    assert_one_line_error(proc, "no images")
    from jaxgan.evaluation import job
    from jaxgan.tools import anomaly as command

    # A run that is not an anomaly model (its config is all the check reads).
    other = tmp_path / "dcgan"
    other.mkdir()
    from jaxgan import config_lib

    (other / "config.json").write_text(config_lib.to_json(load_experiment("dcgan_mnist")))
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(UserError, match="not an anomaly model"):
        command.score_files(str(other), str(tmp_path / "x.png"), None)
    with pytest.raises(UserError, match="score.s. an anomaly model"):
        job.Evaluator(str(other), "auroc", 100, 100, None, None)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(UserError, match="is 40x40; this model scores 32x32"):
        command.score_files(str(run), str(tmp_path / "big.png"), None)
    with pytest.raises(UserError, match="--fpr must be in"):
        command.score_files(str(run), str(tmp_path / "x.png"), None, fpr=1.5)
    with pytest.raises(UserError, match="takes no sample count"):
        job.Evaluator(str(run), "auroc_10k", 100, 100, None, None)


def _fanogan_config(**overrides):
    return override(load_experiment("fanogan"), **{"mesh.data": 1, **overrides})


def test_fanogan_is_the_wgan_gp_run_then_an_encoder_with_the_gan_frozen(tmp_path):
    from jaxgan.families import fanogan, gan

    config = _fanogan_config()
    spec = fanogan.setup(config)
    assert [fanogan.phases(spec, s) for s in range(6)] == [("d",), ("dg",), ("d",)] + [
        ("encoder",)] * 3
    # The GAN part starts as the gan family's WGAN-GP run with the same networks and seed.
    gan_config = load_experiment("wgan_gp_mnist")
    state = fanogan.init(spec, 0)
    reference = gan.init(gan.setup(gan_config), 0)
    chex.assert_trees_all_equal(state.nets["G"], reference.nets["G"])
    chex.assert_trees_all_equal(state.nets["D"], reference.nets["D"])
    # Resumed across the GAN -> encoder boundary and inside the encoder stage: same bits.
    straight_dir = str(tmp_path / "straight")
    straight = _host(train.train(config, straight_dir))
    interrupted = str(tmp_path / "interrupted")
    at = {stop: _host(train.train(_fanogan_config(num_train_steps=stop), interrupted))
          for stop in (3, 4)}
    resumed = _host(train.train(config, interrupted))
    chex.assert_trees_all_equal(straight, resumed)
    # The log of the encoder stage has the encoder's quantities only, not the GAN's last ones.
    with open(f"{straight_dir}/metrics.jsonl") as f:
        logged = {r["step"]: r for r in map(json.loads, f)}
    assert "d_loss" in logged[2] and "e_loss" not in logged[2]
    assert all("e_loss" in logged[s] and "d_loss" not in logged[s] for s in (4, 6))
    # The encoder stage trains E alone.
    for name in ("G", "D"):
        chex.assert_trees_all_equal(at[3].nets[name], straight.nets[name])
    assert not np.array_equal(at[3].nets["E"].params["to_latent"]["kernel"],
                              straight.nets["E"].params["to_latent"]["kernel"])
    # Its loss, and the anomaly score, by hand: image residual + kappa x feature residual.
    spec = fanogan.setup(_fanogan_config(**{"encoder.kappa": 0.5}))
    x = jax.random.uniform(jax.random.key(2), (3, 28, 28, 1), minval=-1, maxval=1)
    variables = {n: straight.nets[n].variables for n in ("G", "D", "E")}
    z = spec.encoder.apply(variables["E"], x)
    x_rec = spec.gan.generator.apply(variables["G"], z, None, train=False)
    f = lambda v: np.asarray(spec.gan.discriminator.apply(
        variables["D"], v, None, train=False, return_features=True)[1])
    x, x_rec = np.asarray(x), np.asarray(x_rec)
    expected = (np.mean((x - x_rec) ** 2, axis=(1, 2, 3))
                + 0.5 * np.mean((f(x) - f(x_rec)) ** 2, axis=1))
    np.testing.assert_allclose(fanogan.score(spec, variables, x)["score"], expected, rtol=1e-5)
    # The evaluator and the command read all three networks of the run.
    model = anomaly.load(straight_dir)
    assert model.weights == "G:params+D:params+E:params" and model.normal_classes == (0,)
    test = anomaly.test_protocol(model)
    assert 0.0 <= anomaly.auroc(test["scores"], test["anomalous"]) <= 1.0


def test_family_config_mistakes():
    from jaxgan.families import fanogan

    with pytest.raises(UserError, match="encoder.start_step"):
        fanogan.setup(_fanogan_config(**{"encoder.start_step": 0}))
    with pytest.raises(UserError, match="unconditional DCGAN"):
        fanogan.setup(_fanogan_config(**{"model.num_classes": 10}))
    with pytest.raises(UserError, match="power-of-two image size"):
        ganomaly.setup(_config(**{"dataset.image_size": 28}))
    with pytest.raises(UserError, match="loss.w_enc > 0"):
        ganomaly.setup(_config(**{"loss.w_enc": 0.0}))
