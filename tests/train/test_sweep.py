"""Sweeps: the grid becomes validated trials, trials train on a local Ray through Ray Tune,
a failing trial is reported while the others go on, and an interrupted sweep resumes."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from racerl.cli import app
from racerl.model.config import ConfigError, TrainConfig, load_config_dict
from racerl.model.folder import named_model_folder
from racerl.train.sweep import (
    SweepError,
    load_plan,
    parse_grid,
    plan_sweep,
    ranked,
    save_plan,
    trial_result,
)

runner = CliRunner()
TINY = {"track": "oval", "observation": "state", "network": "mlp", "n_envs": 8,
        "rollout_steps": 64, "batch_size": 128, "eval_every": 1, "seed": 0,
        "num_episodes_between_training": 5}
"""512 env steps per update and an evaluation after each: a 2,048-step trial has 3 (its
last rollout ends the budget before an update)."""
BROKEN = "def reward_function(params):\n    raise ValueError('broken on purpose')\n"


def tiny() -> TrainConfig:
    return load_config_dict(dict(TINY), "tiny")


@pytest.fixture
def local_ray():
    from racerl.train.cluster import disconnect

    yield
    disconnect()


def test_the_grid_reads_values_as_yaml_and_names_unknown_keys():
    assert parse_grid(["learning_rate=3e-4,1e-3", "entropy=0.01", "rgb=true"]) == {
        "learning_rate": [3e-4, 1e-3], "entropy": [0.01], "rgb": [True]}
    with pytest.raises(SweepError, match=r"unknown setting 'learnig_rate'; valid settings: "
                                         r"track, .*learning_rate"):
        parse_grid(["learnig_rate=1e-3"])
    with pytest.raises(SweepError, match="KEY=VALUE"):
        parse_grid(["learning_rate"])


def test_every_combination_is_a_validated_trial_named_after_the_sweep(tmp_path):
    other = tmp_path / "mine.py"
    other.write_text("def reward_function(params):\n    return 1.0\n")
    plan = plan_sweep("S", tiny(), parse_grid(["learning_rate=3e-4,1e-3", "entropy=0.01,0"]),
                      ["progress", str(other)], steps=2048)
    assert [t.name for t in plan.trials] == [f"S-{i:02d}" for i in range(1, 9)]
    assert plan.trials[0].settings == {"learning_rate": 3e-4, "entropy": 0.01,
                                       "reward": "progress"}
    last = plan.trials[-1].train_config()
    assert (last.learning_rate, last.entropy, last.reward) == (1e-3, 0.0, str(other))
    assert last.n_envs == 8 and last.track == "oval"  # the base config under the grid
    with pytest.raises(ConfigError, match="learning_rate"):  # checked before any training
        plan_sweep("S", tiny(), parse_grid(["learning_rate=-1"]), [], steps=2048)
    with pytest.raises(SweepError, match="--minutes M or --steps N"):
        plan_sweep("S", tiny(), {}, [])


def test_a_sweep_of_the_same_name_with_other_settings_is_refused():
    save_plan(plan_sweep("S", tiny(), parse_grid(["entropy=0.01,0.001"]), [], steps=2048))
    save_plan(plan_sweep("S", tiny(), parse_grid(["entropy=0.01,0.001"]), [], steps=2048))
    with pytest.raises(SweepError, match=r"exists .* with other settings; resume it"):
        save_plan(plan_sweep("S", tiny(), parse_grid(["entropy=0.1"]), [], steps=2048))
    with pytest.raises(SweepError, match="no sweep 'T' to resume"):
        load_plan("T")


def test_the_cli_names_an_unknown_grid_key_in_one_line(tmp_path):
    result = runner.invoke(app, ["sweep", "--name", "S", "--grid", "lr=1e-3", "--steps", "10"])
    assert result.exit_code == 2
    assert "unknown setting 'lr'; valid settings:" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["sweep", "--name", "nope", "--resume"])
    assert result.exit_code == 2 and "no sweep 'nope' to resume" in result.output


@pytest.mark.slow
def test_a_sweep_trains_ranks_and_reports_a_failing_trial(tmp_path, local_ray):
    """Two trials and one whose reward raises, on a local Ray: the broken one is reported
    with its error, the others train their whole budget and are ordinary models."""
    from racerl.evaluate.evaluation import EvalSettings, evaluate, model_entrant
    from racerl.train.sweep_runner import run_sweep

    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN)
    plan = plan_sweep("S", tiny(), parse_grid(["learning_rate=3e-4,1e-3"]),
                      ["follow_center_line", str(broken)], steps=2048)
    seen = []
    ctrl_c = signal.getsignal(signal.SIGINT)
    outcome = run_sweep(plan, early_stopping=False,
                        on_update=lambda p: seen.append({n: r.status
                                                         for n, r in p.rows.items()}))
    assert signal.getsignal(signal.SIGINT) is ctrl_c  # Tune's handler does not stay behind
    by_name = {r.trial.name: r for r in outcome.results}
    for name in ("S-02", "S-04"):  # reward=broken.py
        assert by_name[name].status == "error"
        assert "broken on purpose" in by_name[name].error
    assert {r.trial.name for r in outcome.results[-2:]} == {"S-02", "S-04"}  # failed: last
    for name, rate in (("S-01", 3e-4), ("S-03", 1e-3)):
        result = by_name[name]
        assert result.status == "finished" and result.steps == 2048
        assert result.evaluations >= 3 and result.completion > 0  # after each update
        folder = named_model_folder(name)
        assert folder.config().learning_rate == rate  # its settings, recorded
        who = model_entrant(name)  # evaluate it like any model
        assert evaluate(who.driver, EvalSettings(track="oval", trials=1)).trials
    assert any(state["S-01"] == "running" for state in seen)  # the live view saw it run
    assert seen[-1] == {"S-01": "finished", "S-02": "error", "S-03": "finished",
                        "S-04": "error"}
    good = [r for r in outcome.results if r.status == "finished"]
    assert good == ranked(good)  # best lap first, then completion


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_its_unfinished_trials(local_ray):
    """What an interrupted sweep leaves (its plan, a trial with a checkpoint half-way and
    no outcome, a trial not started) is finished by running the sweep again: the half-way
    trial resumes from its checkpoint to exactly its budget, the other trains from the
    start, and a finished trial is not trained again."""
    from racerl.train.sweep_runner import run_sweep
    from racerl.train.trainer import train

    plan = plan_sweep("S", tiny(), parse_grid(["entropy=0.01,0.001"]), [], steps=2048)
    save_plan(plan)
    first = plan.trials[0]
    train(first.name, first.train_config(), steps=1024)  # then the sweep was stopped
    assert trial_result(plan, first).status == "interrupted"
    metrics_before = len(named_model_folder(first.name).metrics())

    outcome = run_sweep(load_plan("S"), early_stopping=False)
    assert [r.status for r in outcome.results] == ["finished", "finished"]
    assert {r.trial.name: r.steps for r in outcome.results} == {"S-01": 2048, "S-02": 2048}
    resumed = named_model_folder(first.name)
    assert len(resumed.metrics()) > metrics_before  # it went on, keeping its records
    assert resumed.state()["num_timesteps"] == 2048

    mtime = Path(resumed.checkpoint_path).stat().st_mtime_ns
    again = run_sweep(load_plan("S"), early_stopping=False)  # nothing left to train
    assert [r.steps for r in again.results] == [2048, 2048]
    assert Path(resumed.checkpoint_path).stat().st_mtime_ns == mtime


def test_without_ray_a_sweep_says_which_extra_to_install(monkeypatch):
    from racerl.train.cluster import ClusterError
    from racerl.train.sweep_runner import run_sweep

    monkeypatch.setitem(sys.modules, "ray", None)  # as if racerl[ray] were not installed
    plan = plan_sweep("S", tiny(), parse_grid(["entropy=0.01,0.001"]), [], steps=2048)
    with pytest.raises(ClusterError, match=r"pip install 'racerl\[ray\]'"):
        run_sweep(plan)
    assert not plan.folder.exists()  # nothing written


def test_a_trial_the_scheduler_ends_is_stopped_early_one_that_finished_is_not():
    """Tune calls on_trial_complete both when a trial returns and when ASHA stops it; the
    trial's own record, written before its last report, tells the two apart."""
    from types import SimpleNamespace

    from racerl.train.sweep import read_outcome, write_outcome
    from racerl.train.sweep_runner import _tune_callback

    plan = plan_sweep("S", tiny(), parse_grid(["entropy=0.01,0.001"]), [], steps=2048)
    save_plan(plan)
    callback = _tune_callback(plan.folder)
    write_outcome(plan.folder, "S-01", "finished")
    for name in ("S-01", "S-02"):
        callback.on_trial_complete(0, [], SimpleNamespace(custom_trial_name=name))
    assert read_outcome(plan.folder, "S-01")["status"] == "finished"
    assert read_outcome(plan.folder, "S-02")["status"] == "stopped early"
    assert trial_result(plan, plan.trials[1]).status == "stopped early"
