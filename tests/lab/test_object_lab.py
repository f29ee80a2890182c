"""The reward lab among obstacles and bot cars: crashing, late swerves, stopping in front of
a box and tailgating, driven with the real simulator, and the warnings they earn."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from racerl.cli import app
from racerl.lab.lab import run_lab
from racerl.reward.function import load_reward_function
from racerl.sim.race_setup import RaceSetup, parse_object_positions
from racerl.track.catalog import load_track

BOXES = RaceSetup("object_avoidance", object_positions=parse_object_positions("0.2,1;0.5,-1;0.8,1"))
BOTS = RaceSetup("head_to_bot", number_of_bot_cars=2, bot_car_speed=0.4)
STARTS = (0.0, 0.5)  # two starts keep the drives few; the lab's own default has four


def lab(reward, race=BOXES):
    return run_lab(load_track("loop"), load_reward_function(reward), race=race, starts=STARTS)


def rows_of(report):
    return {r.key: r for r in report.rows}


def pays_for_hitting(params):
    """Progress-like pay while driving, and a big bonus on the step that hits a box."""
    return 20.0 if params["is_crashed"] else 0.5 * params["speed"]


def pays_for_stopping(params):
    """A reward that means to slow the car down near boxes and pays standing still there."""
    if params["objects_location"]:
        ahead = params["objects_location"][params["closest_objects"][1]]
        near = math.hypot(ahead[0] - params["x"], ahead[1] - params["y"]) < 1.5
        if near and params["speed"] < 0.1:
            return 10.0
    return 0.5 * params["speed"]


@pytest.fixture(scope="module")
def good():
    return lab("object_avoidance")


def test_each_object_behaviour_does_what_it_says(good):
    rows = rows_of(good)
    for speed in ("0.5", "1", "2"):
        assert rows[f"avoid_{speed}"].status == "lap_complete"
    assert rows["crash"].status == "crashed" and rows["crash"].progress < 25
    assert rows["stop_at_object"].status == "immobilized"
    assert 10 < rows["stop_at_object"].progress < 20  # held in front of the box at 20 %
    assert rows["late_swerve"].status in ("lap_complete", "crashed")


def test_the_object_avoidance_example_is_not_warned(good):
    assert good.warnings == []
    assert good.best.good
    assert rows_of(good)["crash"].crash_reward == 0.0


def test_a_reward_that_pays_for_hitting_is_warned():
    report = lab(pays_for_hitting)
    [warning] = [w for w in report.warnings if w.startswith("driving straight into")]
    assert "pays for hitting" in warning and "crash step itself" in warning
    assert rows_of(report)["crash"].crash_reward == 20.0


def test_a_reward_that_pays_for_stopping_in_front_of_a_box_is_warned():
    report = lab(pays_for_stopping)
    [warning] = [w for w in report.warnings if w.startswith("stopping in front")]
    assert "pays for stopping" in warning


def test_head_to_bot_adds_tailgating():
    report = lab("progress", BOTS)
    rows = rows_of(report)
    assert rows["tailgate"].status == "lap_complete"
    assert rows["tailgate"].lap_time > 1.5 * rows["avoid_2"].lap_time  # it waits behind bots
    assert not [w for w in report.warnings if w.startswith("tailgating")]


def test_cli_race_type_and_a_bad_option(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["reward", "lab", "object_avoidance", "--race-type",
                                 "object_avoidance", "--object-positions", "0.2,1;0.6,-1",
                                 "--picture", str(tmp_path / "lab.png"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    statuses = {r["key"]: r["status"] for r in data["ranking"]}
    assert statuses["crash"] == "crashed" and statuses["avoid_1"] == "lap_complete"
    assert data["warnings"] == []
    bad = runner.invoke(app, ["reward", "lab", "progress", "--race-type", "drag"])
    assert bad.exit_code != 0 and "race_type" in bad.output and "Traceback" not in bad.output
