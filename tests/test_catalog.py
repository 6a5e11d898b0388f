"""The catalog behind `cogmodels list` and `cogmodels card`: names with descriptions, experiments, cards."""

import pytest

from cogmodels import catalog
from cogmodels.errors import ConfigError, RegistryError


@pytest.mark.parametrize("family", ["backbones", "encoders", "scanpaths", "search", "datasets"])
def test_entries_list_every_registered_name_with_a_one_line_description(family):
    listed = catalog.entries(family)
    assert [name for name, _ in listed] == catalog.registry(family).list()
    for name, description in listed:
        assert description.strip() and "\n" not in description, name


def test_entries_of_builtins_say_what_they_are():
    backbones = dict(catalog.entries("backbones"))
    assert backbones["gabor"].startswith("Fixed V1-like Gabor filter bank")
    assert backbones["resnet50"].startswith("ResNet-50 (He et al. 2016) through timm")
    datasets = dict(catalog.entries("datasets"))
    assert datasets["osie"].startswith("OSIE: Object and Semantic Images and Eye-tracking")


def test_experiments_are_the_yaml_files_with_their_first_comment_line(tmp_path, monkeypatch):
    folder = tmp_path / "experiment"
    folder.mkdir()
    (folder / "b_run.yaml").write_text("# @package _global_\n# Second: the b run.\n# more\nexperiment_name: b_run\n")
    (folder / "a_run.yaml").write_text("experiment_name: a_run\n")
    (folder / "notes.txt").write_text("# not a config\n")
    monkeypatch.setenv("COGMODELS_CONFIG_DIR", str(tmp_path))
    assert catalog.entries("experiments") == [("a_run", "(no description: the file starts with no comment)"),
                                              ("b_run", "Second: the b run.")]


def test_the_real_experiments_are_listed():
    listed = dict(catalog.entries("experiments"))
    assert listed["quickstart"].startswith("Quickstart: fixed Gabor features + RidgeCV")


def test_card_has_source_licence_citation_files_and_how_to_get():
    text = catalog.card("osie")
    for part in ("source:", "licence:", "citation:", "files:", "how to get:", "Xu", "data/eye/fixations.mat"):
        assert part in text, part


def test_unknown_family_and_dataset_are_typed_errors():
    with pytest.raises(ConfigError, match="did you mean 'backbones'"):
        catalog.entries("backbone")
    with pytest.raises(RegistryError, match="Did you mean 'osie'"):
        catalog.card("osei")
