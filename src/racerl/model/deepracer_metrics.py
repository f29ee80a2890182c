"""DeepRacer's training metrics file, written beside racerl's own for the community's notebooks.

DeepRacer's simulator keeps one JSON per training job (deepracer-simapp,
``bundle/markov/metrics/s3_metrics.py``, ``TrainingMetrics.append_episode_metrics`` and
``upload_episode_metrics``): ``{"metrics": [...], "version": 2.0, "best_model_metric": ...}``
with one entry per episode holding ``reward_score``, ``metric_time``, ``start_time``,
``elapsed_time_in_milliseconds`` (all whole numbers, milliseconds of simulated time),
``episode``, ``trial``, ``phase`` (``training`` or ``evaluation``), ``completion_percentage``
(a whole number) and ``episode_status`` spelled for people (``"Lap complete"``, its
``EPISODE_STATUS_LABEL_MAP`` in ``bundle/markov/metrics/constants.py``).

Two details of that code shape how deepracer-utils reads the file
(``deepracer.logs.metrics.TrainingMetrics``, which takes ``max(trial)`` as the episodes per
iteration and numbers iterations ``floor((episode - 1) / that)``):

* ``trial`` counts the training episodes of the current iteration (reset to 0 when a new
  training phase starts), and an evaluation entry repeats the count reached before it;
* ``episode`` counts training episodes only, so an evaluation entry repeats the number of
  the last training episode before it.

racerl's ``training_metrics.json`` keeps its own, richer entries (the training chart, the best
checkpoint and resumes read them); this module derives DeepRacer's from them. The console
wrote the file as ``metrics/training/training-<YYYYmmddHHMMSS>-<id>.json`` in the model's
logs download, which is where ``TrainingMetrics(None, fname=...)`` is pointed at. racerl's cars
drive side by side, so there is no single simulation clock: ``start_time`` and
``metric_time`` run on the clock of one car that drove the episodes one after another.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from racerl.atomic import atomic_write_json

METRICS_VERSION = 2.0
"""The ``version`` DeepRacer's simulator writes (``METRICS_VERSION`` in s3_metrics.py)."""

STATUS_LABELS = {"lap_complete": "Lap complete", "off_track": "Off track",
                 "crashed": "Crashed", "immobilized": "Immobilized", "reversed": "Reversed",
                 "in_progress": "In progress", "time_up": "Time Up", "pause": "Pause",
                 "prepare": "Prepare"}
"""DeepRacer's metrics spell statuses for people (``EPISODE_STATUS_LABEL_MAP``). Keyed by
the statuses' text (:class:`racerl.sim.state.Status` values equal it), so that the model
package, which the car's runtime reads, needs nothing of the simulator."""


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, str(status))


def best_model_metric_name(metric: str) -> str:
    """racerl's ``lap_time`` is DeepRacer's ``laptime`` (``BestModelMetricType``)."""
    return {"lap_time": "laptime"}.get(metric, metric)


def training_metrics_document(metrics: Sequence[dict], per_iteration: int,
                              best_model_metric: str = "progress") -> dict:
    """DeepRacer's training metrics for racerl's ``training_metrics.json`` entries.

    ``per_iteration`` is num_episodes_between_training: the training episodes between two
    policy updates, DeepRacer's iteration.
    """
    entries, clock = [], 0
    for m in metrics:
        episode = int(m["episode"])
        elapsed = int(m.get("elapsed_time_in_milliseconds", 0))
        entries.append({
            "reward_score": int(m.get("reward_score", round(m["reward"]))),
            "metric_time": clock + elapsed,
            "start_time": clock,
            "elapsed_time_in_milliseconds": elapsed,
            "episode": episode,
            "trial": (episode - 1) % per_iteration + 1,
            "phase": m.get("phase", "training"),
            "completion_percentage": int(m["progress"]),
            "episode_status": status_label(m.get("episode_status", "in_progress")),
        })
        clock += elapsed
    return {"metrics": entries, "version": METRICS_VERSION,
            "best_model_metric": best_model_metric_name(best_model_metric)}


def training_metrics_path(root: Path) -> Path:
    """The model's DeepRacer training metrics file: the one already there (a resumed run
    goes on writing it), else a new one named by the time, as the console named it."""
    folder = Path(root) / "metrics" / "training"
    found = sorted(folder.glob("training-*.json"))
    if found:
        return found[0]
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return folder / f"training-{stamp}-{Path(root).name}.json"


def write_training_metrics(root: Path, metrics: Sequence[dict], per_iteration: int,
                           best_model_metric: str = "progress") -> Path:
    """Write (atomically) DeepRacer's training metrics file of the model folder ``root``."""
    return atomic_write_json(training_metrics_path(root), training_metrics_document(
        metrics, per_iteration, best_model_metric))
