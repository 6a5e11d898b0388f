"""The scanpath evaluation protocol on synthetic observers with a known answer, the runner task, and OSIE."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.io
from PIL import Image

import cogmodels
from cogmodels.data import Dataset, DatasetCard, Fixations, Scanpath, ScreenGeometry, Stimuli
from cogmodels.errors import ConfigError, DataFormatError
from cogmodels.scanpaths import _scoring as scoring
from cogmodels.scanpaths import evaluate as ev
from cogmodels.scanpaths.base import ScanpathModel

W, H = 80, 60
PX_PER_DEG = 4.0  # sigma 1 deg = 4 px on these small images
N_SUBJECTS = 5
VISITS = (0, 1, 2, 0, 1)  # every observer visits the image's objects in this order
NOISE_PX = 2.0
CARD = DatasetCard(name="synthetic_observers", source="tests", licence="-", citation="-", simulated=True)


def layout(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three object centres (3, 2) in pixels and one fixation duration (ms) per visit (5,)."""
    rng = np.random.default_rng(seed)
    objects = np.stack([rng.uniform(10, W - 10, 3), rng.uniform(8, H - 8, 3)], axis=1)
    return objects, rng.uniform(120, 500, len(VISITS))


def observe(objects, durations, rng) -> tuple[np.ndarray, np.ndarray]:
    """One observer's scanpath: the objects in VISITS order, a little positional and timing noise."""
    xy = objects[list(VISITS)] + rng.normal(0, NOISE_PX, (len(VISITS), 2))
    xy = np.clip(xy, 0, [W - 1e-3, H - 1e-3])
    return xy, np.clip(durations + rng.normal(0, 10, len(durations)), 20, None)


def synthetic_dataset(n_images=8, n_test=3, seed=0):
    """Observers that all look at the same objects in the same order; images with a bright disc per object."""
    rng = np.random.default_rng(seed)
    ids, images, rows, layouts = [f"im{i}" for i in range(n_images)], [], [], {}
    yy, xx = np.mgrid[:H, :W]
    for i, sid in enumerate(ids):
        objects, durations = layouts[sid] = layout(seed * 100 + i)
        image = np.full((H, W, 3), 90, np.uint8)
        for ox, oy in objects:
            image[(xx - ox) ** 2 + (yy - oy) ** 2 < 16] = 230
        images.append(image)
        for s in range(N_SUBJECTS):
            xy, dur = observe(objects, durations, rng)
            onsets = np.concatenate([[0.0], np.cumsum(dur)[:-1]])
            rows += [(sid, f"s{s}", 0, k, xy[k, 0], xy[k, 1], onsets[k], dur[k]) for k in range(len(xy))]
    table = pd.DataFrame(rows, columns=["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"])
    fixations = Fixations(table, image_sizes={sid: (W, H) for sid in ids},
                          geometry=ScreenGeometry(width_px=W, height_px=H, px_per_deg=PX_PER_DEG))
    splits = {"train": np.array(ids[:-n_test]), "test": np.array(ids[-n_test:])}
    return Dataset("synthetic_observers", Stimuli.from_arrays(ids, images), CARD, fixations=fixations,
                   splits=splits), layouts


class OracleModel(ScanpathModel):
    """Knows the generative process: samples observers as the simulator does.

    Its density is the one the protocol's human density maps estimate: the true fixation
    distribution blurred by the protocol's Gaussian (sigma 1 deg), as the ceiling's density is.
    """

    requires_fit = False

    def __init__(self, layouts):
        self.layouts = layouts

    def _sample(self, stimulus, n, task, rng):
        objects, durations = self.layouts[stimulus.id]
        paths = [observe(objects, durations, rng) for _ in range(n)]
        return [Scanpath.from_arrays(xy[:, 0], xy[:, 1], duration=dur, stimulus_id=stimulus.id) for xy, dur in paths]

    def _density(self, stimulus):
        objects, _ = self.layouts[stimulus.id]
        yy, xx = np.mgrid[:H, :W] + 0.5
        weights = np.bincount(VISITS, minlength=3) / len(VISITS)
        variance = NOISE_PX ** 2 + PX_PER_DEG ** 2
        return sum(w * np.exp(-((xx - ox) ** 2 + (yy - oy) ** 2) / (2 * variance))
                   for w, (ox, oy) in zip(weights, objects)) + 1e-12


def options(**changes):
    return ev.ProtocolOptions(**{"n_samples": 6, "px_per_deg": PX_PER_DEG, "n_examples": 2,
                                 "example_downsample": 2, **changes})


def better(metric, a, b):
    return a > b if ev.HIGHER_IS_BETTER[metric] else a < b


@pytest.fixture(scope="module")
def evaluations():
    dataset, layouts = synthetic_dataset()
    opts = options()
    return {"dataset": dataset,
            "humans": ev.evaluate_human_consistency(dataset, opts),
            "uniform": ev.evaluate_model(cogmodels.create_model("scanpath", "uniform"), dataset, opts, "uniform"),
            "center_bias": ev.evaluate_model(cogmodels.create_model("scanpath", "center_bias"), dataset, opts, "cb"),
            "oracle": ev.evaluate_model(OracleModel(layouts), dataset, opts, "oracle")}


def test_items_are_test_image_by_subject_and_rows_one_per_metric(evaluations):
    humans = evaluations["humans"]
    n_items = 3 * N_SUBJECTS
    assert humans.model == ev.HUMAN_CEILING
    assert sorted(zip(humans.stimulus_id, humans.subject)) == sorted(
        (f"im{i}", f"s{s}") for i in (5, 6, 7) for s in range(N_SUBJECTS))
    assert set(humans.values) == set(ev.SCANPATH_METRICS + ev.SALIENCY_METRICS)
    assert all(v.shape == (n_items,) for v in humans.values.values())
    rows = humans.rows({"dataset": "synthetic_observers", "head": ev.HUMAN_CEILING})
    assert [r["metric"] for r in rows] == list(humans.values)
    assert all(r["n_items"] == n_items and np.isfinite(r["value"]) for r in rows)
    items = humans.items()
    assert all(a.dtype != object for a in items.values())
    assert items["example_density"].shape == (2, H // 2, W // 2)
    np.testing.assert_allclose(items["example_density"].sum(axis=(1, 2)), 1.0, rtol=1e-5)
    assert (items["example_scanpath_length"] == len(VISITS)).all()


CONSTANT_MAP_UNDEFINED = ("nss", "cc")  # z-scores and correlations of a constant (uniform) map


def test_human_consistency_beats_the_baselines_on_every_metric(evaluations):
    humans = evaluations["humans"].summary()
    with pytest.warns(UserWarning, match="uniform nss: 15 of 15 items are undefined"):
        uniform = evaluations["uniform"].summary()
    for metric in ev.SCANPATH_METRICS + ev.SALIENCY_METRICS:
        if metric in CONSTANT_MAP_UNDEFINED:
            assert np.isnan(uniform[metric][0]) and uniform[metric][1] == 0
        else:
            assert better(metric, humans[metric][0], uniform[metric][0]), (metric, humans[metric], uniform[metric])
        assert better(metric, humans[metric][0], evaluations["center_bias"].summary()[metric][0]), metric


def test_a_perfect_model_scores_like_humans(evaluations):
    """The oracle samples the observers' own process: it closes (nearly) all the gap from uniform to humans."""
    humans, oracle = evaluations["humans"].summary(), evaluations["oracle"].summary()
    baseline = evaluations["center_bias"].summary()
    for metric in ev.SCANPATH_METRICS + ev.SALIENCY_METRICS:
        closed = (oracle[metric][0] - baseline[metric][0]) / (humans[metric][0] - baseline[metric][0])
        assert closed > 0.9, (metric, humans[metric][0], oracle[metric][0], baseline[metric][0])


def test_same_seed_same_numbers_and_items_do_not_depend_on_n_images(evaluations):
    dataset = evaluations["dataset"]
    centre_bias = cogmodels.create_model("scanpath", "center_bias")
    first_two = ev.evaluate_model(centre_bias, dataset, options(n_images=2), "cb")
    reference = evaluations["center_bias"]
    keep = np.isin(reference.stimulus_id, first_two.stimulus_id)
    for metric, values in first_two.values.items():
        np.testing.assert_array_equal(values, reference.values[metric][keep], err_msg=metric)


def test_each_batched_metric_is_called_once(monkeypatch):
    from cogmodels.metrics import gaze

    dataset, _ = synthetic_dataset(n_images=5, n_test=2)
    calls = {}
    for name in ("multimatch", "scanmatch", "sequence_score", "edit_distance", "dtw", "frechet"):
        original = getattr(gaze, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(gaze, name, counted)
    ev.evaluate_model(cogmodels.create_model("scanpath", "center_bias"), dataset, options(n_samples=3), "cb")
    assert calls == dict.fromkeys(calls, 1) and len(calls) == 6


def test_undefined_comparisons_are_left_out_with_a_warning():
    values = np.array([1.0, np.nan, 3.0, np.nan])
    with pytest.warns(UserWarning, match="2 of 4 scanpath comparisons are undefined"):
        means = scoring.mean_per_item(values, np.array([0, 0, 1, 2]), 3, "dtw")
    np.testing.assert_array_equal(means[:2], [1.0, 3.0])
    assert np.isnan(means[2])
    evaluation = ev.Evaluation("m", np.array(["a", "b", "c"]), np.array(["s"] * 3), {"dtw": means})
    with pytest.warns(UserWarning, match="1 of 3 items are undefined"):
        assert evaluation.summary()["dtw"] == (2.0, 2)


def test_bad_options_and_datasets_raise_typed_errors():
    with pytest.raises(ConfigError, match="unknown key"):
        ev.ProtocolOptions.from_config({"n_sample": 3})
    with pytest.raises(ConfigError, match="positive"):
        ev.ProtocolOptions.from_config({"n_samples": 0})
    dataset, _ = synthetic_dataset(n_images=4, n_test=1)
    dataset.splits.pop("train")
    with pytest.raises(ConfigError, match="'train' and 'test' splits"):
        ev.evaluate_model(cogmodels.create_model("scanpath", "uniform"), dataset, options())
    dataset, _ = synthetic_dataset(n_images=4, n_test=1)
    lonely = Fixations(dataset.fixations.table.query("subject == 's0' or stimulus_id != 'im3'"),
                       image_sizes=dataset.fixations.image_sizes, geometry=dataset.fixations.geometry)
    dataset.fixations = lonely
    with pytest.raises(DataFormatError, match="at least 2 subjects"):
        ev.evaluate_human_consistency(dataset, options())
    with pytest.raises(ConfigError, match="AnotherHumanModel"):
        ev.evaluate_human_consistency(dataset, options(), model=cogmodels.create_model("scanpath", "uniform"))


def test_the_screen_and_px_per_deg_come_from_the_data_geometry():
    dataset, _ = synthetic_dataset(n_images=4, n_test=1)
    geometry = ev.protocol_geometry(dataset, options(px_per_deg=None))
    assert geometry.size_px == (W, H) and geometry.px_per_deg == PX_PER_DEG
    override = ev.protocol_geometry(dataset, options(px_per_deg=8.0))
    assert override.size_px == (W, H) and override.px_per_deg == 8.0 and "evaluation.px_per_deg" in override.source
    # Without a geometry nothing falls back to a default screen or px/deg.
    dataset.fixations = Fixations(dataset.fixations.table, image_sizes=dataset.fixations.image_sizes)
    with pytest.raises(ConfigError, match=r"fixations.geometry: expected .*found None.*Fix: .*ScreenGeometry"):
        ev.evaluate_model(cogmodels.create_model("scanpath", "uniform"), dataset, options(px_per_deg=None))
    dataset.fixations.geometry = ScreenGeometry(width_px=W, height_px=H)  # screen size only: no degrees
    with pytest.raises(ConfigError, match=r"px_per_deg: expected .*found .*no angular resolution.*Fix: pass"):
        ev.evaluate_model(cogmodels.create_model("scanpath", "uniform"), dataset, options(px_per_deg=None))


def test_scanpath_metrics_use_the_screen_not_the_image_size():
    """A screen twice the image's size halves every position difference MultiMatch normalises."""
    dataset, _ = synthetic_dataset(n_images=5, n_test=2)
    opts = options(n_samples=2, n_examples=0)
    small = ev.evaluate_model(cogmodels.create_model("scanpath", "center_bias"), dataset, opts, "cb").summary()
    dataset.fixations.geometry = ScreenGeometry(width_px=2 * W, height_px=2 * H, px_per_deg=PX_PER_DEG)
    large = ev.evaluate_model(cogmodels.create_model("scanpath", "center_bias"), dataset, opts, "cb").summary()
    assert large["multimatch_position"][0] > small["multimatch_position"][0]
    for metric in ev.SALIENCY_METRICS:  # image maps and degrees: the screen size does not enter
        assert large[metric] == small[metric], metric


# -- the runner task, on a tiny copy of the OSIE release layout -------------------------------------
def write_osie_release(root, dataset):
    """fixations.mat (cell array of structs, MATLAB 1-based pixels) and the images, as in the OSIE release."""
    names = list(dataset.stimuli.ids)
    cells = np.empty((len(names), 1), dtype=object)
    for i, sid in enumerate(names):
        paths = [p for p in dataset.fixations.to_scanpaths() if p.stimulus_id == sid]
        subjects = np.empty((len(paths), 1), dtype=object)
        for j, p in enumerate(paths):
            subjects[j, 0] = {"fix_x": np.atleast_2d(p.x + 0.5), "fix_y": np.atleast_2d(p.y + 0.5),
                              "fix_duration": np.atleast_2d(p.duration)}
        cells[i, 0] = {"img": f"{1001 + i}.jpg", "subjects": subjects}
    (root / "data" / "eye").mkdir(parents=True)
    (root / "data" / "stimuli").mkdir(parents=True)
    scipy.io.savemat(root / "data" / "eye" / "fixations.mat", {"fixations": cells})
    for i, sid in enumerate(names):
        Image.fromarray(dataset.stimuli[sid].image).save(root / "data" / "stimuli" / f"{1001 + i}.jpg")


def test_runner_task_sweeps_the_models_and_the_figures_read_the_store(tmp_path):
    from hydra import compose, initialize_config_dir

    from cogmodels.runner.app import config_dir, execute
    from cogmodels.runner.figures import build_figures
    from cogmodels.runner.store import load_items, load_results
    from cogmodels.runner.tasks import TASKS

    if "scanpath" not in TASKS:  # the lead registers it in cogmodels/runner/tasks.py
        TASKS.register("scanpath", "cogmodels.scanpaths.evaluate:scanpath_task")
    release = tmp_path / "osie"
    write_osie_release(release, synthetic_dataset(n_images=6, n_test=2)[0])
    out = tmp_path / "out"
    models = ["uniform", "center_bias", "density_sampling", ev.HUMAN_CEILING]
    for name in models:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[
                "experiment=scanpath_baselines", f"scanpath={name}", f"output_root={out}", f"dataset.root={release}",
                "dataset.test_fraction=0.34", "evaluation.n_samples=3", f"evaluation.px_per_deg={PX_PER_DEG}",
                "evaluation.n_examples=2", "evaluation.example_downsample=2"])
        execute(cfg)
    results = load_results(out, experiment="scanpath_baselines")
    assert sorted(results["head"].unique()) == sorted(models)
    assert set(results["metric"]) == set(ev.SCANPATH_METRICS + ev.SALIENCY_METRICS)
    undefined = (results["head"] == "uniform") & results["metric"].isin(CONSTANT_MAP_UNDEFINED)
    assert results.loc[undefined, "value"].isna().all() and (results.loc[undefined, "n_items"] == 0).all()
    assert (results.loc[~undefined, "n_items"] == 2 * N_SUBJECTS).all()
    human_run = results.loc[results["head"] == ev.HUMAN_CEILING, "run_id"].iloc[0]
    assert load_items(out, human_run)["nss"].shape == (2 * N_SUBJECTS,)
    slugs = ["scanpath_examples", "scanpath_table", "scanpath_densities"]
    for slug in slugs:
        written, failed = build_figures(out, only=slug, out_dir=tmp_path / "figures", formats=("png",))
        assert not failed and written == [tmp_path / "figures" / f"{slug}.png"]
    table = pd.read_csv(out / "tables" / "scanpath_table.csv", index_col=0)
    assert list(table.columns) == models and list(table.index) == list(ev.SCANPATH_METRICS + ev.SALIENCY_METRICS)


# -- real data ----------------------------------------------------------------------------------------
def test_osie_humans_beat_every_baseline_on_sequence_score_and_nss(shared_data):
    dataset = cogmodels.load_dataset("osie", root=shared_data / "osie")
    opts = ev.ProtocolOptions(n_images=5, n_samples=5, n_examples=0)
    humans = ev.evaluate_human_consistency(dataset, opts).summary()
    for name in ("uniform", "center_bias", "density_sampling"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # uniform: NSS undefined for its constant map
            model = ev.evaluate_model(cogmodels.create_model("scanpath", name), dataset, opts, name).summary()
        assert humans["sequence_score"][0] > model["sequence_score"][0], (name, humans, model)
        if name == "uniform":  # a constant map has no NSS (0 / 0); chance level is 0 by convention
            assert np.isnan(model["nss"][0]) and humans["nss"][0] > 0
        else:
            assert humans["nss"][0] > model["nss"][0], (name, humans["nss"], model["nss"])
