"""Vision-language pairs: an image tower and a text tower mapped into one embedding space.

Registered in :data:`VISION_LANGUAGE` (not in the image-backbone registry: a pair
needs captions as well as images).  Every pair gives, for events that show an
image with a caption, three feature sets (:meth:`VisionLanguagePair.features`):

* ``image``: the image embedding (n, dim); ``text``: the caption embedding (n, dim);
* ``multimodal``: ``[image, text, image * text]`` (n, 3 dim).  The elementwise
  product is the fusion a two-tower model has: its sum is the model's image-text
  similarity, the quantity contrastive training shapes.

Pairs:

* ``contrastive``: trained in the platform.  Linear projections (learned, with a
  fixed L2 normalisation) over frozen image features (the fixed ``gabor`` bank,
  standardised) and a frozen text encoder (``hashing`` by default), trained with
  the symmetric InfoNCE loss of CLIP (Radford et al. 2021) on the stimulus-caption
  pairs given to :meth:`fit`.  ``train=False`` is the control: the same
  architecture with its seeded random initialisation, never trained.
* ``open_clip``: an open_clip model (``model_name``) whose weights are a local file
  (``weights=/path/to/checkpoint``); ``weights=None`` with ``random_init=True`` is
  the random-init twin (seeded).  Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import torch

from cogmodels.errors import ConfigError, WeightsUnavailableError, format_problem
from cogmodels.registry import Registry

log = logging.getLogger(__name__)

#: Vision-language pairs (images + captions in, embeddings out); see the module docstring.
VISION_LANGUAGE = Registry("vision-language pair")


class VisionLanguagePair:
    """Base: ``fit(images, captions)``, ``embed_images``, ``embed_texts``, ``features(images, captions)``."""

    name = "pair"
    weights = "none"

    def fit(self, images, captions) -> "VisionLanguagePair":
        return self

    def embed_images(self, images) -> np.ndarray:
        raise NotImplementedError

    def embed_texts(self, texts) -> np.ndarray:
        raise NotImplementedError

    def features(self, images, captions) -> dict[str, np.ndarray]:
        """``image`` (n, dim), ``text`` (n, dim) and ``multimodal`` (n, 3 dim) float32 features."""
        image, text = self.embed_images(images), self.embed_texts(captions)
        return {"image": image, "text": text,
                "multimodal": np.concatenate([image, text, image * text], axis=1).astype(np.float32)}


def image_features(images, image_size: int = 48, pool: int = 4, random_filters_seed: int | None = None) -> np.ndarray:
    """Frozen image features: the gabor bank's complex layer, flattened, float32 (n, n_features).

    ``random_filters_seed``: the same architecture (filter sizes, quadrature energy, pooling) with its
    filters replaced by seeded Gaussian random kernels of the same norms: the random-init image tower.
    """
    from cogmodels.backbones.gabor import GaborBackbone

    bank = GaborBackbone(image_size=image_size, pool=pool, scales=(4.0, 8.0, 16.0))
    if random_filters_seed is not None:
        generator = torch.Generator().manual_seed(int(random_filters_seed))
        levels = []
        for size, weight in bank._levels:
            noise = torch.randn(weight.shape, generator=generator)
            norms = weight.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            levels.append((size, noise / noise.flatten(1).norm(dim=1).view(-1, 1, 1, 1) * norms))
        bank._levels = levels
    return bank.extract(list(images), progress=False)["complex"].flatten()


@VISION_LANGUAGE.register("contrastive", example={"dim": 8, "epochs": 20, "image_size": 32})
class ContrastivePair(VisionLanguagePair):
    """Image-text projections over frozen gabor and text features, trained contrastively (InfoNCE) in the platform.

    Parameters
    ----------
    dim : int
        Embedding dimension.
    epochs : int
        Full-batch Adam steps.
    lr : float
    temperature : float
        Softmax temperature of the InfoNCE logits (fixed).
    weight_decay : float
        AdamW decoupled weight decay.
    n_components : int or None
        The frozen image features are reduced to their first principal components (fitted in
        :meth:`fit`) before the projection: fewer free weights, less memorisation of single pairs.
    train : bool
        False: the seeded random-init twin (the control), never trained: random projections and, with
        ``random_backbone``, random filters in place of the gabor bank (same architecture).
    random_backbone : bool
        Whether the twin's image filters are random too (default True: the whole image pathway is
        random-init, as the paper's random networks); the trained pair always uses the fixed gabor bank
        (standing in for pretrained filters).  False makes the twin a random projection of the same
        frozen gabor features, which keeps much of what a linear readout needs: a weaker control
        (``benchmarks/seeg_recovery.py --twin-filters gabor``: at vision sites trained - random r is
        +0.06, significant in 2 of 3 subjects, against +0.26 and 3 of 3 for the random-filter twin).
    text : str
        Text encoder of :data:`cogmodels.backbones.text.TEXT_ENCODERS` (frozen).
    text_dim : int
    image_size, pool : int
        Of the frozen gabor bank.
    seed : int
    """

    name = "contrastive"

    def __init__(self, dim: int = 16, epochs: int = 300, lr: float = 0.01, temperature: float = 0.1,
                 weight_decay: float = 0.0, n_components: int | None = 32, train: bool = True,
                 random_backbone: bool = True, text: str = "hashing", text_dim: int = 256, image_size: int = 48,
                 pool: int = 4, seed: int = 0):
        if dim < 1 or epochs < 0 or not lr > 0 or not temperature > 0:
            raise ConfigError(format_problem("vision_language (contrastive)", "dim >= 1, epochs >= 0, lr > 0, "
                                             "temperature > 0", f"dim={dim}, epochs={epochs}, lr={lr}, "
                                             f"temperature={temperature}", "e.g. dim=16, epochs=300"))
        self.dim, self.epochs, self.lr, self.temperature = int(dim), int(epochs), float(lr), float(temperature)
        self.train, self.text, self.text_dim = bool(train), str(text), int(text_dim)
        self.image_size, self.pool, self.seed = int(image_size), int(pool), int(seed)
        self.weight_decay = float(weight_decay)
        self.random_backbone = bool(random_backbone)
        self.n_components = None if n_components is None else int(n_components)

    @property
    def weights(self) -> str:
        if self.train:
            return f"trained contrastively over fixed gabor filters, seed {self.seed}"
        return f"random init (projections{' and filters' if self.random_backbone else ''}), seed {self.seed}"

    def _image_features(self, images) -> np.ndarray:
        seed = None if self.train or not self.random_backbone else self.seed
        return image_features(images, self.image_size, self.pool, seed)

    def _text_encoder(self):
        """The frozen text encoder, created once per pair (a sentence-transformers model loads in seconds)."""
        if getattr(self, "_text_model", None) is None:
            from cogmodels.backbones.text import TEXT_ENCODERS

            self._text_model = TEXT_ENCODERS.create(self.text, **({"dim": self.text_dim} if self.text == "hashing"
                                                                  else {}))
        return self._text_model

    def fit(self, images, captions) -> "ContrastivePair":
        """Standardise the frozen features and (``train``) learn the projections on the (image, caption) pairs."""
        x_img = self._image_features(images).astype(np.float64)
        x_txt = self._text_encoder().encode(captions).astype(np.float64)
        self.img_mean_, self.img_sd_ = x_img.mean(0), x_img.std(0) + 1e-8
        x_img = (x_img - self.img_mean_) / self.img_sd_
        k = min(self.n_components or x_img.shape[1], *x_img.shape)
        _, s, vt = np.linalg.svd(x_img, full_matrices=False)
        self.components_ = vt[:k].T / s[:k] * np.sqrt(x_img.shape[0])  # whitened principal components
        x_img = x_img @ self.components_
        generator = torch.Generator().manual_seed(self.seed)
        w_img = torch.randn(x_img.shape[1], self.dim, generator=generator, dtype=torch.float64) / np.sqrt(x_img.shape[1])
        w_txt = torch.randn(x_txt.shape[1], self.dim, generator=generator, dtype=torch.float64) / np.sqrt(x_txt.shape[1])
        if self.train:
            a = torch.as_tensor(x_img)
            b = torch.as_tensor(x_txt)
            w_img.requires_grad_(True)
            w_txt.requires_grad_(True)
            optimiser = torch.optim.AdamW([w_img, w_txt], lr=self.lr, weight_decay=self.weight_decay)
            target = torch.arange(a.shape[0])
            for _ in range(self.epochs):
                optimiser.zero_grad()
                za = torch.nn.functional.normalize(a @ w_img, dim=1)
                zb = torch.nn.functional.normalize(b @ w_txt, dim=1)
                logits = za @ zb.T / self.temperature
                loss = (torch.nn.functional.cross_entropy(logits, target) +
                        torch.nn.functional.cross_entropy(logits.T, target)) / 2
                loss.backward()
                optimiser.step()
            self.loss_ = float(loss.detach())
            log.info("contrastive pair: InfoNCE %.3f after %d steps on %d pairs", self.loss_, self.epochs, a.shape[0])
        self.w_img_, self.w_txt_ = w_img.detach().numpy(), w_txt.detach().numpy()
        return self

    def _check_fitted(self):
        if not hasattr(self, "w_img_"):
            from cogmodels.errors import NotFittedError

            raise NotFittedError("ContrastivePair is not fitted yet. Fix: call fit(images, captions) first.")

    def embed_images(self, images) -> np.ndarray:
        self._check_fitted()
        x = (self._image_features(images) - self.img_mean_) / self.img_sd_
        z = x @ self.components_ @ self.w_img_
        return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)

    def embed_texts(self, texts) -> np.ndarray:
        self._check_fitted()
        z = self._text_encoder().encode(texts).astype(np.float64) @ self.w_txt_
        return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@VISION_LANGUAGE.register("open_clip", example={"model_name": "ViT-B-32", "random_init": True})
class OpenClipPair(VisionLanguagePair):
    """An open_clip model with weights from a local file (or its seeded random-init twin); nothing downloaded.

    Parameters
    ----------
    model_name : str
        An open_clip architecture name (``open_clip.list_models()``).
    weights : path, optional
        Local checkpoint file; required unless ``random_init``.
    random_init : bool
        Seeded random initialisation (the control).
    seed : int
    model_config : path, optional
        An open_clip architecture JSON (``embed_dim``, ``vision_cfg``, ``text_cfg``) registered under its
        file stem, which ``model_name`` then names (e.g. a tiny test architecture).
    """

    name = "open_clip"

    def __init__(self, model_name: str = "ViT-B-32", weights=None, random_init: bool = False, seed: int = 0,
                 model_config=None):
        self.model_name, self.weights_file, self.random_init, self.seed = model_name, weights, random_init, int(seed)
        self.model_config = model_config
        if weights is None and not random_init:
            raise WeightsUnavailableError(format_problem(
                "vision_language.weights (open_clip)", "a local checkpoint file", "none (no download offline)",
                "pass weights=/path/to/open_clip_checkpoint.bin, or random_init=true for the random twin"))

    @property
    def weights(self) -> str:
        if self.weights_file is None:
            return f"random init, seed {self.seed}"
        return "weights file sha256 " + hashlib.sha256(open(self.weights_file, "rb").read()).hexdigest()

    def _model(self):
        if not hasattr(self, "_net"):
            import cogmodels._torchvision_compat  # noqa: F401  (before open_clip imports torchvision)
            import open_clip

            if self.model_config is not None:
                open_clip.add_model_config(str(self.model_config))
            torch.manual_seed(self.seed)
            net, _, preprocess = open_clip.create_model_and_transforms(
                self.model_name, pretrained=None if self.weights_file is None else str(self.weights_file))
            self._net, self._preprocess = net.eval(), preprocess
            self._tokenizer = open_clip.get_tokenizer(self.model_name)
        return self._net

    def embed_images(self, images) -> np.ndarray:
        from PIL import Image

        net = self._model()
        batch = torch.stack([self._preprocess(Image.fromarray(np.asarray(img))) for img in images])
        with torch.no_grad():
            z = net.encode_image(batch, normalize=True)
        return z.numpy().astype(np.float32)

    def embed_texts(self, texts) -> np.ndarray:
        net = self._model()
        with torch.no_grad():
            z = net.encode_text(self._tokenizer(list(map(str, texts))), normalize=True)
        return z.numpy().astype(np.float32)
