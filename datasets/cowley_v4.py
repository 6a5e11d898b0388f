"""Macaque V4 spike counts to natural images (Cowley, Stan, Pillow & Smith 2023).

Cowley, B. R., Stan, P. L., Pillow, J. W. & Smith, M. A. (2023). "Compact deep
neural network models of visual cortex." bioRxiv 2023.11.22.568315.  Data licence:
GPL-3.0 (the release's ``LICENSE``).

Release layout, per recording session (e.g. ``210325``), as described by the
release's ``readme.txt``::

    root/images/images_<session>.zip                         image0001.jpg, image0002.jpg, ... (112 x 112 x 3)
    root/responses_repeat_averaged/responses_<session>.npy   (n_neurons, n_images) mean spike counts, 100 ms bins
    root/responses_raw/responses_<session>.npy               (n_neurons, n_images, n_repeats), NaN-padded (optional)

Image k of the zip (``image{k:04d}.jpg``, counted from 1) is column k - 1 of the
responses (``images[i]``, ``responses_raw[:, i, :]`` and ``responses_avg[:, i]``
correspond, says the readme).  Some sessions of the release have no raw file; then
there are no repeats and no noise ceiling.  The shared copy holds session 210325
(50 neurons, 640 images, 6-10 repeats per image).

Loading
-------
``stimuli`` are the images, decoded into memory (ids ``<session>-image0001`` ...);
``responses.responses`` is (n_images, n_neurons) float32, the repeat average of
the release; ``responses.repeats`` is (n_images, n_repeats, n_neurons) with NaN for
a missing repeat, when the raw file exists.  Each neuron's channel row has the ROI
label ``V4``.  Splits: ``train`` and ``test``, a random permutation of the images
with ``seed`` (default 0), ``test_fraction`` of them (default 0.2) in ``test``; the
rule is stated in ``responses.meta["split"]``.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import Path

import numpy as np

from cogmodels.data import BrainResponses, Dataset, DatasetCard, Stimuli, make_channel_table
from cogmodels.datasets import DATASETS, shared_data_root
from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

logger = logging.getLogger(__name__)

IMAGE_NAME = re.compile(r"(?:^|/)image(\d+)\.jpe?g$", re.IGNORECASE)
LAYOUT = ("images/images_<session>.zip (image0001.jpg ...), responses_repeat_averaged/responses_<session>.npy "
          "(n_neurons, n_images), optional responses_raw/responses_<session>.npy (n_neurons, n_images, n_repeats)")

CARD = DatasetCard(
    name="cowley_v4",
    source="Cowley et al. 2023, data release of 'Compact deep neural network models of visual cortex' "
           "(V4 responses and images of every recording session, with readme.txt)",
    licence="GPL-3.0 (the release's LICENSE file)",
    citation=("Cowley, B. R., Stan, P. L., Pillow, J. W. & Smith, M. A. (2023). Compact deep neural network models "
              "of visual cortex. bioRxiv 2023.11.22.568315. doi:10.1101/2023.11.22.568315"),
    expected_files=(
        "images/images_<session>.zip  (image0001.jpg, image0002.jpg, ...; 112 x 112 x 3 JPEGs)",
        "responses_repeat_averaged/responses_<session>.npy  (n_neurons, n_images) spike counts, 100 ms bins",
        "responses_raw/responses_<session>.npy  (n_neurons, n_images, n_repeats), NaN-padded; optional",
        "readme.txt, LICENSE",
    ),
    how_to_get=("Download the data folder of the release linked from the paper (Cowley et al. 2023; the "
                "'compact models' code and data repository), keep its layout, and pass root=<the folder holding "
                "images/, responses_repeat_averaged/ and responses_raw/>.  Default root: <shared data>/cowley_v4 "
                "(COGMODELS_SHARED_DATA), which holds session 210325."),
    terms="GPL-3.0; cite Cowley et al. 2023 when you use the data.",
)


def list_sessions(root) -> list[str]:
    """Sessions with an image zip under ``root/images``."""
    folder = Path(root) / "images"
    return sorted(p.stem[len("images_"):] for p in folder.glob("images_*.zip")) if folder.is_dir() else []


def load(root=None, session: str = "210325", test_fraction: float = 0.2, seed: int = 0,
         repeats: bool = True) -> Dataset:
    """Load one recording session of the Cowley et al. 2023 V4 release.

    Parameters
    ----------
    root : path, optional
        Folder holding ``images/``, ``responses_repeat_averaged/`` and (optionally)
        ``responses_raw/``; default ``<shared data>/cowley_v4``.
    session : str
        Session id, e.g. ``"210325"`` (see the release's readme for the list).
    test_fraction : float
        Fraction of the images in the ``test`` split, in (0, 1).
    seed : int
        Seed of the random permutation that makes the split.
    repeats : bool
        Load the single trials of ``responses_raw`` when the file exists (for noise
        ceilings); False skips them.

    Returns
    -------
    Dataset
        ``stimuli`` (n_images, 112 x 112 RGB in memory), ``responses`` (n_images, n_neurons)
        with ``repeats`` (n_images, n_repeats, n_neurons) when present, ``splits`` train / test.

    Raises
    ------
    DataFormatError
        A missing file (the message names the path and the layout), a zip whose image
        count differs from the response columns, images not numbered 1..n, or bad values.
    ShapeError
        Response arrays of the wrong rank or disagreeing shapes.
    """
    root = Path(root) if root is not None else shared_data_root() / "cowley_v4"
    session = str(session)
    if not 0 < float(test_fraction) < 1:
        raise ConfigError(format_problem("cowley_v4 option test_fraction", "a fraction in (0, 1)",
                                         repr(test_fraction), "use e.g. test_fraction=0.2"))
    zip_path = root / "images" / f"images_{session}.zip"
    avg_path = root / "responses_repeat_averaged" / f"responses_{session}.npy"
    raw_path = root / "responses_raw" / f"responses_{session}.npy"
    for path, what in ((zip_path, "the session's image zip"), (avg_path, "the repeat-averaged responses")):
        if not path.is_file():
            raise _missing(path, what, root)

    average = _read_array(avg_path, ndim=2, what="(n_neurons, n_images) repeat-averaged spike counts")
    if not np.isfinite(average).all():
        raise DataFormatError(format_problem(str(avg_path), "finite spike counts",
                                             f"{int((~np.isfinite(average)).sum())} NaN/inf values",
                                             "re-download the file (only responses_raw is NaN-padded)"))
    n_neurons, n_images = average.shape
    names, images = _read_images(zip_path)
    if len(names) != n_images:
        raise DataFormatError(format_problem(
            f"{zip_path} vs {avg_path}", f"one image per response column ({n_images} columns)",
            f"{len(names)} images in the zip", "use the zip and the responses of the same session (image k of the "
            "zip is column k), and re-download whichever is incomplete"))

    raw = None
    if repeats and raw_path.is_file():
        raw = _read_array(raw_path, ndim=3, what="(n_neurons, n_images, n_repeats) single-trial spike counts")
        if raw.shape[:2] != average.shape:
            raise ShapeError(format_problem(f"{raw_path} vs {avg_path}",
                                            f"shape ({n_neurons}, {n_images}, n_repeats) (same neurons and images)",
                                            f"shape {raw.shape}", "use the raw and averaged files of the same session"))
        if np.isinf(raw).any():
            raise DataFormatError(format_problem(str(raw_path), "spike counts, NaN for a missing repeat",
                                                 "inf values", "re-download the file"))
        has_trial = np.isfinite(raw).any(axis=2)
        if not has_trial.all():
            raise DataFormatError(format_problem(str(raw_path), "at least one repeat per neuron and image",
                                                 f"{int((~has_trial).sum())} (neuron, image) entries with no repeat",
                                                 "re-download the file, or pass repeats=False"))
    elif repeats:
        logger.info("cowley_v4 session %s: no %s; no repeats, so no noise ceiling", session, raw_path)

    ids = [f"{session}-{Path(name).stem}" for name in names]
    n_test = max(1, int(round(float(test_fraction) * n_images)))
    if n_test >= n_images:
        raise ConfigError(format_problem("cowley_v4 option test_fraction", f"a fraction leaving training images "
                                         f"({n_images} images)", repr(test_fraction), "lower it"))
    order = np.random.default_rng(seed).permutation(n_images)
    test_rows = np.sort(order[:n_test])
    train_rows = np.sort(order[n_test:])
    split_rule = (f"random permutation of the {n_images} images with numpy default_rng({seed}); the first {n_test} "
                  f"({float(test_fraction):g}) are test, the other {n_images - n_test} train")
    channels = make_channel_table(n_neurons, rois=[("V4",)] * n_neurons,
                                  neuron=np.arange(n_neurons, dtype=np.int64))
    channels["id"] = [f"{session}-n{k:03d}" for k in range(n_neurons)]
    meta = {"session": session, "split": split_rule, "source": str(root), "units": "spike counts per 100 ms bin",
            "image_files": list(names), "has_raw": raw is not None}
    if raw is not None:
        meta["n_repeats"] = np.isfinite(raw[0]).sum(axis=1)  # repeats per image (same for every neuron)
    responses = BrainResponses(
        responses=average.T.astype(np.float32), stimulus_ids=ids, channels=channels, subject=f"session-{session}",
        modality="spikes", repeats=None if raw is None else np.transpose(raw, (1, 2, 0)).astype(np.float32),
        meta=meta)
    return Dataset(name="cowley_v4", stimuli=Stimuli.from_arrays(ids, images), card=CARD, responses=responses,
                   splits={"train": [ids[i] for i in train_rows], "test": [ids[i] for i in test_rows]},
                   meta={"session": session, "split": split_rule})


def _missing(path: Path, what: str, root: Path) -> DataFormatError:
    found = list_sessions(root)
    return DataFormatError(format_problem(
        str(path), f"{what} ({LAYOUT})", "no such file" + (f"; sessions with images here: {found}" if found else ""),
        "pass root=<the release's data folder> and a session it holds (see cogmodels.load_dataset's card for "
        "cowley_v4: how to get it)"))


def _read_array(path: Path, ndim: int, what: str) -> np.ndarray:
    try:
        array = np.load(path)  # numeric arrays only: allow_pickle stays False
    except (ValueError, OSError) as err:
        raise DataFormatError(format_problem(str(path), f"a .npy array {what}", f"an unreadable file ({err})",
                                             "re-download it")) from err
    if array.ndim != ndim or not np.issubdtype(array.dtype, np.number):
        raise ShapeError(format_problem(str(path), f"a numeric array {what}", f"shape {array.shape}, dtype "
                                        f"{array.dtype}", "re-download it; the layout is in the release's readme"))
    return array.astype(np.float64, copy=False)


def _read_images(zip_path: Path) -> tuple[list[str], list[np.ndarray]]:
    """Image names in order image0001, image0002, ... and their pixels (uint8 RGB)."""
    from PIL import Image

    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as err:
        raise DataFormatError(format_problem(str(zip_path), "a zip of JPEG images", f"not a zip file ({err})",
                                             "re-download it")) from err
    with archive:
        numbered = {}
        for name in archive.namelist():
            match = IMAGE_NAME.search(name)
            if match and not name.startswith("__MACOSX"):
                numbered.setdefault(int(match.group(1)), []).append(name)
        duplicated = {k: v for k, v in numbered.items() if len(v) > 1}
        if duplicated:
            k, names = next(iter(duplicated.items()))
            raise DataFormatError(format_problem(str(zip_path), "one file per image number",
                                                 f"image {k} as {names}", "remove the duplicates"))
        numbers = sorted(numbered)
        if numbers != list(range(1, len(numbers) + 1)):
            gaps = sorted(set(range(1, (numbers[-1] if numbers else 0) + 1)) - set(numbers))
            raise DataFormatError(format_problem(
                str(zip_path), "images named image0001.jpg ... image<n>.jpg with no gap (image k is column k)",
                f"{len(numbers)} numbered images" + (f", missing numbers {gaps[:5]}" if gaps else ""),
                "re-download the zip; without every number the columns cannot be matched to images"))
        names = [numbered[k][0] for k in numbers]
        images = []
        for name in names:
            try:
                with Image.open(io.BytesIO(archive.read(name))) as img:
                    images.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
            except OSError as err:
                raise DataFormatError(format_problem(f"{zip_path}:{name}", "a readable JPEG",
                                                     f"an unreadable file ({err})", "re-download the zip")) from err
    return names, images


def write_example(root: Path, session: str = "000001", n_neurons: int = 4, n_images: int = 12,
                  raw: bool = True, seed: int = 0) -> dict:
    """Write a tiny session in the release layout under ``root`` (16 x 16 JPEGs, NaN-padded raw responses with
    2-4 repeats); returns the options of :func:`load`."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(root)
    for sub in ("images", "responses_repeat_averaged", "responses_raw"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(root / "images" / f"images_{session}.zip", "w") as archive:
        for k in range(1, n_images + 1):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buffer, format="JPEG")
            archive.writestr(f"image{k:04d}.jpg", buffer.getvalue())
    rate = rng.gamma(2.0, 1.5, size=(n_neurons, n_images, 1))
    trials = rng.poisson(rate, size=(n_neurons, n_images, 4)).astype(np.float64)
    counts = rng.integers(2, 5, size=n_images)
    trials[:, np.arange(4)[None, :] >= counts[:, None]] = np.nan  # NaN-padded, as in the release
    if raw:
        np.save(root / "responses_raw" / f"responses_{session}.npy", trials)
    np.save(root / "responses_repeat_averaged" / f"responses_{session}.npy", np.nanmean(trials, axis=2))
    return {"root": root, "session": session}


DATASETS.register("cowley_v4", load, example=write_example, description=__doc__)
