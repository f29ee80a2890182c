"""Multi-track training (DeepRacer-for-Cloud: a different track per worker) and the DRfC
training options reaching the simulator.

One brief real run on two tracks (state observation, oval and loop): its traces and metrics
hold episodes of both and say which is which, its evaluations lap each track, and
``racerl evaluate`` drives each of them.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from racerl.cli import app
from racerl.evaluate.records import load_summary
from racerl.model.best_checkpoint import training_episodes
from racerl.model.folder import named_model_folder
from racerl.model.simtrace import COLUMNS, read_simtrace
from racerl.reward.function import DEFAULT_EXAMPLE, load_reward_function
from racerl.track.catalog import load_track
from racerl.train.trainer import build_env, train
from tests.helpers import racerl_home
from tests.train.test_train import quick_config

runner = CliRunner()
TRACKS = ["oval", "loop"]
UPDATE = 8 * 64  # env steps per policy update of the quick config


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    """Three policy updates of 8 cars spread over the oval and the loop."""
    home = tmp_path_factory.mktemp("multi_home")
    with racerl_home(home):
        result = train("multi", quick_config(track=TRACKS, eval_trials=1), steps=3 * UPDATE)
    return home, result


def trace_rows(root) -> list[dict]:
    folder = root / "sim-trace" / "training" / "training-simtrace"
    files = sorted(folder.glob("*-iteration.csv"), key=lambda p: int(p.stem.split("-")[0]))
    return [row for path in files for row in read_simtrace(path)]


def test_the_traces_hold_episodes_of_both_tracks_and_name_them(multi):
    _, result = multi
    rows = trace_rows(result.folder.root)
    assert list(rows[0]) == [*COLUMNS, "track"]
    track_of: dict[float, set[str]] = {}
    for row in rows:
        track_of.setdefault(row["episode"], set()).add(row["track"])
    assert all(len(names) == 1 for names in track_of.values())  # one track per episode
    counts = {name: sum(names == {name} for names in track_of.values()) for name in TRACKS}
    assert all(count >= 2 for count in counts.values()), counts
    # Each row's geometry is its own track's.
    lengths = {name: load_track(name).length for name in TRACKS}
    for row in rows:
        assert row["track_len"] == pytest.approx(lengths[row["track"]])
    # The metrics name the same track for the same episode (metrics count from 1).
    episodes = training_episodes(result.folder.metrics())
    assert {m["track"] for m in episodes} == set(TRACKS)
    for m in episodes:
        if m["episode"] - 1 in track_of:
            assert track_of[m["episode"] - 1] == {m["track"]}


def test_evaluations_during_training_lap_each_track(multi):
    _, result = multi
    records = [m for m in result.folder.metrics() if m["phase"] == "evaluation"]
    assert records and sorted(m["track"] for m in records) == sorted(TRACKS)


def test_deepracer_utils_reads_the_traces_with_the_track_column(multi):
    deepracer_logs = pytest.importorskip("deepracer.logs")
    _, result = multi
    log = deepracer_logs.DeepRacerLog(filehandler=deepracer_logs.FSFileHandler(
        model_folder=str(result.folder.root), robomaker_log_path=""))
    log.load_training_trace()
    df = log.dataframe()
    assert df["unique_episode"].nunique() == len(training_episodes(result.folder.metrics()))
    assert set(df["track"]) == set(TRACKS)


def test_racerl_evaluate_drives_each_training_track(multi, monkeypatch):
    home, result = multi
    monkeypatch.setenv("RACERL_HOME", str(home))
    out = runner.invoke(app, ["evaluate", "multi", "--trials", "1", "--checkpoint", "last"])
    assert out.exit_code == 0, out.output
    assert "on oval" in out.output and "on loop" in out.output
    folders = sorted((result.folder.root / "sim-trace" / "evaluation").iterdir())
    assert sorted(load_summary(f)["settings"]["track"] for f in folders) == sorted(TRACKS)


def test_the_drfc_options_reach_the_simulator():
    config = quick_config(track="loop_cw", change_start_position=False,
                          start_position_offset=0.25, round_robin_advance_dist=0.1,
                          alternate_driving_direction=True, reverse_direction=True)
    env = build_env(config, load_reward_function(DEFAULT_EXAMPLE))
    sim = env.venv.venv.sim
    assert sim.start == "line" and sim.start_offset == 0.25 and sim.round_robin_step == 0.1
    assert sim.alternate_direction
    # loop_cw, reversed: the loop counter-clockwise, as it is stored.
    assert sim.tracks[0].is_ccw and sim.tracks[0].name == "loop_cw"
    env.reset()
    assert sim.state.start_ndist.tolist() == pytest.approx([0.25] * 8)
    env.close()


def test_an_unknown_track_in_the_list_is_one_line_and_writes_nothing(isolated_home):
    out = runner.invoke(app, ["train", "--name", "bad", "--track", "oval", "--track",
                              "nosuch", "--steps", "10"])
    assert out.exit_code == 2
    assert "error: no track named 'nosuch'" in out.output
    assert not named_model_folder("bad").root.exists()
