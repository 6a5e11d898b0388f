"""The Algonauts Project 2023 challenge data (NSD responses on the cortical surface).

Gifford et al. (2023), "The Algonauts Project 2023 Challenge: How the Human
Brain Makes Sense of Natural Scenes", arXiv:2301.03198; the data are from the
Natural Scenes Dataset (Allen et al. 2022, Nature Neuroscience 25, 116-126).

Release layout, per subject (``subj01`` .. ``subj08``)::

    root/subjXX/training_split/training_fmri/lh_training_fmri.npy   (n_train_images, n_lh_vertices) float32
    root/subjXX/training_split/training_fmri/rh_training_fmri.npy   (n_train_images, n_rh_vertices) float32
    root/subjXX/training_split/training_images/train-0001_nsd-00013.png ...
    root/subjXX/test_split/test_images/test-0001_nsd-00845.png ...
    root/subjXX/roi_masks/{lh,rh}.<roi file>_challenge_space.npy     (n_vertices,) int labels, 0 = none
    root/subjXX/roi_masks/mapping_<roi file>.npy                     dict label -> name (np.save of a dict)
    root/subjXX/roi_masks/{lh,rh}.all-vertices_fsaverage_space.npy   (163842,) 0/1: challenge vertices in fsaverage

with ``<roi file>`` in prf-visualrois, floc-bodies, floc-faces, floc-places,
floc-words, streams.  These facts were checked against the organisers' data
preparation script (github.com/gifale95/algonauts_2023,
code/01_challenge_data_preparation/challenge_data_preparation.py): the betas
are z-scored per vertex within each session and averaged over repeats, image
files are named ``train-{i+1:04d}_nsd-{nsd index:05d}.png``, the mapping files
are dicts ``{int label: name}`` saved with ``np.save`` (a pickle inside the .npy),
the challenge vertices are the fsaverage vertices of the "nsdgeneral" + RSC mask,
and the noise ceilings ``test_split/noise_ceiling/{lh,rh}_noise_ceiling.npy`` are
``ncsnr**2 / (ncsnr**2 + norm)``: fractions of variance in [0, 1], not percent (the
organisers' ``03_test_encoding.py`` divides r**2 by them and multiplies by 100).

Reading without pickle: the mapping dicts are read by a small parser of the pickle
stream (:func:`cogmodels.datasets._safe_npy.read_npy_dict`) that interprets only the opcodes of a numpy object
array holding a dict of ints and strings and never imports or calls anything; a
``mapping_<roi file>.json`` (``{"1": "V1v", ...}``) next to it is read first when present.
The challenge withheld the test fMRI; if ``test_split/test_fmri/{lh,rh}_test_fmri.npy``
(released after the challenge) are present they are loaded too.

Loading
-------
``stimuli`` holds the images that have responses.  Splits: ``train`` and
``val`` (a seeded holdout of the training images); ``test`` is the challenge
test set when its fMRI is present, otherwise the same ids as ``val`` (stated in
``responses.meta["test_split"]``).  Test images without fMRI are listed in
``responses.meta["challenge_test_stimuli"]`` (a Stimuli).  The channel table
has one row per challenge vertex: id, hemisphere, rois (multi-label across the
ROI files, e.g. ``("V1v", "early")``; a vertex in no ROI of any file gets
``("other",)``, the label of the "other" query in the routing encoder's reference design),
vertex (fsaverage index) and challenge_index (column in the hemisphere's fMRI file).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import BrainResponses, Dataset, DatasetCard, Stimuli
from cogmodels.data.brain import drop_nan_channels as _drop_nan_channels
from cogmodels.datasets._safe_npy import load_npy as _load_npy
from cogmodels.datasets._safe_npy import read_npy_dict as _read_npy_dict
from cogmodels.datasets import DATASETS
from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

logger = logging.getLogger(__name__)

HEMISPHERES = ("lh", "rh")
ROI_FILES = ("prf-visualrois", "floc-bodies", "floc-faces", "floc-places", "floc-words", "streams")
SUBJECTS = tuple(f"subj{i:02d}" for i in range(1, 9))
IMAGE_NAME = re.compile(r"^(train|test)-(\d+)_nsd-(\d+)$")
UNLABELLED = "other"  # the ROI label of vertices in no ROI of any file
NOISE_CEILING_UNITS = ("fraction", "percent")

LAYOUT = ("subjXX/training_split/training_fmri/{lh,rh}_training_fmri.npy, "
          "subjXX/training_split/training_images/*.png, subjXX/test_split/test_images/*.png, "
          "subjXX/roi_masks/{lh,rh}.<roi>_challenge_space.npy, subjXX/roi_masks/mapping_<roi>.npy, "
          "subjXX/roi_masks/{lh,rh}.all-vertices_fsaverage_space.npy")

CARD = DatasetCard(
    name="algonauts2023",
    source="The Algonauts Project 2023 Challenge (http://algonauts.csail.mit.edu), built from the Natural Scenes "
           "Dataset (https://naturalscenesdataset.org)",
    licence="NSD Terms and Conditions (data-use agreement); images from COCO (their own terms)",
    citation=("Gifford, A. T. et al. (2023). The Algonauts Project 2023 Challenge: How the Human Brain Makes Sense "
              "of Natural Scenes. arXiv:2301.03198. Allen, E. J. et al. (2022). A massive 7T fMRI dataset to bridge "
              "cognitive neuroscience and artificial intelligence. Nature Neuroscience 25, 116-126."),
    expected_files=(
        "subjXX/training_split/training_fmri/lh_training_fmri.npy",
        "subjXX/training_split/training_fmri/rh_training_fmri.npy",
        "subjXX/training_split/training_images/train-NNNN_nsd-NNNNN.png",
        "subjXX/test_split/test_images/test-NNNN_nsd-NNNNN.png",
        *(f"subjXX/roi_masks/{{lh,rh}}.{r}_challenge_space.npy" for r in ROI_FILES),
        *(f"subjXX/roi_masks/mapping_{r}.npy" for r in ROI_FILES),
        "subjXX/roi_masks/{lh,rh}.all-vertices_fsaverage_space.npy",
    ),
    how_to_get=("Request the data through the Algonauts 2023 form (accepting the NSD Terms and Conditions), unzip it "
                "and pass root=<folder holding subj01 ... subj08>."),
    terms="NSD Terms and Conditions / data-use agreement: research use, no redistribution, cite NSD.",
)


def list_subjects(root) -> list[str]:
    """Subjects present under ``root`` (folders named subjXX)."""
    return sorted(p.name for p in Path(root).glob("subj[0-9][0-9]") if p.is_dir())


def load(root=None, subject: str = "subj01", hemispheres=HEMISPHERES, drop_nan_channels: bool = False,
         val_fraction: float = 0.1, seed: int = 0, roi_files=ROI_FILES,
         noise_ceiling_unit: str = "fraction") -> Dataset:
    """Load one subject of the Algonauts 2023 challenge data.

    Parameters
    ----------
    root : path
        Folder holding ``subj01`` ... ``subj08`` (see the module docstring for the layout).
    subject : str
        ``"subj01"`` ... ``"subj08"``.
    hemispheres : sequence of "lh" / "rh"
    drop_nan_channels : bool
        Vertices with NaN raise a DataFormatError unless True; then they are
        dropped with a warning giving the count.
    val_fraction : float
        Fraction of the training images held out (seeded) as the ``val`` split.
    seed : int
        Seed of the holdout.
    roi_files : sequence of str
        ROI mask files to read (default: all six).
    noise_ceiling_unit : {"fraction", "percent"}
        Unit of the shipped noise ceiling files: the release stores fractions of
        variance in [0, 1] (see the module docstring); "percent" divides by 100 a
        copy converted to percent.  Values outside the unit's range are a DataFormatError.

    Returns
    -------
    Dataset
        ``responses.responses`` of shape (n_stimuli, n_channels), channels ordered
        lh then rh; see the module docstring for splits and metadata.
    """
    folder = _subject_folder(root, subject)
    hemispheres = _check_hemispheres(hemispheres)
    if noise_ceiling_unit not in NOISE_CEILING_UNITS:
        raise ConfigError(format_problem("algonauts2023 option noise_ceiling_unit", f"one of {NOISE_CEILING_UNITS}",
                                         repr(noise_ceiling_unit), "use 'fraction', the release's unit"))
    if not 0 < val_fraction < 1:
        raise ConfigError(format_problem("algonauts2023 option val_fraction", "a fraction in (0, 1)",
                                         repr(val_fraction), "use e.g. val_fraction=0.1"))
    train_paths = _images(folder / "training_split" / "training_images")
    test_paths = _images(folder / "test_split" / "test_images", required=False)
    test_fmri_dir = folder / "test_split" / "test_fmri"
    with_test = test_fmri_dir.is_dir()
    if with_test and not test_paths:
        raise DataFormatError(format_problem(str(folder / "test_split" / "test_images"),
                                             f"the test images of {test_fmri_dir}", "no .png files",
                                             "unzip the test images, or remove test_fmri to load the training data"))

    blocks, tables, ceilings = [], [], []
    for hemi in hemispheres:
        fmri_file = folder / "training_split" / "training_fmri" / f"{hemi}_training_fmri.npy"
        fmri = _fmri(fmri_file, len(train_paths), folder / "training_split" / "training_images")
        if with_test:
            test_file = test_fmri_dir / f"{hemi}_test_fmri.npy"
            test = _fmri(test_file, len(test_paths), folder / "test_split" / "test_images")
            _same_vertices(test, test_file, fmri.shape[1], fmri_file)
            fmri = np.concatenate([fmri, test])
        table = _channel_table(folder / "roi_masks", hemi, fmri.shape[1], fmri_file, roi_files)
        fmri, keep = _drop_nan_channels(fmri, str(fmri_file), drop=drop_nan_channels)
        blocks.append(fmri)
        tables.append(table[keep].reset_index(drop=True))
        ceilings.append(_noise_ceiling(folder, hemi, keep, noise_ceiling_unit))
    channels = pd.concat(tables, ignore_index=True)

    paths = train_paths + (test_paths if with_test else [])
    ids = [p.stem for p in paths]
    train_ids = ids[: len(train_paths)]
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(val_fraction * len(train_ids))))
    val = set(rng.permutation(len(train_ids))[:n_val].tolist())
    splits = {"train": [s for i, s in enumerate(train_ids) if i not in val],
              "val": [s for i, s in enumerate(train_ids) if i in val]}
    splits["test"] = ids[len(train_paths):] if with_test else splits["val"]
    meta = dict(
        test_split="challenge test images" if with_test else "val holdout (the challenge withheld the test fMRI)",
        challenge_test_stimuli=None if with_test or not test_paths else
        Stimuli.from_paths([p.stem for p in test_paths], test_paths),
        nsd_ids=[_nsd_id(s) for s in ids], source=str(folder))
    if all(c is not None for c in ceilings):
        meta["noise_ceiling"] = np.concatenate(ceilings)
    responses = BrainResponses(responses=np.concatenate(blocks, axis=1), stimulus_ids=ids, channels=channels,
                               subject=subject, modality="fmri", meta=meta)
    return Dataset(name="algonauts2023", stimuli=Stimuli.from_paths(ids, paths), card=CARD, responses=responses,
                   splits=splits)


# --------------------------------------------------------------------------- files

def _subject_folder(root, subject: str) -> Path:
    if root is None:
        raise ConfigError(format_problem("algonauts2023 option root", "the folder holding subj01 ... subj08",
                                         "root=None", f"download the data (see the card) and pass root=...; "
                                         f"layout: {LAYOUT}"))
    folder = Path(root) / str(subject)
    if not folder.is_dir():
        found = list_subjects(root) if Path(root).is_dir() else []
        raise DataFormatError(format_problem(str(folder), f"a subject folder ({LAYOUT})",
                                             f"no such folder; subjects found: {found}",
                                             "pass the folder that holds the subjXX folders as root"))
    return folder


def _check_hemispheres(hemispheres) -> tuple:
    hemispheres = (hemispheres,) if isinstance(hemispheres, str) else tuple(hemispheres)
    if not hemispheres or any(h not in HEMISPHERES for h in hemispheres) or len(set(hemispheres)) != len(hemispheres):
        raise ConfigError(format_problem("algonauts2023 option hemispheres", "a subset of ('lh', 'rh')",
                                         repr(hemispheres), "use hemispheres=('lh', 'rh')"))
    return hemispheres


def _images(folder: Path, required: bool = True) -> list[Path]:
    paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if required and not paths:
        raise DataFormatError(format_problem(str(folder), f"PNG images named train-NNNN_nsd-NNNNN.png ({LAYOUT})",
                                             "no such folder" if not folder.is_dir() else "no .png files",
                                             "unzip the challenge data of this subject there"))
    return paths


def _missing(path: Path, what: str) -> DataFormatError:
    return DataFormatError(format_problem(str(path), what, "no such file",
                                          f"check the download; expected layout under root: {LAYOUT}"))


def _fmri(path: Path, n_images: int, image_folder: Path) -> np.ndarray:
    """One hemisphere's betas, float32 of shape (n_images, n_vertices)."""
    if not path.is_file():
        raise _missing(path, "a hemisphere fMRI file (n_images, n_vertices) float32")
    fmri = _load_npy(path, "a hemisphere fMRI file (n_images, n_vertices) float32")
    if fmri.ndim != 2:
        raise ShapeError(format_problem(str(path), "an array of shape (n_images, n_vertices)",
                                        f"shape {fmri.shape}", "re-download the file"))
    if not np.issubdtype(fmri.dtype, np.floating):
        raise DataFormatError(format_problem(str(path), "float betas", f"dtype {fmri.dtype}", "re-download the file"))
    if fmri.shape[0] != n_images:
        raise ShapeError(format_problem(f"{path} vs {image_folder}", f"one row per image ({n_images} images)",
                                        f"{fmri.shape[0]} rows", "use the images and fMRI of the same subject"))
    return fmri.astype(np.float32, copy=False)


def _same_vertices(array: np.ndarray, path: Path, n_vertices: int, reference: Path) -> None:
    if array.shape[1] != n_vertices:
        raise ShapeError(format_problem(f"{path} vs {reference}", f"{n_vertices} vertices (columns) in both",
                                        f"{array.shape[1]} in {path.name}", "use files of the same subject"))


def _channel_table(mask_dir: Path, hemi: str, n_vertices: int, fmri_file: Path, roi_files) -> pd.DataFrame:
    """Channels of one hemisphere: id, hemisphere, rois, vertex (fsaverage), challenge_index."""
    space_file = mask_dir / f"{hemi}.all-vertices_fsaverage_space.npy"
    if not space_file.is_file():
        raise _missing(space_file, "the mask of challenge vertices in fsaverage space")
    vertex = np.flatnonzero(_load_npy(space_file, "the 0/1 mask of challenge vertices in fsaverage space"))
    if vertex.size != n_vertices:
        raise ShapeError(format_problem(f"{space_file} vs {fmri_file}", f"{n_vertices} selected vertices "
                                        f"(the fMRI columns)", f"{vertex.size}", "use files of the same subject"))
    rois = [[] for _ in range(n_vertices)]
    for roi_file in roi_files:
        names = _roi_mapping(mask_dir / f"mapping_{roi_file}.npy")
        mapping_name = f"mapping_{roi_file}.npy"
        mask_file = mask_dir / f"{hemi}.{roi_file}_challenge_space.npy"
        if not mask_file.is_file():
            raise _missing(mask_file, "an ROI mask (one int label per challenge vertex)")
        labels = _load_npy(mask_file, "an ROI mask (one int label per challenge vertex)")
        if labels.shape != (n_vertices,):
            raise ShapeError(format_problem(f"{mask_file} vs {fmri_file}",
                                            f"one label per vertex: shape ({n_vertices},)", f"shape {labels.shape}",
                                            "use the ROI masks and fMRI of the same subject and hemisphere"))
        unknown = sorted(set(np.unique(labels).tolist()) - set(names) - {0})
        if unknown:
            raise DataFormatError(format_problem(f"{mask_file}", f"labels listed in {mapping_name}",
                                                 f"labels {unknown[:5]} not in the mapping", "re-download both"))
        for index in np.flatnonzero(labels):
            rois[index].append(names[int(labels[index])])
    return pd.DataFrame({"id": [f"{hemi}-v{v:06d}" for v in vertex], "hemisphere": hemi,
                         "rois": [tuple(r) if r else (UNLABELLED,) for r in rois], "vertex": vertex,
                         "challenge_index": np.arange(n_vertices)})


def _roi_mapping(path: Path) -> dict:
    """Label -> ROI name, without the 0 ('Unknown') entry; from ``mapping_<roi>.json`` when present."""
    json_path = path.with_suffix(".json")
    if json_path.is_file():
        try:
            mapping, source = json.loads(json_path.read_text()), json_path
        except (ValueError, OSError) as err:
            raise DataFormatError(format_problem(str(json_path), 'a JSON object {"label": "ROI name"}',
                                                 f"an unreadable file ({err})", "write it again")) from None
    elif not path.is_file():
        raise _missing(path, "an ROI name mapping (a dict saved with np.save)")
    else:
        mapping, source = _read_npy_dict(path), path
    if not isinstance(mapping, dict):
        raise DataFormatError(format_problem(str(source), "a dict label -> name", type(mapping).__name__,
                                             "re-download it"))
    names = {}
    for key, value in mapping.items():
        label = key if isinstance(key, int) and not isinstance(key, bool) else \
            int(key) if isinstance(key, str) and re.fullmatch(r"-?\d+", key.strip()) and source is json_path else None
        if label is None or not isinstance(value, str):
            raise DataFormatError(format_problem(str(source), "integer labels mapped to ROI names ({1: 'V1v', ...})",
                                                 f"the entry {key!r}: {value!r}", "re-download the mapping file"))
        if label != 0:
            names[label] = value
    return names


def _noise_ceiling(folder: Path, hemi: str, keep: np.ndarray, unit: str = "fraction"):
    """Per-vertex noise ceilings as a fraction of variance when the release has them, else None.

    The release stores fractions in [0, 1] (module docstring); ``unit="percent"`` reads a copy in percent.
    """
    path = folder / "test_split" / "noise_ceiling" / f"{hemi}_noise_ceiling.npy"
    if not path.is_file():
        return None
    nc = _load_npy(path, "per-vertex noise ceilings")
    if nc.shape != keep.shape:
        raise ShapeError(format_problem(str(path), f"shape {keep.shape} (one value per vertex)", f"shape {nc.shape}",
                                        "use the noise ceiling of the same subject"))
    nc = nc[keep].astype(np.float64)
    top = 1.0 if unit == "fraction" else 100.0
    finite = nc[np.isfinite(nc)]
    if finite.size and (finite.max() > top or finite.min() < 0):
        other = "percent" if unit == "fraction" else "fraction"
        raise DataFormatError(format_problem(
            str(path), f"noise ceilings as a {unit} in [0, {top:g}] (noise_ceiling_unit={unit!r}; the release "
            f"stores fractions)", f"values in [{finite.min():.4g}, {finite.max():.4g}]",
            f"if this copy is in {other}, pass noise_ceiling_unit={other!r}; otherwise re-download it"))
    return nc / top


def _nsd_id(stem: str):
    match = IMAGE_NAME.match(stem)
    return int(match.group(3)) if match else None


def write_example(root: Path) -> dict:
    """Write a tiny copy of one subject in the challenge layout under ``root``: 10 training images (8 x 8),
    training fMRI of 5 + 4 vertices, ROI masks and name mappings (every ROI file; some vertices unlabelled).
    Returns the options of :func:`load`."""
    from cogmodels.datasets.gaze_table import write_example_images

    rng = np.random.default_rng(1)
    folder = root / "subj01"
    write_example_images(folder / "training_split" / "training_images",
                         [f"train-{i + 1:04d}_nsd-{7 * i + 3:05d}.png" for i in range(10)], size=(8, 8))
    (folder / "training_split" / "training_fmri").mkdir(parents=True)
    (folder / "roi_masks").mkdir()
    for hemi, n_vertices in (("lh", 5), ("rh", 4)):
        np.save(folder / "training_split" / "training_fmri" / f"{hemi}_training_fmri.npy",
                rng.standard_normal((10, n_vertices)).astype(np.float32))
        np.save(folder / "roi_masks" / f"{hemi}.all-vertices_fsaverage_space.npy",
                np.repeat([1, 0], [n_vertices, 3]).astype(np.int64))
        for roi_file in ROI_FILES:
            np.save(folder / "roi_masks" / f"{hemi}.{roi_file}_challenge_space.npy",
                    np.arange(n_vertices, dtype=np.int64) % 3)
    for roi_file in ROI_FILES:  # np.save of a dict, as in the release
        names = {0: "Unknown", 1: f"{roi_file}-a", 2: f"{roi_file}-b"}
        np.save(folder / "roi_masks" / f"mapping_{roi_file}.npy", names)
    return {"root": root, "subject": "subj01"}


DATASETS.register("algonauts2023", load, example=write_example, description=__doc__)
