"""Run a sweep's trials on Ray Tune: one training job per trial, hopeless ones stopped early.

Each trial is :func:`racerl.train.trainer.train` of its own model inside a Tune function
trainable (``tune.with_resources``: ``cpus_per_trial`` CPUs each, so a local Ray on a
4-core machine trains 4 at once). The trainer's per-iteration callback reports to Tune the
steps so far and the best evaluation completion; ASHA (``ASHAScheduler``, time measured in
evaluations during training) stops a trial whose completion trails the others' at the same
number of evaluations. A trial that raises (a bad reward function) is recorded with its
error and the others go on (Tune's default ``max_failures=0``).

Resuming is racerl's own, not ``Tuner.restore``: the plan on disk says which trials have an
outcome (finished, stopped early, error), and a rerun trains the others, each resuming its
model from its last checkpoint with what is left of its budget. That survives anything
that stops the driver (Ctrl-C, a closed terminal, ``kill -9``), and a trial's training is
the model folder's, never a second copy in Tune's storage.

Where the trials run, the racerl home must be the same path: a local Ray shares this
machine's; on a cluster every node mounts ``RACERL_HOME`` from a shared filesystem (a
trial on a node that cannot see the sweep's plan fails with that message).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from racerl.home import racerl_home
from racerl.train.cluster import connect, ray_module
from racerl.train.sweep import (
    SweepError,
    SweepPlan,
    TrialResult,
    load_plan,
    ranked,
    read_outcome,
    save_plan,
    trial_result,
    write_outcome,
)

STOPPED_EARLY = "stopped early"
FINISHED = "finished"
ERROR = "error"
FINAL = (FINISHED, STOPPED_EARLY, ERROR)
ASHA_GRACE_EVALUATIONS = 3
"""Evaluations every trial gets before ASHA may stop it: the first evaluations of a camera
policy are mostly 0 %, and judging on them would stop trials at random."""
ASHA_REDUCTION = 3
"""ASHA keeps the best third of the trials at each rung."""


@dataclass
class TrialRow:
    """One trial in the live view."""

    name: str
    settings: str
    status: str = "pending"
    steps: int = 0
    evaluations: int = 0
    completion: float = 0.0
    best_lap: float | None = None
    error: str | None = None


@dataclass
class SweepProgress:
    """What the live view shows: every trial, updated as Tune reports."""

    plan: SweepPlan
    rows: dict[str, TrialRow] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for trial in self.plan.trials:
            result = trial_result(self.plan, trial)
            self.rows[trial.name] = TrialRow(
                trial.name, trial.describe(),
                result.status if result.status in FINAL else "pending",
                result.steps, result.evaluations, result.completion, result.best_lap,
                result.error)


_listener: Callable[[SweepProgress], None] | None = None
_progress: SweepProgress | None = None


def _tune_callback(folder: Path):
    """A Tune callback that records how trials end in the sweep's ``folder`` and feeds the
    live view (built here: Ray is imported late).

    It holds the folder itself, not the driver's globals: with a Ray Client address Tune's
    loop, and so this callback, runs on the head node, where only the shared folder is
    the same; the live view is then not fed.
    """
    from ray import tune

    class SweepCallback(tune.Callback):
        def _row(self, trial) -> TrialRow | None:
            return _progress.rows.get(trial.custom_trial_name) if _progress else None

        def _changed(self) -> None:
            if _listener is not None and _progress is not None:
                _listener(_progress)

        def on_trial_start(self, iteration, trials, trial, **info):
            if (row := self._row(trial)) is not None:
                row.status = "running"
                self._changed()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if (row := self._row(trial)) is not None:
                row.steps = int(result.get("steps", row.steps))
                row.evaluations = int(result.get("evaluations", row.evaluations))
                row.completion = float(result.get("completion", row.completion))
                lap = result.get("best_lap")
                row.best_lap = None if lap is None or math.isnan(lap) else float(lap)
                self._changed()

        def on_trial_complete(self, iteration, trials, trial, **info):
            name = trial.custom_trial_name
            outcome = read_outcome(folder, name)
            if outcome is None:  # ended by the scheduler, not by its budget
                write_outcome(folder, name, STOPPED_EARLY)
                outcome = {"status": STOPPED_EARLY}
            if (row := self._row(trial)) is not None:
                row.status = outcome["status"]
                self._changed()

        def on_trial_error(self, iteration, trials, trial, **info):
            name = trial.custom_trial_name
            outcome = read_outcome(folder, name)
            if outcome is None:  # died without a word (a node lost, out of memory)
                outcome = {"status": ERROR, "error": "the trial's Ray worker failed; see "
                                                     f"Ray's log under {trial.local_path}"}
                write_outcome(folder, name, ERROR, outcome["error"])
            if (row := self._row(trial)) is not None:
                row.status, row.error = ERROR, outcome["error"]
                self._changed()

    return SweepCallback()


def run_trial(config: dict, home: str, sweep: str) -> None:
    """The Tune trainable: train one trial's model, resuming it when it has a checkpoint.

    Runs in a Ray worker: the racerl home is set from the driver's (the same path on every
    node), and the trial's settings come from the plan on disk.
    """
    from ray import tune

    from racerl.model.folder import named_model_folder
    from racerl.train.trainer import train

    os.environ["RACERL_HOME"] = home
    try:
        plan = load_plan(sweep)
    except SweepError as exc:
        raise SweepError(f"{exc} (on this Ray node: RACERL_HOME must be a shared filesystem "
                         "mounted at the same path on every node)") from None
    trial = plan.trials[config["index"]]
    folder = named_model_folder(trial.name)

    def report(progress) -> None:
        tune.report(progress_metrics(progress))

    try:
        if folder.checkpoint_path.is_file():  # an interrupted trial: go on from its checkpoint
            state = folder.state()
            minutes, steps = _remaining(plan, state)
            if minutes is None and steps is None:
                write_outcome(plan.folder, trial.name, FINISHED)
                return
            result = train(trial.name, None, minutes=minutes, steps=steps, resume=True,
                           on_iteration=report)
        else:
            result = train(trial.name, trial.train_config(), minutes=plan.minutes,
                           steps=plan.steps, force=folder.exists(), on_iteration=report)
    except Exception as exc:
        write_outcome(plan.folder, trial.name, ERROR, _first_line(exc))
        raise
    if result.stop_reason in ("step budget reached", "time budget reached", "finished"):
        # Before the last report: the scheduler may end the trial on it, and a trial that
        # trained its whole budget has finished, not been stopped early.
        write_outcome(plan.folder, trial.name, FINISHED)
    tune.report(progress_metrics(result.progress))


def _first_line(exc: BaseException) -> str:
    """An error's first line: a reward function's error goes on with the whole params
    dict, which the ranked table does not need."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _remaining(plan: SweepPlan, state: dict) -> tuple[float | None, int | None]:
    """What is left of a trial's budget after the training its checkpoint holds; (None,
    None) when nothing is."""
    if plan.steps is not None:
        left = plan.steps - int(state.get("num_timesteps", 0))
        return (None, left) if left > 0 else (None, None)
    left = plan.minutes - float(state.get("elapsed_seconds", 0.0)) / 60
    return (left, None) if left > 1 / 60 else (None, None)


def progress_metrics(progress) -> dict:
    """The numbers a trial reports to Tune at each iteration (ASHA reads ``completion`` at
    each number of ``evaluations``)."""
    laps = [e.best_lap for e in progress.evaluations if e.best_lap is not None]
    return {"steps": int(progress.steps), "evaluations": len(progress.evaluations),
            "completion": max((e.completion for e in progress.evaluations), default=0.0),
            "best_lap": min(laps) if laps else math.nan}


@dataclass
class SweepOutcome:
    plan: SweepPlan
    results: list[TrialResult]
    """Every trial, ranked."""
    seconds: float


def run_sweep(plan: SweepPlan, address: str | None = None, early_stopping: bool = True,
              on_update: Callable[[SweepProgress], None] | None = None) -> SweepOutcome:
    """Run the trials of ``plan`` that have no outcome yet (all of them the first time);
    ``on_update`` sees the live progress after every report."""
    global _listener, _progress
    ray_module()  # a clear error first when Ray is not installed
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    save_plan(plan)
    started = time.time()
    progress = SweepProgress(plan)
    todo = [i for i, t in enumerate(plan.trials) if progress.rows[t.name].status not in FINAL]
    if todo:
        connect(address)
        names = {i: t.name for i, t in enumerate(plan.trials)}
        if early_stopping and len(todo) > 1:
            max_evaluations = max(_expected_evaluations(plan, plan.trials[i].train_config())
                                  for i in todo)
            # A trial's own budget ends it: ASHA only stops trials at its rungs.
            scheduler = ASHAScheduler(time_attr="evaluations", metric="completion", mode="max",
                                      grace_period=ASHA_GRACE_EVALUATIONS,
                                      max_t=max(max_evaluations, ASHA_GRACE_EVALUATIONS) + 1,
                                      reduction_factor=ASHA_REDUCTION,
                                      stop_last_trials=False)
        else:
            scheduler = FIFOScheduler()
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, home=str(racerl_home().resolve()),
                                 sweep=plan.name),
            {"cpu": plan.cpus_per_trial})
        run = 1 + sum(1 for _ in (plan.folder / "tune").glob("run-*")) \
            if (plan.folder / "tune").is_dir() else 1
        tuner = tune.Tuner(
            trainable,
            param_space={"index": tune.grid_search(todo)},
            tune_config=tune.TuneConfig(
                scheduler=scheduler,
                trial_name_creator=lambda trial: names[trial.config["index"]],
                trial_dirname_creator=lambda trial: names[trial.config["index"]]),
            run_config=tune.RunConfig(
                name=f"run-{run}", storage_path=str((plan.folder / "tune").resolve()),
                callbacks=[_tune_callback(plan.folder.resolve())], verbose=0,
                failure_config=tune.FailureConfig(max_failures=0)))
        _listener, _progress = on_update, progress
        # Tune installs its own Ctrl-C handler and leaves it behind: put ours back after.
        ctrl_c = signal.getsignal(signal.SIGINT)
        try:
            if on_update is not None:
                on_update(progress)
            with _tune_quiet():
                tuner.fit()
        finally:
            _listener, _progress = None, None
            signal.signal(signal.SIGINT, ctrl_c)
    results = ranked([trial_result(plan, t) for t in plan.trials])
    return SweepOutcome(plan, results, time.time() - started)


@contextlib.contextmanager
def _tune_quiet():
    """Tune's own console output off while racerl shows the sweep: its progress reporter
    (the legacy engine at verbosity 0 prints nothing; the new one still prints a header)
    and the traceback it logs for a failed trial, whose error racerl reports itself."""
    controller = logging.getLogger("ray.tune.execution.tune_controller")
    level, engine = controller.level, os.environ.get("RAY_AIR_NEW_OUTPUT")
    controller.setLevel(logging.CRITICAL)
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    try:
        yield
    finally:
        controller.setLevel(level)
        if engine is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = engine


def _expected_evaluations(plan: SweepPlan, config) -> int:
    """About how many evaluations a trial's budget allows (ASHA's ``max_t``); a minutes
    budget cannot say, so the rungs then go on as long as trials report."""
    if plan.steps is None:
        return 10_000
    per_update = config.n_envs * config.rollout_steps
    return max(1, math.ceil(plan.steps / per_update) // config.eval_every)
