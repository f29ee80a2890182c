"""Model and race names stay in the racerl home: a name is one plain folder name, --force
deletes only a model, and two runs of one model never interleave."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import racerl
from racerl.cli import app
from racerl.model.folder import named_model_folder

runner = CliRunner()
QUICK = {"track": "oval", "observation": "state", "network": "mlp", "n_envs": 8,
         "rollout_steps": 64, "batch_size": 128, "num_epochs": 1, "seed": 0,
         "num_episodes_between_training": 5}
BAD_NAMES = ["../../x", "../x", "..", ".", "a/b", "~", "~x", "~/x", ".hidden", "-dash",
             "x\n", "ñame", "a b", "", "n" * 65]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A racerl home two folders down inside an otherwise empty tmp_path, which is also the
    working folder and $HOME: a name taken as a path ('../../x', 'a/b', '~/x') would land
    in tmp_path, outside the home."""
    home = tmp_path / "deep" / "home"
    monkeypatch.setenv("RACERL_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))  # where '~/x' would go
    monkeypatch.chdir(tmp_path)
    return home


def _train(*args: str, config: Path) -> list[str]:
    return ["train", *args, "--config", str(config), "--steps", "512", "--trials", "0"]


@pytest.fixture
def quick(tmp_path_factory) -> Path:
    """A YAML config that trains for a second (kept outside the watched tmp_path)."""
    path = tmp_path_factory.mktemp("config") / "quick.yaml"
    path.write_text(yaml.safe_dump(QUICK))
    return path


def _one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.output.count("error:") == 1
    for fragment in fragments:
        assert fragment in result.output, result.output
    return result.output


@pytest.mark.parametrize("name", [*BAD_NAMES, "ABSOLUTE"])
def test_train_refuses_a_name_that_is_not_a_plain_name_and_writes_nothing(
        name, home, quick, tmp_path):
    if name == "ABSOLUTE":
        name = str(tmp_path / "elsewhere")
    result = runner.invoke(app, _train("--name", name, config=quick))
    _one_line_error(result, "model name", "a name, not a path")
    assert list(tmp_path.rglob("*")) == [], "something was written"


@pytest.mark.parametrize("name", BAD_NAMES)
def test_race_names_follow_the_same_rule(name, home, tmp_path):
    result = runner.invoke(app, ["race", "create", "--track", "loop", "--", name])
    _one_line_error(result, "race name", "a name, not a path")


@pytest.mark.parametrize("name", BAD_NAMES)
def test_track_names_follow_the_same_rule(name, home, tmp_path):
    result = runner.invoke(app, ["tracks", "create", "--seed", "1", "--", name])
    _one_line_error(result, "track name", "a name, not a path")
    assert list(tmp_path.rglob("*")) == [], "something was written"


def test_names_with_dots_are_names_for_models_and_races_alike(home, quick):
    result = runner.invoke(app, ["race", "create", "cup.2024", "--track", "loop"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, _train("--name", "car.v2", config=quick))
    assert result.exit_code == 0, result.output
    assert named_model_folder("car.v2").checkpoint_path.is_file()
    assert named_model_folder("car.v2").root.parent == home / "models"


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_plain_folder_is_neither_replaced_nor_called_a_model(force, home, quick):
    plain = home / "models" / "notes"
    plain.mkdir(parents=True)
    (plain / "todo.txt").write_text("keep me")
    result = runner.invoke(app, _train("--name", "notes", *force, config=quick))
    output = _one_line_error(result, "no racerl model", "move the files away")
    assert "--force" not in output and "already exists" not in output
    assert [p.name for p in plain.iterdir()] == ["todo.txt"]
    assert (plain / "todo.txt").read_text() == "keep me"


def test_force_never_follows_a_link_out_of_the_home(home, quick, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.yaml").write_text("track: oval\n")  # looks like a model, even
    (home / "models").mkdir(parents=True)
    (home / "models" / "linked").symlink_to(outside)
    result = runner.invoke(app, _train("--name", "linked", "--force", config=quick))
    _one_line_error(result, "is not a folder")
    assert [p.name for p in outside.iterdir()] == ["config.yaml"]


def test_force_replaces_a_real_model(home, quick):
    assert runner.invoke(app, _train("--name", "car", config=quick)).exit_code == 0
    folder = named_model_folder("car")
    (folder.root / "stale.txt").write_text("from the old model")
    result = runner.invoke(app, _train("--name", "car", config=quick))
    _one_line_error(result, "already exists", "--force")
    result = runner.invoke(app, _train("--name", "car", "--force", config=quick))
    assert result.exit_code == 0, result.output
    assert not (folder.root / "stale.txt").exists()
    assert folder.checkpoint_path.is_file()


HOLD_LOCK = textwrap.dedent("""
    import time
    from racerl.model.folder import named_model_folder, training_lock
    with training_lock(named_model_folder("busy")):
        print("locked", flush=True)
        time.sleep(600)
""")


def test_a_second_run_of_a_model_in_training_is_refused_and_a_kill_frees_it(home, quick):
    """Another process holds the model's lock (as a training run does); train, with or
    without --force, refuses and leaves the model alone; killing the holder frees it."""
    folder = named_model_folder("busy")
    folder.root.mkdir(parents=True)
    (folder.root / "config.yaml").write_text("track: oval\n")
    same_racerl = {**os.environ, "PYTHONPATH": str(Path(racerl.__file__).parents[1])}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], stdout=subprocess.PIPE,
                              text=True, env=same_racerl)
    try:
        assert holder.stdout.readline() == "locked\n"
        for force in ([], ["--force"]):
            result = runner.invoke(app, _train("--name", "busy", *force, config=quick))
            _one_line_error(result, "being trained by another racerl process")
            assert (folder.root / "config.yaml").read_text() == "track: oval\n"
    finally:
        holder.kill()
        holder.wait()
    result = runner.invoke(app, _train("--name", "busy", "--force", config=quick))
    assert result.exit_code == 0, result.output
    assert folder.checkpoint_path.is_file()
