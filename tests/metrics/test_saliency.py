"""Saliency metrics against straightforward formulas, known values and their edge cases."""

import numpy as np
import pytest

from cogmodels.errors import DataFormatError, ShapeError
from cogmodels.metrics import saliency

H, W = 24, 32


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def fixations(rng):
    return np.column_stack([rng.uniform(0, W, 12), rng.uniform(0, H, 12)])


def indicator(xy):
    return saliency.fixation_map(xy, (W, H))


# -- fixation maps and densities ---------------------------------------------------------------------------
def test_fixation_map_counts_pixels():
    counts = saliency.fixation_map([[0.2, 0.9], [0.7, 0.1], [31.99, 23.5]], (W, H))
    assert counts.shape == (H, W) and counts.sum() == 3
    assert counts[0, 0] == 2 and counts[23, 31] == 1
    with pytest.raises(DataFormatError, match="outside"):
        saliency.fixation_map([[32.0, 1.0]], (W, H))


def test_fixation_density_is_a_normalised_gaussian():
    density = saliency.fixation_density([[15.5, 11.5]], (W, H), sigma_deg=0.5, px_per_deg=6.0)
    assert density.shape == (H, W) and density.sum() == pytest.approx(1.0, abs=1e-12)
    rows, cols = np.mgrid[0:H, 0:W] + 0.5
    expected = np.exp(-((cols - 15.5) ** 2 + (rows - 11.5) ** 2) / (2 * 3.0 ** 2))  # sigma = 0.5 deg x 6 px/deg
    np.testing.assert_allclose(density, expected / expected.sum(), rtol=1e-12)
    assert np.unravel_index(density.argmax(), density.shape) == (11, 15)


def test_fixation_density_weights_and_errors(fixations):
    uniform = saliency.fixation_density(fixations, (W, H), 1.0, 4.0)
    doubled = saliency.fixation_density(fixations, (W, H), 1.0, 4.0, weights=np.full(len(fixations), 2.0))
    np.testing.assert_allclose(uniform, doubled, rtol=1e-12)
    with pytest.raises(DataFormatError, match="at least one"):
        saliency.fixation_density(np.zeros((0, 2)), (W, H), 1.0, 4.0)


# -- NSS ---------------------------------------------------------------------------------------------------
def test_nss_of_the_fixation_indicator(fixations):
    """A map equal to the binary fixation map: NSS = (1 - mu) / sigma with mu = k / N."""
    binary = (indicator(fixations) > 0).astype(float)
    mu = binary.mean()
    assert saliency.nss(binary, binary) == pytest.approx((1 - mu) / np.sqrt(mu * (1 - mu)), rel=1e-12)


def test_nss_matches_the_formula_and_map_input(rng, fixations):
    sal = rng.random((H, W))
    z = (sal - sal.mean()) / sal.std()
    rows, cols = fixations[:, 1].astype(int), fixations[:, 0].astype(int)
    expected = z[rows, cols].mean()
    assert saliency.nss(sal, fixations) == pytest.approx(expected, rel=1e-12)
    assert saliency.nss(sal, indicator(fixations)) == pytest.approx(expected, rel=1e-12)


def test_nss_edge_cases(rng, fixations):
    with pytest.raises(DataFormatError, match="at least one fixation"):
        saliency.nss(rng.random((H, W)), np.zeros((0, 2)))
    with pytest.raises(DataFormatError, match="constant"):
        saliency.nss(np.ones((H, W)), fixations)
    stack = np.stack([np.ones((H, W)), rng.random((H, W))])
    with pytest.warns(UserWarning, match="1 of 2"):
        values = saliency.nss(stack, [fixations, fixations])
    assert np.isnan(values[0]) and np.isfinite(values[1])


# -- AUC ---------------------------------------------------------------------------------------------------
def _judd_reference(sal, xy):
    """Loop over the fixated values as thresholds, as in Judd et al. (no jitter, exact ties)."""
    counts = indicator(xy).ravel()
    values = sal.ravel()
    positives, weights = values[counts > 0], counts[counts > 0]
    negatives = values[counts == 0]
    fp, tp = [0.0], [0.0]
    for threshold in sorted(set(positives), reverse=True):
        tp.append(weights[positives >= threshold].sum() / weights.sum())
        fp.append((negatives >= threshold).mean())
    fp.append(1.0)
    tp.append(1.0)
    return np.trapezoid(tp, fp)


def test_auc_judd_matches_reference(rng, fixations):
    sal = rng.random((H, W))
    assert saliency.auc_judd(sal, fixations) == pytest.approx(_judd_reference(sal, fixations), abs=1e-12)
    coarse = np.round(sal * 3)  # many ties
    assert saliency.auc_judd(coarse, fixations) == pytest.approx(_judd_reference(coarse, fixations), abs=1e-12)


def test_auc_judd_known_values(fixations):
    assert saliency.auc_judd(indicator(fixations), fixations) == 1.0
    assert saliency.auc_judd(np.ones((H, W)), fixations) == 0.5


def test_auc_shuffled_is_seeded_and_exact_when_all_negatives_are_used(rng, fixations):
    sal = rng.random((H, W))
    others = np.column_stack([rng.uniform(0, W, 8), rng.uniform(0, H, 8)])  # fewer than the positives: all used
    positives = sal[fixations[:, 1].astype(int), fixations[:, 0].astype(int)]
    negatives = sal[others[:, 1].astype(int), others[:, 0].astype(int)]
    expected = np.mean([(p > n) + 0.5 * (p == n) for p in positives for n in negatives])
    assert saliency.auc_shuffled(sal, fixations, others, n_splits=3, seed=1) == pytest.approx(expected, abs=1e-12)
    many = np.column_stack([rng.uniform(0, W, 200), rng.uniform(0, H, 200)])
    first = saliency.auc_shuffled(sal, fixations, many, seed=5)
    assert first == saliency.auc_shuffled(sal, fixations, many, seed=5)
    assert first != saliency.auc_shuffled(sal, fixations, many, seed=6)
    assert 0.0 <= first <= 1.0


# -- distribution metrics ----------------------------------------------------------------------------------
def test_cc_kld_sim_match_formulas(rng, fixations):
    sal = rng.random((H, W))
    density = saliency.fixation_density(fixations, (W, H), 1.0, 4.0)
    assert saliency.cc(sal, density) == pytest.approx(np.corrcoef(sal.ravel(), density.ravel())[0, 1], abs=1e-12)
    p, q = sal / sal.sum(), density / density.sum()
    eps = np.finfo(float).eps
    assert saliency.kld(sal, density) == pytest.approx(np.sum(q * np.log(eps + q / (p + eps))), rel=1e-12)
    assert saliency.sim(sal, density) == pytest.approx(np.minimum(p, q).sum(), rel=1e-12)


def test_distribution_metrics_known_values(fixations):
    density = saliency.fixation_density(fixations, (W, H), 1.0, 4.0)
    assert saliency.cc(density, density) == pytest.approx(1.0, abs=1e-12)
    assert saliency.cc(-density, density) == pytest.approx(-1.0, abs=1e-12)
    assert saliency.kld(density, density) == pytest.approx(0.0, abs=1e-10)
    assert saliency.sim(density, density) == pytest.approx(1.0, abs=1e-12)
    left, right = np.zeros((H, W)), np.zeros((H, W))
    left[:, : W // 2], right[:, W // 2:] = 1.0, 1.0
    assert saliency.sim(left, right) == 0.0


def test_constant_map_cc_is_undefined(fixations):
    density = saliency.fixation_density(fixations, (W, H), 1.0, 4.0)
    with pytest.raises(DataFormatError, match="constant"):
        saliency.cc(np.full((H, W), 3.0), density)
    with pytest.warns(UserWarning, match="1 of 2"):
        values = saliency.cc(np.stack([np.full((H, W), 3.0), density]), np.stack([density, density]))
    assert np.isnan(values[0]) and values[1] == pytest.approx(1.0)


def test_negative_or_zero_maps_for_densities(rng, fixations):
    density = saliency.fixation_density(fixations, (W, H), 1.0, 4.0)
    with pytest.raises(DataFormatError, match="non-negative"):
        saliency.kld(rng.normal(size=(H, W)), density)
    with pytest.raises(DataFormatError, match="sums to zero"):
        saliency.sim(np.zeros((H, W)), density)
    with pytest.raises(ShapeError, match="same shape"):
        saliency.cc(rng.random((H, W + 1)), density)


# -- information gain -------------------------------------------------------------------------------------
def test_information_gain(rng, fixations):
    baseline = rng.random((H, W))
    assert saliency.information_gain(baseline, baseline, fixations) == pytest.approx(0.0, abs=1e-12)
    model = rng.random((H, W))
    p, b = model / model.sum(), baseline / baseline.sum()
    rows, cols = fixations[:, 1].astype(int), fixations[:, 0].astype(int)
    eps = np.finfo(float).eps
    expected = np.mean(np.log2(eps + p[rows, cols]) - np.log2(eps + b[rows, cols]))
    assert saliency.information_gain(model, baseline, fixations) == pytest.approx(expected, rel=1e-12)
    # A model that puts its mass where people look gains over a uniform baseline.
    assert saliency.information_gain(indicator(fixations) + 1e-3, np.ones((H, W)), fixations) > 3.0


# -- batches -----------------------------------------------------------------------------------------------
def test_stacks_equal_loops_of_single_maps(rng):
    maps = rng.random((4, H, W))
    fixes = [np.column_stack([rng.uniform(0, W, n), rng.uniform(0, H, n)]) for n in (3, 5, 8, 1)]
    densities = np.stack([saliency.fixation_density(f, (W, H), 1.0, 4.0) for f in fixes])
    for name in ("nss", "auc_judd"):
        batch = getattr(saliency, name)(maps, fixes)
        np.testing.assert_allclose(batch, [getattr(saliency, name)(m, f) for m, f in zip(maps, fixes)], rtol=1e-12)
    for name in ("cc", "kld", "sim"):
        batch = getattr(saliency, name)(maps, densities)
        np.testing.assert_allclose(batch, [getattr(saliency, name)(m, d) for m, d in zip(maps, densities)],
                                   rtol=1e-12)
    counts = np.stack([indicator(f) for f in fixes])
    np.testing.assert_allclose(saliency.nss(maps, counts), saliency.nss(maps, fixes), rtol=1e-12)


def test_uniform_map_with_rounding_residue_is_undefined_not_garbage():
    """A normalised uniform 600x800 map has a float std of ~1e-22, not 0: NSS and CC must still say undefined."""
    import warnings

    uniform = np.full((2, 600, 800), 1.0 / (600 * 800))
    fix = [np.array([[10.0, 20.0]]), np.array([[400.0, 300.0]])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = saliency.nss(uniform, fix)
        corr = saliency.cc(uniform, np.random.default_rng(0).random((2, 600, 800)))
    assert np.isnan(values).all() and np.isnan(corr).all()
    assert any("constant" in str(w.message) for w in caught)
