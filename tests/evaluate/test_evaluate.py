"""Evaluations end to end: scripted and trained drivers, records, deepracer-utils, video,
plots, the robustness report and the `racerl evaluate` command."""

from __future__ import annotations

import json
import os

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from racerl.camera.lighting import PRESETS
from racerl.cli import app
from racerl.drive.pursuit import drive_lap
from racerl.evaluate.evaluation import (
    EvalSettings,
    PolicyDriver,
    ScriptedDriver,
    evaluate,
    model_entrant,
    with_rules,
)
from racerl.evaluate.records import (
    deepracer_metrics,
    latest_evaluation,
    list_evaluations,
    read_trace,
    save_evaluation,
)
from racerl.evaluate.robustness import robustness, robustness_grid
from racerl.track.catalog import load_track
from racerl.viz.video import write_video

runner = CliRunner()


def test_centre_line_evaluation_times_laps_like_the_scripted_lap():
    run = evaluate(ScriptedDriver("centerline", 1.0), EvalSettings(track="loop", trials=2))
    reference = drive_lap(load_track("loop"), speed=1.0)
    assert [t.status for t in run.trials] == ["lap_complete"] * 2
    assert [t.lap_time for t in run.trials] == [pytest.approx(reference.lap_time)] * 2
    summary = run.summary()
    assert summary.laps == 2 and summary.total_time == pytest.approx(2 * reference.lap_time)
    assert summary.off_track == 0 and summary.completion == 100.0


def test_too_fast_for_a_corner_costs_the_penalty_but_still_finishes():
    slow = evaluate(ScriptedDriver("centerline", 2.0), EvalSettings(track="loop", trials=1))
    fast = evaluate(ScriptedDriver("centerline", 3.0), EvalSettings(track="loop", trials=1))
    trial = fast.trials[0]
    assert trial.status == "lap_complete" and trial.off_track >= 1
    assert trial.penalty == pytest.approx(2.0 * trial.off_track)
    pauses = [row for row in fast.rows if row[15] == "pause"]
    assert len(pauses) == 30 * trial.off_track and all(row[8] == 0.0 for row in pauses)
    assert slow.trials[0].off_track == 0
    harsher = evaluate(ScriptedDriver("centerline", 3.0),
                       with_rules(EvalSettings(track="loop", trials=1), off_track_penalty=5.0))
    assert harsher.trials[0].lap_time == pytest.approx(trial.lap_time + 3.0 * trial.off_track)


def test_a_race_logs_its_earlier_laps_in_progress():
    run = evaluate(ScriptedDriver("centerline", 2.0),
                   with_rules(EvalSettings(track="loop", trials=1), laps=2))
    assert [(t.status, t.completed) for t in run.trials] == [("in_progress", True),
                                                            ("lap_complete", True)]
    metrics = deepracer_metrics(run)["metrics"]
    assert [(m["episode_status"], m["completion_percentage"], m["trial"]) for m in metrics] == [
        ("In progress", 100, 1), ("Lap complete", 100, 2)]
    # The sim-trace: the step completing lap 1 is in_progress and still in episode 0.
    laps = [row for row in run.rows if row[11] == 100]  # progress
    assert [(row[0], row[15], row[9]) for row in laps] == [(0, "in_progress", False),
                                                          (1, "lap_complete", True)]
    assert run.rows[-1] is laps[-1]
    # An ordinary evaluation (or console race) has no time limit.
    assert run.settings.describe()["race_duration"] is None
    assert run.settings.describe()["reset_behind_dist"] == 1.0


def test_a_trained_model_evaluates_deterministically(tiny_model_home, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tiny_model_home))
    who = model_entrant("tiny")
    settings = EvalSettings(track="oval", trials=3, lighting="random", seed=7)
    first, second = evaluate(who.driver, settings), evaluate(who.driver, settings)
    assert [t.lap_time for t in first.trials] == [t.lap_time for t in second.trials]
    assert first.rows == second.rows
    assert who.identity["model_hash"] == who.identity["model_hash"].lower()
    assert len(who.identity["model_hash"]) == 64


def test_records_load_in_deepracer_utils(tiny_model_home, monkeypatch):
    from deepracer.logs import AnalysisUtils, DeepRacerLog

    monkeypatch.setenv("RACERL_HOME", str(tiny_model_home))
    who = model_entrant("tiny")
    run = evaluate(who.driver, EvalSettings(track="oval", trials=2))
    folder = save_evaluation(who.folder, run, who.identity)
    log = DeepRacerLog(model_folder=str(who.folder))
    log.load_evaluation_trace()
    df = log.dataframe()
    df = df[df["stream"] == folder.name[:14]]  # old console layout: the time names it
    assert len(df) == len(run.rows)
    assert sorted(df["episode"].unique().tolist()) == [0, 1]
    agg = AnalysisUtils.simulation_agg(df.copy(), firstgroup="stream", is_eval=True)
    assert len(agg) == 2
    assert agg["progress"].max() == 100
    metrics = json.loads((who.folder / "metrics" / "evaluation" /
                          f"evaluation-{folder.name}.json").read_text())["metrics"]
    assert [m["trial"] for m in metrics] == [1, 2]
    for m, t in zip(metrics, run.trials, strict=True):
        assert m["completion_percentage"] == int(t.progress)
        assert m["off_track_count"] == t.off_track
        assert m["episode_status"] == ("Lap complete" if t.completed else m["episode_status"])
    summary = json.loads((folder / "evaluation.json").read_text())
    assert summary["model"] == "tiny" and summary["settings"]["trials"] == 2


def test_a_failed_save_leaves_no_half_evaluation(tmp_path, monkeypatch):
    import racerl.evaluate.records as evalrecord

    run = evaluate(ScriptedDriver("centerline", 2.0), EvalSettings(track="loop", trials=1))
    save_evaluation(tmp_path, run)

    def broken(path, data):
        raise OSError("disk full")

    monkeypatch.setattr(evalrecord, "atomic_write_json", broken)
    with pytest.raises(OSError, match="disk full"):
        save_evaluation(tmp_path, run)
    parent = tmp_path / "sim-trace" / "evaluation"
    assert len(list(parent.iterdir())) == 1 and len(list_evaluations(tmp_path)) == 1


def test_video_shows_camera_and_track_at_the_control_rate(tmp_path):
    run = evaluate(ScriptedDriver("centerline", 2.5), EvalSettings(track="loop", trials=2),
                   keep_frames=True)
    steps = sum(len(p.frames) for p in run.trajectories)
    assert steps == len(run.rows) + 2  # each trial: the start frame plus one per step
    mp4 = write_video(run.driver, run.trajectories, load_track("loop"), tmp_path / "lap.mp4")
    reader = imageio.get_reader(mp4)
    assert reader.get_meta_data()["fps"] == 15
    frames = [f for f in reader]
    assert len(frames) == steps
    middle = frames[len(frames) // 4]
    assert middle.shape[0] % 16 == 0 and middle.shape[1] % 16 == 0
    left, right = middle[:, :480], middle[:, 480:]
    assert left[60:400].std() > 10 and right.std() > 10  # a camera image and a track map
    gif = write_video(run.driver, run.trajectories, load_track("loop"), tmp_path / "lap.gif")
    assert Image.open(gif).n_frames == steps


def test_evaluation_maps_mark_the_off_track_points(tmp_path):
    from racerl.viz.charts import evaluation_chart

    run = evaluate(ScriptedDriver("centerline", 3.0), EvalSettings(track="loop", trials=1))
    folder = save_evaluation(tmp_path, run)
    rows = read_trace(folder)
    assert any(r["episode_status"] == "off_track" for r in rows)
    out = evaluation_chart(rows, load_track("loop"), "test", tmp_path / "chart.png")
    image = np.asarray(Image.open(out).convert("RGB"))
    red = (image[..., 0] > 200) & (image[..., 1] < 40) & (image[..., 2] < 40)
    assert red.sum() > 20  # the red crosses are drawn


def test_robustness_covers_every_lighting_preset():
    class BrightnessFollower(PolicyDriver):
        """Picks faster actions in brighter light: lighting changes how it drives."""

    from racerl.envs.actions import load_action_space

    actions = load_action_space(None)

    def policy(obs):
        bright = obs.reshape(len(obs), -1).mean(axis=1) > 110
        return np.where(bright, 5, 4)  # 0 deg at 1.0 m/s, or at 0.5 m/s

    driver = BrightnessFollower(policy, actions, "brightness follower")
    results = robustness(driver, EvalSettings(track="loop", trials=1))
    assert [r.preset for r in results] == list(PRESETS)
    snapshots = np.stack([r.snapshot for r in results])
    assert len({s.tobytes() for s in snapshots}) == len(PRESETS)
    grid = robustness_grid(results, "title")
    assert grid.shape == (26 + 2 * (240 + 22), 3 * 320, 3)
    # Light changed the outcome: the straight-driving car gets round only by its resets
    # (evaluations have no per-lap time cut), sooner where it drives faster.
    assert len({(r.summary.completion, r.summary.best_lap) for r in results}) > 1


def test_save_video_writes_it_into_the_evaluation_folder(isolated_home):
    from racerl.evaluate.records import VIDEO_FILE

    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--speed", "2",
                                 "--trials", "1", "--save-video"])
    assert result.exit_code == 0, result.output
    folder = latest_evaluation(isolated_home / "drivers" / "centerline")
    assert (folder / VIDEO_FILE).read_bytes()[4:8] == b"ftyp"  # an mp4
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--track", "loop",
                                 "--track", "oval", "--save-video"])
    assert result.exit_code != 0 and "--video shows one track" in result.output


def test_evaluate_command_prints_the_table_and_saves_records(tmp_path, isolated_home):
    video = tmp_path / "eval.gif"
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--speed", "2",
                                 "--trials", "2", "--video", str(video)])
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "2/2 laps" in result.output and "9.13" in result.output
    assert video.is_file()
    folder = latest_evaluation(isolated_home / "drivers" / "centerline")
    assert json.loads((folder / "evaluation.json").read_text())["summary"]["laps"] == 2


def test_evaluate_and_plot_a_trained_model(tiny_model_home, monkeypatch, tmp_path):
    monkeypatch.setenv("RACERL_HOME", str(tiny_model_home))
    result = runner.invoke(app, ["evaluate", "tiny", "--trials", "1", "--lighting", "dim"])
    assert result.exit_code == 0, result.output
    assert "model tiny on oval (dim light" in result.output
    out = tmp_path / "maps.png"
    result = runner.invoke(app, ["plot", "tiny", "--evaluation", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size[0] > 1000
    result = runner.invoke(app, ["robustness", "tiny", "--trials", "1",
                                 "--out", str(tmp_path / "rob.png")])
    assert result.exit_code == 0, result.output
    for preset in PRESETS:
        assert preset in result.output
    report = json.loads((tmp_path / "rob.json").read_text())
    assert [p["preset"] for p in report["presets"]] == list(PRESETS)


@pytest.mark.parametrize(("args", "message"), [
    (["evaluate"], "name a model"),
    (["evaluate", "ghost"], "no model here"),
    (["evaluate", "x", "--driver", "centerline"], "not both"),
    (["evaluate", "--driver", "wobbly"], "scripted drivers are"),
    (["evaluate", "--driver", "centerline", "--lighting", "disco"], "presets are"),
    (["evaluate", "--driver", "centerline", "--trials", "0"], "at least 1"),
    (["evaluate", "--driver", "centerline", "--video", "a.avi"], ".mp4 or .gif"),
    (["plot", "ghost", "--evaluation"], "no evaluation yet"),
])
def test_evaluate_mistakes_get_one_line(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_home_is_isolated():
    assert "racerl_home" in os.environ["RACERL_HOME"]


def test_trial_k_is_the_same_lap_whether_driven_alone_or_in_a_batch():
    """Trial k uses lighting seed ``seed + k - 1`` and keeps its number however the batch
    finishes; a driver that reacts to the image shows any mix-up."""
    from racerl.envs.actions import load_action_space

    def policy(obs):  # brighter frame: straight on at 1 m/s, else a gentle left at 0.5
        return np.where(obs.reshape(len(obs), -1).mean(axis=1) > 100, 5, 6)

    driver = PolicyDriver(policy, load_action_space(None), "reacts to light")
    batch = evaluate(driver, EvalSettings(track="loop", trials=3, lighting="random", seed=2))
    assert [t.trial for t in batch.trials] == [1, 2, 3]
    steps = [t.steps for t in batch.trials]
    assert steps != sorted(steps)  # trial 2 finishes last: the numbering is put to the test
    for k in range(3):
        alone = evaluate(driver, EvalSettings(track="loop", trials=1, lighting="random",
                                              seed=2 + k))
        assert alone.trials[0].steps == batch.trials[k].steps
        assert alone.trials[0].off_track == batch.trials[k].off_track


def test_the_race_line_driver_is_the_reference_to_beat():
    settings = EvalSettings(track="loop", trials=1)
    raceline = evaluate(ScriptedDriver("raceline"), settings).trials[0]
    centre = evaluate(ScriptedDriver("centerline", 2.5), settings).trials[0]
    assert raceline.completed and raceline.off_track == 0
    assert raceline.lap_time < centre.lap_time
    result = runner.invoke(app, ["evaluate", "--driver", "raceline", "--trials", "1"])
    assert result.exit_code == 0 and f"{raceline.lap_time:.2f}" in result.output


def test_evaluate_with_obstacles_counts_the_collisions(isolated_home):
    """The centre-line driver does not steer round the boxes: with two resets the third
    crash ends the trial, and the table and the saved records show the collisions."""
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--track", "oval",
                                 "--trials", "1", "--max-resets", "2",
                                 "--race-type", "object_avoidance"])
    assert result.exit_code == 0, result.output
    assert "collisions" in result.output and "crashed" in result.output
    folder = latest_evaluation(isolated_home / "drivers" / "centerline")
    saved = json.loads((folder / "evaluation.json").read_text())
    assert saved["summary"]["collisions"] == 2
    assert saved["settings"]["race_type"] == "object_avoidance"
    assert saved["settings"]["number_of_obstacles"] == 6
