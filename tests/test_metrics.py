"""Metric math against closed forms and independent float64 references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from jaxgan.errors import UserError
from jaxgan.evaluation import metrics

# --- Fréchet distance -----------------------------------------------------------------------------


def _closed_form_diagonal(mu1, var1, mu2, var2) -> float:
    # For commuting (here diagonal) covariances: |mu1 - mu2|² + sum (sqrt(v1) - sqrt(v2))².
    return float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2))


def test_frechet_of_two_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    var1, var2 = rng.uniform(0.1, 3.0, 8), rng.uniform(0.1, 3.0, 8)
    got = metrics.frechet_distance_from_stats(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(_closed_form_diagonal(mu1, var1, mu2, var2), rel=1e-12)

    # A rotation of both Gaussians changes nothing, and makes the covariances non-diagonal.
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    rotated = metrics.frechet_distance_from_stats(
        q @ mu1, q @ np.diag(var1) @ q.T, q @ mu2, q @ np.diag(var2) @ q.T
    )
    assert rotated == pytest.approx(got, rel=1e-9)


def test_frechet_general_covariances_match_scipy_sqrtm():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(16, 16)), rng.normal(size=(16, 16))
    s1, s2 = a @ a.T + 0.1 * np.eye(16), b @ b.T + 0.1 * np.eye(16)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    got = metrics.frechet_distance_from_stats(mu1, s1, mu2, s2)
    assert got == pytest.approx(reference, rel=1e-9)


def test_frechet_distance_of_samples_approaches_closed_form():
    rng = np.random.default_rng(2)
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    mu2 = np.array([1.0, 0.0, -0.5])
    x = rng.normal(size=(200_000, 3)) * np.sqrt(var1)
    y = rng.normal(size=(200_000, 3)) * np.sqrt(var2) + mu2
    expected = _closed_form_diagonal(np.zeros(3), var1, mu2, var2)
    assert metrics.frechet_distance(x, y) == pytest.approx(expected, abs=0.03)


def test_frechet_identity_and_symmetry():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 32)) * 3.0 + 1.0
    y = rng.standard_t(df=5, size=(400, 32))
    assert abs(metrics.frechet_distance(x, x)) < 1e-9 * np.trace(np.cov(x, rowvar=False))
    assert metrics.frechet_distance(x, y) == pytest.approx(metrics.frechet_distance(y, x), rel=1e-9)
    assert metrics.frechet_distance(x, y) > 1.0


def test_frechet_stable_with_singular_covariances():
    # 40 samples in 128 dimensions: both covariances have rank 39.
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 128)), rng.normal(size=(60, 128)) + 0.1
    # Independent exact reference: tr sqrt(S1 S2) = nuclear norm of A B^T, where S1 = A^T A and
    # S2 = B^T B with A, B the centred samples scaled by 1/sqrt(n - 1).
    a = (x - x.mean(0)) / np.sqrt(len(x) - 1)
    b = (y - y.mean(0)) / np.sqrt(len(y) - 1)
    tr_sqrt = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    reference = np.sum((x.mean(0) - y.mean(0)) ** 2) + np.sum(a * a) + np.sum(b * b) - 2 * tr_sqrt
    got = metrics.frechet_distance(x, y)
    assert np.isfinite(got)
    # Without clipping the ~90 null-space eigenvalues (±1e-16 noise, square roots ~1e-8 each)
    # this was off by 2e-8 relative, and FID(x, x) by -5e-6.
    assert got == pytest.approx(reference, rel=1e-10)
    assert abs(metrics.frechet_distance(x, x)) < 1e-10 * np.sum(a * a)


def test_feature_stats_match_numpy():
    x = np.random.default_rng(5).normal(size=(100, 7)).astype(np.float32)
    mu, sigma = metrics.feature_stats(x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-10)


def test_frechet_rejects_bad_shapes():
    with pytest.raises(ValueError, match="dimensions differ"):
        metrics.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


# --- KID ------------------------------------------------------------------------------------------


def _mmd2_unbiased_f64(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x.astype(np.float64), y.astype(np.float64)
    m, d = len(x), x.shape[1]
    kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3), ((y @ y.T / d + 1) ** 3), ((x @ y.T / d + 1) ** 3)
    off = m * (m - 1)
    return (kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean()


def test_kid_matches_float64_reference():
    rng = np.random.default_rng(6)
    x = np.abs(rng.normal(size=(300, 64))).astype(np.float32)
    y = np.abs(rng.normal(size=(300, 64)) * 1.2).astype(np.float32)
    # With the whole sets as the one subset the estimate does not depend on the draw.
    mean, std = metrics.kernel_inception_distance(x, y, subset_size=300, num_subsets=1)
    assert mean == pytest.approx(_mmd2_unbiased_f64(x, y), rel=1e-5)
    assert std == 0.0


def test_kid_of_identical_sets_is_near_zero_and_of_different_sets_positive():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1000, 32)).astype(np.float32)
    same, _ = metrics.kernel_inception_distance(x, x, subset_size=500, num_subsets=20)
    different, _ = metrics.kernel_inception_distance(x, x + 0.3, subset_size=500, num_subsets=20)
    # Subsets drawn from one set share ~m/2 points, whose k(x, x) ~ 8 enter the cross term:
    # about -2 (m/2) / m² (8 - 1.1) = -0.014 here, small beside a 0.3 shift's KID.
    assert abs(same) < 0.03 and different > 20 * abs(same)


def test_kid_is_unbiased():
    # Many independent pairs from one distribution: the unbiased estimate averages to 0 within
    # its standard error, while the biased (V-statistic) estimate is clearly positive.
    rng = np.random.default_rng(8)
    unbiased, biased = [], []
    for _ in range(40):
        x = rng.normal(size=(100, 16)).astype(np.float32)
        y = rng.normal(size=(100, 16)).astype(np.float32)
        unbiased.append(metrics.kernel_inception_distance(x, y, subset_size=100, num_subsets=1)[0])
        kxx, kyy = (x @ x.T / 16 + 1) ** 3, (y @ y.T / 16 + 1) ** 3
        biased.append(kxx.mean() + kyy.mean() - 2 * ((x @ y.T / 16 + 1) ** 3).mean())
    sem = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 3 * sem
    assert np.mean(biased) > 10 * sem


def test_kid_clips_subset_size_and_is_deterministic():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(50, 8)), rng.normal(size=(80, 8))
    first = metrics.kernel_inception_distance(x, y, subset_size=1000, num_subsets=5, seed=3)
    assert first == metrics.kernel_inception_distance(x, y, subset_size=1000, num_subsets=5, seed=3)
    assert np.all(np.isfinite(first))


# --- Inception Score ------------------------------------------------------------------------------


def test_inception_score_of_uniform_predictions_is_one():
    mean, std = metrics.inception_score(np.full((1000, 10), 0.1), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("classes", [2, 10, 1008])
def test_inception_score_of_confident_balanced_predictions_is_class_count(classes):
    probs = np.eye(classes)[np.arange(classes * 20) % classes]  # every split holds all classes
    mean, std = metrics.inception_score(probs, splits=10 if classes < 1008 else 2)
    assert mean == pytest.approx(classes, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_of_a_two_class_example():
    # p(y|x) = [0.9, 0.1] for half the samples, [0.1, 0.9] for the rest: the marginal is uniform
    # and KL = 0.9 ln 1.8 + 0.1 ln 0.2 for every sample.
    probs = np.array([[0.9, 0.1], [0.1, 0.9]] * 50)
    mean, _ = metrics.inception_score(probs, splits=1)
    assert mean == pytest.approx(np.exp(0.9 * np.log(1.8) + 0.1 * np.log(0.2)), rel=1e-12)


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="softmax"):
        metrics.inception_score(np.random.default_rng(0).normal(size=(100, 10)))


# --- precision / recall ---------------------------------------------------------------------------


def _precision_recall_brute_force(real, fake, k=3):
    def radii(x):
        return np.sort(np.linalg.norm(x[:, None] - x[None], axis=-1), axis=1)[:, k]

    d = np.linalg.norm(fake[:, None] - real[None], axis=-1)
    precision = np.mean(np.any(d <= radii(real)[None], axis=1))
    recall = np.mean(np.any(d.T <= radii(fake)[None], axis=1))
    return precision, recall


def test_precision_recall_of_a_set_against_itself_is_one():
    x = np.random.default_rng(10).normal(size=(500, 16))
    assert metrics.precision_recall(x, x) == (1.0, 1.0)


def test_precision_recall_of_disjoint_clusters_is_zero():
    rng = np.random.default_rng(11)
    real, fake = rng.normal(size=(300, 8)), rng.normal(size=(200, 8)) + 100.0
    assert metrics.precision_recall(real, fake) == (0.0, 0.0)


def test_precision_recall_match_brute_force_across_blocks():
    # More points than one 1024-row block, so padding and block joins are exercised.
    rng = np.random.default_rng(12)
    real = rng.normal(size=(1500, 4))
    fake = rng.normal(size=(1100, 4)) * 1.3 + 0.4
    got = metrics.precision_recall(real, fake, k=3)
    expected = _precision_recall_brute_force(real, fake, k=3)
    assert 0.2 < expected[0] < 0.99 and 0.2 < expected[1] < 0.99  # a non-trivial case
    assert got == pytest.approx(expected, abs=1.5e-3)  # float32 distances: a few ties may flip


# --- registry -------------------------------------------------------------------------------------


def test_registry_resolves_protocol_names():
    fid = metrics.get_metric("fid_lenet")
    assert (fid.extractor, fid.output, fid.reference, fid.num_samples) == (
        "lenet",
        "features",
        "stats",
        None,
    )
    fid10k = metrics.get_metric("fid_inception_50k")
    assert fid10k.name == "fid_inception_50k" and fid10k.num_samples == 50_000
    assert metrics.get_metric("precision_lenet").name == "pr_lenet"
    names = [m.name for m in metrics.resolve_metrics("precision_lenet,recall_lenet,is_lenet")]
    assert names == ["pr_lenet", "is_lenet"]
    with pytest.raises(UserError, match="unknown metric 'fid_vgg'.*fid_lenet"):
        metrics.get_metric("fid_vgg")


def test_registry_compute_functions():
    rng = np.random.default_rng(13)
    fake, real = rng.normal(size=(300, 8)), rng.normal(size=(400, 8)) + 0.3
    fid = metrics.get_metric("fid_lenet").compute(fake, metrics.feature_stats(real))
    assert fid == {"fid_lenet": pytest.approx(metrics.frechet_distance(fake, real), rel=1e-12)}
    kid = metrics.get_metric("kid_lenet").compute(fake, real)
    assert set(kid) == {"kid_lenet", "kid_lenet_std"}
    pr = metrics.get_metric("recall_lenet").compute(fake, real)
    assert pr == dict(
        zip(("precision_lenet", "recall_lenet"), metrics.precision_recall(real, fake))
    )
    logits = 30.0 * np.eye(10)[np.arange(200) % 10]  # confident, balanced
    score = metrics.get_metric("is_lenet").compute(logits, None)
    assert score["is_lenet"] == pytest.approx(10.0, rel=1e-6)
    # GAN-test: accuracy of the real-data classifier against the requested labels.
    labels = np.arange(200) % 10
    labels[:30] = (labels[:30] + 1) % 10  # 30 of 200 drawn as the wrong class
    gan_test = metrics.get_metric("gantest_lenet")
    assert gan_test.conditional and gan_test.compute((logits, labels), None) == {
        "gantest_lenet": pytest.approx(170 / 200, abs=1e-12)}


def test_intra_class_fid_sees_swapped_classes_that_fid_misses():
    from jaxgan.evaluation.metrics.registry import get_metric

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 0.0]])
    real_labels = np.repeat([0, 1], 2000)
    real = centres[real_labels] + rng.normal(size=(4000, 2))
    labels = np.tile([0, 1], 2000)
    right = centres[labels] + rng.normal(size=(4000, 2))
    swapped = centres[1 - labels] + rng.normal(size=(4000, 2))  # each class drawn as the other
    fid = get_metric("fid_lenet").compute
    stats = metrics.feature_stats(real)
    assert fid(swapped, stats)["fid_lenet"] < 0.05  # the mixture is right
    ifid = get_metric("ifid_lenet")
    assert ifid.conditional and ifid.reference == "labelled_features"
    good = ifid.compute((right, labels), (real, real_labels))
    bad = ifid.compute((swapped, labels), (real, real_labels))
    assert good["ifid_lenet"] < 0.05
    # Per class, the Frechet distance of two unit Gaussians 6 apart is 36.
    assert bad["ifid_lenet"] == pytest.approx(36.0, rel=0.05) and bad["ifid_lenet_std"] < 2
    with pytest.raises(UserError, match="class 1 has 1"):
        ifid.compute((right[:3], np.array([0, 0, 1])), (real, real_labels))
