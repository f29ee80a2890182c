"""The model folder's names, its replacement and its training lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from racerl.home import InvalidNameError, check_name
from racerl.model.folder import (
    GarageError,
    ModelBusyError,
    model_folder,
    models_dir,
    named_model_folder,
    remove_model_folder,
    training_lock,
)


@pytest.mark.parametrize("name", ["a", "car-2", "my_model", "v1.2", "A" * 64])
def test_plain_names_are_names(name):
    assert check_name(name, "model") == name
    assert named_model_folder(name).root == models_dir() / name


@pytest.mark.parametrize("name", ["..", ".", "../x", "a/b", "/abs", "~", "~x", ".hidden",
                                  "-x", "x\n", "a b", "ñ", "", "A" * 65])
def test_anything_else_is_refused_with_the_rule(name):
    with pytest.raises(InvalidNameError, match=r"model name .*: use 1 to 64 letters"):
        named_model_folder(name)


def test_reading_takes_a_name_or_a_folder_path(tmp_path):
    """Reading commands may point at a model kept anywhere; a bare word is still a name."""
    assert model_folder("car").root == models_dir() / "car"
    assert model_folder(tmp_path / "car").root == tmp_path / "car"
    assert model_folder("./car").root == Path("car")
    with pytest.raises(InvalidNameError):
        model_folder("..")


def test_only_a_model_or_an_empty_folder_is_removed(isolated_home):
    plain = named_model_folder("plain")
    plain.root.mkdir(parents=True)
    (plain.root / "keep.txt").write_text("mine")
    with pytest.raises(GarageError, match="no racerl model"):
        remove_model_folder(plain)
    assert (plain.root / "keep.txt").read_text() == "mine"
    model = named_model_folder("model")
    (model.root / "checkpoints").mkdir(parents=True)
    (model.root / "config.yaml").write_text("track: oval\n")
    remove_model_folder(model)
    assert not model.root.exists()
    empty = named_model_folder("empty")
    empty.root.mkdir()
    remove_model_folder(empty)
    assert not empty.root.exists()


def test_the_training_lock_is_exclusive_and_lives_beside_the_folder(isolated_home):
    folder = named_model_folder("car")
    with training_lock(folder):
        busy = pytest.raises(ModelBusyError, match="being trained by another racerl process")
        with busy, training_lock(folder):
            pass
        assert not folder.root.exists()  # taking the lock creates no model folder
    with training_lock(folder):  # released on leaving the block
        pass
