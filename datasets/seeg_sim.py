"""SEEG simulator: a BIDS iEEG study of image-caption events with planted vision, language and integration sites.

What is simulated (per subject, seeded)
---------------------------------------
* **Events**: a sequence of image events (onsets ``isi`` +- 15% apart).  Each image
  is a grating of one of four categories (orientations 0/45/90/135 deg, jittered,
  random wavelength, phase and contrast); each comes with a caption naming a
  category by one of two synonyms ("a bright ladder").  Half of the captions name
  the image's category (congruent), half another one.
* **Electrodes**: SEEG shafts of ``n_per_class`` contacts (``A1``, ``A2``, ...),
  one shaft per class, two noise shafts, coordinates in MNI space (mm; written by
  mne-bids as ``space-fsaverage``, MNI305 Talairach, in metres): vision shafts
  occipital, language temporal, integration temporo-parietal, noise frontal.
* **Classes** (ground truth per contact, and per bipolar pair: the class of its
  shaft), each with its own latency profile (a gamma-shaped bump; peaks 0.2, 0.55,
  0.85 s):

  - ``vision``: ``category_weight`` x image category (random tuning per contact) +
    ``contrast_weight`` x image contrast (a low-level term no caption carries).
    Default: category only (``category_weight=1, contrast_weight=0``), see below;
  - ``language``: caption category (own tuning) + which synonym was used;
  - ``integration``: image-caption congruence (+1 / -1): an interaction that
    neither the image alone nor the caption alone explains (every category is
    shown and named equally often in both conditions);
  - ``noise``: nothing.

* **Signal**: high-gamma (70-150 Hz) band-limited noise whose amplitude is
  ``exp(gain * drive(t))``, where ``drive`` is the per-event drive convolved with
  the class's latency profile, on top of a background: 1/f^1.8-power noise plus a
  shared component and 50 Hz line noise (``background="synthetic"``, default), or
  segments of the shared real recording (MNE's sample SEEG, common-average
  re-referenced, resampled, crossfaded; ``background="real"``), so that the noise
  has real spectra and artefacts.

Why the vision sites follow the image category by default
---------------------------------------------------------
The paper's claim "trained networks predict the vision-driven sites better than the
same architecture with random weights" is about visual content that training
learns: here, the image category that the captions name and that the contrastive
pair learns to project onto.  A low-level term such as contrast is discarded by
contrastive training (captions do not carry it) and kept by a random-init
network, so sites that follow contrast are the **control** where trained weights
should *not* win: ``category_weight=0, contrast_weight=1`` plants purely
contrast-driven vision sites.  Until issue 13's second session the default was
``contrast_weight=0.6`` (category + contrast); there trained and random tied
(``benchmarks/seeg_recovery.py`` reports all three settings).

:func:`write_dataset` writes a real BIDS iEEG dataset (BrainVision files, events
with ``stim_file`` and ``caption``, channels.tsv, electrodes.tsv), a corpus of matched
image-caption pairs to pretrain a vision-language pair on (``stimuli/pretrain_pairs.tsv``),
and returns the ground-truth table; ``load`` (registered as ``seeg_sim``) simulates once per
parameter set under ``root`` and reads one subject back through :mod:`bids_ieeg`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import DatasetCard
from cogmodels.datasets import DATASETS, shared_data_root
from cogmodels.errors import ConfigError, DataFormatError, format_problem

log = logging.getLogger(__name__)

CLASSES = ("vision", "language", "integration", "noise")
SHAFTS = {"vision": "V", "language": "L", "integration": "I", "noise": "N"}
LATENCY = {"vision": (0.2, 0.08), "language": (0.55, 0.15), "integration": (0.85, 0.2)}  # peak, width (s)
CENTRES = {"vision": (20.0, -90.0, 5.0), "language": (-55.0, -20.0, -5.0), "integration": (-45.0, -55.0, 20.0),
           "noise": (30.0, 40.0, 20.0)}  # MNI mm, first contact; contacts run laterally 3.5 mm apart
SYNONYMS = (("shelf", "horizon"), ("ramp", "slope"), ("tower", "pillar"), ("ladder", "stair"))
ADJECTIVES = ("bright", "dark", "small", "large", "faint", "sharp")
ORIENTATIONS = (0.0, 45.0, 90.0, 135.0)

CARD = DatasetCard(
    name="seeg_sim",
    source="simulated by cogmodels (datasets/seeg_sim.py), written as BIDS iEEG with mne-bids",
    licence="MIT (generated data); with background='real', segments of MNE's sample SEEG (BSD-3)",
    citation="design after Subramaniam et al. 2024, ICML, 'Revealing Vision-Language Integration in the Brain "
             "with Multimodal Networks'",
    how_to_get="nothing to download: generated from the seed under `root` (background='real' reads "
               "seeg_sample/ of the shared data, COGMODELS_SHARED_DATA)",
    simulated=True,
)


# -- stimuli ----------------------------------------------------------------------------
def grating(category: int, rng: np.random.Generator, size: int = 48) -> tuple[np.ndarray, float]:
    """A uint8 (size, size, 3) grating of the category's orientation (+-8 deg), and its contrast in [0.25, 1]."""
    theta = np.deg2rad(ORIENTATIONS[category] + rng.uniform(-8, 8))
    wavelength, phase, contrast = rng.uniform(5, 10), rng.uniform(0, 2 * np.pi), rng.uniform(0.25, 1.0)
    y, x = np.mgrid[:size, :size] - size / 2
    wave = np.cos(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / wavelength + phase)
    image = 0.5 + 0.5 * contrast * wave
    return (np.repeat(image[..., None], 3, -1) * 255).round().astype(np.uint8), float(contrast)


def events_for(n_events: int, rng: np.random.Generator) -> pd.DataFrame:
    """Image and caption categories, congruence (exactly balanced), synonyms and adjectives of each event."""
    congruent = rng.permutation(np.arange(n_events) % 2 == 0)
    image_cat = rng.permutation(np.arange(n_events) % len(ORIENTATIONS))
    shift = rng.integers(1, len(ORIENTATIONS), n_events)
    caption_cat = np.where(congruent, image_cat, (image_cat + shift) % len(ORIENTATIONS))
    synonym = rng.integers(0, 2, n_events)
    adjective = rng.integers(0, len(ADJECTIVES), n_events)
    captions = [f"a {ADJECTIVES[a]} {SYNONYMS[c][s]}" for a, c, s in zip(adjective, caption_cat, synonym)]
    return pd.DataFrame({"image_category": image_cat, "caption_category": caption_cat,
                         "congruent": congruent.astype(int), "synonym": synonym, "caption": captions})


# -- signals ----------------------------------------------------------------------------
def _band_noise(rng, n_channels: int, n_samples: int, sfreq: float, band) -> np.ndarray:
    spectrum = rng.standard_normal((n_channels, n_samples // 2 + 1)) + 1j * rng.standard_normal(
        (n_channels, n_samples // 2 + 1))
    freqs = np.fft.rfftfreq(n_samples, 1 / sfreq)
    spectrum[:, (freqs < band[0]) | (freqs > band[1])] = 0
    out = np.fft.irfft(spectrum, n_samples)
    return out / out.std(-1, keepdims=True)


def _brown_noise(rng, n_channels: int, n_samples: int, sfreq: float) -> np.ndarray:
    spectrum = rng.standard_normal((n_channels, n_samples // 2 + 1)) + 1j * rng.standard_normal(
        (n_channels, n_samples // 2 + 1))
    freqs = np.fft.rfftfreq(n_samples, 1 / sfreq)
    spectrum /= np.maximum(freqs, 0.5) ** 0.9  # power ~ 1/f^1.8, as field potentials
    out = np.fft.irfft(spectrum, n_samples)
    return out / out.std(-1, keepdims=True)


def real_background(rng, n_channels: int, n_samples: int, sfreq: float, segment: float = 4.0) -> np.ndarray:
    """Background from MNE's sample SEEG (shared data): random segments of random contacts, common-average
    re-referenced, resampled to ``sfreq``, z-scored per segment and joined with 50 ms cosine crossfades."""
    import mne

    path = shared_data_root() / "seeg_sample" / "sample_seeg.edf"
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "MNE's sample SEEG recording (background='real')",
                                             "no such file", "set COGMODELS_SHARED_DATA, or background='synthetic'"))
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    contacts = [n for n in raw.ch_names if not n.startswith(("DC", "EKG"))]
    raw.pick(contacts).set_eeg_reference("average", verbose="error").resample(sfreq, verbose="error")
    source = raw.get_data()
    length = int(segment * sfreq)
    fade = int(0.05 * sfreq)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
    out = np.zeros((n_channels, n_samples))
    for c in range(n_channels):
        position = 0
        while position < n_samples:
            start = rng.integers(0, source.shape[1] - length)
            piece = source[rng.integers(0, source.shape[0]), start:start + length].copy()
            piece = (piece - piece.mean()) / piece.std()
            piece[:fade] *= ramp
            piece[-fade:] *= ramp[::-1]
            stop = min(n_samples, position + length)
            out[c, position:stop] += piece[:stop - position]
            position += length - fade
    return out / out.std(-1, keepdims=True)


def latency_kernel(klass: str, sfreq: float, jitter: float = 0.0) -> np.ndarray:
    """Gamma-shaped bump (peak, width of the class, peak shifted by ``jitter`` s), unit maximum, 0 to 2 s."""
    peak, width = LATENCY[klass]
    t = np.arange(0, 2.0, 1 / sfreq)
    shape = (peak + jitter) ** 2 / width ** 2
    scale = width ** 2 / (peak + jitter)
    kernel = np.where(t > 0, t ** (shape - 1) * np.exp(-t / scale), 0.0)
    return kernel / kernel.max()


def drives(klass: str, events: pd.DataFrame, contrast: np.ndarray, rng, contrast_weight: float = 0.0,
           category_weight: float = 1.0) -> np.ndarray:
    """Per-event drive of one contact, z-scored over events (zeros for noise).

    Vision: ``category_weight`` x category tuning (a random value per category and contact) +
    ``contrast_weight`` x z-scored contrast (a low-level term no caption carries).
    """
    n = len(events)
    if klass == "vision":
        drive = category_weight * rng.standard_normal(4)[events["image_category"].to_numpy()] + \
            contrast_weight * (contrast - contrast.mean()) / contrast.std()
    elif klass == "language":
        sign = rng.choice([-1.0, 1.0])
        drive = rng.standard_normal(4)[events["caption_category"].to_numpy()] + \
            0.6 * sign * (2 * events["synonym"].to_numpy() - 1)
    elif klass == "integration":
        drive = 2.0 * events["congruent"].to_numpy() - 1
    else:
        return np.zeros(n)
    return (drive - drive.mean()) / drive.std()


# -- the BIDS writer ----------------------------------------------------------------------
def write_dataset(root, n_subjects: int = 3, n_events: int = 240, n_per_class: int = 6, sfreq: float = 500.0,
                  isi: float = 1.5, gain: float = 0.8, background: str = "synthetic", carrier_uv: float = 3.0,
                  n_pretrain: int = 400, contrast_weight: float = 0.0, category_weight: float = 1.0,
                  seed: int = 0, subjects=None) -> pd.DataFrame:
    """Write the simulated BIDS iEEG dataset under ``root``.

    Parameters
    ----------
    root : path (created)
    n_subjects : int
    n_events : int
        Image events per subject.
    n_per_class : int
        Contacts per shaft; one shaft each for vision, language, integration, two for noise.
    sfreq : float (Hz)
    isi : float
        Mean onset-to-onset interval (s), jittered +-15%.
    gain : float
        Log-amplitude modulation of high gamma per unit drive.
    background : {"synthetic", "real"}
    carrier_uv : float
        Standard deviation of the high-gamma carrier at rest (microvolts; the background's is 20).
    n_pretrain : int
        Matched image-caption pairs of the pretraining corpus (:func:`write_pretraining_pairs`).
    contrast_weight : float
        Weight of image contrast (low-level, z-scored) in the vision sites' drive.  Default 0: the vision
        sites follow the image category only (see "Why the vision sites follow the image category" above;
        it was 0.6 before issue 13's second session).
    category_weight : float
        Weight of the image category in the vision sites' drive (default 1).  ``category_weight=0,
        contrast_weight=1`` is the control: purely contrast-driven vision sites, where trained
        vision-language weights should not beat random ones.
    seed : int
    subjects : list of str, optional
        Write only these subjects ("01", ...; each subject's data depend only on ``seed`` and its
        number, so subjects written one at a time equal those written together); None: all.

    Returns
    -------
    DataFrame with one row per contact: subject, contact, shaft, class, x, y, z (MNI mm).
    """
    import mne
    import mne_bids
    from PIL import Image

    if background not in ("synthetic", "real"):
        raise ConfigError(format_problem("seeg_sim.background", "'synthetic' or 'real'", repr(background), "pick one"))
    if not (contrast_weight >= 0 and category_weight >= 0 and contrast_weight + category_weight > 0):
        raise ConfigError(format_problem("seeg_sim.category_weight / contrast_weight", "two weights >= 0, not both 0",
                                         f"category_weight={category_weight}, contrast_weight={contrast_weight}",
                                         "e.g. category_weight=1, contrast_weight=0 (the default)"))
    root = Path(root)
    (root / "stimuli").mkdir(parents=True, exist_ok=True)
    truth = []
    wanted = None if subjects is None else {str(x) for x in subjects}
    for s in range(n_subjects):
        subject = f"{s + 1:02d}"
        if wanted is not None and subject not in wanted:
            continue
        rng = np.random.default_rng([seed, s])
        events = events_for(n_events, rng)
        images, contrast = zip(*(grating(int(c), rng) for c in events["image_category"]))
        contrast = np.asarray(contrast)
        events["stim_file"] = [f"stimuli/sub-{subject}_ev{i:04d}.png" for i in range(n_events)]
        for image, name in zip(images, events["stim_file"]):
            Image.fromarray(image).save(root / name)
        onsets = 3.0 + np.cumsum(np.r_[0, rng.uniform(0.85, 1.15, n_events - 1) * isi])
        n_samples = int((onsets[-1] + 5.0) * sfreq)
        shafts = [(k, SHAFTS[k]) for k in CLASSES[:3]] + [("noise", "N"), ("noise", "M")]
        names, classes, positions = [], [], []
        for klass, letter in shafts:
            centre = np.asarray(CENTRES[klass]) + (np.array([0, 25.0, 0]) if letter == "M" else 0)
            side = -1.0 if centre[0] < 0 else 1.0
            for k in range(n_per_class):
                names.append(f"{letter}{k + 1}")
                classes.append(klass)
                positions.append(centre + rng.normal(0, 2.0, 3) + np.array([side * 3.5 * k, 0, 0]))
        n_ch = len(names)
        if background == "real":
            noise = real_background(rng, n_ch, n_samples, sfreq)
        else:
            noise = _brown_noise(rng, n_ch, n_samples, sfreq) + 0.5 * _brown_noise(rng, 1, n_samples, sfreq)
        line = 0.3 * np.sin(2 * np.pi * 50.0 * np.arange(n_samples) / sfreq)
        carrier = _band_noise(rng, n_ch, n_samples, sfreq, (60.0, min(170.0, 0.45 * sfreq)))
        impulses = np.zeros(n_samples)
        onset_samples = np.round(onsets * sfreq).astype(int)
        signal = np.zeros((n_ch, n_samples))
        for c, klass in enumerate(classes):
            if klass == "noise":
                continue
            impulses[:] = 0
            np.add.at(impulses, onset_samples, drives(klass, events, contrast, rng, contrast_weight, category_weight))
            kernel = latency_kernel(klass, sfreq, rng.uniform(-0.03, 0.03))
            signal[c] = np.convolve(impulses, kernel)[:n_samples]
        hg = carrier * np.exp(gain * signal)
        data = 20e-6 * (noise + line) + carrier_uv * 1e-6 * hg
        info = mne.create_info(names, sfreq, "seeg")
        raw = mne.io.RawArray(data, info, verbose="error")
        montage = mne.channels.make_dig_montage({n: p / 1000.0 for n, p in zip(names, positions)},
                                                coord_frame="mni_tal")
        raw.set_montage(montage, verbose="error")
        table = np.c_[onset_samples, np.zeros(n_events, int), np.ones(n_events, int)]
        metadata = events[["stim_file", "caption", "image_category", "caption_category", "congruent"]]
        bids_path = mne_bids.BIDSPath(subject=subject, task="images", datatype="ieeg", root=root)
        mne_bids.write_raw_bids(raw, bids_path, events=table, event_id={"image": 1}, event_metadata=metadata,
                                extra_columns_descriptions={"stim_file": "image shown, relative to the root",
                                                            "caption": "caption shown with the image",
                                                            "image_category": "simulated image category",
                                                            "caption_category": "category named by the caption",
                                                            "congruent": "1 if the caption names the image"},
                                montage=montage, format="BrainVision", allow_preload=True, overwrite=True,
                                verbose="error")
        rows = [{"subject": subject, "contact": n, "shaft": n.rstrip("0123456789"), "class": k,
                 "x": p[0], "y": p[1], "z": p[2]} for n, k, p in zip(names, classes, positions)]
        (root / "derivatives" / "seeg_sim").mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(root / "derivatives" / "seeg_sim" / f"sub-{subject}_ground_truth.tsv", sep="\t",
                                  index=False)
        truth += rows
    if not (root / "stimuli" / "pretrain_pairs.tsv").is_file():
        write_pretraining_pairs(root, n_pretrain, np.random.default_rng([seed, 10_000]))
    return pd.DataFrame(truth)


def write_pretraining_pairs(root: Path, n_pairs: int, rng: np.random.Generator) -> None:
    """A corpus of matched image-caption pairs (new images; every caption names its image's category), written to
    ``stimuli/pretrain/`` and ``stimuli/pretrain_pairs.tsv`` (stim_file, caption): what a CLIP-style pair is
    trained on before it meets the experiment's events (half of whose captions do not match)."""
    from PIL import Image

    (root / "stimuli" / "pretrain").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_pairs):
        category = int(rng.integers(0, len(ORIENTATIONS)))
        image, _ = grating(category, rng)
        name = f"stimuli/pretrain/pair{i:04d}.png"
        Image.fromarray(image).save(root / name)
        rows.append({"stim_file": name, "caption": f"a {ADJECTIVES[rng.integers(len(ADJECTIVES))]} "
                                                   f"{SYNONYMS[category][rng.integers(2)]}"})
    pd.DataFrame(rows).to_csv(root / "stimuli" / "pretrain_pairs.tsv", sep="\t", index=False)


def pretraining_pairs(root) -> dict:
    """The matched pairs of :func:`write_pretraining_pairs`: ``{"paths": [...], "captions": [...]}``."""
    table = pd.read_csv(Path(root) / "stimuli" / "pretrain_pairs.tsv", sep="\t")
    return {"paths": [str(Path(root) / f) for f in table["stim_file"]], "captions": table["caption"].astype(str).tolist()}


def channel_classes(channel_ids, truth: pd.DataFrame, subject: str) -> np.ndarray:
    """True class of each output channel (a contact, or a bipolar pair ``"A1-A2"``: the class of its shaft)."""
    rows = truth[truth["subject"] == subject]
    by_contact = dict(zip(rows["contact"], rows["class"]))
    return np.asarray([by_contact[str(c).split("-")[0]] for c in channel_ids], dtype=str)


def load(root=None, subject: str = "01", n_subjects: int = 3, n_events: int = 240, n_per_class: int = 6,
         sfreq: float = 500.0, isi: float = 1.5, gain: float = 0.8, background: str = "synthetic",
         carrier_uv: float = 3.0, n_pretrain: int = 400, contrast_weight: float = 0.0,
         category_weight: float = 1.0, seed: int = 0,
         reference: str = "bipolar", notch_freqs=(50.0, 100.0, 150.0), high_gamma_band=(70.0, 150.0),
         n_subbands: int = 4, despike_threshold=8.0, tmin: float = -2.0, tmax: float = 4.5,
         bin_width: float = 0.2, test_fraction: float = 0.2):
    """Simulate one subject of the study (once per parameter set, under ``root``) and load it through ``bids_ieeg``.

    ``root`` None: a folder under the system temp dir named by the parameters' hash.  The
    simulation parameters are those of :func:`write_dataset`; the rest are ``bids_ieeg.load``'s.
    ``ground_truth``: ``classes`` (n_electrodes,) and ``table`` (every contact of every subject);
    ``meta["pretrain_pairs"]``: the matched image-caption corpus a vision-language pair is trained on.
    """
    from cogmodels.datasets import bids_ieeg

    params = {"n_subjects": n_subjects, "n_events": n_events, "n_per_class": n_per_class, "sfreq": sfreq,
              "isi": isi, "gain": gain, "background": background, "carrier_uv": carrier_uv,
              "n_pretrain": n_pretrain, "contrast_weight": contrast_weight, "category_weight": category_weight,
              "seed": seed, "version": 5}
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    base = Path(root) if root is not None else Path(tempfile.gettempdir()) / "cogmodels_seeg_sim"
    folder = base / f"seeg_sim_{key}"
    subject = str(subject)
    if subject not in {f"{s + 1:02d}" for s in range(int(n_subjects))}:
        raise ConfigError(format_problem("dataset.subject (seeg_sim)", f"one of 01..{int(n_subjects):02d}",
                                         repr(subject), "pick a simulated subject or raise n_subjects"))
    truths = folder / "derivatives" / "seeg_sim"
    if not (truths / f"sub-{subject}_ground_truth.tsv").is_file():
        log.info("seeg_sim: simulating sub-%s into %s", subject, folder)
        params.pop("version")
        write_dataset(folder, **params, subjects=[subject])
    truth = pd.concat([pd.read_csv(f, sep="\t", dtype={"subject": str})
                       for f in sorted(truths.glob("sub-*_ground_truth.tsv"))], ignore_index=True)
    dataset = bids_ieeg.load(folder, subject=subject, reference=reference, notch_freqs=notch_freqs,
                             high_gamma_band=high_gamma_band, n_subbands=n_subbands,
                             despike_threshold=despike_threshold, tmin=tmin, tmax=tmax, bin_width=bin_width,
                             test_fraction=test_fraction)
    dataset.name, dataset.card = "seeg_sim", CARD
    dataset.ground_truth = {"classes": channel_classes(dataset.responses.channels["id"], truth, subject),
                            "table": truth}
    dataset.meta["bids_root"] = str(folder)
    dataset.meta["pretrain_pairs"] = pretraining_pairs(folder)
    return dataset


def write_example(root: Path) -> dict:
    """A small, fast configuration (it reads no files; ``root`` keeps the simulated BIDS folder)."""
    return {"root": root, "n_subjects": 1, "n_events": 16, "n_per_class": 2, "sfreq": 400.0, "n_pretrain": 8,
            "tmin": -0.4, "tmax": 1.2}


DATASETS.register("seeg_sim", load, example=write_example, description=__doc__)
