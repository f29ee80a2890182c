"""The best-checkpoint rule on synthetic evaluations, their records, and checkpoint choice."""

from __future__ import annotations

import json

import pytest

from racerl.drive.rollout import Episode
from racerl.model.best_checkpoint import (
    EvalSummary,
    avg_eval_metric,
    beats,
    evaluation_summaries,
    training_episodes,
)
from racerl.model.config import ConfigError, load_config_dict
from racerl.model.folder import GarageError, ModelFolder
from racerl.sim.state import Status
from racerl.train.evaluation import evaluation_records


def summary(number: int, completion: float, laps: tuple[float | None, ...]) -> EvalSummary:
    finished = [t for t in laps if t is not None]
    return EvalSummary(evaluation=number, iteration=number, num_timesteps=100 * number,
                       trials=len(laps), laps=len(finished), completion=completion,
                       mean_lap=sum(finished) / len(finished) if finished else None,
                       best_lap=min(finished) if finished else None, seconds=1.0)


def best_of(evaluations: list[EvalSummary], metric: str) -> int:
    """The evaluation the rule keeps, fed one by one as training would."""
    best = None
    for e in evaluations:
        if beats(e, best, metric):
            best = e
    return best.evaluation


def test_progress_picks_the_highest_completion_then_the_faster_lap():
    evaluations = [summary(1, 40.0, (None, None)),
                   summary(2, 100.0, (12.0, 12.0)),
                   summary(3, 70.0, (9.0, None)),
                   summary(4, 100.0, (10.0, 11.0)),   # as complete as 2, faster
                   summary(5, 100.0, (10.5, 10.5))]   # the same mean: a tie keeps 4
    assert best_of(evaluations, "progress") == 4
    assert beats(evaluations[0], None, "progress")
    assert not beats(evaluations[4], evaluations[3], "progress")


def test_lap_time_prefers_more_finished_laps_then_the_faster_mean():
    evaluations = [summary(1, 30.0, (None, None, None)),
                   summary(2, 60.0, (None, None, None)),   # progress decides before any lap
                   summary(3, 96.7, (9.0, None, None)),    # 1 lap, 2 trials at 95 %
                   summary(4, 70.0, (12.0, 12.0, None)),   # 2 laps, 1 trial at 10 %
                   summary(5, 75.0, (10.0, 11.0, None)),   # 2 laps, faster
                   summary(6, 100.0, (13.0, 13.0, 13.0)),  # every lap, slowly
                   summary(7, 100.0, (11.0, 12.0, 12.0)),
                   summary(8, 100.0, (11.0, 11.5, 12.5))]  # the same mean: a tie keeps 7
    assert best_of(evaluations[:2], "lap_time") == 2
    assert best_of(evaluations[:4], "lap_time") == 4
    assert best_of(evaluations[:4], "progress") == 3   # where the two metrics part
    assert best_of(evaluations[:5], "lap_time") == 5
    assert best_of(evaluations, "lap_time") == 7
    assert best_of(evaluations, "progress") == 7
    # DeepRacer's number says the same: lower is better
    ranked = sorted(evaluations, key=lambda e: avg_eval_metric(e, "lap_time"))
    assert [e.evaluation for e in ranked][:3] in ([7, 8, 6], [8, 7, 6])


def test_avg_eval_metric_is_in_deepracers_units():
    e = summary(1, 80.0, (10.0, None))
    assert avg_eval_metric(e, "progress") == 80.0
    assert avg_eval_metric(e, "lap_time") == pytest.approx((10_000 + 999_999) / 2)


def test_records_read_back_as_one_summary_per_evaluation():
    laps = [Episode(1, Status.LAP_COMPLETE, 100.0, 151, 10.0, 10.0, off_track=1, penalty=2.0),
            Episode(2, Status.TIME_UP, 62.5, 2701, None, 180.0)]
    training = {"episode": 7, "iteration": 1, "progress": 12.0, "completed_lap": False}
    old = {"episode": 8, "iteration": 1, "progress": 3.0, "completed_lap": False}  # no phase
    records = [training,
               *evaluation_records(laps, evaluation=1, episode=7, iteration=1,
                                   num_timesteps=512, seconds=0.5, wall_time=0.0),
               old,
               *evaluation_records(laps[:1], evaluation=2, episode=8, iteration=1,
                                   num_timesteps=1024, seconds=0.25, wall_time=0.0)]
    json.dumps(records)  # they go to training_metrics.json as they are
    first, second = evaluation_summaries(records)
    assert (first.evaluation, first.trials, first.laps, first.num_timesteps) == (1, 2, 1, 512)
    assert first.completion == pytest.approx(81.25)
    assert (first.mean_lap, first.best_lap, first.seconds) == (10.0, 10.0, 0.5)
    assert second.all_laps and not first.all_laps
    assert records[1]["phase"] == "evaluation" and records[1]["episode_status"] == "lap_complete"
    assert training_episodes(records) == [training, old]
    assert EvalSummary.from_json(json.loads(json.dumps(first.to_json()))) == first


def test_the_new_settings_are_checked():
    assert load_config_dict({"best_model_metric": "lap_time", "eval_every": 0}).eval_every == 0
    for bad, fragment in [({"best_model_metric": "reward"}, "best_model_metric must be one of"),
                          ({"eval_every": -1}, "eval_every must be a whole number"),
                          ({"eval_trials": 0}, "eval_trials must be a whole number")]:
        with pytest.raises(ConfigError, match=fragment):
            load_config_dict(bad)


def test_best_is_chosen_when_there_is_one_and_last_otherwise(tmp_path):
    folder = ModelFolder(tmp_path / "car")
    (tmp_path / "car" / "checkpoints").mkdir(parents=True)
    with pytest.raises(GarageError, match="no model here"):
        folder.checkpoint("best")
    folder.config_path.write_text("track: oval\n")
    with pytest.raises(GarageError, match="no checkpoint yet"):
        folder.checkpoint("best")
    folder.checkpoint_path.write_bytes(b"last")
    old = folder.checkpoint("best")  # a model from before best checkpoints
    assert (old.path, old.kind) == (folder.checkpoint_path, "last")
    assert "no best checkpoint" in old.note
    folder.best_checkpoint_path.write_bytes(b"best")
    assert folder.checkpoint().path == folder.best_checkpoint_path
    assert folder.checkpoint().note is None
    assert folder.checkpoint("last").path == folder.checkpoint_path
    with pytest.raises(GarageError, match="choose best or last"):
        folder.checkpoint("worst")
