"""Baseline scanpath models on synthetic fixations with known structure."""

import numpy as np
import pandas as pd
import pytest

import cogmodels
from cogmodels.data import Fixations, ScreenGeometry, Stimuli
from cogmodels.errors import ConfigError, DataFormatError, NotFittedError

W, H = 80, 60
GEOMETRY = ScreenGeometry(width_px=W, height_px=H, px_per_deg=24.0, source="tests: the image area")


def centred_fixations(n_images=6, n_subjects=4, seed=0):
    """Fixations clustered near the image centre, plus one bright blob per image that attracts them."""
    rng = np.random.default_rng(seed)
    rows, images = [], []
    for i in range(n_images):
        img = np.full((H, W, 3), 120, np.uint8)
        bx, by = rng.integers(15, W - 15), rng.integers(12, H - 12)
        yy, xx = np.mgrid[:H, :W]
        stripes = (np.sin(xx * 1.3) > 0) * 120
        img[(abs(xx - bx) < 6) & (abs(yy - by) < 6)] = np.stack([stripes] * 3, -1)[(abs(xx - bx) < 6) & (abs(yy - by) < 6)]
        images.append(img)
        for s in range(n_subjects):
            for k in range(6):
                cx, cy = (bx, by) if k % 2 else (W / 2, H / 2)
                rows.append((f"im{i}", f"s{s}", 0, k, np.clip(cx + rng.normal(0, 3), 0, W - 1),
                             np.clip(cy + rng.normal(0, 3), 0, H - 1), 250.0 * k, 250.0))
    table = pd.DataFrame(rows, columns=["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"])
    stimuli = Stimuli.from_arrays([f"im{i}" for i in range(n_images)], images)
    return Fixations(table, image_sizes={f"im{i}": (W, H) for i in range(n_images)}, geometry=GEOMETRY), stimuli


def nss_at(density, xs, ys):
    z = (density - density.mean()) / density.std()
    return z[np.asarray(ys, int), np.asarray(xs, int)].mean()


@pytest.mark.parametrize("name", ["uniform", "center_bias", "density_sampling", "another_human"])
def test_contract(name):
    fix, stim = centred_fixations()
    model = cogmodels.create_model("scanpath", name)
    with pytest.raises(NotFittedError):
        model.sample(stim[0])
    model.fit(fix, stim)
    paths = model.sample(stim[0], n=5, seed=3)
    assert len(paths) == 5
    for sp in paths:
        assert len(sp) >= 1
        assert ((sp.x >= 0) & (sp.x < W) & (sp.y >= 0) & (sp.y < H)).all()
        assert (sp.duration >= 0).all()
    again = model.sample(stim[0], n=5, seed=3)
    assert all(np.array_equal(a.x, b.x) for a, b in zip(paths, again))
    density = model.density(stim[0])
    assert density.shape == (H, W)
    assert np.isclose(density.sum(), 1.0) and (density > 0).all()


def test_center_bias_beats_uniform_and_peaks_centrally():
    fix, stim = centred_fixations()
    cb = cogmodels.create_model("scanpath", "center_bias").fit(fix)
    density = cb.density(stim[0])
    peak_y, peak_x = np.unravel_index(density.argmax(), density.shape)
    assert abs(peak_x - W / 2) < 8 and abs(peak_y - H / 2) < 8
    table = fix.table[fix.table.stimulus_id == "im0"]
    assert nss_at(density, table.x, table.y) > 0.5


def test_density_sampling_finds_the_salient_blob():
    fix, stim = centred_fixations()
    train = fix.subset(stimulus_ids=[f"im{i}" for i in range(4)])
    model = cogmodels.create_model("scanpath", "density_sampling").fit(train, stim)
    cb = cogmodels.create_model("scanpath", "center_bias").fit(train)
    assert model.weight_ > 0
    for sid in ("im4", "im5"):  # held-out images: the image-dependent part must help
        table = fix.table[fix.table.stimulus_id == sid]
        odd = table[table["index"] % 2 == 1]
        assert nss_at(model.density(stim[sid]), odd.x, odd.y) > nss_at(cb.density(stim[sid]), odd.x, odd.y)


def test_another_human_excludes_the_held_out_subject():
    fix, stim = centred_fixations()
    model = cogmodels.create_model("scanpath", "another_human").fit(fix)
    paths = model.sample(stim["im1"], n=20, exclude_subject="s2")
    assert {p.subject for p in paths} <= {"s0", "s1", "s3"}
    with pytest.raises(DataFormatError, match="an image seen by the fitted observers"):
        model.sample(np.zeros((H, W, 3), np.uint8))


def test_clicks_are_not_eye_fixations():
    fix, _ = centred_fixations()
    clicks = Fixations(fix.table, kind="click")
    with pytest.raises(DataFormatError, match="clicks"):
        cogmodels.create_model("scanpath", "uniform").fit(clicks)


def test_another_human_takes_px_per_deg_from_the_data_or_an_explicit_argument():
    fix, stim = centred_fixations()
    from_data = cogmodels.create_model("scanpath", "another_human").fit(fix)
    assert from_data.px_per_deg_ == 24.0 and from_data.geometry_ == GEOMETRY
    explicit = cogmodels.create_model("scanpath", "another_human", px_per_deg=12.0).fit(fix)
    assert explicit.px_per_deg_ == 12.0
    # A narrower Gaussian (fewer px per degree) makes a more peaked density.
    assert explicit.density(stim[0]).max() > from_data.density(stim[0]).max()
    bare = Fixations(fix.table, image_sizes=fix.image_sizes)  # no geometry, no px_per_deg: no silent default
    with pytest.raises(ConfigError, match=r"another_human px_per_deg.*expected.*found.*Fix:.*geometry"):
        cogmodels.create_model("scanpath", "another_human").fit(bare)


@pytest.mark.parametrize("params, field", [({"sigma_deg": 0.0}, "sigma_deg"), ({"px_per_deg": -1.0}, "px_per_deg"),
                                           ({"uniform_mix": 1.0}, "uniform_mix")])
def test_validate_params_rejects_bad_parameters_without_data(params, field):
    model = cogmodels.create_model("scanpath", "another_human", **params)
    with pytest.raises(ConfigError, match=rf"another_human {field}: expected .*found .*Fix: set scanpath.{field}"):
        model.validate_params()
    assert cogmodels.create_model("scanpath", "uniform").validate_params() is not None  # base: no-op
