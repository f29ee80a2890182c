"""The model folder's checkpoints: the previous one kept on every save, damage found by
reading, and the previous one restored without losing the latest."""

from __future__ import annotations

import io
import zipfile

import pytest
import yaml

from racerl.model.config import SAVED_FIELDS, ConfigError, TrainConfig, field_names
from racerl.model.folder import (
    DamagedFileError,
    GarageError,
    model_folder,
    restore_previous_checkpoint,
    save_checkpoint,
    weights_problem,
)


class FakeModel:
    """Saves a zip shaped like stable-baselines3's, tagged so that saves can be told apart."""

    def __init__(self, tag: str):
        self.tag = tag

    def save(self, f) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data", f'{{"tag": "{self.tag}"}}' + " " * 2000)
            archive.writestr("policy.pth", self.tag.encode() * 500)
        f.write(buffer.getvalue())


def state(iteration: int) -> dict:
    return {"iteration": iteration, "num_timesteps": 64 * iteration, "episodes": iteration,
            "metrics_count": iteration, "elapsed_seconds": 1.0}


def tag_of(path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("policy.pth")[:2].decode()


@pytest.fixture
def folder(isolated_home):
    folder = model_folder("m")
    folder.root.mkdir(parents=True)
    return folder


def test_each_save_keeps_the_checkpoint_before_it(folder):
    save_checkpoint(folder, FakeModel("a1"), state(1))
    assert not folder.previous.directory.exists()  # nothing before the first
    save_checkpoint(folder, FakeModel("b2"), state(2))
    save_checkpoint(folder, FakeModel("c3"), state(3))
    assert tag_of(folder.checkpoint_path) == "c3" and folder.latest.check()["iteration"] == 3
    assert tag_of(folder.previous.weights) == "b2" and folder.previous.check()["iteration"] == 2
    assert sorted(p.name for p in folder.latest.directory.iterdir()) == \
        ["latest.zip", "previous", "state.json"]  # no staging folders left behind


def test_a_flipped_byte_inside_the_weights_is_found(folder):
    save_checkpoint(folder, FakeModel("a1"), state(1))
    data = bytearray(folder.checkpoint_path.read_bytes())
    assert weights_problem(folder.checkpoint_path) is None
    with zipfile.ZipFile(folder.checkpoint_path) as archive:
        info = archive.getinfo("policy.pth")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)  # after its header
    data[start + info.compress_size // 2] ^= 0xFF  # bit rot in the weights; index intact
    folder.checkpoint_path.write_bytes(bytes(data))
    problem = weights_problem(folder.checkpoint_path)
    assert problem is not None and problem.startswith("damaged:")
    with pytest.raises(DamagedFileError, match=r"latest\.zip: damaged"):
        folder.latest.check()


def test_restoring_the_previous_checkpoint_moves_the_latest_aside(folder):
    save_checkpoint(folder, FakeModel("a1"), state(1))
    save_checkpoint(folder, FakeModel("b2"), state(2))
    folder.checkpoint_path.write_bytes(b"")
    aside = restore_previous_checkpoint(folder)
    assert tag_of(folder.checkpoint_path) == "a1" and folder.state()["iteration"] == 1
    assert (aside / "latest.zip").read_bytes() == b""  # the damaged file, kept
    assert (aside / "state.json").is_file()
    assert tag_of(folder.previous.weights) == "a1"  # the previous one stays too
    again = restore_previous_checkpoint(folder)  # a second time: another folder, no clash
    assert again != aside and again.is_dir()


def test_restoring_needs_a_usable_previous_checkpoint(folder):
    save_checkpoint(folder, FakeModel("a1"), state(1))
    with pytest.raises(GarageError, match="there is no previous one"):
        restore_previous_checkpoint(folder)
    save_checkpoint(folder, FakeModel("b2"), state(2))
    folder.previous.state_path.write_text("[]")
    with pytest.raises(GarageError, match=r"previous/state\.json: damaged: expected a JSON obj"):
        restore_previous_checkpoint(folder)
    assert tag_of(folder.checkpoint_path) == "b2"  # the latest untouched


def test_a_model_folder_of_the_first_version_still_loads(folder):
    # config.yaml as the first racerl wrote it: every field it had, none added since.
    old = {name: getattr(TrainConfig(network="mlp", observation="state"), name)
           for name in SAVED_FIELDS}
    folder.config_path.write_text(yaml.safe_dump(old, sort_keys=False))
    assert set(SAVED_FIELDS) < set(field_names())
    assert folder.config().observation == "state"
    del old["seed"]  # one of them gone: cut short, not old
    folder.config_path.write_text(yaml.safe_dump(old, sort_keys=False))
    with pytest.raises(ConfigError, match=r"config\.yaml: damaged: seed missing"):
        folder.config()
