"""Damaged model folders: every command that reads one says which file is wrong and how, on
one line with exit code 2, never a traceback; ``train --resume`` also says which checkpoint
is still usable, and ``--from-previous`` continues from it.

Each test damages a copy of the session's tiny trained model (tests/conftest.py), which has
checkpointed several times, so it has a previous checkpoint as well as the latest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from racerl.cli import app
from racerl.model.folder import ModelFolder, model_folder

runner = CliRunner()
GARBAGE = b"\x89\xfe\x00racerl\xff" * 40


@pytest.fixture
def model(tiny_model_home, tmp_path, monkeypatch) -> ModelFolder:
    """A copy of the tiny trained model in a fresh home, free to damage."""
    home = tmp_path / "home"
    shutil.copytree(tiny_model_home / "models" / "tiny", home / "models" / "tiny")
    monkeypatch.setenv("RACERL_HOME", str(home))
    folder = model_folder("tiny")
    assert folder.previous.weights.is_file()  # the fixture checkpointed more than once
    return folder


def damage(path: Path, how: str) -> None:
    """Damage a file the ways files get damaged: emptied, cut short, overwritten."""
    data = path.read_bytes()
    damaged = {
        "empty": b"",
        "half": data[: len(data) // 2],  # a copy or a sync cut short
        "half_lines": b"".join(data.splitlines(keepends=True)[: len(data.splitlines()) // 2]),
        "garbage": GARBAGE,
        "list": b"[1, 2]\n",  # valid JSON/YAML of the wrong shape
    }[how]
    path.write_bytes(damaged)


def one_error_line(args: list[str], *fragments: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], result.output
    return lines[0]


EVALUATE = ["evaluate", "tiny", "--trials", "1"]
EXPORT = ["export", "tiny", "--no-openvino"]
PLOT = ["plot", "tiny"]
RESUME = ["train", "--name", "tiny", "--resume", "--steps", "64", "--trials", "0"]


# -- the checkpoint's weights: evaluate, export and resume load them ---------------------------


@pytest.mark.parametrize("how, problem", [
    ("empty", "damaged: empty (0 bytes)"),
    ("half", "damaged: not a whole stable-baselines3 checkpoint"),
    ("garbage", "damaged: not a zip archive"),
])
@pytest.mark.parametrize("command", [EVALUATE, EXPORT], ids=["evaluate", "export"])
@pytest.mark.parametrize("which", ["best", "last"])
def test_a_damaged_checkpoint_is_named(model, command, which, how, problem):
    # The best checkpoint is what commands drive by default; --checkpoint last the latest.
    path = model.best_checkpoint_path if which == "best" else model.checkpoint_path
    assert path.is_file()
    damage(path, how)
    one_error_line([*command, "--checkpoint", which], f"{path}: {problem}")


def test_a_checkpoint_that_does_not_fit_its_config_is_named(model):
    # Whole, but not what config.yaml describes (here: SAC's loader on a PPO checkpoint).
    text = model.config_path.read_text().replace("algorithm: ppo", "algorithm: sac")
    model.config_path.write_text(text)
    one_error_line(EVALUATE, f"{model.best_checkpoint_path}: does not load as the SAC model")


def test_resume_names_the_damaged_checkpoint_and_the_usable_previous_one(model):
    previous = json.loads(model.previous.state_path.read_text())
    damage(model.checkpoint_path, "half")
    one_error_line(RESUME, "cannot resume", f"{model.checkpoint_path}: damaged",
                   f"the newest usable checkpoint is the previous one, "
                   f"{model.previous.directory} (iteration {previous['iteration']}",
                   "--from-previous")
    assert model.checkpoint_path.stat().st_size > 0  # nothing written, nothing moved


def test_resume_says_when_no_checkpoint_is_usable(model):
    damage(model.checkpoint_path, "garbage")
    damage(model.previous.weights, "empty")
    one_error_line(RESUME, f"{model.checkpoint_path}: damaged",
                   "the previous checkpoint is not usable either",
                   f"{model.previous.weights}: damaged: empty", "--force")
    shutil.rmtree(model.previous.directory)
    one_error_line(RESUME, f"{model.checkpoint_path}: damaged",
                   "there is no older checkpoint", "--force")


def test_from_previous_continues_from_the_previous_checkpoint_and_keeps_the_damaged_one(model):
    previous = json.loads(model.previous.state_path.read_text())
    damage(model.checkpoint_path, "garbage")
    result = runner.invoke(app, [*RESUME[:4], "--from-previous", "--steps", "512",
                                 "--trials", "0"])
    assert result.exit_code == 0, result.output
    assert "continuing from the previous checkpoint" in result.output
    [aside] = model.latest.directory.glob("replaced-*")
    assert (aside / "latest.zip").read_bytes() == GARBAGE  # kept, not deleted
    state = model.state()
    assert state["num_timesteps"] == previous["num_timesteps"] + 512  # continued from it
    assert len(model.metrics()) == state["metrics_count"]
    one_error_line([*RESUME[:4], "--from-previous", "--clone", "x", "--steps", "64"],
                   "--resume continues a run with its own settings")
    one_error_line(["train", "--name", "tiny", "--from-previous", "--steps", "64"],
                   "--from-previous goes with --resume")


# -- the checkpoint's state: resume reads it -----------------------------------------------


@pytest.mark.parametrize("how, problem", [
    ("empty", "damaged: empty"),
    ("half", "damaged: not valid JSON"),
    ("garbage", "damaged: not valid JSON"),
    ("list", "damaged: expected a JSON object, found a list"),
])
def test_resume_names_a_damaged_state(model, how, problem):
    damage(model.state_path, how)
    one_error_line(RESUME, f"{model.state_path}: {problem}", "--from-previous")


def test_resume_names_a_state_with_missing_counters_or_no_state(model):
    model.state_path.write_text('{"iteration": 3, "episodes": "many"}')
    one_error_line(RESUME, f"{model.state_path}: damaged: num_timesteps, episodes, "
                           "metrics_count missing or not a whole number")
    model.state_path.unlink()
    one_error_line(RESUME, f"{model.state_path}: missing", "--from-previous")


def test_resume_names_a_damaged_reward_normaliser(tmp_path, monkeypatch):
    from racerl.train.trainer import train
    from tests.train.test_train import quick_config

    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    folder = train("normed", quick_config(normalize_reward=True), steps=8 * 64 * 2).folder
    damage(folder.normalizer_path, "half")
    one_error_line(["train", "--name", "normed", "--resume", "--steps", "64", "--trials", "0"],
                   f"{folder.normalizer_path}: damaged: does not load", "--from-previous")


# -- the episode records: plot and resume read them ------------------------------------------


@pytest.mark.parametrize("how, problem", [
    ("empty", "damaged: empty"),
    ("half", "damaged: not valid JSON"),
    ("garbage", "damaged: not valid JSON"),
    ("list", "damaged: expected a JSON object with a 'metrics' list, found a list"),
])
@pytest.mark.parametrize("command", [PLOT, RESUME], ids=["plot", "resume"])
def test_damaged_training_metrics_are_named(model, command, how, problem):
    damage(model.metrics_path, how)
    line = one_error_line(command, f"{model.metrics_path}: {problem}")
    if command is RESUME:
        assert "resuming would overwrite it" in line


def test_a_metrics_entry_of_the_wrong_shape_is_named(model):
    data = json.loads(model.metrics_path.read_text())
    del data["metrics"][2]["progress"]
    model.metrics_path.write_text(json.dumps(data))
    one_error_line(PLOT, f"{model.metrics_path}: damaged: episode entry 3 has no progress")
    data["metrics"][2] = {**data["metrics"][0], "reward": "lots"}
    model.metrics_path.write_text(json.dumps(data))
    one_error_line(PLOT, f"{model.metrics_path}: damaged: episode entry 3 has a value of "
                         "the wrong type")


# -- config.yaml: every command reads it ------------------------------------------------------


@pytest.mark.parametrize("how, problem", [
    ("empty", "damaged: empty"),
    ("half_lines", "damaged: "),  # parses, but the second half of the settings is gone
    ("half", "config.yaml: "),  # cut mid-line: unreadable YAML, or settings missing
    ("garbage", "not a readable YAML file"),
    ("list", "expected a mapping of settings, got list"),
])
@pytest.mark.parametrize("command", [EVALUATE, EXPORT, PLOT, RESUME],
                         ids=["evaluate", "export", "plot", "resume"])
def test_a_damaged_config_is_named(model, command, how, problem):
    damage(model.config_path, how)
    line = one_error_line(command, f"{model.config_path}: ", problem)
    if how == "half_lines":
        assert "missing" in line and "cut short" in line


def test_a_cut_config_never_falls_back_to_defaults(model):
    # Its first half parses as a valid partial config; the defaults would describe another
    # network (a camera CNN, not this state MLP), so the file is refused instead.
    data = yaml.safe_load(model.config_path.read_text())
    assert data["observation"] == "state"
    lines = model.config_path.read_text().splitlines(keepends=True)
    model.config_path.write_text("".join(line for line in lines
                                         if not line.startswith("observation:")))
    one_error_line(EVALUATE, f"{model.config_path}: damaged: observation missing")


# -- model_metadata.json: export reads it itself ------------------------------------------


def test_export_names_metadata_of_the_wrong_shape(model):
    damage(model.metadata_path, "list")
    one_error_line(EXPORT, f"{model.metadata_path}: expected a JSON object")
