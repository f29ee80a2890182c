"""Head-to-model matches: two drivers on one track, their results and their races."""

import numpy as np
import pytest
from typer.testing import CliRunner

from racerl.camera.sensors import Sensors
from racerl.cli import app
from racerl.drive.policy import PolicyDriver
from racerl.envs.actions import load_action_space
from racerl.errors import RacerlError
from racerl.evaluate.evaluation import EvalSettings, ScriptedDriver, scripted_entrant
from racerl.evaluate.head_to_model import evaluate_match
from racerl.evaluate.races import (
    RaceError,
    create_race,
    leaderboard,
    submit,
    submit_match,
)
from racerl.sim.race_setup import RaceSetup
from racerl.sim.rules import EvaluationRules
from racerl.sim.state import Status

runner = CliRunner()


def race_settings(laps: int = 2, done: str = "any") -> EvalSettings:
    return EvalSettings(track="oval", trials=1, rules=EvaluationRules(laps=laps),
                        race=RaceSetup(race_type="head_to_model", done_condition=done))


def test_the_faster_driver_wins_and_any_ends_the_race_at_its_finish():
    match = evaluate_match([ScriptedDriver("centerline", 2.0),
                            ScriptedDriver("centerline", 1.0)], race_settings())
    fast, slow = match.runs
    assert match.places == [[0, 1]] and match.winner == 0 and match.wins == [1, 0]
    assert [e.status for e in fast.trials][-1] == Status.LAP_COMPLETE
    assert fast.summary().laps == 2
    # DeepRacer's done condition "any": the slow car's race stops on the same step.
    assert slow.summary().laps < 2 and slow.trials[-1].lap_time is None
    assert slow.trials[-1].status == Status.IN_PROGRESS
    finish = sum(len(path.status) for path in fast.trajectories)
    assert sum(len(path.status) for path in slow.trajectories) == finish
    # Each run keeps its own sim trace, its params naming the other car as an object.
    assert slow.rows and fast.rows
    params = slow.trajectories[0].params[5]
    assert len(params["objects_location"]) == 1


def test_done_condition_all_lets_both_finish():
    match = evaluate_match([ScriptedDriver("centerline", 2.0),
                            ScriptedDriver("centerline", 1.0)], race_settings(done="all"))
    fast, slow = match.runs
    assert slow.summary().laps == fast.summary().laps == 2
    assert fast.summary().total_time < slow.summary().total_time
    assert match.winner == 0


def test_a_faster_car_that_cannot_overtake_rams_and_pays():
    """Both on the centre line, the faster one starts behind: each time it runs into the
    slower car it is the one behind, so it is the one crashed and frozen, and the slower car
    wins (DeepRacer's rule for racers touching)."""
    match = evaluate_match([ScriptedDriver("centerline", 1.0),
                            ScriptedDriver("centerline", 2.0)], race_settings())
    slow, fast = match.runs
    assert fast.summary().collisions >= 2 and slow.summary().collisions == 0
    assert fast.summary().penalty >= 2.0
    assert match.winner == 0


def test_trials_are_heats_of_their_own():
    settings = EvalSettings(track="oval", trials=2)  # a time-trial setup becomes a match
    match = evaluate_match([ScriptedDriver("centerline", 2.0),
                            ScriptedDriver("centerline", 1.0)], settings)
    assert match.places == [[0, 1], [0, 1]] and match.wins == [2, 0]
    assert [e.trial for e in match.runs[0].trials] == [1, 2]
    assert match.runs[0].settings.race.race_type == "head_to_model"


class Recorder:
    """A policy that drives straight and remembers what it was shown."""

    def __init__(self):
        self.shapes = []

    def __call__(self, obs):
        self.shapes.append(obs.shape)
        return np.zeros(len(obs), dtype=np.int64)


def camera_driver(label: str, frame_stack: int = 1, rgb: bool = False,
                  sensors: Sensors | None = None) -> tuple[PolicyDriver, Recorder]:
    policy = Recorder()
    return PolicyDriver(policy, load_action_space(None), label, observation="camera",
                        rgb=rgb, frame_stack=frame_stack, sensors=sensors), policy


def test_each_model_sees_its_own_frame_stack():
    one, seen_one = camera_driver("one", frame_stack=1)
    three, seen_three = camera_driver("three", frame_stack=3)
    settings = EvalSettings(track="oval", trials=1,
                            rules=EvaluationRules(laps=1, race_duration=1.0))
    evaluate_match([one, three], settings)
    assert set(seen_one.shapes) == {(1, 120, 160, 1)}
    assert set(seen_three.shapes) == {(1, 120, 160, 3)}


def test_models_that_see_differently_cannot_share_a_match():
    grey, _ = camera_driver("grey")
    colour, _ = camera_driver("colour", rgb=True)
    with pytest.raises(RacerlError, match=r"grey and colour .* the same sensors"):
        evaluate_match([grey, colour], race_settings())
    with pytest.raises(RacerlError, match="2 to 8 drivers"):
        evaluate_match([grey], race_settings())


def test_a_head_to_model_race_records_matches_and_ranks_by_wins():
    create_race("duel", "oval", "head-to-model", laps=1)
    slow, fast = scripted_entrant("centerline", 1.0), scripted_entrant("centerline", 2.0)
    match, (s_fast, s_slow) = submit_match("duel", [fast, slow])
    assert match.winner == 0
    assert (s_fast.rank, s_fast.wins) == (1, 1) and (s_slow.rank, s_slow.wins) == (2, 0)
    middling = scripted_entrant("centerline", 1.5)
    submit_match("duel", [middling, slow])
    board = leaderboard("duel")
    assert [(s.entrant, s.wins, s.submissions) for s in board] == [
        ("centerline @ 2 m/s", 1, 1), ("centerline @ 1.5 m/s", 1, 1),
        ("centerline @ 1 m/s", 0, 2)]
    with pytest.raises(RaceError, match="two entrants race at once"):
        submit("duel", slow)
    with pytest.raises(RaceError, match="cannot race itself"):
        submit_match("duel", [slow, scripted_entrant("centerline", 1.0)])
    create_race("solo", "oval", laps=1)
    with pytest.raises(RaceError, match="each entrant races alone"):
        submit_match("solo", [slow, fast])
    assert all(s.wins is None for s in leaderboard("solo"))


def test_a_model_races_the_centre_line_from_the_cli(tiny_model_home, monkeypatch):
    import shutil

    from racerl.home import racerl_home

    shutil.copytree(tiny_model_home / "models" / "tiny", racerl_home() / "models" / "tiny")
    result = runner.invoke(app, ["race", "create", "duel", "--track", "oval", "--type",
                                 "head-to-model", "--laps", "1", "--done-condition", "all",
                                 "--duration", "30"])
    assert result.exit_code == 0, result.output
    assert "races to its finish" in " ".join(result.output.split())
    result = runner.invoke(app, ["race", "submit", "duel", "--driver", "centerline"])
    assert result.exit_code == 2 and "name two models, or one model and --driver" in result.output
    result = runner.invoke(app, ["race", "submit", "duel", "tiny", "--driver", "centerline",
                                 "--speed", "1.5"])
    assert result.exit_code == 0, result.output
    assert " beat " in result.output and "on the duel leaderboard" in result.output
    board = runner.invoke(app, ["race", "leaderboard", "duel"])
    assert board.exit_code == 0 and "wins" in board.output
    standings = leaderboard("duel")
    assert sorted(s.entrant for s in standings) == ["centerline @ 1.5 m/s", "tiny"]
    assert sorted(s.wins for s in standings) == [0, 1]
    assert [s.submissions for s in standings] == [1, 1]
