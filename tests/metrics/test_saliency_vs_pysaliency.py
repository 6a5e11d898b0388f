"""Saliency metrics against pysaliency (the reference implementation of Kümmerer et al.) on real OSIE maps.

The saliency maps are leave-one-subject-out fixation densities: for each of a
few OSIE images, the fixations of 14 subjects predict those of the 15th.
Each metric must agree with pysaliency to rounding, or differ only by a
definition that ``cogmodels.metrics.saliency`` states; there an option of
ours gives pysaliency's definition, and the stated relation of our default is
checked too.

pysaliency 0.2.22 imports ``pkg_resources`` (gone from this setuptools) for
its external models and datasets, which are not used here, and calls
``np.trapz`` (removed in numpy 2.4): the module fixture puts a stand-in for the
first in ``sys.modules`` for the import only, and aliases the second while
pysaliency runs.
"""

import importlib.util
import sys
import types

import numpy as np
import pytest

from cogmodels.metrics import saliency

pytestmark = pytest.mark.shared_data

SIZE = (800, 600)                   # OSIE images: width, height
PX_PER_DEG = 24.0                   # OSIE's assumed geometry (datasets/osie.py); it only sets the blur here
N_IMAGES = 4
MIT_EPS = 2.2204e-16                # pysaliency's MIT_KLDiv regulariser


def _import_pysaliency():
    stand_in = None
    if importlib.util.find_spec("pkg_resources") is None:
        stand_in = types.ModuleType("pkg_resources")

        def unavailable(*args, **kwargs):
            raise RuntimeError("pkg_resources stand-in: pysaliency's external models are not used in this test")

        stand_in.resource_string = stand_in.resource_listdir = unavailable
        sys.modules["pkg_resources"] = stand_in
    try:
        return pytest.importorskip("pysaliency", reason="pysaliency is not installed (dev extra)")
    finally:
        if stand_in is not None and sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]


def _osie(shared_data):
    """Fixations of every image: a list of per-subject (n, 2) arrays, x, y in 0-based continuous pixels."""
    scipy_io = pytest.importorskip("scipy.io")
    path = shared_data / "osie" / "data" / "eye" / "fixations.mat"
    if not path.exists():
        pytest.skip(f"OSIE fixations not found at {path}")
    images = scipy_io.loadmat(path, squeeze_me=True, struct_as_record=False)["fixations"]
    # MATLAB 1-based pixel centres -> pixel i spans [i, i + 1) (as the OSIE loader shifts them)
    return [[np.column_stack([np.atleast_1d(s.fix_x), np.atleast_1d(s.fix_y)]).astype(float) - 0.5
             for s in image.subjects] for image in images]


def _density(xy):
    return saliency.fixation_density(xy, SIZE, sigma_deg=1.0, px_per_deg=PX_PER_DEG)


@pytest.fixture(scope="module")
def case():
    """Our inputs and pysaliency's numbers for N_IMAGES images (one held-out subject each)."""
    from cogmodels.datasets import shared_data_root

    if not shared_data_root().is_dir():
        pytest.skip(f"shared real data not found at {shared_data_root()} (set COGMODELS_SHARED_DATA)")
    pysaliency = _import_pysaliency()
    every = _osie(shared_data_root())
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(every), N_IMAGES + 20, replace=False)
    images, others = chosen[:N_IMAGES], chosen[N_IMAGES:]
    sal, fix, target, negatives = [], [], [], []
    for k in images:
        subjects = every[k]
        held_out = max(range(len(subjects)), key=lambda s: len(subjects[s]))      # the longest scanpath
        sal.append(_density(np.concatenate([xy for s, xy in enumerate(subjects) if s != held_out])))
        fix.append(subjects[held_out])
        target.append(_density(subjects[held_out]))
        negatives.append(np.concatenate([xy for j in others for xy in every[j]]))  # other images' fixations
    # Baseline for information gain: a centre bias, the density of the fixations on the other images.
    baseline = _density(negatives[0])
    sal, target = np.stack(sal), np.stack(target)

    with pytest.MonkeyPatch.context() as patch:
        if not hasattr(np, "trapz"):
            patch.setattr(np, "trapz", np.trapezoid, raising=False)
        peer = _peer(pysaliency, sal, fix, target, negatives, baseline)
    return dict(sal=sal, fix=fix, target=target, negatives=negatives, baseline=baseline, peer=peer)


def _peer(pysaliency, sal, fix, target, negatives, baseline):
    """pysaliency's numbers, one per image, through its model API (its pixel indexing and ROC code)."""
    # Stimuli that differ (pysaliency keys its caches by content), of the images' size.
    stimuli = pysaliency.Stimuli([np.full((SIZE[1], SIZE[0]), k, dtype=np.uint8) for k in range(len(sal))])

    def fixations(per_image):
        xy = np.concatenate(per_image)
        n = np.repeat(np.arange(len(per_image)), [len(f) for f in per_image])
        return pysaliency.Fixations.create_without_history(xy[:, 0], xy[:, 1], n)

    class Maps(pysaliency.SaliencyMapModel):
        def __init__(self, maps):
            super().__init__(caching=False)
            self.maps = maps

        def _saliency_map(self, stimulus):
            return self.maps[int(stimulus[0, 0])]

    class Densities(pysaliency.Model):
        def __init__(self, maps):
            super().__init__(caching=False)
            self.maps = [m / m.sum() for m in maps]

        def _log_density(self, stimulus):
            return np.log(self.maps[int(stimulus[0, 0])])

    fix, model = fixations([f for f in fix]), Maps(sal)
    per_image = fix.n

    def image_means(values):
        return np.array([values[per_image == k].mean() for k in range(len(sal))])

    metrics = pysaliency.metrics
    return {
        "nss": image_means(model.NSSs(stimuli, fix)),
        "auc_judd": np.array(model.AUC_per_image(stimuli, fix, nonfixations="unfixated", thresholds="fixations")),
        "auc_shuffled": np.array(model.AUC_per_image(stimuli, fix, nonfixations=fixations(negatives),
                                                     thresholds="all")),
        "cc": np.array([metrics.CC(s, t) for s, t in zip(sal, target)]),
        "sim": np.array([metrics.SIM(s, t) for s, t in zip(sal, target)]),
        "kld_mit": np.array([metrics.MIT_KLDiv(s, t) for s, t in zip(sal, target)]),
        "kld_eps": np.array([metrics.image_based_kl_divergence(s, t, minimum_value=0, log_regularization=saliency.EPS,
                                                               quotient_regularization=saliency.EPS)
                             for s, t in zip(sal, target)]),
        "information_gain": image_means(Densities(sal).information_gains(
            stimuli, fix, baseline_model=Densities([baseline] * len(sal)))),
    }


def _agree(ours, peer, rtol=1e-12):
    """Equal to rounding: the same definition, summed in another order."""
    np.testing.assert_allclose(ours, peer, rtol=rtol, atol=1e-14)


def test_nss_cc_sim_agree(case):
    _agree(saliency.nss(case["sal"], case["fix"]), case["peer"]["nss"])
    _agree(saliency.cc(case["sal"], case["target"]), case["peer"]["cc"])
    _agree(saliency.sim(case["sal"], case["target"]), case["peer"]["sim"])


def test_auc_judd_agrees(case):
    """Neither implementation jitters the map; thresholds at the fixated values, negatives the unfixated pixels."""
    ours = saliency.auc_judd(case["sal"], case["fix"])
    _agree(ours, case["peer"]["auc_judd"])
    assert np.all((ours > 0.5) & (ours < 1))          # the other subjects predict the held-out one


def test_shuffled_auc_agrees_on_the_same_negatives(case):
    """pysaliency scores every negative once: ``all_negatives=True``. Our default averages random subsets."""
    ours = saliency.auc_shuffled(case["sal"], case["fix"], case["negatives"], all_negatives=True)
    _agree(ours, case["peer"]["auc_shuffled"])
    # Stated relation of the default: the mean of the exact AUCs on random subsets of the same negatives. Each
    # subset's AUC is an unbiased draw of the all-negatives AUC, so the mean of 400 lies within a few standard
    # errors of it (the spread of one draw is measured on 20 seeds).
    single = np.array([saliency.auc_shuffled(case["sal"], case["fix"], case["negatives"], n_splits=1, seed=seed)
                       for seed in range(20)])
    spread = single.std(0, ddof=1)
    assert np.all(spread > 0)                         # the subsets do differ: the two definitions are not the same
    default = saliency.auc_shuffled(case["sal"], case["fix"], case["negatives"], n_splits=400)
    assert np.all(np.abs(default - ours) < 6 * spread / np.sqrt(400))


def test_kld_agrees_given_the_same_eps(case):
    _agree(saliency.kld(case["sal"], case["target"], eps=MIT_EPS), case["peer"]["kld_mit"], rtol=1e-10)
    _agree(saliency.kld(case["sal"], case["target"]), case["peer"]["kld_eps"], rtol=1e-10)
    # The two regularisers give different numbers: the eps is a real part of the definition.
    assert not np.array_equal(case["peer"]["kld_mit"], case["peer"]["kld_eps"])


def test_information_gain_agrees_without_eps(case):
    ours = saliency.information_gain(case["sal"], case["baseline"], case["fix"], eps=0.0)
    _agree(ours, case["peer"]["information_gain"], rtol=1e-10)
    # Stated relation of the default eps: each fixation's gain moves by less than eps / (p ln 2) per map.
    default = saliency.information_gain(case["sal"], case["baseline"], case["fix"])
    bound = []
    for model, fix in zip(case["sal"], case["fix"]):
        row, col = np.floor(fix[:, 1]).astype(int), np.floor(fix[:, 0]).astype(int)
        p_model, p_base = model[row, col] / model.sum(), case["baseline"][row, col] / case["baseline"].sum()
        bound.append(np.mean(saliency.EPS / (p_model * np.log(2)) + saliency.EPS / (p_base * np.log(2))))
    assert np.all(np.abs(default - ours) <= np.array(bound))
