"""The 92-image set of Kriegeskorte et al. 2008 with human-IT fMRI and monkey-IT RDMs (rsatoolbox demo copy).

Kriegeskorte, N., Mur, M., Ruff, D. A., Kiani, R., Bodurka, J., Esteky, H., Tanaka, K.
& Bandettini, P. A. (2008). "Matching categorical object representations in inferior
temporal cortex of man and monkey." Neuron 60(6), 1126-1141.  The copy is the one
in rsatoolbox's demo data (MIT licence; the images are (c) their owners).

Layout (``scipy.io.loadmat``; checked against the shared copy)::

    root/92_brainRDMs.mat     RDMs (n_subjects=4, n_sessions=2) struct: .RDM (92, 92) float32, .name
                              ("hIT | BE | Session: 1"), .color
    root/Kriegeskorte_Neuron2008_supplementalData.mat
        stimuli_92objs (92,) struct: .image (175, 175, 3) uint8, .category ("human bodypart"), .human,
                                     .face, .animal, .natural (0/1)
        categoryLabels (12,) str: animate, inanim, human, nonhumani, body, face, natObj, artiObj,
                                  rand24, rand48, other48, monkeyape
        categoryVectors (92, 12) 0/1
        RDMs_mIT_hIT_fig1 (2,) struct: .name ("mIT_674neurons", "hITvisStim_316vx"), .RDM: the upper
                                       triangle (4186,) in MATLAB squareform order
    root/92_behavRDMs.mat     rdms_behav_92 (16,) struct: .RDM (92, 92), .name ("simJudge | subject1")  (optional)

Loading
-------
``stimuli``: the 92 images (ids ``img01`` ... ``img92``), ``splits = {"all": ids}``
(RSA uses every stimulus).  No ``responses``: the data are RDMs, in ``meta``:

- ``meta["rdms"]``: dict name -> float64 (92, 92) RDM, symmetric with a zero diagonal:
  ``hIT_<subject>_s<session>`` (the 8 fMRI RDMs, e.g. ``hIT_BE_s1``), ``hIT_fig1`` and
  ``mIT_fig1`` (figure 1 of the paper), and ``behaviour_s<k>`` (16 similarity-judgement
  RDMs, when ``92_behavRDMs.mat`` is present and ``behaviour=True``);
- ``meta["rdm_table"]``: DataFrame, one row per RDM: name, roi (hIT / mIT / behaviour),
  subject, session, source (file and struct name);
- ``meta["rdm_groups"]``: roi -> the names of its per-subject RDMs (what a noise ceiling
  is computed over): ``{"hIT": [8 names], "behaviour": [16 names]}``;
- ``meta["category_labels"]`` (12 str), ``meta["category_vectors"]`` bool (92, 12),
  ``meta["stimulus_table"]``: DataFrame with id, category, human, face, animal, natural.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import Dataset, DatasetCard, Stimuli
from cogmodels.datasets import DATASETS, shared_data_root
from cogmodels.errors import DataFormatError, ShapeError, format_problem

SHARED_FOLDER = "rsa92"  # the rsatoolbox demo copy's folder name under the shared data
BRAIN_FILE = "92_brainRDMs.mat"
SUPPLEMENT_FILE = "Kriegeskorte_Neuron2008_supplementalData.mat"
BEHAVIOUR_FILE = "92_behavRDMs.mat"
FIG1_NAMES = {"mIT": "mIT_fig1", "hIT": "hIT_fig1"}
BRAIN_NAME = re.compile(r"^\s*(\w+)\s*\|\s*(\w+)\s*\|\s*Session:\s*(\d+)\s*$")

CARD = DatasetCard(
    name="kriegeskorte92",
    source="rsatoolbox demo data (github.com/rsagroup/rsatoolbox, demos/92imageData): the 92-image set and RDMs of "
           "Kriegeskorte et al. 2008",
    licence="MIT (rsatoolbox); the images are (c) their owners",
    citation=("Kriegeskorte, N., Mur, M., Ruff, D. A., Kiani, R., Bodurka, J., Esteky, H., Tanaka, K. & Bandettini, "
              "P. A. (2008). Matching categorical object representations in inferior temporal cortex of man and "
              "monkey. Neuron 60(6), 1126-1141. doi:10.1016/j.neuron.2008.10.043"),
    expected_files=(BRAIN_FILE, SUPPLEMENT_FILE, f"{BEHAVIOUR_FILE} (optional)"),
    how_to_get=("Copy demos/92imageData/ of the rsatoolbox repository (MIT) and pass root=<that folder>; default "
                "root: <shared data>/rsa92 (COGMODELS_SHARED_DATA)."),
    terms="MIT for the toolbox's copy; cite Kriegeskorte et al. 2008.",
)


def load(root=None, behaviour: bool = True) -> Dataset:
    """Load the 92 images, their category labels and the RDMs.

    Parameters
    ----------
    root : path, optional
        Folder holding the .mat files; default ``<shared data>/rsa92``.
    behaviour : bool
        Also read the 16 similarity-judgement RDMs of ``92_behavRDMs.mat`` when present.

    Returns
    -------
    Dataset
        ``stimuli`` (92 images, 175 x 175 RGB in memory), ``splits = {"all": ids}``,
        the RDMs and labels in ``meta`` (see the module docstring).

    Raises
    ------
    DataFormatError
        A missing file or field (named), an RDM that is not symmetric or has a non-zero diagonal.
    ShapeError
        RDMs, images or category vectors whose size does not match the stimuli.
    """
    from scipy.io import loadmat

    from cogmodels.metrics import rsa

    root = Path(root) if root is not None else shared_data_root() / SHARED_FOLDER
    supplement = _read_mat(root / SUPPLEMENT_FILE, ("stimuli_92objs", "categoryLabels", "categoryVectors",
                                                    "RDMs_mIT_hIT_fig1"), loadmat)
    objects = np.atleast_1d(supplement["stimuli_92objs"])
    n = objects.size
    ids = [f"img{k + 1:02d}" for k in range(n)]
    images = [_field(obj, "image", f"{SUPPLEMENT_FILE}: stimuli_92objs[{k}]") for k, obj in enumerate(objects)]
    labels = [str(x) for x in np.atleast_1d(supplement["categoryLabels"])]
    vectors = np.asarray(supplement["categoryVectors"])
    if vectors.shape != (n, len(labels)):
        raise ShapeError(format_problem(f"{root / SUPPLEMENT_FILE}: categoryVectors",
                                        f"shape ({n}, {len(labels)}) (stimuli x categoryLabels)", f"{vectors.shape}",
                                        "re-copy the file from rsatoolbox's demo data"))
    stimulus_table = pd.DataFrame({"id": ids, **{f: [_scalar(getattr(o, f, None)) for o in objects]
                                                 for f in ("category", "human", "face", "animal", "natural")}})

    rdms, table = {}, []

    def add(name, matrix, roi, subject, session, source):
        rdms[name] = rsa.check_rdm(matrix, source)
        if rdms[name].shape != (n, n):
            raise ShapeError(format_problem(source, f"a ({n}, {n}) RDM (one row per image)",
                                            f"shape {rdms[name].shape}", "re-copy the file"))
        table.append({"name": name, "roi": roi, "subject": subject, "session": session, "source": source})

    brain = _read_mat(root / BRAIN_FILE, ("RDMs",), loadmat)["RDMs"]
    brain = np.asarray(brain, dtype=object).reshape(np.shape(brain) if np.ndim(brain) == 2 else (-1, 1))
    for (s, k), entry in np.ndenumerate(brain):
        raw_name = str(_field(entry, "name", f"{BRAIN_FILE}: RDMs[{s}, {k}]"))
        match = BRAIN_NAME.match(raw_name)
        roi, subject, session = (match.group(1), match.group(2), int(match.group(3))) if match \
            else ("hIT", f"S{s + 1}", k + 1)
        add(f"{roi}_{subject}_s{session}", _field(entry, "RDM", f"{BRAIN_FILE}: RDMs[{s}, {k}]"), roi, subject,
            session, f"{root / BRAIN_FILE}: RDMs[{s}, {k}] ({raw_name})")
    for k, entry in enumerate(np.atleast_1d(supplement["RDMs_mIT_hIT_fig1"])):
        raw_name = str(_field(entry, "name", f"{SUPPLEMENT_FILE}: RDMs_mIT_hIT_fig1[{k}]"))
        roi = "mIT" if raw_name.startswith("mIT") else "hIT"
        source = f"{root / SUPPLEMENT_FILE}: RDMs_mIT_hIT_fig1[{k}] ({raw_name})"
        matrix = np.asarray(_field(entry, "RDM", source), dtype=np.float64)
        add(FIG1_NAMES[roi], rsa.square(matrix.ravel(), source) if matrix.ndim == 1 or 1 in matrix.shape
            else matrix, roi, "group", 0, source)
    behaviour_path = root / BEHAVIOUR_FILE
    if behaviour and behaviour_path.is_file():
        entries = np.atleast_1d(_read_mat(behaviour_path, ("rdms_behav_92",), loadmat)["rdms_behav_92"])
        for k, entry in enumerate(entries):
            raw_name = str(_field(entry, "name", f"{BEHAVIOUR_FILE}: rdms_behav_92[{k}]"))
            add(f"behaviour_s{k + 1}", _field(entry, "RDM", f"{BEHAVIOUR_FILE}: rdms_behav_92[{k}]"), "behaviour",
                f"s{k + 1}", 1, f"{behaviour_path}: rdms_behav_92[{k}] ({raw_name})")
    table = pd.DataFrame(table)
    groups = {roi: list(t["name"]) for roi, t in table[table["subject"] != "group"].groupby("roi", sort=False)}
    meta = {"rdms": rdms, "rdm_table": table, "rdm_groups": groups, "category_labels": labels,
            "category_vectors": vectors.astype(bool), "stimulus_table": stimulus_table, "source": str(root)}
    return Dataset(name="kriegeskorte92", stimuli=Stimuli.from_arrays(ids, images), card=CARD,
                   splits={"all": ids}, meta=meta)


def _read_mat(path: Path, fields, loadmat) -> dict:
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), f"a MATLAB file with {', '.join(fields)}", "no such file",
                                             f"pass root=<folder with {BRAIN_FILE} and {SUPPLEMENT_FILE}> "
                                             "(rsatoolbox demos/92imageData; see the card)"))
    try:
        data = loadmat(path, squeeze_me=True, struct_as_record=False)
    except (ValueError, OSError, NotImplementedError) as err:
        raise DataFormatError(format_problem(str(path), "a MATLAB .mat file (v5-v7.2)",
                                             f"an unreadable file ({err})", "re-copy it")) from err
    missing = [f for f in fields if f not in data]
    if missing:
        raise DataFormatError(format_problem(str(path), f"variables {list(fields)}",
                                             f"no {missing}; variables: {sorted(k for k in data if k[0] != '_')}",
                                             "re-copy the file from rsatoolbox's demo data"))
    return data


def _field(entry, name: str, where: str):
    if not hasattr(entry, name):
        found = list(getattr(entry, "_fieldnames", []) or [])
        raise DataFormatError(format_problem(where, f"a struct with field {name!r}", f"fields {found}",
                                             "re-copy the file from rsatoolbox's demo data"))
    return getattr(entry, name)


def _scalar(value):
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value if value is None or isinstance(value, (int, float)) else str(value)


def write_example(root: Path, n_images: int = 8, n_subjects: int = 2, seed: int = 0) -> dict:
    """Write a tiny copy in the rsatoolbox layout under ``root`` (8 images of 8 x 8, n_subjects x 2 sessions of
    hIT RDMs, the two figure-1 RDMs as upper-triangle vectors, 12 category labels); returns the options of
    :func:`load`."""
    from scipy.io import savemat

    from cogmodels.metrics import rsa

    rng = np.random.default_rng(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    truth = rng.normal(size=(n_images, 6))

    def noisy_rdm():
        return rsa.rdm(truth + rng.normal(size=truth.shape)).astype(np.float32)

    brain = np.zeros((n_subjects, 2), dtype=[("RDM", "O"), ("name", "O"), ("color", "O")])
    for s in range(n_subjects):
        for k in range(2):
            brain[s, k] = (noisy_rdm(), f"hIT | S{s + 1}X | Session: {k + 1}", np.array([0.0, 0.0, 1.0]))
    savemat(root / BRAIN_FILE, {"RDMs": brain})
    objects = np.zeros(n_images, dtype=[(f, "O") for f in ("category", "human", "face", "animal", "natural",
                                                            "image")])
    for k in range(n_images):
        objects[k] = ("face" if k % 2 else "natural object", float(k % 2), float(k % 2), float(k % 2),
                      float(1 - k % 2), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    labels = np.array(["animate", "inanim", "human", "nonhumani", "body", "face", "natObj", "artiObj", "rand24",
                       "rand48", "other48", "monkeyape"], dtype=object)
    fig1 = np.zeros(2, dtype=[("name", "O"), ("color", "O"), ("RDM", "O")])
    fig1[0] = ("mIT_674neurons", np.zeros(3), rsa.upper(noisy_rdm().astype(np.float64)))
    fig1[1] = ("hITvisStim_316vx", np.zeros(3), rsa.upper(noisy_rdm().astype(np.float64)))
    savemat(root / SUPPLEMENT_FILE, {"stimuli_92objs": objects, "categoryLabels": labels,
                                     "categoryVectors": rng.integers(0, 2, (n_images, 12)).astype(np.uint8),
                                     "RDMs_mIT_hIT_fig1": fig1})
    return {"root": root}


DATASETS.register("kriegeskorte92", load, example=write_example, description=__doc__)
