"""The fit_subject task and `cogmodels fit-subject`, on a tiny NSD-like study (seconds)."""

from __future__ import annotations

import importlib
import json
import logging
import sys

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

import cogmodels
from cogmodels.errors import ConfigError, DataFormatError
from cogmodels.runner import cli
from cogmodels.runner.app import config_dir, execute
from cogmodels.runner.tasks.fit_subject import (
    fit_new_subject, layer_inputs, load_model, resolve_model_file, training_subset)
from cogmodels.runner.store import load_items, load_results, load_runs

# A study small enough for a unit test: 80 scenes, ~30 channels per subject, 3 epochs.
TINY = ["dataset.n_train=60", "dataset.n_test=20", "dataset.channels_per_roi=2", "dataset.progress=false",
        "encoder.max_epochs=3", "encoder.d_model=16", "encoder.progress=false", "threads=1",
        "transfer.ridge=false"]  # the ridge head (on by default) is checked on the Algonauts layout below


def _config(root, *overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=["experiment=fmri_new_subject", f"output_root={root}", *TINY,
                                            *overrides])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One completed fit_subject run (source trained here) and its output root."""
    root = tmp_path_factory.mktemp("fit_subject")
    run_id = execute(_config(root, "transfer.n_train=30"))
    return root, run_id


def _shared_state(encoder) -> list[dict]:
    """Input projection, decoder layers and queries of every ensemble member (the subject-independent part)."""
    return [{k: v.detach().clone() for k, v in m.network.state_dict().items() if not k.startswith("readouts")}
            for m in encoder.members_]


def test_a_run_stores_transfer_and_scratch_rows_and_names_its_models(trained):
    root, run_id = trained
    table = load_results(root, run_id=run_id)
    scores = table[table["metric"] == "pearson_r"]
    assert set(scores["head"]) == {"transfer", "scratch"} and set(table["subject"]) == {"subj04"}
    assert {"noise_ceiling", "noise_ceiling_r", "normalized_accuracy", "true_noise_ceiling"} <= set(table["metric"])
    items = load_items(root, run_id)
    assert items["train_ids"].shape == (30,) and len(set(items["train_ids"])) == 30
    for head in ("transfer", "scratch"):
        r = items[f"pearson_r@{head}"]
        assert r.shape == items["channel_id"].shape and np.all(np.abs(r) <= 1)
        stored = scores.query("head == @head and roi_or_condition == 'all'")["value"].item()
        np.testing.assert_allclose(stored, np.nanmean(r))  # the row is the mean of the stored items
        boot = items[f"boot_pearson_r@{head}"]
        ci = table[table["head"] == head].set_index("metric")["value"]
        low, high = ci["pearson_r_ci_low"], ci["pearson_r_ci_high"]
        assert boot.shape == (1000,) and low < stored < high and low == pytest.approx(np.nanpercentile(boot, 2.5))
    assert items["test_ids"].shape == (20,)
    meta = json.loads((root / "runs" / "fmri_new_subject" / run_id / "meta.json").read_text())
    source = meta["source_model"]
    assert source["subjects"] == ["subj01", "subj02", "subj03"] and (root / source["file"]).is_file()
    assert (root / meta["transferred_model"]["file"]).is_file()
    assert set(source["test_r"]) == {"subj01", "subj02", "subj03"}


def test_the_source_model_is_reused_from_the_model_store(trained, monkeypatch, caplog):
    root, _ = trained
    from cogmodels.encoders.routing import RoutingTransformerEncoder

    def no_training(*args, **kwargs):
        raise AssertionError("the source model was trained again")

    monkeypatch.setattr(RoutingTransformerEncoder, "fit_multi", no_training)
    with caplog.at_level(logging.INFO):
        run_id = execute(_config(root, "transfer.n_train=20", "transfer.scratch=false"))
    assert "model store hit" in caplog.text
    table = load_results(root, run_id=run_id)
    assert set(table["head"]) - {""} == {"transfer"}
    assert len(load_runs(root)) == 2


def test_transfer_freezes_the_shared_weights_and_leaves_the_source_unchanged(trained):
    root, run_id = trained
    source, spec = load_model(resolve_model_file(root / "runs" / "fmri_new_subject" / run_id))
    assert spec["role"] == "source" and spec["sha256"]
    before = _shared_state(source)
    data = cogmodels.load_dataset("nsd_sim", subject="subj04", n_train=60, n_test=20, channels_per_roi=2,
                                  image_size=128, progress=False)
    features = cogmodels.create_backbone("gabor").extract(data.stimuli, ["complex"], progress=False)
    rows = np.arange(40)
    X, Y = layer_inputs(features, rows), data.responses.responses[rows]
    for train_queries in (False, True):
        new = fit_new_subject(source, X, Y, data.responses.channels, "subj04", train_queries)
        after = _shared_state(new)
        for old, fresh in zip(before, after):
            for name, value in old.items():
                if name == "queries" and train_queries:
                    assert not torch.equal(value, fresh[name]), "train_queries=True must re-fit the queries"
                else:
                    assert torch.equal(value, fresh[name]), f"shared weight {name} changed in transfer"
        assert new.subjects_ == ["subj04"] and new.predict(X).shape == Y.shape
    for old, now in zip(before, _shared_state(source)):  # the source itself is untouched
        assert all(torch.equal(v, now[k]) for k, v in old.items())
    assert source.subjects_ == ["subj01", "subj02", "subj03"]


def test_fit_subject_command_runs_the_same_task_from_a_run_folder(trained, monkeypatch):
    root, run_id = trained
    monkeypatch.chdir(root)
    run_folder = root / "runs" / "fmri_new_subject" / run_id
    code = cli.main(["fit-subject", "--model", str(run_folder), "--subject", "subj04", "--n-train", "25",
                     "--output-root", str(root), *TINY])
    assert code == 0
    runs = load_runs(root)
    mine = runs[[c["transfer"]["n_train"] == 25 for c in runs["config"]]]
    assert len(mine) == 1 and mine["config"].iloc[0]["transfer"]["source"] == str(run_folder)
    table = load_results(root, run_id=mine["run_id"].iloc[0])
    assert {"transfer", "scratch"} <= set(table["head"])


def _write_brain_folder(folder, data) -> None:
    """One subject of the simulator in the generic brain_folder layout (PNG images are lossless)."""
    from PIL import Image

    (folder / "images").mkdir(parents=True)
    for i, sid in enumerate(data.stimuli.ids):
        Image.fromarray(data.stimuli.image(i)).save(folder / "images" / f"{sid}.png")
    np.save(folder / "responses.npy", data.responses.responses)
    np.save(folder / "repeats.npy", data.responses.repeats)
    table = data.responses.channels.assign(rois=[";".join(r) for r in data.responses.channels["rois"]])
    table[["id", "hemisphere", "rois", "vertex"]].to_csv(folder / "channels.tsv", sep="\t", index=False)
    (folder / "splits.json").write_text(json.dumps({k: list(v) for k, v in data.splits.items()}))


def test_fit_subject_reads_a_new_subject_in_the_brain_folder_layout(trained, tmp_path):
    root, run_id = trained
    data = cogmodels.load_dataset("nsd_sim", subject="subj04", n_train=60, n_test=20, channels_per_roi=2,
                                  image_size=128, progress=False)
    _write_brain_folder(tmp_path / "new", data)
    code = cli.main(["fit-subject", "--model", str(root / "runs" / "fmri_new_subject" / run_id), "--dataset",
                     "brain_folder", "--root", str(tmp_path / "new"), "--subject", "sub-new", "--n-train", "30",
                     "--output-root", str(root), "encoder.max_epochs=3", "encoder.d_model=16",
                     "encoder.progress=false", "threads=1", "transfer.ridge=false"])
    assert code == 0
    table = load_results(root, subject="sub-new", metric="pearson_r", roi_or_condition="all")
    assert set(table["head"]) == {"transfer", "scratch"} and set(table["dataset"]) == {"brain_folder"}
    assert set(load_results(root, subject="sub-new")["metric"]) >= {"noise_ceiling", "normalized_accuracy"}


def test_fit_subject_command_line_maps_to_overrides(tmp_path):
    args = cli._parser().parse_args(["fit-subject", "--model", str(tmp_path), "--dataset", "algonauts2023",
                                     "--root", str(tmp_path), "--subject", "subj08", "--n-train", "50,100",
                                     "--train-queries", "encoder.max_epochs=5"])
    overrides = cli.fit_subject_overrides(args)
    assert overrides[:2] == ["-m", "experiment=fmri_new_subject"]  # several n_train values: a sweep
    assert "dataset=algonauts2023" in overrides and "dataset.subject=subj08" in overrides
    assert f"transfer.source='{tmp_path.resolve()}'" in overrides and "transfer.train_queries=true" in overrides
    assert overrides[-1] == "encoder.max_epochs=5"
    with pytest.raises(ConfigError, match="--model"):
        cli.fit_subject_overrides(cli._parser().parse_args(["fit-subject", "--model", str(tmp_path / "none")]))


def test_bad_inputs_name_the_field_and_the_fix(trained, tmp_path):
    root, run_id = trained
    with pytest.raises(ConfigError, match="transfer.n_train"):
        training_subset(np.arange(10), 11, seed=0)
    with pytest.raises(ConfigError, match="transfer.source_subjects"):
        execute(_config(root, "dataset.subject=subj01"))  # the new subject is one of the source subjects
    with pytest.raises(DataFormatError, match="no such file or folder"):
        resolve_model_file(tmp_path / "missing")
    bad = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, bad)
    with pytest.raises(DataFormatError, match="state_dict"):
        load_model(bad)
    module = tmp_path / "gone_encoder.py"  # a model pickled from code that later disappears
    module.write_text("class Encoder:\n    subjects_ = ['a']\n\n    def fit_new_subject(self):\n        pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        torch.save(importlib.import_module("gone_encoder").Encoder(), tmp_path / "old.pt")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("gone_encoder")
    with pytest.raises(DataFormatError, match="code that is gone"):
        load_model(tmp_path / "old.pt")
    run_folder = root / "runs" / "fmri_new_subject" / run_id
    with pytest.raises(ConfigError, match="backbone"):  # features of another backbone setting than the source's
        execute(_config(root, f"transfer.source={run_folder}", "backbone.n_orientations=4"))


def test_nested_training_subsets():
    rows = np.arange(100, 200)
    small, large = training_subset(rows, 10, seed=3), training_subset(rows, 40, seed=3)
    assert set(small) <= set(large) and len(set(large)) == 40 and set(large) <= set(rows)
    assert not np.array_equal(small, training_subset(rows, 10, seed=4))


def test_a_changed_model_file_fails_the_sha256_its_run_recorded(trained, tmp_path):
    import shutil

    from cogmodels.runner.tasks.fit_subject import resolve_model

    root, run_id = trained
    path, recorded = resolve_model(root / "runs" / "fmri_new_subject" / run_id)
    assert path.suffix == ".safetensors" and recorded
    copy = tmp_path / "model.safetensors"  # the fixture's file stays intact
    shutil.copy(path, copy)
    data = bytearray(copy.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(DataFormatError) as caught:
        load_model(copy, recorded)
    message = str(caught.value)
    assert str(copy) in message and recorded in message and "expected" in message and "Fix:" in message
    encoder, spec = load_model(path, recorded)  # the recorded file itself loads
    assert spec["sha256"] == recorded


# -- issue 8: the Algonauts layout with unlabelled vertices, images shared across subjects, the ridge head --------
ALGONAUTS_IMAGES = {"subj01": range(0, 40), "subj02": range(20, 60), "subj03": range(30, 70)}  # NSD ids


def _write_algonauts_subjects(root):
    """Three subjects in the challenge layout: the example's ROI masks (some vertices in no ROI), 40 images
    each (32 x 32; the same NSD id is the same picture in every subject), responses that follow the images."""
    import shutil

    from PIL import Image

    from cogmodels.datasets import algonauts2023

    algonauts2023.write_example(root / "example")
    masks = root / "example" / "subj01" / "roi_masks"
    for subject, nsd_ids in ALGONAUTS_IMAGES.items():
        folder = root / subject / "training_split"
        (folder / "training_images").mkdir(parents=True)
        (folder / "training_fmri").mkdir()
        shutil.copytree(masks, root / subject / "roi_masks")
        means = []
        for k, nsd in enumerate(nsd_ids):
            image = np.random.default_rng(nsd).integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(image).save(folder / "training_images" / f"train-{k + 1:04d}_nsd-{nsd:05d}.png")
            means.append(image.reshape(-1, 3).mean(0))
        rng = np.random.default_rng(int(subject[-1]))
        for hemi, n_vertices in (("lh", 5), ("rh", 4)):
            signal = np.asarray(means) @ rng.standard_normal((3, n_vertices))
            np.save(folder / "training_fmri" / f"{hemi}_training_fmri.npy",
                    (signal / signal.std(0) + 0.5 * rng.standard_normal(signal.shape)).astype(np.float32))
    return root


def test_fit_subject_on_the_algonauts_layout_with_unlabelled_vertices_and_shared_images(tmp_path):
    from cogmodels.runner.tasks.fit_subject import test_hashes

    data_root = _write_algonauts_subjects(tmp_path / "algonauts")
    options = dict(root=data_root, val_fraction=0.25)
    new = cogmodels.load_dataset("algonauts2023", subject="subj03", **options)
    assert ("other",) in set(new.responses.channels["rois"])  # unlabelled vertices are in the data
    unseen = test_hashes(new)
    expected = {}
    for source in ("subj01", "subj02"):
        ds = cogmodels.load_dataset("algonauts2023", subject=source, **options)
        hashes = ds.stimuli.content_hashes()
        expected[source] = sum(hashes[ds.stimuli.position(sid)] in unseen for sid in ds.splits["train"])
    assert expected["subj01"] > 0 and expected["subj02"] > 0  # the fixture shares test images with both

    root = tmp_path / "out"
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[
            "experiment=fmri_new_subject", f"output_root={root}", "dataset=algonauts2023",
            f"dataset.root={data_root}", "dataset.subject=subj03", "dataset.val_fraction=0.25",
            "transfer.source_subjects=[subj01,subj02]", "transfer.n_train=20", "backbone.image_size=32",
            "encoder.max_epochs=2", "encoder.d_model=16", "encoder.progress=false", "threads=1"])
    run_id = execute(cfg)
    table = load_results(root, run_id=run_id, metric="pearson_r", roi_or_condition="all")
    assert set(table["head"]) == {"transfer", "scratch", "ridge"}  # ridge is on by default
    assert set(table["subject"]) == {"subj03"} and set(table["dataset"]) == {"algonauts2023"}
    items = load_items(root, run_id)
    assert items["train_ids"].shape == (20,)
    for head in ("transfer", "scratch", "ridge"):
        assert items[f"pearson_r@{head}"].shape == (9,)  # every vertex, the unlabelled ones included
    meta = json.loads((root / "runs" / "fmri_new_subject" / run_id / "meta.json").read_text())
    assert meta["source_excluded"] == expected  # the new subject's test images were kept out of the source's training
