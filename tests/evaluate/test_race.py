"""Races: creation rules, submissions, ranking, concurrency and failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import closing

import pytest
from typer.testing import CliRunner

import racerl.evaluate.races as race_module
from racerl.cli import app
from racerl.errors import RacerlError
from racerl.evaluate.evaluation import model_entrant, scripted_entrant
from racerl.evaluate.races import (
    RaceError,
    connect,
    create_race,
    get_race,
    leaderboard,
    list_races,
    submit,
)

runner = CliRunner()


def test_a_race_keeps_its_settings():
    race = create_race("sprint", "loop", laps=2, lighting="sunny", off_track_penalty=3.0,
                       seed=5)
    assert get_race("sprint") == race
    assert [r.name for r in list_races()] == ["sprint"]
    settings = race.settings()
    assert settings.rules.laps == 2 and settings.rules.off_track_penalty == 3.0
    assert settings.lighting == "sunny" and settings.seed == 5 and settings.continuous


def test_a_race_with_drfc_options_drives_under_them():
    race = create_race("short", "loop", laps=3, race_duration=4.0, max_resets=0,
                       reverse_direction=True)
    assert get_race("short") == race and race.reverse_direction is True
    settings = race.settings()
    assert settings.rules.race_duration == 4.0 and settings.rules.resets == 0
    assert settings.reverse
    run, standing = submit("short", scripted_entrant("centerline", 1.0))
    assert run.trials[-1].status == "time_up"  # 3 laps at 1 m/s take far longer than 4 s
    assert 4.0 < run.trials[0].elapsed <= 4.0 + 2 / 15  # the first step past it, and PREPARE
    assert standing.laps_completed == 0 and standing.total_time is None


def test_a_database_from_before_the_drfc_options_opens_with_their_defaults(isolated_home):
    """A races.sqlite written by an older racerl: its races keep the rules they were
    raced under, and new races get the new settings."""
    import sqlite3

    path = race_module.database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as old:
        old.executescript("""
            CREATE TABLE races (name TEXT PRIMARY KEY, track TEXT NOT NULL, type TEXT NOT NULL,
                laps INTEGER NOT NULL, lighting TEXT NOT NULL, off_track_penalty REAL NOT NULL,
                seed INTEGER NOT NULL, created REAL NOT NULL);
            INSERT INTO races VALUES ('old', 'loop', 'time-trial', 2, 'studio', 1.0, 0, 1.0);
        """)
    old_race = get_race("old")
    assert (old_race.race_duration, old_race.max_resets, old_race.reverse_direction) == (
        None, 10_000, False)
    create_race("new", "oval", race_duration=60.0)
    assert [r.name for r in list_races()] == ["old", "new"]
    assert get_race("new").race_duration == 60.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"race_duration": 0.0}, "--duration 0.0"),
    ({"max_resets": -1}, "--max-resets -1"),
    ({"race_type": "object-avoidance", "objects": {"number_of_bot_cars": 2}},
     "--number-of-bot-cars: not a setting of a object-avoidance race"),
    ({"race_type": "object-avoidance", "objects": {"object_positions": "0.5"}},
     "--object-positions"),
    ({"race_type": "head-to-bot", "objects": {"bot_car_speed": 0.0}}, "bot_car_speed"),
    ({"collision_penalty": 90.0}, "--collision-penalty 90.0"),
    ({"race_type": "head-to-head"}, "called 'head-to-model' here"),
    ({"race_type": "head-to-model", "objects": {"done_condition": "most"}},
     "done_condition must be 'any' or 'all'"),
    ({"race_type": "head-to-model", "objects": {"number_of_bot_cars": 1}},
     "--number-of-bot-cars: not a setting of a head-to-model race"),
    ({"race_type": "drag"}, "use one of time-trial"),
    ({"laps": 0}, "1 to 20 laps"),
    ({"lighting": "disco"}, "presets are"),
    ({"off_track_penalty": -1.0}, "0 to 60 seconds"),
    ({"track": "atlantis"}, "atlantis"),
])
def test_bad_races_are_refused(kwargs, message):
    with pytest.raises(RacerlError, match=message):
        create_race("bad", **{"track": "loop", **kwargs})
    assert list_races() == []


def test_duplicate_and_missing_races():
    create_race("once", "loop")
    with pytest.raises(RaceError, match="exists already"):
        create_race("once", "oval")
    with pytest.raises(RaceError, match="no race 'twice'; races: once"):
        get_race("twice")


def test_leaderboard_ranks_total_time_then_best_lap_and_keeps_each_best():
    create_race("board", "loop", laps=2)
    rows = [  # entrant, laps, total, best
        ("slow", 2, 30.0, 14.0), ("fast", 2, 20.0, 9.0), ("tie_worse_best", 2, 20.0, 9.5),
        ("dnf_far", 1, None, 9.0), ("dnf_near", 0, None, None), ("fast", 2, 25.0, 8.0),
    ]
    with closing(connect()) as conn:
        for k, (who, laps, total, best) in enumerate(rows):
            conn.execute(
                "INSERT INTO submissions (race, entrant, model_hash, identity, settings, "
                "lap_times, laps_completed, total_time, best_lap, off_track, penalty, "
                "evaluation, submitted) VALUES ('board', ?, 'h', '{}', '{}', '[]', ?, ?, ?, "
                "0, 0, 'x', ?)", (who, laps, total, best, float(k)))
    board = leaderboard("board")
    assert [s.entrant for s in board] == ["fast", "tie_worse_best", "slow", "dnf_far",
                                          "dnf_near"]
    assert [s.rank for s in board] == [1, 2, 3, 4, 5]
    assert board[0].total_time == 20.0 and board[0].submissions == 2


def test_a_model_and_the_centre_line_baseline_race(tiny_model_home, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tiny_model_home))
    create_race("oval-tt", "oval", laps=2, off_track_penalty=1.0)
    run, standing = submit("oval-tt", model_entrant("tiny"))
    assert len(run.trials) == 2 and standing.laps_completed == 2
    submit("oval-tt", scripted_entrant("centerline", 2.0))
    board = leaderboard("oval-tt")
    assert {s.entrant for s in board} == {"tiny", "centerline @ 2 m/s"}
    assert [s.total_time for s in board] == sorted(s.total_time for s in board)
    mine = next(s for s in board if s.entrant == "tiny")
    assert mine.total_time == pytest.approx(sum(t.lap_time for t in run.trials))
    assert len(mine.model_hash) == 64 and mine.lap_times == [t.lap_time for t in run.trials]
    summary = json.loads((tiny_model_home / "models" / "tiny" / "sim-trace" / "evaluation" /
                          os.path.basename(mine.evaluation) / "evaluation.json").read_text())
    assert summary["race"] == "oval-tt" and summary["settings"]["laps"] == 2
    # The same model under the race's fixed seed and light: the same time again.
    _, again = submit("oval-tt", model_entrant("tiny"))
    assert again.total_time == mine.total_time and again.submissions == 2


def test_a_failed_evaluation_records_nothing(monkeypatch):
    create_race("fragile", "loop")

    def crash(*args, **kwargs):
        raise RuntimeError("simulator exploded")

    monkeypatch.setattr(race_module, "evaluate", crash)
    with pytest.raises(RuntimeError):
        submit("fragile", scripted_entrant("centerline"))
    assert leaderboard("fragile") == []


def test_two_processes_submitting_at_once_both_land(isolated_home):
    create_race("busy", "loop", laps=1)
    env = {**os.environ, "RACERL_HOME": str(isolated_home)}
    command = [sys.executable, "-m", "racerl.cli", "race", "submit", "busy", "--driver",
               "centerline", "--speed"]
    procs = [subprocess.Popen([*command, speed], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for speed in ("1", "2")]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    board = leaderboard("busy")
    assert [s.entrant for s in board] == ["centerline @ 2 m/s", "centerline @ 1 m/s"]


def test_race_commands(isolated_home):
    result = runner.invoke(app, ["race", "create", "cup", "--track", "loop", "--laps", "2",
                                 "--off-track-penalty", "2"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["race", "submit", "cup", "--driver", "centerline",
                                 "--speed", "2"])
    assert result.exit_code == 0, result.output
    assert "1st on the cup leaderboard" in result.output
    result = runner.invoke(app, ["race", "leaderboard", "cup"])
    assert result.exit_code == 0 and "centerline @ 2 m/s" in result.output
    assert "18.00" in result.output  # 9.13 + 8.87 s
    result = runner.invoke(app, ["race", "list"])
    assert "cup" in result.output
    result = runner.invoke(app, ["race", "create", "cup2", "--type", "head-to-head"])
    assert result.exit_code == 2 and "--type head-to-model" in result.output
    result = runner.invoke(app, ["race", "submit", "nope", "--driver", "centerline"])
    assert result.exit_code == 2 and "no race 'nope'" in result.output


def test_an_object_avoidance_race_counts_collisions(isolated_home):
    """The centre-line driver ignores the box in its way: each crash costs the collision
    penalty and a reset behind the box; the fourth, with three resets allowed, ends it."""
    result = runner.invoke(app, ["race", "create", "boxes", "--track", "oval", "--type",
                                 "object-avoidance", "--object-positions", "0.5,1",
                                 "--laps", "1", "--max-resets", "3",
                                 "--collision-penalty", "2"])
    assert result.exit_code == 0, result.output
    assert "1 box, collision penalty 2 s" in " ".join(result.output.split())
    race = get_race("boxes")
    assert race.race_setup().object_positions == ((0.5, 1),)
    result = runner.invoke(app, ["race", "submit", "boxes", "--driver", "centerline"])
    assert result.exit_code == 0, result.output
    [standing] = leaderboard("boxes")
    assert (standing.collisions, standing.penalty, standing.laps_completed) == (3, 6.0, 0)
    result = runner.invoke(app, ["race", "leaderboard", "boxes"])
    [row] = [line for line in result.output.splitlines() if "centerline" in line]
    cells = [c.strip() for c in row.split("│")]
    assert cells[1:8] == ["1", "centerline @ 1 m/s", "-", "-", "0/1", "0", "3"]  # collisions


def test_a_head_to_bot_race_stores_its_bots():
    race = create_race("bots", "oval", "head-to-bot",
                       objects={"number_of_bot_cars": 2, "bot_car_speed": 0.3,
                                "is_lane_change": True})
    setup = get_race("bots").race_setup()
    assert (setup.bot_cars, setup.bot_car_speed, setup.is_lane_change) == (2, 0.3, True)
    assert race.settings().race == setup
    assert "2 bot cars at 0.3 m/s changing lanes" in race.describe()


def test_an_old_submissions_table_gets_the_collisions_column():
    import sqlite3

    path = race_module.database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as old:
        old.executescript("""
            CREATE TABLE submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, race TEXT,
                entrant TEXT, model_hash TEXT, identity TEXT, settings TEXT, lap_times TEXT,
                laps_completed INTEGER, total_time REAL, best_lap REAL, off_track INTEGER,
                penalty REAL, evaluation TEXT, submitted REAL);
        """)
    create_race("after", "loop")
    with closing(sqlite3.connect(path)) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(submissions)")}
    assert "collisions" in columns
