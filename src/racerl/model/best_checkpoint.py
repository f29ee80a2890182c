"""Evaluations during training, as training_metrics.json keeps them, and the rule that
picks the best checkpoint.

Every ``eval_every`` iterations the trainer drives ``eval_trials`` greedy laps with the
current policy, and records each lap in training_metrics.json with ``phase: "evaluation"``
(:func:`racerl.train.evaluation.evaluation_records`), as in DeepRacer's own file, beside the
training episodes; :func:`evaluation_summaries` reads them back as one
:class:`EvalSummary` per evaluation, which is what the best-checkpoint rule, the live view
and the training chart use.

The rule (:func:`beats`), by ``best_model_metric``:

* ``progress`` (DRfC's default): the highest mean completion % wins; between equal
  completions, the faster mean lap time (an evaluation without a finished lap is the
  slowest).
* ``lap_time``: DeepRacer's lap-time metric, the mean lap time with 999999 ms for a lap
  not finished, lowest wins. As no lap takes that long (the evaluation stops a lap at
  180 s), that is: more finished laps win; between as many, the lower mean lap time of the
  finished ones; between evaluations without a finished lap, ``progress`` decides. Among
  evaluations that finished every lap, the fastest mean lap wins, as under ``progress``;
  the two differ before that: ``progress`` prefers 1 lap finished and 2 trials at 95 %
  (96.7 % completion) to 2 laps finished and 1 trial at 10 % (70 %), ``lap_time`` the
  other way round.

A new evaluation must do strictly better to become the best: on a tie the older best stays,
so the best checkpoint is rewritten only when it is beaten.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

EVALUATION_PHASE = "evaluation"
UNFINISHED_LAP_MS = 999_999
"""DeepRacer's lap time, in ms, for a lap not finished when lap time is the metric
(deepracer_checkpoints.json's avg_eval_metric)."""


@dataclass(frozen=True)
class EvalSummary:
    """One evaluation during training, over its trials."""

    evaluation: int
    """1-based: the model's n-th evaluation (a resumed run counts on)."""
    iteration: int
    """The DeepRacer iteration (block of training episodes) training was in."""
    num_timesteps: int
    """Training env steps before it."""
    trials: int
    laps: int
    """Trials that finished their lap."""
    completion: float
    """Mean completion %."""
    mean_lap: float | None
    """Mean lap time of the finished trials, seconds (penalties included)."""
    best_lap: float | None
    seconds: float
    """Wall time the evaluation took."""

    @property
    def all_laps(self) -> bool:
        return self.laps == self.trials

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> EvalSummary:
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    def describe(self) -> str:
        """``3/3 laps, 100.0 %, mean lap 8.41 s``."""
        lap = f", mean lap {self.mean_lap:.2f} s" if self.mean_lap is not None else ""
        return f"{self.laps}/{self.trials} laps, {self.completion:.1f} %{lap}"


def summarise(records: Sequence[dict]) -> EvalSummary:
    """The summary of one evaluation's records."""
    laps = [r["lap_time"] for r in records if r["completed_lap"]]
    first = records[0]
    return EvalSummary(
        evaluation=int(first["evaluation"]), iteration=int(first["iteration"]),
        num_timesteps=int(first["num_timesteps"]), trials=len(records), laps=len(laps),
        completion=float(sum(r["progress"] for r in records) / len(records)),
        mean_lap=float(sum(laps) / len(laps)) if laps else None,
        best_lap=float(min(laps)) if laps else None,
        seconds=float(first["evaluation_seconds"]))


def evaluation_summaries(metrics: Sequence[dict]) -> list[EvalSummary]:
    """Every evaluation in training_metrics.json records, in the order they ran."""
    groups: dict[int, list[dict]] = {}
    for record in metrics:
        if record.get("phase") == EVALUATION_PHASE:
            groups.setdefault(int(record["evaluation"]), []).append(record)
    return [summarise(group) for group in groups.values()]


def training_episodes(metrics: Sequence[dict]) -> list[dict]:
    """The training episodes of training_metrics.json records (files written before
    evaluations were recorded have no ``phase`` on some entries: those are training)."""
    return [m for m in metrics if m.get("phase", "training") != EVALUATION_PHASE]


def _rank(summary: EvalSummary, metric: str) -> tuple[float, ...]:
    """A key that sorts better evaluations higher, by the rule in the module docstring."""
    lap = -summary.mean_lap if summary.mean_lap is not None else -math.inf
    if metric == "lap_time":
        return (float(summary.laps), lap, summary.completion)
    return (summary.completion, lap)


def beats(new: EvalSummary, best: EvalSummary | None, metric: str) -> bool:
    """Whether ``new`` takes the best checkpoint from ``best`` (None: there is none yet)."""
    return best is None or _rank(new, metric) > _rank(best, metric)


def avg_eval_metric(summary: EvalSummary, metric: str) -> float:
    """DeepRacer's ``avg_eval_metric`` of an evaluation: mean completion % for progress,
    mean lap time in ms (999999 per unfinished lap) for lap time."""
    if metric == "lap_time":
        finished = (summary.mean_lap or 0.0) * 1000 * summary.laps
        return (finished + UNFINISHED_LAP_MS * (summary.trials - summary.laps)) / summary.trials
    return summary.completion
