"""`racerl import drfc DIR`: the table of every DRfC setting, the files it writes, one-line
errors that write nothing, and a real (tiny) training run from the imported config."""

from __future__ import annotations

import inspect
import shlex
import shutil
from pathlib import Path

import yaml
from rich.console import Console
from typer.testing import CliRunner

from racerl.cli import app
from racerl.cli.evaluation import evaluate_command
from racerl.cli.importers import drfc_table
from racerl.model.drfc import EVALUATE_DEFAULTS, read_drfc

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "drfc"
DEFAULTS = FIXTURES / "defaults"


def drfc_copy(tmp_path: Path, **run_env: str) -> Path:
    """A copy of DRfC's defaults with some run.env settings changed."""
    root = tmp_path / "drfc"
    shutil.copytree(DEFAULTS, root)
    lines = (root / "run.env").read_text().splitlines()
    for key, value in run_env.items():
        lines = [f"{key}={value}" if line.startswith(f"{key}=") else line for line in lines]
    (root / "run.env").write_text("\n".join(lines) + "\n")
    return root


def test_import_prints_the_table_and_ends_with_the_config_path(tmp_path, monkeypatch,
                                                               deepracer_tracks):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["import", "drfc", str(DEFAULTS)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "rl-deepracer-sagemaker.yaml"
    assert lines[-3] == ("train:    racerl train --name rl-deepracer-sagemaker --config "
                         "rl-deepracer-sagemaker.yaml --minutes 60")
    assert lines[-2].startswith("evaluate: racerl evaluate rl-deepracer-sagemaker --continuous")
    assert "DR_WORLD_NAME=reinvent_base" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rl-deepracer-sagemaker.yaml", "rl-deepracer-sagemaker_model_metadata.json",
        "rl-deepracer-sagemaker_reward_function.py"]
    again = runner.invoke(app, ["import", "drfc", str(DEFAULTS)])
    assert again.exit_code == 2 and "exists; --force replaces it" in again.output
    assert runner.invoke(app, ["import", "drfc", str(DEFAULTS), "--force"]).exit_code == 0


def test_every_setting_is_a_row_of_the_table():
    imp = read_drfc(DEFAULTS, out="x.yaml")
    console = Console(width=400, record=True)
    console.print(drfc_table(imp))
    text = console.export_text()
    for row in imp.rows:
        assert f"{row.key}={row.drfc_value}" in text
        assert row.describe().split(";")[0] in text
    assert "unsupported: racerl trains for a budget" in text


def test_the_printed_evaluate_flags_are_racerl_evaluates():
    params = inspect.signature(evaluate_command).parameters
    assert {name: params[name].default.default for name in EVALUATE_DEFAULTS} \
        == EVALUATE_DEFAULTS
    command = read_drfc(DEFAULTS, out="x.yaml").evaluate_command()
    result = runner.invoke(app, shlex.split(command)[1:])  # no such model yet: a clean error
    assert result.exit_code == 2 and "Usage:" not in result.output, result.output
    assert "rl-deepracer-sagemaker" in result.output


def test_a_track_racerl_cannot_find_says_how_to_add_deepracers(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_TRACK_PATH", str(tmp_path / "no-tracks"))
    out = tmp_path / "out" / "t.yaml"
    result = runner.invoke(app, ["import", "drfc", str(DEFAULTS), "--out", str(out)])
    assert result.exit_code == 2
    assert "no track named 'reinvent_base'" in result.output
    assert "It is a DeepRacer track: add DeepRacer's track files with 'racerl tracks add" \
        in result.output
    assert not (tmp_path / "out").exists()


def test_a_broken_file_is_one_line_and_writes_nothing(tmp_path):
    root = drfc_copy(tmp_path)
    (root / "custom_files" / "hyperparameters.json").write_text('{"lr": }')
    out = tmp_path / "out" / "b.yaml"
    result = runner.invoke(app, ["import", "drfc", str(root), "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert "hyperparameters.json: not valid JSON" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_the_imported_config_trains(tmp_path, monkeypatch):
    """DRfC's defaults on a small built-in track, imported, then trained for one tiny
    iteration from another directory: the model folder holds the imported settings."""
    root = drfc_copy(tmp_path, DR_WORLD_NAME="oval")
    config = tmp_path / "configs" / "drfc.yaml"
    result = runner.invoke(app, ["import", "drfc", str(root), "--out", str(config),
                                 "--name", "imported"])
    assert result.exit_code == 0, result.output
    # The import's five evaluation laps at the end would cost more than the training here.
    with config.open("a") as f:
        f.write("eval_every: 0\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(app, ["train", "--name", "imported", "--config", str(config),
                                 "--steps", "64", "--n-envs", "4", "--trials", "0"])
    assert result.exit_code == 0, result.output
    folder = Path(result.output.split("model saved in ")[1].split()[0])
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    assert saved["track"] == "oval" and saved["network"] == "shallow"
    assert (saved["batch_size"], saved["num_epochs"]) == (64, 5)
    assert (saved["learning_rate"], saved["entropy"], saved["discount_factor"]) \
        == (3e-4, 0.01, 0.99)
    assert saved["eval_trials"] == 5 and saved["algorithm"] == "ppo"
    meta = yaml.safe_load((folder / "model" / "model_metadata.json").read_text())
    assert [(a["steering_angle"], a["speed"]) for a in meta["action_space"]] \
        == [(-30, 0.6), (-15, 0.6), (0, 0.6), (15, 0.6), (30, 0.6)]
    assert meta["neural_network"] == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert (folder / "reward_function.py").read_text() \
        == (DEFAULTS / "custom_files" / "reward_function.py").read_text()
