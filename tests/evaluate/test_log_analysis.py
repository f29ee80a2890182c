"""Log analysis as the community does it: deepracer-utils, with its default arguments, on the
folder of a model racerl trained and evaluated for real (the calls of deepracer-utils'
examples and of the deepracer-analysis notebooks)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from racerl.evaluate.evaluation import EvalSettings, evaluate, model_entrant
from racerl.evaluate.races import create_race, submit
from racerl.evaluate.records import save_evaluation
from racerl.home import builtin_tracks_dir
from racerl.model.best_checkpoint import training_episodes
from racerl.model.folder import ModelFolder
from racerl.model.simtrace import read_simtrace, training_trace_path
from tests.helpers import copy_trained_model, racerl_home

matplotlib.use("Agg")
logs = pytest.importorskip("deepracer.logs")
tracks = pytest.importorskip("deepracer.tracks")
au, pu, abu = logs.AnalysisUtils, logs.PlottingUtils, logs.ActionBreakdownUtils


@pytest.fixture(scope="module")
def analysed(tiny_model_home, tmp_path_factory):
    """A copy of the tiny trained model, evaluated twice (2 trials, then 3) and submitted to
    a one-lap race; returns its folder, the runs by evaluation folder name, and the race's
    folder name and run."""
    home = tmp_path_factory.mktemp("log_analysis_home")
    root = home / "models" / "tiny"
    copy_trained_model(tiny_model_home / "models" / "tiny", root)
    runs = {}
    with racerl_home(home):
        who = model_entrant(str(root))
        for trials in (2, 3):
            run = evaluate(who.driver, EvalSettings(track="oval", trials=trials))
            runs[save_evaluation(root, run, who.identity).name] = run
        create_race("sprint", "oval", laps=1)
        race_run, _ = submit("sprint", who)
    race = max(p for p in (root / "sim-trace" / "evaluation").iterdir() if p.name not in runs)
    return root, runs, (race.name, race_run)


@pytest.fixture
def shown(monkeypatch):
    """What each ``plt.show()`` of deepracer-utils showed, per axes: title, y label, the
    scatter points and the images (taken before the helpers clear the figure)."""
    import matplotlib.pyplot as plt

    figures: list[list[dict]] = []

    def show(*args, **kwargs):
        figures.append([{"title": ax.get_title(), "ylabel": ax.get_ylabel(),
                         "points": [np.asarray(c.get_offsets()) for c in ax.collections
                                    if len(c.get_offsets())],
                         "lines": [np.asarray(line.get_xydata()) for line in ax.lines],
                         "images": [np.asarray(im.get_array()) for im in ax.images]}
                        for ax in plt.gcf().axes])

    monkeypatch.setattr(plt, "show", show)
    yield figures
    plt.close("all")


def _axes(figure: list[dict], title: str) -> dict:
    return next(ax for ax in figure if ax["title"] == title)


def _csv_episodes(root: Path) -> dict[int, list[dict]]:
    """The training sim-trace read by racerl itself, by episode."""
    episodes = defaultdict(list)
    iteration = 0
    while training_trace_path(root, iteration).is_file():
        for row in read_simtrace(training_trace_path(root, iteration)):
            episodes[int(row["episode"])].append(row)
        iteration += 1
    return episodes


def test_a_model_folder_opens_as_the_consoles_with_default_arguments(analysed):
    root, _, _ = analysed
    log = logs.DeepRacerLog(model_folder=str(root))
    assert log.fh.type == logs.LogFolderType.CONSOLE_MODEL_WITH_LOGS
    assert Path(log.fh.training_robomaker_log_path).parent == root / "logs" / "training"
    notebook = logs.DeepRacerLog(filehandler=logs.FSFileHandler(model_folder=str(root)))
    assert notebook.fh.training_robomaker_log_path == log.fh.training_robomaker_log_path


def test_training_trace_and_its_summaries_are_the_runs(analysed, shown):
    root, _, _ = analysed
    folder = ModelFolder(root)
    metrics = training_episodes(folder.metrics())
    log = logs.DeepRacerLog(model_folder=str(root))
    log.load_training_trace()
    df = log.dataframe()
    assert df["unique_episode"].nunique() == len(metrics) == folder.state()["episodes"]
    csv = _csv_episodes(root)
    assert len(df) == sum(len(rows) for rows in csv.values())
    assert log.hyperparameters()["num_episodes_between_training"] == 5
    assert log.action_space() == folder.action_space().to_metadata()["action_space"]
    assert log.agent_and_network()["network"] == "RACERL_MLP"

    agg = au.simulation_agg(df)
    assert len(agg) == len(metrics)
    assert agg["episode"].tolist() == list(range(len(metrics)))
    assert agg["iteration"].tolist() == [m["iteration"] for m in metrics]
    best_progress = [max(r["progress"] for r in csv[e]) for e in agg["episode"]]
    np.testing.assert_allclose(agg["progress"], best_progress, rtol=1e-12)
    assert agg["steps"].tolist() == [m["steps"] for m in metrics]
    np.testing.assert_allclose(agg["reward"], [m["reward"] for m in metrics], rtol=1e-9)

    au.analyze_training_progress(agg, title="Training progress")
    by_iteration = defaultdict(list)
    for m in metrics:
        by_iteration[m["iteration"]].append(m)
    expected_progress = [np.mean([best_progress[m["episode"] - 1] for m in ms])
                         for _, ms in sorted(by_iteration.items())]
    expected_reward = [np.mean([m["reward"] for m in ms]) for _, ms in sorted(by_iteration.items())]
    progress = _axes(shown[-1], "Progress per Iteration")["points"][0]
    reward = _axes(shown[-1], "Rewards per Iteration")["points"][0]
    assert progress[:, 0].tolist() == sorted(by_iteration)
    np.testing.assert_allclose(progress[:, 1], expected_progress, rtol=1e-9)
    np.testing.assert_allclose(reward[:, 1], expected_reward, rtol=1e-9)

    au.scatter_aggregates(agg, "Stats for all laps")
    time_progress = shown[-1][0]["points"][0]  # time against progress, one dot per episode
    np.testing.assert_allclose(time_progress[:, 1], agg["progress"])
    au.scatter_by_groups(agg, title="Quintiles")
    assert len(shown[-1]) == 4 * agg["quintile"].nunique()


def test_the_training_log_loads_like_the_trace(analysed):
    root, _, _ = analysed
    trace = logs.DeepRacerLog(model_folder=str(root))
    trace.load_training_trace()
    expected = trace.dataframe()
    log = logs.DeepRacerLog(model_folder=str(root))
    log.load()  # the console layout's default loader: the training log
    df = log.dataframe()
    again = logs.DeepRacerLog(model_folder=str(root))
    again.load_robomaker_logs()
    assert again.dataframe().equals(df)
    assert len(df) == len(expected)
    for column in ("episode", "iteration", "unique_episode", "steps", "action", "done",
                   "on_track", "closest_waypoint", "episode_status"):
        assert df[column].tolist() == expected[column].tolist(), column
    for column, decimals in (("x", 4), ("y", 4), ("yaw", 4), ("reward", 4), ("progress", 4),
                             ("steering_angle", 2), ("speed", 2), ("track_len", 2)):
        np.testing.assert_allclose(df[column], expected[column], atol=0.51 * 10**-decimals,
                                   rtol=0, err_msg=column)
    np.testing.assert_array_equal(df["tstamp"], expected["tstamp"])
    assert log.agent_and_network() == {"world": "oval", "sensor_list": ["RACERL_STATE"],
                                       "network": "RACERL_MLP", "simapp_version": "5"}
    assert log.hyperparameters() == trace.hyperparameters()
    assert log.action_space() == trace.action_space()


def test_tracks_plot_with_deepracer_utils_own_track(analysed, shown, caplog):
    root, _, _ = analysed
    log = logs.DeepRacerLog(model_folder=str(root))
    log.load()
    track = tracks.TrackIO(base_path=str(builtin_tracks_dir())).load_track(
        log.agent_and_network()["world"])
    df = log.dataframe()
    pu.plot_track(df, track)
    assert "error" not in caplog.text  # every step lies on the track's picture
    image = shown[-1][0]["images"][0]
    lit = np.count_nonzero(image)
    assert lit > len(df) / 4 and image.max() == pytest.approx(df["reward"].max())
    agg = au.simulation_agg(df)
    best = agg.nlargest(3, "progress")
    pu.plot_selected_laps(best, df, track)
    assert len(shown[-1]) == 3
    for ax, episode in zip(shown[-1], best["episode"], strict=True):
        steps = df[df["episode"] == episode]
        np.testing.assert_allclose(ax["points"][-1], steps[["x", "y"]].to_numpy())
    abu.action_breakdown(df, track, episode_ids=[2])
    names = {ax["ylabel"] for ax in shown[-1][::2]}
    used = df[["action", "steering_angle", "speed"]].drop_duplicates()
    assert len(names) == len(used) == df["action"].nunique()


def test_evaluations_load_as_streams_from_traces_and_logs(analysed, shown):
    root, runs, (race_name, race_run) = analysed
    log = logs.DeepRacerLog(model_folder=str(root))
    log.load_evaluation_trace()
    df = log.dataframe()
    streams = {name[:14]: run for name, run in runs.items()}
    assert set(df["stream"]) == {*streams, race_name[:14]}
    agg = au.simulation_agg(df, "stream", is_eval=True)
    for stream, run in streams.items():
        mine = agg[agg["stream"] == stream]
        assert mine["episode"].tolist() == list(range(len(run.trials)))
        assert mine["progress"].tolist() == pytest.approx([t.progress for t in run.trials])
        assert len(df[df["stream"] == stream]) == len(run.rows)

    robomaker = logs.DeepRacerLog(model_folder=str(root))
    robomaker.load_robomaker_logs(type=logs.LogType.EVALUATION)
    from_logs = robomaker.dataframe()
    assert set(from_logs["stream"]) == set(df["stream"])
    for stream in set(df["stream"]):
        a = df[df["stream"] == stream].sort_values(["episode", "steps"])
        b = from_logs[from_logs["stream"] == stream].sort_values(["episode", "steps"])
        assert b["steps"].tolist() == a["steps"].tolist()
        np.testing.assert_allclose(b["progress"], a["progress"], atol=5.1e-5, rtol=0)
    assert robomaker.agent_and_network()["world"] == "oval"

    board = logs.DeepRacerLog(model_folder=str(root))
    board.load_robomaker_logs(type=logs.LogType.LEADERBOARD)
    submissions = board.dataframe()
    assert submissions["stream"].unique().tolist() == [race_name[:14]]
    assert len(submissions) == len(race_run.rows)

    track = tracks.TrackIO(base_path=str(builtin_tracks_dir())).load_track("oval")
    one = df[df["stream"].isin(list(streams))]
    pu.plot_evaluations(one, track)
    drawn = [sum(len(ax["points"][-1]) for ax in figure if ax["title"].startswith("Stream"))
             for figure in shown[-len(streams):]]  # one map per trial (not the colour bars)
    assert sorted(drawn) == sorted(len(run.rows) for run in runs.values())
    lap = one[(one["episode"] == 0) & (one["stream"] == next(iter(streams)))].copy()
    pu.plot_grid_world(lap, track, graphed_value="reward")
    assert f"{lap['progress'].max():.2f} %" in shown[-1][0]["title"]


def test_training_metrics_load_as_the_metrics_notebook_does(analysed, shown):
    """deepracer-analysis' Metrics notebook: ``TrainingMetrics`` on the metrics file of the
    console's logs download, its summary per iteration and its progress plots."""
    from deepracer.logs.metrics import TrainingMetrics

    root, _, _ = analysed
    folder = ModelFolder(root)
    (path,) = (root / "metrics" / "training").glob("training-*-tiny.json")
    tm = TrainingMetrics(None, fname=str(path))
    episodes = training_episodes(folder.metrics())
    evaluations = [m for m in folder.metrics() if m["phase"] == "evaluation"]
    assert evaluations, "the tiny model was evaluated during training"
    train, ev = tm.getTraining(), tm.getEvaluation()
    assert train["episode"].tolist() == [m["episode"] for m in episodes]
    assert train["iteration"].tolist() == [m["iteration"] for m in episodes]
    assert train["completion"].tolist() == [int(m["progress"]) for m in episodes]
    assert train["complete"].tolist() == [int(m["completed_lap"]) for m in episodes]
    assert train["reward"].tolist() == [round(m["reward"]) for m in episodes]
    assert ev["completion"].tolist() == [int(m["progress"]) for m in evaluations]
    # each evaluation belongs to the iteration whose training episodes came before it
    assert ev["iteration"].tolist() == [(m["episode"] - 1) // 5 for m in evaluations]

    summary = tm.getSummary(method="mean", summary_index=["r-i", "master_iteration"])
    iterations = sorted({m["iteration"] for m in episodes})
    assert summary["train_episodes"].dropna().astype(int).tolist() == [
        sum(m["iteration"] == i for m in episodes) for i in iterations]
    assert summary["eval_episodes"].dropna().sum() == len(evaluations)
    tm.plotProgress(method=["median", "mean", "max"], rolling_average=5, figsize=(20, 5))
    curves = [line for ax in shown[-1] for line in ax["lines"]]
    assert len(curves) == 6  # training and evaluation completion, for each of 3 methods
