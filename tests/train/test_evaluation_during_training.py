"""Evaluation during training: records, the best and last checkpoints, and which one each
command drives.

Two tiny seeded runs (state observation, the oval, a few updates): one with real
evaluation laps after every update, and one whose evaluations return chosen results, so
that the best checkpoint is known in advance and differs from the last.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from racerl.cli import app
from racerl.drive.rollout import Episode
from racerl.evaluate.records import latest_evaluation, load_summary
from racerl.model.best_checkpoint import beats, evaluation_summaries, training_episodes
from racerl.model.folder import ModelFolder, model_folder
from racerl.sim.state import Status
from racerl.train import trainer
from racerl.train.evaluation import TrainingEvaluator
from racerl.train.trainer import load_model, train
from tests.helpers import racerl_home
from tests.train.test_train import quick_config

runner = CliRunner()
UPDATE = 8 * 64  # env steps per policy update of the quick config


def load_model_at(path):
    """The SB3 model in checkpoint file ``path`` of a model folder."""
    folder = ModelFolder(path.parent.parent)
    return load_model(config_of(folder), path, None)


def config_of(folder: ModelFolder):
    return folder.config().replace(action_space=str(folder.metadata_path))


def weights(path) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in load_model_at(path).policy.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- real evaluation laps ---------------------------------------------------------------------


def test_a_trial_during_training_ends_at_the_time_limit():
    """A policy that circles on the track forever: an evaluation trial during training stops
    at racerl's 180 s limit as ``time_up``, the first step past it (an ordinary evaluation
    has no limit but DeepRacer's 100,000-step cap)."""

    class Circling:
        def predict(self, obs, deterministic=True):
            return np.ones(len(obs), dtype=np.int64), None  # -30 degrees at 1 m/s

    evaluator = TrainingEvaluator(quick_config(eval_trials=1))
    assert evaluator.rules.race_duration == 180.0
    [trial] = evaluator.drive(Circling())
    assert trial.status == Status.TIME_UP and trial.off_track == 0
    assert trial.steps == 2702  # step k's race time is (k - 1) / 15 s: 2701 / 15 > 180



@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Three updates, each followed by an evaluation of 2 laps; and the same run without."""
    home = tmp_path_factory.mktemp("eval_home")
    with racerl_home(home):
        result = train("evaluated", quick_config(eval_every=1, eval_trials=2),
                       steps=4 * UPDATE)
        plain = train("plain", quick_config(eval_every=0), steps=4 * UPDATE)
    return home, result, plain


def test_every_evaluation_is_recorded(evaluated):
    _, result, _ = evaluated
    records = [m for m in result.folder.metrics() if m["phase"] == "evaluation"]
    assert [(m["evaluation"], m["trial"]) for m in records] == \
        [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]
    summaries = evaluation_summaries(result.folder.metrics())
    assert [s.num_timesteps for s in summaries] == [UPDATE, 2 * UPDATE, 3 * UPDATE]
    assert summaries == result.progress.evaluations
    for m in records:  # DeepRacer's keys, with what an evaluation lap adds
        assert m["episode_status"] in {"lap_complete", "time_up"}
        assert m["completed_lap"] == (m["lap_time"] is not None)
        assert m["steps"] > 1 and 0 <= m["progress"] <= 100
    metrics_file = json.loads(result.folder.metrics_path.read_text())
    assert metrics_file["best_model_metric"] == "progress"


def test_the_best_and_last_checkpoints_hold_what_was_evaluated(evaluated):
    _, result, _ = evaluated
    folder = result.folder
    summaries = result.progress.evaluations
    best = None
    for s in summaries:
        best = s if beats(s, best, "progress") else best
    record = folder.best_record()
    assert record["evaluation"] == best.evaluation == result.progress.best_evaluation.evaluation
    index = json.loads((folder.root / "model" / "deepracer_checkpoints.json").read_text())
    assert index["best_checkpoint"]["name"] == "checkpoints/best.zip"
    assert index["best_checkpoint"]["avg_eval_metric"] == pytest.approx(best.completion)
    assert index["last_checkpoint"]["name"] == "checkpoints/latest.zip"
    # Driving each file again gives its evaluation back, lap for lap: the simulator is
    # deterministic, so the files hold the weights that were evaluated.
    evaluator = TrainingEvaluator(config_of(folder))
    for path, expected in ((folder.best_checkpoint_path, best), (folder.checkpoint_path,
                                                                 summaries[-1])):
        laps = evaluator.drive(load_model_at(path))
        assert np.mean([e.progress for e in laps]) == pytest.approx(expected.completion)
        finished = [e.lap_time for e in laps if e.lap_time is not None]
        assert len(finished) == expected.laps
        assert (np.mean(finished) if finished else None) == pytest.approx(expected.mean_lap)


def test_evaluations_leave_training_as_it_was(evaluated):
    """In cars of their own: the training episodes and the weights are those of the same
    run without evaluations."""
    _, result, plain = evaluated
    with_eval = training_episodes(result.folder.metrics())
    without = plain.folder.metrics()
    assert [(m["reward"], m["steps"], m["episode_status"]) for m in with_eval] == \
        [(m["reward"], m["steps"], m["episode_status"]) for m in without]
    assert same_weights(weights(result.folder.checkpoint_path),
                        weights(plain.folder.checkpoint_path))
    assert plain.folder.best_record() is None and not plain.progress.evaluations


def test_evaluations_reach_tensorboard(evaluated):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    _, result, _ = evaluated
    (run,) = {p.parent for p in result.folder.logs_dir.rglob("events.out.tfevents*")}
    events = event_accumulator.EventAccumulator(str(run))
    events.Reload()
    completion = events.Scalars("eval/completion")
    assert [e.step for e in completion] == [UPDATE, 2 * UPDATE, 3 * UPDATE]
    assert [e.value for e in completion] == pytest.approx(
        [s.completion for s in result.progress.evaluations])


def test_the_live_view_and_the_chart_show_evaluations(evaluated, tmp_path, monkeypatch):
    home, result, _ = evaluated
    line = trainer.summary_line(result.progress)
    last, best = result.progress.evaluations[-1], result.progress.best_evaluation
    assert f"eval {last.laps}/{last.trials}, best " in line
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(trainer.progress_table(result.progress, None))
    view = console.export_text()
    assert f"evaluation #{best.evaluation}: {best.describe()}" in view
    assert f"#{last.evaluation}: {last.describe()}" in view
    monkeypatch.setenv("RACERL_HOME", str(home))
    out = tmp_path / "chart.png"
    assert runner.invoke(app, ["plot", "evaluated", "--out", str(out)]).exit_code == 0
    assert Image.open(out).size[1] > 800  # the lap-time panel below the usual chart


# -- chosen evaluation results: a known best ---------------------------------------------------


class ScriptedEvaluations:
    """Stands in for the evaluation laps: each call returns the next completion % (100: a
    lap of that many seconds is given instead), and keeps the weights it was shown."""

    def __init__(self, monkeypatch, results: list[float]):
        self.results = list(results)
        self.seen: list[dict] = []
        self.best_writes = 0
        monkeypatch.setattr(TrainingEvaluator, "drive", self.drive)
        save = trainer.save_best_checkpoint

        def counted(*args, **kwargs):
            self.best_writes += 1
            save(*args, **kwargs)

        monkeypatch.setattr(trainer, "save_best_checkpoint", counted)

    def drive(self, model) -> list[Episode]:
        self.seen.append({k: v.clone() for k, v in model.policy.state_dict().items()})
        completion = self.results.pop(0)
        return [Episode(1, Status.TIME_UP, completion, 100, None, 180.0)]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """Four evaluations of chosen completions: the second is the best, the last differs."""
    home = tmp_path_factory.mktemp("scripted_home")
    patch = pytest.MonkeyPatch()
    try:
        with racerl_home(home):
            evaluations = ScriptedEvaluations(patch, [50.0, 80.0, 60.0, 80.0])
            result = train("scripted", quick_config(eval_every=1, eval_trials=1),
                           steps=5 * UPDATE)
    finally:
        patch.undo()
    return home, result, evaluations


def test_the_best_is_written_only_when_beaten(scripted):
    _, result, evaluations = scripted
    folder = result.folder
    assert [s.completion for s in result.progress.evaluations] == [50, 80, 60, 80]
    assert evaluations.best_writes == 2  # evaluation 1, then 2; the tie (4) keeps 2
    assert folder.best_record()["evaluation"] == 2
    best, last = weights(folder.best_checkpoint_path), weights(folder.checkpoint_path)
    assert same_weights(best, evaluations.seen[1])
    assert same_weights(last, evaluations.seen[-1])
    assert not same_weights(best, last)


def test_evaluate_drives_the_best_unless_told_last(scripted, monkeypatch):
    home, result, _ = scripted
    monkeypatch.setenv("RACERL_HOME", str(home))
    folder = result.folder
    for flag, path in ((None, folder.best_checkpoint_path), ("best", folder.best_checkpoint_path),
                       ("last", folder.checkpoint_path)):
        args = ["evaluate", "scripted", "--trials", "1"] + (["--checkpoint", flag] if flag else [])
        outcome = runner.invoke(app, args)
        assert outcome.exit_code == 0, outcome.output
        about = load_summary(latest_evaluation(folder.root))
        assert about["model_hash"] == sha256(path)
        assert about["checkpoint"] == (flag or "best")
    outcome = runner.invoke(app, ["evaluate", "scripted", "--checkpoint", "worst"])
    assert outcome.exit_code == 2 and "choose best or last" in outcome.output


def test_export_and_drive_take_the_best_unless_told_last(scripted, monkeypatch, tmp_path):
    pytest.importorskip("onnxruntime")
    from racerl.edge.export import PolicyGraph, parity_inputs, torch_outputs
    from racerl.edge.runtime import EdgePolicy, load_bundle

    home, result, _ = scripted
    monkeypatch.setenv("RACERL_HOME", str(home))
    folder = result.folder
    state = np.asarray(parity_inputs((17,), "float32"))
    graphs = {kind: PolicyGraph(load_model_at(path), "ppo", True).eval()
              for kind, path in (("best", folder.best_checkpoint_path),
                                 ("last", folder.checkpoint_path))}
    assert not np.allclose(torch_outputs(graphs["best"], state)[0],
                           torch_outputs(graphs["last"], state)[0])
    for kind in ("last", "best"):  # best last: it stays as the model's export
        args = ["export", "scripted", "--no-openvino"] + (["--checkpoint", kind]
                                                          if kind == "last" else [])
        outcome = runner.invoke(app, args)
        assert outcome.exit_code == 0, outcome.output
        bundle = load_bundle("scripted")
        assert bundle.checkpoint == kind
        got = EdgePolicy(bundle).outputs(state)["probabilities"]
        np.testing.assert_allclose(got, torch_outputs(graphs[kind], state)[0], atol=1e-5)
    outcome = runner.invoke(app, ["drive", "scripted", "--checkpoint", "last"])
    assert outcome.exit_code == 2
    assert "made from the best checkpoint" in outcome.output
    assert "racerl export scripted --checkpoint last" in outcome.output
    outcome = runner.invoke(app, ["drive", "scripted", "--trials", "1"])
    assert outcome.exit_code == 0, outcome.output


def test_resume_goes_on_from_the_best_so_far(scripted, tmp_path, monkeypatch):
    home, result, _ = scripted
    with racerl_home(home):
        shutil.copytree(result.folder.root, home / "models" / "resumed")
        folder = model_folder("resumed")
        before = folder.best_record()
        worse = ScriptedEvaluations(monkeypatch, [79.0])  # it does not beat 80
        resumed = train("resumed", None, steps=2 * UPDATE, resume=True)
        assert [s.evaluation for s in resumed.progress.evaluations] == [1, 2, 3, 4, 5]
        assert worse.best_writes == 0 and folder.best_record() == before
        better = ScriptedEvaluations(monkeypatch, [90.0])
        again = train("resumed", None, steps=2 * UPDATE, resume=True)
        assert better.best_writes == 1
        assert folder.best_record()["evaluation"] == 6
        assert again.progress.best_evaluation.completion == 90.0


def test_a_model_from_before_best_checkpoints_still_drives(scripted, monkeypatch):
    """No best.zip (trained before racerl kept one): every command takes the last, and
    says so."""
    home, result, _ = scripted
    monkeypatch.setenv("RACERL_HOME", str(home))
    old = home / "models" / "old"
    shutil.copytree(result.folder.root, old)
    for stale in ("checkpoints/best.zip", "checkpoints/best.json", "export", "evaluations"):
        target = old / stale
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    metrics = json.loads((old / "training_metrics.json").read_text())
    metrics["metrics"] = training_episodes(metrics["metrics"])
    (old / "training_metrics.json").write_text(json.dumps(metrics))
    last = sha256(old / "checkpoints" / "latest.zip")
    outcome = runner.invoke(app, ["evaluate", "old", "--trials", "1"])
    assert outcome.exit_code == 0, outcome.output
    assert "has no best checkpoint" in outcome.output
    about = load_summary(latest_evaluation(old))
    assert (about["model_hash"], about["checkpoint"]) == (last, "last")
    assert runner.invoke(app, ["plot", "old"]).exit_code == 0
    assert Image.open(old / "training_chart.png").size[1] < 600  # no evaluation, no panel
    if importlib.util.find_spec("onnxruntime") is not None:
        outcome = runner.invoke(app, ["export", "old", "--no-openvino"])
        assert outcome.exit_code == 0 and "has no best checkpoint" in outcome.output
        outcome = runner.invoke(app, ["drive", "old", "--trials", "1"])
        assert outcome.exit_code == 0, outcome.output
