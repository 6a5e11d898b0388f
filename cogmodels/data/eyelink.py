"""EyeLink ASC parser: raw samples, messages, the tracker's own events, blocks and trials.

An ASC file is the text export (``edf2asc``) of an EyeLink EDF recording.
The lines this parser understands:

``** ...``
    header (converter, date, tracker model).
``MSG <t> [offset] <text>``
    a message; an integer right after the time is EyeLink's time offset
    (the message refers to ``t - offset``) and is kept in its own column.
    Indented lines right after a message (calibration coefficients) are
    appended to its text.
``START <t> LEFT|RIGHT ... / END <t> ... RES <xres> <yres>``
    a recording block.  ``RES`` is the tracker's average resolution of the
    block in pixels per degree; it is used as ``px_per_deg`` when no screen
    geometry is given.  Each GazeSamples' ``geometry`` is the one given, else
    :func:`~cogmodels.data.geometry.recorded_geometry` (GAZE_COORDS and RES).
``SAMPLES GAZE LEFT [RIGHT] RATE <hz> ...`` (and ``EVENTS ...``)
    the sampling rate, recorded eyes and sample type of the block.
``<t> <x> <y> <pupil> [<x> <y> <pupil>] ...``
    a sample (monocular or binocular, left eye first); ``.`` marks a missing
    value and becomes NaN.  Extra columns (velocity, resolution, input, flags)
    are ignored.
``SFIX/EFIX, SSACC/ESACC, SBLINK/EBLINK``
    the tracker's events; the end lines carry the fields
    (EFIX: start end duration x y pupil; ESACC: start end duration x_start
    y_start x_end y_end amplitude peak_velocity; EBLINK: start end duration).
``INPUT, BUTTON, PRESCALER, VPRESCALER, PUPIL, >>>>>>> CALIBRATION``
    recognised and skipped (counted in ``meta["ignored_lines"]``).

Anything else is skipped and counted in ``meta["n_unknown_lines"]`` (with
examples), with a warning.

Trials: a message matching ``trial_pattern`` (default ``TRIALID``) starts a
trial.  Samples, events and messages belong to the trial most recently
started *in file order* (messages are sometimes written with out-of-order
timestamps; the file order is what the experiment software meant).  Samples
before the first trial message of a block have ``trial=None``.

Truncated files are parsed as far as possible (a *documented partial
parse*): a block without ``END`` is kept and flagged
``meta["complete"] = False``, a malformed last line (file cut mid-line) is
dropped; both raise a warning, or a :class:`DataFormatError` with
``strict=True``.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cogmodels.data.gaze import GazeSamples
from cogmodels.data.geometry import (  # noqa: F401 (px_per_deg_from_saccades is re-exported)
    ScreenGeometry, check_geometry_matches, check_samples_on_screen, px_per_deg_from_saccades, recorded_geometry,
    resolution_from_coords)
from cogmodels.errors import DataFormatError, format_problem

logger = logging.getLogger(__name__)

EVENT_COLUMNS = ("type", "eye", "t_start", "t_end", "duration", "x", "y", "pupil", "x_start", "y_start",
                 "x_end", "y_end", "amplitude", "peak_velocity", "block", "trial", "line")
MESSAGE_COLUMNS = ("t", "offset", "text", "block", "trial", "line")
IGNORED_KEYWORDS = {"INPUT", "BUTTON", "PRESCALER", "VPRESCALER", "PUPIL", "SFIX", "SSACC", "SBLINK"}
# Minimum number of whitespace-separated fields of each event end line (keyword included).
_EVENT_FIELDS = {"EFIX": ("fixation", 8), "ESACC": ("saccade", 11), "EBLINK": ("blink", 5)}
_N_EXAMPLES = 5


@dataclass
class AscRecording:
    """The content of one ASC file.

    Attributes
    ----------
    path : str
    samples : list of GazeSamples
        One per eye per (block, trial), in file order.
    events : DataFrame
        The tracker's events, columns ``EVENT_COLUMNS`` (type is "fixation",
        "saccade" or "blink"; times in ms on the tracker clock).
    messages : DataFrame
        Columns ``MESSAGE_COLUMNS``.
    blocks : DataFrame
        One row per recording block: block, t_start, t_end, eyes, sampling_rate,
        sample_type, res_x, res_y, complete, line_start, line_end, gaze_coords,
        display_coords.
    meta : dict
        header, n_lines, n_unknown_lines, unknown_examples (line, text),
        n_malformed_lines, malformed_examples (line, text, why), ignored_lines
        (count per keyword), n_samples_outside_blocks, display_coords,
        n_unterminated_events, px_per_deg_source, n_incomplete_blocks.
    """

    path: str
    samples: list
    events: pd.DataFrame
    messages: pd.DataFrame
    blocks: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self):
        return iter(self.samples)

    def __getitem__(self, i) -> GazeSamples:
        return self.samples[i]

    def select(self, eye: str | None = None, trial: str | None = None, block: int | None = None) -> list:
        """The GazeSamples of one eye ("L"/"R"), trial label and/or block index."""
        return [s for s in self.samples
                if (eye is None or s.eye == eye) and (trial is None or s.trial == trial)
                and (block is None or s.meta.get("block") == block)]


def read_asc(path, *, trial_pattern: str | None = r"TRIALID\s*(.*)", geometry: ScreenGeometry | None = None,
             subject: str | None = None, strict: bool = False) -> AscRecording:
    """Parse an EyeLink ASC file.

    Parameters
    ----------
    path : str or Path
    trial_pattern : str or None
        Regular expression searched in every message; a match starts a new
        trial labelled by its first non-empty group (else the message text).
        None: one GazeSamples per eye per block.
    geometry : ScreenGeometry, optional
        Screen geometry; checked against DISPLAY_COORDS / GAZE_COORDS and the
        sample range (mismatch -> DataFormatError), and used for px_per_deg.
        Without it, px_per_deg is the tracker's RES from the block's END line.
    subject : str, optional
        Stored in every GazeSamples.
    strict : bool
        Raise DataFormatError on malformed lines and truncated blocks
        instead of the documented partial parse with a warning.

    Returns
    -------
    AscRecording
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "an EyeLink ASC file", "no such file",
                                             "convert the EDF with edf2asc and check the path"))
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    parser = _AscParser(str(path), trial_pattern, strict)
    parser.parse(text)
    return parser.finish(geometry, subject)


class _AscParser:
    """Line-by-line state machine behind :func:`read_asc`."""

    def __init__(self, where: str, trial_pattern: str | None, strict: bool):
        self.where = where
        self.trial_regex = re.compile(trial_pattern) if trial_pattern else None
        self.strict = strict
        self.header, self.messages, self.events, self.blocks = [], [], [], []
        self.block = None          # the open block (dict) or None
        self.trial = None          # current trial label
        self.unknown, self.malformed = [], []
        self.n_unknown = self.n_malformed = self.n_outside = 0
        self.ignored: dict[str, int] = {}
        self.open_events: dict[tuple[str, str], int] = {}
        self.display_coords = self.gaze_coords = None
        self.last_was_message = False
        self.handlers = {"MSG": self._message, "START": self._start, "END": self._end, "SAMPLES": self._samples_line,
                         "EVENTS": self._events_line, "EFIX": self._event, "ESACC": self._event, "EBLINK": self._event}

    # -- driving -------------------------------------------------------------------------------
    def parse(self, text: str) -> None:
        lines = text.split("\n")  # not splitlines(): message text may hold other line-break characters
        self.cut_mid_line = lines[-1] != ""
        if not self.cut_mid_line:
            lines.pop()
        self.n_lines = len(lines)
        rows = tqdm(enumerate(lines, start=1), total=len(lines), desc=f"parsing {Path(self.where).name}",
                    unit="line", disable=len(lines) < 2_000_000)
        for number, line in rows:
            line = line.rstrip("\r")
            if not line.strip():
                continue
            try:
                self._line(line, number)
            except (ValueError, IndexError) as err:
                self._malformed(number, line, err)

    def _line(self, line: str, number: int) -> None:
        first = line[0]
        if first.isdigit():
            self._sample(line, number)
            self.last_was_message = False
            return
        if first in " \t":
            if not self.last_was_message:
                raise ValueError("indented line that does not follow a message")
            self.messages[-1]["text"] += "\n" + line.strip()
            return
        keyword = line.split(None, 1)[0]
        self.last_was_message = keyword == "MSG"
        handler = self.handlers.get(keyword)
        if handler is not None:
            handler(line, number)
        elif keyword in IGNORED_KEYWORDS or line.startswith(("**", ">>>>")):
            self._ignore(keyword, line)
        else:
            self.n_unknown += 1
            if len(self.unknown) < _N_EXAMPLES:
                self.unknown.append((number, line[:80]))

    def _malformed(self, number: int, line: str, err: Exception | str) -> None:
        last = self.cut_mid_line and number == self.n_lines
        what = "the file ends mid-line (truncated file)" if last else f"a malformed line ({err})"
        if self.strict:
            raise DataFormatError(format_problem(f"{self.where}, line {number}", "a complete ASC line",
                                                 f"{what}: {line[:80]!r}",
                                                 "re-export the EDF with edf2asc, or pass strict=False "
                                                 "to skip such lines"))
        self.n_malformed += 1
        if len(self.malformed) < _N_EXAMPLES:
            self.malformed.append((number, line[:80], "truncated" if last else str(err)))

    def _ignore(self, keyword: str, line: str) -> None:
        if line.startswith("**"):
            self.header.append(line[2:].strip())
            return
        key = "CALIBRATION" if line.startswith(">>>>") else keyword
        self.ignored[key] = self.ignored.get(key, 0) + 1
        if keyword in ("SFIX", "SSACC", "SBLINK"):
            eye = line.split()[1]
            self.open_events[(keyword[1:], eye)] = self.open_events.get((keyword[1:], eye), 0) + 1

    # -- line types ------------------------------------------------------------------------------
    def _message(self, line: str, number: int) -> None:
        parts = line.split(None, 2)
        t = float(parts[1])
        text = parts[2] if len(parts) > 2 else ""
        offset = 0.0
        head = text.split(None, 1)
        if len(head) == 2 and re.fullmatch(r"-?\d+", head[0]):
            offset, text = float(head[0]), head[1]
        if text.startswith("DISPLAY_COORDS"):
            self.display_coords = text.split()[1:5]
        elif text.startswith("GAZE_COORDS"):
            self.gaze_coords = text.split()[1:5]
            if self.block is not None:
                self.block["gaze_coords"] = self.gaze_coords
        if self.trial_regex is not None:
            match = self.trial_regex.search(text)
            if match:
                groups = [g for g in match.groups() if g and g.strip()]
                self.trial = groups[0].strip() if groups else text.strip()
        self.messages.append(dict(t=t, offset=offset, text=text, block=self._block_index(), trial=self.trial,
                                  line=number))

    def _start(self, line: str, number: int) -> None:
        fields = line.split()
        if self.block is not None:
            self._close_block(complete=False, line_end=number - 1)
        eyes = "".join(e[0] for e in fields[2:] if e in ("LEFT", "RIGHT"))
        self.block = dict(block=len(self.blocks), t_start=float(fields[1]), t_end=np.nan, eyes=eyes,
                          sampling_rate=np.nan, sample_type="", res_x=np.nan, res_y=np.nan, complete=False,
                          line_start=number, line_end=np.nan,
                          gaze_coords=self.gaze_coords, display_coords=self.display_coords,
                          raw=[], trials=[], lines=[])

    def _end(self, line: str, number: int) -> None:
        fields = line.split()
        if self.block is None:
            raise ValueError("END without START")
        self.block["t_end"] = float(fields[1])
        if "RES" in fields:
            i = fields.index("RES")
            self.block["res_x"], self.block["res_y"] = float(fields[i + 1]), float(fields[i + 2])
        self._close_block(complete=True, line_end=number)

    def _samples_line(self, line: str, number: int) -> None:
        fields = line.split()
        if self.block is None:
            raise ValueError("SAMPLES line outside a recording block")
        self.block["sample_type"] = fields[1]
        self.block["sampling_rate"] = float(fields[fields.index("RATE") + 1])
        self.block["eyes"] = "".join(e[0] for e in fields[2:] if e in ("LEFT", "RIGHT")) or self.block["eyes"]

    def _events_line(self, line: str, number: int) -> None:
        fields = line.split()
        if self.block is not None and "RATE" in fields and not np.isfinite(self.block["sampling_rate"]):
            self.block["sampling_rate"] = float(fields[fields.index("RATE") + 1])

    def _sample(self, line: str, number: int) -> None:
        # Samples are the bulk of a file: keep the text and parse a whole block at once when it closes.
        if self.block is None:
            self.n_outside += 1
            return
        self.block["raw"].append(line)
        self.block["trials"].append(self.trial)
        self.block["lines"].append(number)

    def _event(self, line: str, number: int) -> None:
        fields = line.split()
        kind, n_fields = _EVENT_FIELDS[fields[0]]
        if len(fields) < n_fields:
            raise ValueError(f"{fields[0]} with {len(fields)} fields, expected {n_fields}")
        num = [np.nan if v == "." else float(v) for v in fields[2:n_fields]]
        row = dict.fromkeys(EVENT_COLUMNS, np.nan)
        row.update(type=kind, eye=fields[1], t_start=num[0], t_end=num[1], duration=num[2],
                   block=self._block_index(), trial=self.trial, line=number)
        if kind == "fixation":
            row.update(x=num[3], y=num[4], pupil=num[5])
        elif kind == "saccade":
            row.update(x_start=num[3], y_start=num[4], x_end=num[5], y_end=num[6], amplitude=num[7],
                       peak_velocity=num[8])
        self.events.append(row)
        key = (fields[0][1:], fields[1])
        if self.open_events.get(key, 0) > 0:
            self.open_events[key] -= 1

    def _block_index(self) -> int:
        return self.block["block"] if self.block is not None else -1

    def _close_block(self, complete: bool, line_end) -> None:
        self.block["complete"] = complete
        self.block["line_end"] = line_end
        self._parse_samples(self.block)
        if not complete:
            what = f"recording block {self.block['block']} (START at line {self.block['line_start']}) without END"
            if self.strict:
                raise DataFormatError(format_problem(self.where, "every START closed by an END line",
                                                     f"{what} (truncated file?)",
                                                     "re-export the EDF, or pass strict=False for a partial parse"))
            warnings.warn(f"{self.where}: {what}: truncated file? Kept its {len(self.block['t'])} samples "
                          "(partial parse, meta['complete'] = False)", stacklevel=4)
        self.blocks.append(self.block)
        self.block = None

    def _parse_samples(self, block: dict) -> None:
        """Sample lines of a block -> block["t"] (n,) and block["values"] (n, 3 * n_eyes); drops malformed lines."""
        width = 1 + 3 * max(len(block["eyes"]), 1)
        values = _fast_sample_parse(block["raw"], width)
        if values is None:  # something unusual: parse line by line to find and report the culprits
            values, keep = _slow_sample_parse(block["raw"], width)
            for i in np.flatnonzero(~keep):
                self._malformed(block["lines"][i], block["raw"][i], f"expected {width} numbers or '.'")
            block["trials"] = [trial for trial, k in zip(block["trials"], keep) if k]
            block["lines"] = [line for line, k in zip(block["lines"], keep) if k]
        block["t"], block["values"] = values[:, 0], values[:, 1:]
        del block["raw"]

    # -- results ---------------------------------------------------------------------------------
    def finish(self, geometry: ScreenGeometry | None, subject: str | None) -> AscRecording:
        if self.block is not None:
            self._close_block(complete=False, line_end=self.n_lines)
        if not self.blocks:
            warnings.warn(f"{self.where}: no recording block (START line); no samples were read", stacklevel=3)
        self._warn_skipped()
        events = pd.DataFrame(self.events, columns=list(EVENT_COLUMNS))
        messages = pd.DataFrame(self.messages, columns=list(MESSAGE_COLUMNS))
        samples, px_sources = [], set()
        for block in self.blocks:
            px_per_deg, source = self._px_per_deg(block, geometry)
            px_sources.add(source)
            screen = geometry or recorded_geometry(block, px_per_deg, source, f"{self.where}, block {block['block']}")
            samples.extend(self._block_samples(block, events, messages, px_per_deg, subject, geometry, screen))
        meta = dict(header=self.header, n_lines=self.n_lines, n_unknown_lines=self.n_unknown,
                    unknown_examples=self.unknown, n_malformed_lines=self.n_malformed,
                    malformed_examples=self.malformed, ignored_lines=dict(self.ignored),
                    n_samples_outside_blocks=self.n_outside, display_coords=self.display_coords,
                    n_unterminated_events=int(sum(self.open_events.values())),
                    px_per_deg_source=sorted(px_sources),
                    n_incomplete_blocks=sum(not b["complete"] for b in self.blocks))
        table = pd.DataFrame([{k: v for k, v in b.items() if k not in ("t", "values", "trials", "lines")}
                              for b in self.blocks])
        logger.info("%s: %d block(s), %d sample segment(s), %d events, %d messages", self.where, len(self.blocks),
                    len(samples), len(events), len(messages))
        return AscRecording(self.where, samples, events, messages, table, meta)

    def _warn_skipped(self) -> None:
        if self.n_unknown:
            line, text = self.unknown[0]
            warnings.warn(f"{self.where}: skipped {self.n_unknown} unknown line(s) (e.g. line {line}: {text!r}); "
                          "counted in meta['n_unknown_lines']", stacklevel=4)
        if self.n_malformed:
            line, text, why = self.malformed[0]
            warnings.warn(f"{self.where}: skipped {self.n_malformed} malformed line(s) (e.g. line {line}: {text!r}, "
                          f"{why}); counted in meta['n_malformed_lines']", stacklevel=4)
        if self.n_outside:
            warnings.warn(f"{self.where}: skipped {self.n_outside} sample line(s) outside any START/END block",
                          stacklevel=4)

    def _px_per_deg(self, block: dict, geometry: ScreenGeometry | None):
        where = f"{self.where}, block {block['block']}"
        if geometry is not None:
            for name in ("display_coords", "gaze_coords"):
                if block[name] is not None:
                    resolution = resolution_from_coords(block[name], f"{where} {name.upper()}")
                    check_geometry_matches(geometry, resolution, f"{where} {name.upper()}")
            return geometry.px_per_deg, "geometry"
        if np.isfinite(block["res_x"]) and np.isfinite(block["res_y"]):
            return 0.5 * (block["res_x"] + block["res_y"]), "END RES"
        return None, "none"

    def _block_samples(self, block, events, messages, px_per_deg, subject, geometry, screen=None) -> list:
        if not len(block["t"]):
            return []
        where = f"{self.where}, block {block['block']}"
        t, values, lines = block["t"], block["values"], np.asarray(block["lines"])
        rate = block["sampling_rate"]
        if not np.isfinite(rate):
            rate = _rate_from_timestamps(t, where)
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.size:
            i = bad[0]
            raise DataFormatError(format_problem(
                f"{where}, lines {lines[i]}-{lines[i + 1]}", "strictly increasing sample times",
                f"{t[i]:g} followed by {t[i + 1]:g} ({bad.size} such steps)",
                "check the export; duplicated samples must be removed before parsing"))
        trials = block["trials"]
        starts = [0] + [i for i in range(1, len(trials)) if trials[i] != trials[i - 1]] + [len(trials)]
        out = []
        for eye_index, eye in enumerate(block["eyes"] or "?"):
            x, y = values[:, 3 * eye_index], values[:, 3 * eye_index + 1]
            if geometry is not None:
                check_samples_on_screen(x, y, geometry, f"{where}, eye {eye}")
            for a, b in zip(starts[:-1], starts[1:]):
                # An event belongs to the segment in which it starts; segments tile the block in time.
                span = (t[a] if a > 0 else -np.inf, t[b] if b < len(t) else np.inf)
                out.append(self._segment(block, eye, t[a:b], x[a:b], y[a:b], values[a:b, 3 * eye_index + 2],
                                         trials[a], span, rate, px_per_deg, subject, events, messages, screen))
        return out

    def _segment(self, block, eye, t, x, y, pupil, trial, span, rate, px_per_deg, subject, events, messages,
                 screen=None):
        in_block = (events["block"] == block["block"]) & (events["eye"] == eye)
        in_time = (events["t_start"] >= span[0]) & (events["t_start"] < span[1])
        own_events = events[in_block & in_time].reset_index(drop=True)
        same_trial = messages["trial"].isna() if trial is None else messages["trial"] == trial
        own_messages = messages[(messages["block"] == block["block"]) & same_trial].reset_index(drop=True)
        meta = dict(block=block["block"], complete=block["complete"], sample_type=block["sample_type"],
                    file=self.where, t_block_start=block["t_start"])
        return GazeSamples(t, x, y, sampling_rate=float(rate), px_per_deg=px_per_deg, eye=eye, subject=subject,
                           trial=trial, events=own_events, messages=own_messages, pupil=pupil, meta=meta,
                           geometry=screen)


def _fast_sample_parse(raw: list[str], width: int) -> np.ndarray | None:
    """All sample lines at once with pandas' C parser; None when any line is unusual."""
    if not raw:
        return np.zeros((0, width))
    try:
        frame = pd.read_csv(io.StringIO("\n".join(raw)), sep=r"\s+", header=None, usecols=range(width),
                            na_values=["."], keep_default_na=False, engine="c")
        values = frame.to_numpy(dtype=float)
    except (ValueError, TypeError, pd.errors.ParserError):
        return None
    # A short line is filled with empty strings (making a column non-numeric, caught above) or NaN.
    if np.isnan(values[:, 0]).any():
        return None
    suspicious = np.flatnonzero(np.isnan(values).any(axis=1))
    if any(len(raw[i].split()) < width for i in suspicious):
        return None
    return values


def _slow_sample_parse(raw: list[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Line-by-line parse; returns the values of the good lines and a keep mask of shape (n_lines,)."""
    rows, keep = [], np.ones(len(raw), dtype=bool)
    for i, line in enumerate(raw):
        fields = line.split()
        try:
            if len(fields) < width:
                raise ValueError
            row = [np.nan if v == "." else float(v) for v in fields[:width]]
            if not np.isfinite(row[0]):
                raise ValueError
            rows.append(row)
        except ValueError:
            keep[i] = False
    return np.asarray(rows, dtype=float).reshape(-1, width), keep


def _rate_from_timestamps(t: np.ndarray, where: str) -> float:
    if len(t) < 2:
        raise DataFormatError(format_problem(where, "a SAMPLES line with RATE, or at least two samples",
                                             f"{len(t)} sample and no RATE", "re-export the EDF with edf2asc"))
    rate = 1000.0 / float(np.median(np.diff(t)))
    warnings.warn(f"{where}: no SAMPLES/EVENTS line with RATE; using {rate:g} Hz from the median time step",
                  stacklevel=5)
    return rate
