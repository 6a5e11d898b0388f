"""Text encoders and vision-language pairs: hashing is fixed; the contrastive pair aligns matched categories."""

import numpy as np
import pytest

from cogmodels.backbones.text import TEXT_ENCODERS
from cogmodels.backbones.vision_language import VISION_LANGUAGE
from cogmodels.datasets.seeg_sim import ADJECTIVES, SYNONYMS, grating
from cogmodels.errors import WeightsUnavailableError


def test_hashing_is_fixed_normalised_and_word_sensitive():
    enc = TEXT_ENCODERS.create("hashing", dim=64)
    a = enc.encode(["a bright ladder", "a bright ladder", "a dark tower", ""])
    np.testing.assert_array_equal(a[0], a[1])
    np.testing.assert_allclose(np.linalg.norm(a[:3], axis=1), 1, rtol=1e-6)
    assert not np.allclose(a[0], a[2]) and not a[3].any()
    assert not np.allclose(a[0], TEXT_ENCODERS.create("hashing", dim=64, seed=1).encode(["a bright ladder"])[0])


def test_sentence_transformer_without_a_model_names_the_fix():
    with pytest.raises(WeightsUnavailableError, match="hashing"):  # neither a folder nor an installed package
        TEXT_ENCODERS.create("sentence_transformer", model="no_such_weights_package_xyz")


def test_sentence_transformer_without_the_extra_names_the_fix():
    import importlib.util

    if importlib.util.find_spec("sentence_transformers") is not None:
        pytest.skip("the text extra is installed (tests/seeg/test_text_extra.py tests it)")
    with pytest.raises(WeightsUnavailableError, match="hashing"):
        TEXT_ENCODERS.create("sentence_transformer")


def test_open_clip_needs_a_local_weights_file():
    with pytest.raises(WeightsUnavailableError, match="weights="):
        VISION_LANGUAGE.create("open_clip", model_name="ViT-B-32")


def _pairs(n, seed):
    rng = np.random.default_rng(seed)
    cats = rng.integers(0, 4, n)
    images = [grating(int(c), rng, size=32)[0] for c in cats]
    captions = [f"a {ADJECTIVES[rng.integers(6)]} {SYNONYMS[c][rng.integers(2)]}" for c in cats]
    return images, captions, cats


def test_contrastive_training_aligns_images_with_their_captions_beyond_the_random_twin():
    images, captions, _ = _pairs(120, 0)
    test_images, test_captions, cats = _pairs(40, 1)
    params = dict(dim=8, epochs=150, temperature=0.3, image_size=32, n_components=16, text_dim=64, seed=0)
    trained = VISION_LANGUAGE.create("contrastive", train=True, **params).fit(images, captions)
    random = VISION_LANGUAGE.create("contrastive", train=False, **params).fit(images, captions)

    def matched_minus_mismatched(pair):
        f = pair.features(test_images, test_captions)
        sim = f["image"] @ f["text"].T
        same = cats[:, None] == cats[None, :]
        return sim[same].mean() - sim[~same].mean()

    assert matched_minus_mismatched(trained) > 0.3
    assert abs(matched_minus_mismatched(random)) < matched_minus_mismatched(trained) / 3
    f = trained.features(test_images, test_captions)
    assert f["multimodal"].shape == (40, 24) and f["multimodal"].dtype == np.float32


def _tiny_open_clip_config(folder):
    import json

    config = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16,
                                              "head_width": 16},
              "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    path = folder / "tiny-clip-test.json"
    path.write_text(json.dumps(config))
    return path


def test_open_clip_tiny_random_init_and_a_local_weights_file(tmp_path):
    import cogmodels._torchvision_compat  # noqa: F401  (before open_clip imports torchvision)

    pytest.importorskip("open_clip")
    from safetensors.torch import save_file

    config = _tiny_open_clip_config(tmp_path)
    images, captions, _ = _pairs(3, 0)
    pair = VISION_LANGUAGE.create("open_clip", model_name="tiny-clip-test", model_config=config, random_init=True,
                                  seed=0)
    features = pair.features(images, captions)
    assert features["image"].shape == (3, 16) and features["multimodal"].shape == (3, 48)
    np.testing.assert_allclose(np.linalg.norm(features["text"], axis=1), 1, rtol=1e-5)
    again = VISION_LANGUAGE.create("open_clip", model_name="tiny-clip-test", model_config=config, random_init=True,
                                   seed=0).features(images, captions)
    np.testing.assert_array_equal(features["image"], again["image"])  # seeded
    other = VISION_LANGUAGE.create("open_clip", model_name="tiny-clip-test", model_config=config, random_init=True,
                                   seed=1).features(images, captions)
    assert not np.allclose(features["image"], other["image"])
    weights = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in pair._model().state_dict().items()}, str(weights))
    loaded = VISION_LANGUAGE.create("open_clip", model_name="tiny-clip-test", model_config=config,
                                    weights=str(weights), seed=5)
    np.testing.assert_allclose(loaded.features(images, captions)["image"], features["image"], atol=1e-5)
    assert loaded.weights.startswith("weights file sha256 ")
