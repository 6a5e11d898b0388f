"""Reading .npy files of a download without ever unpickling them.

- :func:`load_npy` reads a plain numeric array; anything else (garbage bytes, a
  truncated file, an object array) is a DataFormatError that names the file,
  instead of numpy's "Cannot load file containing pickled data" for every case.
- :func:`read_npy_dict` reads the dict ``{int: str}`` that ``np.save(path, a_dict)``
  stored (a pickle inside the .npy, as in the Algonauts 2023 ROI mappings) by
  interpreting the pickle stream opcode by opcode (:mod:`pickletools`): globals stay
  names and are never imported, calls stay (name, args) and are never made.
"""

from __future__ import annotations

import pickletools
from pathlib import Path

import numpy as np

from cogmodels.errors import DataFormatError, format_problem


def load_npy(path: Path, what: str) -> np.ndarray:
    """A plain (non-object) .npy array; a DataFormatError naming ``path`` for anything else (never unpickles)."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
            if magic == b"\x93NUMPY":
                handle.seek(0)
                return np.load(handle, allow_pickle=False)
    except ValueError as err:  # numpy says "pickled data" for object arrays and for some damaged headers
        raise DataFormatError(format_problem(str(path), f"a NumPy .npy file of plain numbers ({what})",
                                             f"a damaged file or an object array ({err})",
                                             "re-download the file")) from None
    except (OSError, EOFError) as err:
        raise DataFormatError(format_problem(str(path), f"a complete NumPy .npy file ({what})",
                                             f"an unreadable file ({type(err).__name__}: {err})",
                                             "re-download the file")) from None
    raise DataFormatError(format_problem(str(path), f"a NumPy .npy file ({what})",
                                         f"{path.stat().st_size} bytes that are not one (they start with {magic!r})",
                                         "re-download the file"))


_CONVERT = ("or write the mapping as JSON next to it, mapping_<roi file>.json = {\"1\": \"V1v\", ...}, "
            "from the release's colour tables (nsddata/freesurfer/subjXX/label/<roi file>.mgz.ctab: label, name)")


def read_npy_dict(path: Path) -> dict:
    """The dict of ints and strings that ``np.save`` stored in ``path``, read without unpickling.

    The pickle stream of the 0-d object array is interpreted opcode by opcode
    (:mod:`pickletools`); globals are kept as names and never imported, calls are
    kept as (name, args) and never made.  Integer keys stored as numpy scalars
    are decoded from their bytes.  Anything else is a DataFormatError.
    """
    def bad(found: str) -> DataFormatError:
        return DataFormatError(format_problem(str(path), "a dict {int label: ROI name} saved with np.save",
                                              found, f"re-download it, {_CONVERT}"))

    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            shape, _, dtype = readers[version](handle) if version in readers else (None, None, None)
            stream = handle.read()
    except (ValueError, OSError, EOFError) as err:
        raise bad(f"a file that is not a .npy array ({err})") from None
    if dtype is None:
        raise bad(f".npy format version {version}")
    if dtype != np.dtype(object) or shape != ():
        raise bad(f"an array of dtype {dtype} and shape {shape}")
    try:
        result = _interpret_pickle(stream)
        mapping = result.state[-1][0]  # ndarray reconstruct, state (version, shape, dtype, fortran, [the dict])
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as err:
        raise bad(f"a pickle this reader does not interpret ({err})") from None
    if not isinstance(mapping, dict):
        raise bad(f"a {type(mapping).__name__}")
    return {_scalar(k): _scalar(v) for k, v in mapping.items()}


_POP_MARK = {"TUPLE", "LIST", "DICT", "APPENDS", "SETITEMS", "POP_MARK"}


class _Call:
    """A call the pickle asks for (REDUCE), recorded and never made; BUILD sets its ``state``."""

    def __init__(self, func, args):
        self.func, self.args, self.state = func, args, None


def _interpret_pickle(stream: bytes):
    """Evaluate a pickle of plain containers; a global is ("global", module, name), a call a :class:`_Call`."""
    stack, marks, memo = [], [], {}
    for opcode, arg, _ in pickletools.genops(stream):
        name = opcode.name
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            return stack.pop()
        if name == "MARK":
            marks.append(len(stack))
        elif name in _POP_MARK:
            start = marks.pop()
            items, stack[start:] = stack[start:], []
            if name == "TUPLE":
                stack.append(tuple(items))
            elif name == "LIST":
                stack.append(list(items))
            elif name == "DICT":
                stack.append(dict(zip(items[::2], items[1::2])))
            elif name == "APPENDS":
                stack[-1].extend(items)
            elif name == "SETITEMS":
                stack[-1].update(zip(items[::2], items[1::2]))
        elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
            stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
        elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
                      "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING",
                      "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"):
            stack.append(arg)
        elif name in ("EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT"):
            stack.append({"EMPTY_TUPLE": (), "EMPTY_LIST": [], "EMPTY_DICT": {}}[name])
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items, stack[-n:] = tuple(stack[-n:]), []
            stack.append(items)
        elif name == "APPEND":
            value = stack.pop()
            stack[-1].append(value)
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            stack[-1][key] = value
        elif name == "GLOBAL":
            stack.append(("global", *arg.split(" ", 1)))
        elif name == "STACK_GLOBAL":
            attr, module = stack.pop(), stack.pop()
            stack.append(("global", module, attr))
        elif name == "REDUCE":
            args, func = stack.pop(), stack.pop()
            stack.append(_Call(func, args))
        elif name == "BUILD":
            state = stack.pop()
            stack[-1].state = state
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[arg])
        elif name == "POP":
            stack.pop()
        else:
            raise ValueError(f"opcode {name}")
    raise ValueError("no STOP opcode")


def _scalar(value):
    """A plain key/value of the mapping: ints and strings as they are, numpy integer scalars decoded."""
    if isinstance(value, (int, str)):
        return value
    if isinstance(value, _Call) and value.func[-1] == "scalar" and len(value.args) == 2:  # numpy scalar(dtype, raw)
        dtype_call, raw = value.args
        code, byteorder = dtype_call.args[0], (dtype_call.state or (None, "|"))[1]
        dtype = np.dtype(("<" if byteorder == "|" else byteorder) + code.lstrip("<>|="))
        if dtype.kind in "iu" and isinstance(raw, bytes) and len(raw) == dtype.itemsize:
            return int(np.frombuffer(raw, dtype=dtype)[0])
    return _Opaque(value)


class _Opaque:
    """A key or value that is neither an int nor a str (shown in the error that rejects it)."""

    def __init__(self, value):
        self.text = repr(value)[:80]

    def __repr__(self) -> str:
        return f"<not an int or str: {self.text}>"
