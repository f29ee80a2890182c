"""A sweep: every combination of a grid of settings trained as its own model, then ranked.

This module is the plan and its record, with no Ray in it: the grid (``--grid
learning_rate=3e-4,1e-3``, one key per TrainConfig field, plus ``--reward`` repeated) is
expanded into trials, each an ordinary model of the garage named ``<sweep>-01``,
``<sweep>-02``... with a complete, validated TrainConfig. The plan is written to
``$RACERL_HOME/sweeps/<sweep>/sweep.json`` before any trial starts, so that an interrupted
sweep resumes with exactly its own trials (:mod:`racerl.train.sweep_runner` runs them on Ray
Tune), and each trial writes its outcome (finished, or the error that stopped it) to
``trials/<trial>.json`` beside it. The ranking reads what training left in each model
folder: its evaluations during training, best lap first, then completion.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from racerl.atomic import atomic_write_json
from racerl.errors import RacerlError
from racerl.home import check_name, racerl_home
from racerl.model.best_checkpoint import evaluation_summaries
from racerl.model.config import (
    TrainConfig,
    field_names,
    layered_config,
    load_config_dict,
)
from racerl.model.folder import DamagedFileError, named_model_folder

SWEEP_FILE = "sweep.json"
MAX_TRIALS = 99
"""Trials of one sweep: two digits in their names, and more than a laptop or a small cluster
gets through in a day."""


class SweepError(RacerlError):
    """A sweep that cannot be planned, resumed or run as asked."""


@dataclass(frozen=True)
class Trial:
    """One combination of the grid: the model it trains and the settings that vary."""

    name: str
    settings: dict
    """The grid's keys and this trial's values (the reward as its file path)."""
    config: dict
    """The whole TrainConfig, as ``dataclasses.asdict`` writes it."""

    def train_config(self) -> TrainConfig:
        return load_config_dict(dict(self.config), f"sweep trial {self.name}")

    def describe(self, separator: str = " ") -> str:
        """``learning_rate=0.001 entropy=0.01 reward=a.py``, with reward files by name."""
        return separator.join(f"{key}={Path(value).name if key == 'reward' else value}"
                        for key, value in self.settings.items())


@dataclass(frozen=True)
class SweepPlan:
    """Everything a sweep runs: its trials and the budget of each."""

    name: str
    trials: list[Trial]
    minutes: float | None
    steps: int | None
    cpus_per_trial: float = 1.0

    @property
    def folder(self) -> Path:
        return sweep_folder(self.name)

    def to_json(self) -> dict:
        return {"name": self.name, "minutes": self.minutes, "steps": self.steps,
                "cpus_per_trial": self.cpus_per_trial,
                "trials": [dataclasses.asdict(t) for t in self.trials]}

    @classmethod
    def from_json(cls, data: dict) -> SweepPlan:
        return cls(data["name"], [Trial(**t) for t in data["trials"]], data["minutes"],
                   data["steps"], data.get("cpus_per_trial", 1.0))

    def trial(self, name: str) -> Trial:
        return next(t for t in self.trials if t.name == name)


def sweep_folder(name: str) -> Path:
    return racerl_home() / "sweeps" / check_name(name, "sweep")


def parse_grid(entries: list[str]) -> dict[str, list]:
    """``["learning_rate=3e-4,1e-3", "entropy=0.01"]`` as ``{key: [values]}``.

    Each value is read as a number where it is one, else as YAML reads it (``true`` is a
    bool, as in a ``--config`` file); a key that is no TrainConfig field is one error listing
    the valid ones.
    """
    grid: dict[str, list] = {}
    for entry in entries:
        key, sep, values = entry.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise SweepError(f"--grid {entry!r}: write KEY=VALUE,VALUE (e.g. "
                             "learning_rate=3e-4,1e-3)")
        if key not in field_names():
            raise SweepError(f"--grid {entry!r}: unknown setting {key!r}; valid settings: "
                             f"{', '.join(field_names())}")
        if key in grid:
            raise SweepError(f"--grid: {key!r} is given twice; list all its values in one "
                             f"--grid {key}=A,B")
        grid[key] = [_value(v.strip()) for v in values.split(",") if v.strip()]
    return grid


def _value(text: str) -> object:
    """A number as a number (YAML 1.1 would keep ``3e-4``, with no dot, a string), else
    what YAML reads (``true``, ``null``, a name)."""
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def plan_sweep(name: str, base: TrainConfig, grid: dict[str, list], rewards: list[str],
               minutes: float | None = None, steps: int | None = None,
               cpus_per_trial: float = 1.0) -> SweepPlan:
    """Expand ``grid`` (and the reward files) over ``base`` into validated trials.

    Every combination is checked now, so a bad value fails before any training starts.
    Reward files and track files become absolute paths: a trial runs in a Ray worker
    whose working directory is not the user's.
    """
    check_name(name, "sweep")
    if (minutes is None) == (steps is None):
        raise SweepError("give each trial a budget: --minutes M or --steps N (one of them)")
    if (minutes is not None and not minutes > 0) or (steps is not None and not steps > 0):
        raise SweepError("the training budget must be positive (--minutes or --steps)")
    if not cpus_per_trial > 0:
        raise SweepError(f"--cpus-per-trial {cpus_per_trial}: must be more than 0")
    if base.eval_every <= 0:
        raise SweepError("a sweep ranks its trials by their evaluations during training: "
                         "eval_every must be at least 1")
    axes = dict(grid)
    if rewards:
        if "reward" in axes:
            raise SweepError("give reward functions with --reward or --grid reward=..., "
                             "not both")
        axes["reward"] = list(rewards)
    if "reward" in axes:
        axes["reward"] = [_absolute_reward(r) for r in axes["reward"]]
    combos = list(itertools.product(*axes.values())) if axes else [()]
    if len(combos) > MAX_TRIALS:
        raise SweepError(f"the grid makes {len(combos)} trials; a sweep runs at most "
                         f"{MAX_TRIALS}")
    trials = []
    for number, values in enumerate(combos, 1):
        settings = dict(zip(axes, values, strict=True))
        trial_name = f"{name}-{number:02d}"
        config = layered_config(base, overrides=settings)
        config = config.replace(track=_absolute_tracks(config.track))
        trials.append(Trial(check_name(trial_name, "model"), settings,
                            dataclasses.asdict(config)))
    return SweepPlan(name, trials, minutes, None if steps is None else int(steps),
                     float(cpus_per_trial))


def _absolute_reward(source: str) -> str:
    from racerl.reward.function import EXAMPLES, reward_file

    if str(source) in EXAMPLES:
        return str(source)
    return str(reward_file(source).resolve())  # a missing file is its error, now


def _absolute_tracks(track: str | list[str]) -> str | list[str]:
    def absolute(entry: str) -> str:
        path = Path(entry).expanduser()
        return str(path.resolve()) if path.suffix == ".npy" and path.is_file() else entry

    return absolute(track) if isinstance(track, str) else [absolute(t) for t in track]


def save_plan(plan: SweepPlan) -> None:
    """Write the plan, or check it against the one already written.

    Rerunning the same command resumes the sweep; the same name with other settings is an
    error, since its trials' models already hold the old settings' training.
    """
    path = plan.folder / SWEEP_FILE
    if path.is_file():
        if load_plan(plan.name).to_json() != plan.to_json():
            raise SweepError(f"sweep {plan.name!r} exists ({path}) with other settings; "
                             f"resume it with `racerl sweep --name {plan.name} --resume` or "
                             "choose another name")
        return
    for trial in plan.trials:
        if named_model_folder(trial.name).exists():
            raise SweepError(f"model {trial.name!r} exists already, outside sweep "
                             f"{plan.name!r}; choose another sweep name")
    (plan.folder / "trials").mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, plan.to_json())


def load_plan(name: str) -> SweepPlan:
    path = sweep_folder(name) / SWEEP_FILE
    if not path.is_file():
        known = [p.parent.name for p in path.parent.parent.glob(f"*/{SWEEP_FILE}")]
        raise SweepError(f"no sweep {name!r} to resume (nothing at {path}); sweeps: "
                         f"{', '.join(sorted(known)) or 'none yet'}")
    try:
        return SweepPlan.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise SweepError(f"{path}: damaged sweep record ({type(exc).__name__}: {exc})") \
            from None


def outcome_path(folder: Path, trial: str) -> Path:
    """Where the sweep in ``folder`` keeps what became of ``trial``."""
    return folder / "trials" / f"{trial}.json"


def write_outcome(folder: Path, trial: str, status: str, error: str | None = None) -> None:
    """What became of a trial: ``finished``, ``stopped early`` or ``error`` (with its
    message)."""
    atomic_write_json(outcome_path(folder, trial), {"status": status, "error": error})


def read_outcome(folder: Path, trial: str) -> dict | None:
    path = outcome_path(folder, trial)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


@dataclass(frozen=True)
class TrialResult:
    """A trial as the ranked table shows it."""

    trial: Trial
    status: str
    """finished, stopped early, error, interrupted or not started."""
    error: str | None
    steps: int
    evaluations: int
    best_lap: float | None
    """The fastest lap of any evaluation during training, seconds."""
    completion: float
    """The best mean completion % of an evaluation during training."""
    best_checkpoint: str | None
    """The evaluation checkpoints/best.zip holds, described."""


def trial_result(plan: SweepPlan, trial: Trial, status: str | None = None) -> TrialResult:
    """What ``trial``'s model folder and outcome record say about it; ``status``, the
    scheduler's word for a trial with no outcome record (stopped early, interrupted)."""
    outcome = read_outcome(plan.folder, trial.name)
    folder = named_model_folder(trial.name)
    steps, summaries, best = 0, [], None
    if folder.exists():
        try:
            steps = int(folder.state().get("num_timesteps", 0))
            summaries = evaluation_summaries(folder.metrics())
            best = folder.best_record()
        except DamagedFileError as exc:
            return TrialResult(trial, "error", str(exc), 0, 0, None, 0.0, None)
    laps = [s.best_lap for s in summaries if s.best_lap is not None]
    if outcome is not None:
        status, error = outcome["status"], outcome["error"]
    else:
        status, error = status or ("interrupted" if folder.exists() else "not started"), None
    described = None
    if best is not None:
        described = f"#{best['evaluation']}: {best['laps']}/{best['trials']} laps"
    return TrialResult(trial, status, error, steps, len(summaries),
                       min(laps) if laps else None,
                       max((s.completion for s in summaries), default=0.0), described)


def ranked(results: list[TrialResult]) -> list[TrialResult]:
    """Best evaluation lap first (a trial without one after every trial with one), then the
    higher completion; failed trials last."""
    def key(r: TrialResult) -> tuple:
        return (r.status == "error", r.best_lap is None,
                r.best_lap if r.best_lap is not None else math.inf, -r.completion, r.trial.name)

    return sorted(results, key=key)
