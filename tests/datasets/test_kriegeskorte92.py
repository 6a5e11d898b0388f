"""kriegeskorte92: a tiny copy in the rsatoolbox layout, the RDM table, bad RDMs, and the real copy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import loadmat, savemat

import cogmodels
from cogmodels.datasets import kriegeskorte92
from cogmodels.errors import DataFormatError
from cogmodels.metrics import rsa


def test_example_loads_rdms_images_and_labels(tmp_path):
    options = kriegeskorte92.write_example(tmp_path, n_images=8, n_subjects=2)
    ds = cogmodels.load_dataset("kriegeskorte92", **options)
    rdms = ds.meta["rdms"]
    assert ds.meta["rdm_groups"]["hIT"] == ["hIT_S1X_s1", "hIT_S1X_s2", "hIT_S2X_s1", "hIT_S2X_s2"]
    raw = loadmat(tmp_path / kriegeskorte92.BRAIN_FILE, squeeze_me=True, struct_as_record=False)["RDMs"]
    assert np.allclose(rdms["hIT_S2X_s1"], raw[1, 0].RDM)
    fig1 = loadmat(tmp_path / kriegeskorte92.SUPPLEMENT_FILE, squeeze_me=True,
                   struct_as_record=False)["RDMs_mIT_hIT_fig1"]
    assert np.allclose(rsa.upper(rdms["mIT_fig1"]), fig1[0].RDM)  # vector -> square, squareform order
    assert rdms["hIT_fig1"].shape == (8, 8) and len(ds.stimuli) == 8
    assert len(ds.meta["category_labels"]) == 12 and ds.meta["category_vectors"].shape == (8, 12)
    table = ds.meta["rdm_table"]
    assert set(table["roi"]) == {"hIT", "mIT"} and "behaviour" not in ds.meta["rdm_groups"]
    assert ds.card.licence.startswith("MIT")


def test_asymmetric_brain_rdm_is_rejected(tmp_path):
    options = kriegeskorte92.write_example(tmp_path)
    path = tmp_path / kriegeskorte92.BRAIN_FILE
    raw = loadmat(path, squeeze_me=True, struct_as_record=False)["RDMs"]
    rebuilt = np.zeros(raw.shape, dtype=[("RDM", "O"), ("name", "O")])
    for index, entry in np.ndenumerate(raw):
        rebuilt[index] = (entry.RDM.copy(), entry.name)
    rebuilt[0, 1]["RDM"][2, 5] += 1.0
    savemat(path, {"RDMs": rebuilt})
    with pytest.raises(DataFormatError, match=r"92_brainRDMs\.mat: RDMs\[0, 1\].*symmetric"):
        kriegeskorte92.load(**options)


def test_missing_file_names_it(tmp_path):
    options = kriegeskorte92.write_example(tmp_path)
    (tmp_path / kriegeskorte92.BRAIN_FILE).unlink()
    with pytest.raises(DataFormatError, match=r"92_brainRDMs\.mat.*no such file.*Fix: pass root="):
        kriegeskorte92.load(**options)


@pytest.mark.shared_data
def test_real_92_images(shared_data):
    root = shared_data / "rsa92"
    if not root.is_dir():
        pytest.skip(f"rsa92 not found under {shared_data}")
    ds = kriegeskorte92.load(root=root)
    rdms = ds.meta["rdms"]
    assert len(ds.stimuli) == 92 and ds.stimuli.image(0).shape == (175, 175, 3)
    assert ds.meta["rdm_groups"]["hIT"] == [f"hIT_{s}_s{k}" for s in ("BE", "KO", "SN", "TI") for k in (1, 2)]
    assert len(ds.meta["rdm_groups"]["behaviour"]) == 16
    assert all(r.shape == (92, 92) for r in rdms.values())
    assert ds.meta["category_labels"][:2] == ["animate", "inanim"]
    assert ds.meta["category_vectors"][:, 0].sum() == 48  # 48 animate images
    # the figure-1 hIT RDM resembles the mean of the subject RDMs, and mIT resembles hIT (the paper's result)
    mean_hit = np.mean([rdms[n] for n in ds.meta["rdm_groups"]["hIT"]], axis=0)
    assert rsa.compare(rdms["hIT_fig1"], mean_hit) > 0.5
    assert rsa.compare(rdms["mIT_fig1"], rdms["hIT_fig1"]) > 0.2
