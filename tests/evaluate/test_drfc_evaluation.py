"""DeepRacer-for-Cloud's evaluation options on ``racerl evaluate`` (DR_EVAL_*): trials,
continuous laps, the reset budget, the penalties, the direction; each bad value one line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from racerl.cli import app
from racerl.evaluate.evaluation import EvalSettings, ScriptedDriver, evaluate
from racerl.evaluate.records import latest_evaluation, read_trace
from racerl.sim.rules import EvaluationRules
from racerl.sim.state import Status

runner = CliRunner()


def saved(home, driver: str = "centerline") -> dict:
    folder = latest_evaluation(home / "drivers" / driver)
    return json.loads((folder / "evaluation.json").read_text())


def test_the_evaluation_flags_are_recorded_with_the_evaluation(isolated_home):
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--speed", "2",
                                 "--trials", "1", "--off-track-penalty", "5",
                                 "--collision-penalty", "3", "--max-resets", "100"])
    assert result.exit_code == 0, result.output
    settings = saved(isolated_home)["settings"]
    assert settings["off_track_penalty"] == 5.0 and settings["collision_penalty"] == 3.0
    assert settings["resets"] == 100 and settings["reverse_direction"] is False
    assert EvaluationRules().penalty(Status.CRASHED) == 5.0  # DeepRacer's COLLISION_PENALTY


def test_continuous_drives_the_trials_as_laps_of_one_episode(isolated_home):
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--speed", "2",
                                 "--trials", "2", "--continuous"])
    assert result.exit_code == 0, result.output
    about = saved(isolated_home)
    assert about["settings"]["laps"] == 2 and about["settings"]["trials"] == 1
    assert about["summary"]["laps"] == 2
    rows = read_trace(latest_evaluation(isolated_home / "drivers" / "centerline"))
    assert sum(r["episode_status"] == "prepare" for r in rows) == 1  # one start, two laps


def test_without_resets_a_mistake_ends_the_trial():
    fast = ScriptedDriver("centerline", speed=4.0)  # slides off the loop's corners
    lenient = evaluate(fast, EvalSettings(track="loop", trials=1))
    strict = evaluate(fast, EvalSettings(track="loop", trials=1,
                                         rules=EvaluationRules(resets=0)))
    assert lenient.trials[0].off_track > 0 and lenient.trials[0].status == Status.LAP_COMPLETE
    assert strict.trials[0].status == Status.OFF_TRACK
    assert strict.trials[0].progress < 100


def test_reverse_direction_laps_the_track_the_other_way(isolated_home):
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--speed", "2",
                                 "--trials", "1", "--reverse-direction"])
    assert result.exit_code == 0, result.output
    assert "loop, reversed" in result.output and "1/1 laps" in result.output
    assert saved(isolated_home)["settings"]["reverse_direction"] is True
    rows = read_trace(latest_evaluation(isolated_home / "drivers" / "centerline"))
    progress = [r["progress"] for r in rows if r["episode_status"] != "prepare"]
    assert progress[-1] == 100 and np.all(np.diff(progress) > 0)
    # The loop runs counter-clockwise; reversed, the car turns clockwise round its middle.
    xs, ys = np.array([r["X"] for r in rows]), np.array([r["Y"] for r in rows])
    cx, cy = xs.mean(), ys.mean()
    turned = np.unwrap(np.arctan2(ys - cy, xs - cx))
    assert turned[-1] - turned[0] == pytest.approx(-2 * math.pi, abs=0.5)


def test_a_race_duration_ends_the_trial_time_up(isolated_home):
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--trials", "1",
                                 "--race-duration", "5", "--reset-behind-dist", "0.5"])
    assert result.exit_code == 0, result.output
    about = saved(isolated_home)
    assert about["settings"]["race_duration"] == 5.0
    assert about["settings"]["reset_behind_dist"] == 0.5
    (trial,) = about["trials"]
    assert trial["status"] == "time_up" and 5.0 < trial["elapsed"] <= 5.0 + 2 / 15


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--race-duration", "0", "--race-duration 0.0: use more than 0 seconds"),
    ("--reset-behind-dist", "-1", "--reset-behind-dist -1.0: use 0 to 10 metres"),
    ("--max-resets", "-1", "--max-resets -1: use 0"),
    ("--collision-penalty", "-2", "--collision-penalty -2.0: use 0 or more seconds"),
    ("--off-track-penalty", "-1", "--off-track-penalty -1.0: use 0 or more seconds"),
    ("--track", "nosuch_cw", "no track named 'nosuch_cw'"),
])
def test_bad_evaluation_flags_get_one_line(flag, value, message):
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", flag, value])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
