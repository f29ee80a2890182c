"""Evaluation: drive a model or a scripted driver under DeepRacer's evaluation rules.

An evaluation (reference section 9) starts every trial on the start line with greedy
actions (the most likely action, or the mean of a continuous policy) under fixed, seeded
lighting. A mistake does not end the trial: off track and reversed put the car back in a
lane and freeze it for the penalty while the clock runs, so a lap time includes every
penalty. An evaluation of ``trials`` laps drives them as a batch of cars at once (they
never meet: no collisions), each trial with its own lighting seed ``seed + trial``; a race
(``laps`` > 1 in the rules) is one continuous episode of several laps.

The evaluation logs with DeepRacer's built-in centre-line reward (the user's reward
function is not run, as in DeepRacer), and everything it saw is kept in
:class:`EvaluationRun` for the sim trace, the video and the plots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from racerl.camera.lighting import check_lighting
from racerl.camera.sensors import Sensors
from racerl.drive.policy import PolicyDriver
from racerl.drive.pursuit import PurePursuitDriver, RaceLineDriver
from racerl.drive.raceline import compute_raceline
from racerl.drive.rollout import Controller, Episode, Keep, Trajectory, rollout
from racerl.envs.actions import ActionSpace, load_action_space
from racerl.envs.cars import Racers, race_setup, take
from racerl.errors import RacerlError
from racerl.home import racerl_home
from racerl.model.simtrace import action_label, trace_row
from racerl.reward.function import DEFAULT_EXAMPLE
from racerl.sim.race_setup import RaceSetup
from racerl.sim.rules import EvaluationRules
from racerl.sim.state import Status
from racerl.sim.vehicle import VehicleParams
from racerl.track import DEFAULT_TRACK
from racerl.track.geometry import Track

DRIVERS = ("centerline", "raceline")


@dataclass(frozen=True)
class EvalSettings:
    """What is evaluated where: the same settings give the same laps, step for step."""

    track: str = DEFAULT_TRACK
    trials: int = 3
    lighting: str = "studio"
    seed: int = 0
    rules: EvaluationRules = field(default_factory=EvaluationRules)
    reverse: bool = False
    """Drive the track the other way round (DRfC DR_EVAL_REVERSE_DIRECTION)."""
    race: RaceSetup = field(default_factory=RaceSetup)
    """What shares the track: nothing (a time trial), obstacles or bot cars, laid out from
    ``seed`` (each trial's car from ``seed + trial``)."""

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise RacerlError(f"trials must be at least 1, not {self.trials}")
        check_lighting(self.lighting)

    @property
    def continuous(self) -> bool:
        """A race: one episode of ``rules.laps`` laps instead of separate trials."""
        return self.rules.laps > 1

    def describe(self) -> dict:
        rules = self.rules
        return {"track": self.track, "trials": self.trials, "lighting": self.lighting,
                "seed": self.seed, "laps": rules.laps, "resets": rules.resets,
                "off_track_penalty": rules.off_track_penalty,
                "reversed_penalty": rules.penalty(Status.REVERSED),
                "immobilized_penalty": rules.immobilized_penalty,
                "race_duration": rules.race_duration,
                "reset_behind_dist": rules.reset_behind_dist,
                "collision_penalty": rules.collision_penalty,
                "reverse_direction": self.reverse, **race_description(self.race)}


def race_description(race: RaceSetup) -> dict:
    """The race type and, for a race with objects, the settings of its type."""
    if race.race_type == "time_trial":
        return {"race_type": "time_trial"}
    if race.race_type == "head_to_model":
        return {"race_type": "head_to_model", "racers": race.racers,
                "done_condition": race.done_condition}
    prefix = ("obstacle", "object") if race.race_type == "object_avoidance" else (
        "bot_car", "lane_change")
    return {"race_type": str(race.race_type),
            **{name: (list(map(list, value)) if name == "object_positions" else value)
               for name, value in vars(race).items() if any(p in name for p in prefix)}}


class Driver(Protocol):
    """Who drives an evaluation: what it must see, and the controller that drives.

    ``observation`` (``"camera"``, ``"state"`` or ``None`` for a scripted driver), ``rgb``,
    ``frame_stack``, ``sensors`` (None: the front camera) and ``actions`` say how the batch
    must be built for it;
    :meth:`controller` gives the :class:`~racerl.drive.rollout.Controller` for a track.
    """

    label: str
    observation: str | None
    rgb: bool
    frame_stack: int
    actions: ActionSpace | None
    sensors: Sensors | None

    def controller(self, track: Track, vehicle: VehicleParams) -> Controller:
        ...


class ScriptedDriver:
    """Pure pursuit on the centre line at a fixed speed, or on the optimal race line at its
    speed profile (the track's physical limit): the deterministic baselines of a
    leaderboard."""

    observation = None
    rgb = False
    frame_stack = 1
    actions = None
    sensors = None

    def __init__(self, name: str = "centerline", speed: float = 1.0):
        if name not in DRIVERS:
            raise RacerlError(f"--driver {name!r}: scripted drivers are {', '.join(DRIVERS)}")
        self.name = name
        self.speed = float(speed)
        self.label = f"{name} @ {speed:g} m/s" if name == "centerline" else name

    def controller(self, track: Track, vehicle: VehicleParams) -> Controller:
        if self.name == "raceline":
            line = compute_raceline(track, vehicle)  # cached per track
            return RaceLineDriver(track, line, vehicle=vehicle)
        return PurePursuitDriver(track, speed=self.speed, vehicle=vehicle)


@dataclass
class Summary:
    """Totals over the trials of one evaluation."""

    laps: int
    trials: int
    total_time: float | None  # sum of lap times when every trial finished
    best_lap: float | None
    mean_lap: float | None
    off_track: int
    penalty: float
    completion: float  # mean completion %
    collisions: int = 0
    """Crashes into obstacles or bot cars (each forgiven with a penalty)."""


@dataclass
class EvaluationRun:
    """Everything one evaluation produced: results, and per trial (per car) what it did."""

    driver: str
    settings: EvalSettings
    trials: list[Episode]
    rows: list[list] = field(default_factory=list)  # sim-trace rows, in step order
    trajectories: list[Trajectory] = field(default_factory=list)

    def summary(self) -> Summary:
        laps = [t.lap_time for t in self.trials if t.lap_time is not None]
        everyone = len(laps) == len(self.trials)
        return Summary(
            laps=len(laps), trials=len(self.trials),
            total_time=float(sum(laps)) if everyone else None,
            best_lap=min(laps) if laps else None,
            mean_lap=float(np.mean(laps)) if laps else None,
            off_track=sum(t.off_track for t in self.trials),
            penalty=float(sum(t.penalty for t in self.trials)),
            completion=float(np.mean([t.progress for t in self.trials])),
            collisions=sum(t.crashed for t in self.trials))


def evaluate(driver: Driver, settings: EvalSettings, keep_frames: bool = False
             ) -> EvaluationRun:
    """Drive the evaluation; ``keep_frames`` keeps the camera frames (for a video), which
    renders them even for a driver that does not need them."""
    see_camera = driver.observation == "camera" or keep_frames
    cars = 1 if settings.continuous else settings.trials
    # No time limit unless the rules set one: an episode (a whole race) stops only at
    # DeepRacer's 100,000-step cap (simapp environments/deepracer_racetrack_env.py).
    racers = Racers(cars, track=settings.track, reward_function=DEFAULT_EXAMPLE,
                    action_space=driver.actions,
                    observation="camera" if see_camera else "state", rgb=driver.rgb,
                    frame_stack=driver.frame_stack, lighting=settings.lighting,
                    **(driver.sensors.metadata() if driver.sensors is not None else {}),
                    start="line", rules=settings.rules, reverse=settings.reverse,
                    race=settings.race)
    result = rollout(racers, driver.controller(racers.track, racers.sim.vehicle),
                     seeds=[settings.seed + i for i in range(cars)],
                     keep=Keep(trajectory=True, frames=keep_frames, params=True))
    rows = [row for car, path in enumerate(result.trajectories)
            for row in trace_rows(path, None if settings.continuous else car)]
    return EvaluationRun(driver.label, settings, result.episodes, rows, result.trajectories)


def trace_rows(path: Trajectory, episode: int | None) -> list[list]:
    """Sim-trace rows of one car's steps; ``episode`` numbers them, or (None, a race) by the
    laps completed before the step, as DeepRacer does: its lap count grows on a step whose
    progress is 100, whatever that step's status (simapp rollout_agent_ctrl.py judge_action;
    metrics/s3_metrics.py EvalMetrics.upload_step_metrics)."""
    rows, laps = [], 0
    last = len(path.status) - 1
    for k, (status, params) in enumerate(zip(path.status, path.params, strict=True)):
        label = path.labels[k]
        if label is None:
            label = action_label(params["steering_angle"], params["speed"])
        rows.append(trace_row(laps if episode is None else episode, params, label,
                              path.rewards[k], k == last, status, path.pause[k]))
        laps += params["progress"] == 100
    return rows


@dataclass
class Entrant:
    """Who drives: a trained model or a scripted driver, where its evaluations are kept
    (the model folder, or ``$RACERL_HOME/drivers/<name>``), and what identifies it."""

    name: str
    driver: Driver
    folder: Path
    identity: dict
    track: str | list[str]  # the model's training track(s), where it is evaluated by default
    note: str | None = None  # something the user should know about who drives
    race: RaceSetup = field(default_factory=RaceSetup)
    """The race a model trained for (its obstacles or bot cars), where it is evaluated by
    default; a time trial for scripted drivers."""

    @property
    def tracks(self) -> list[str]:
        """The training tracks as a list (one, or each track of a multi-track model)."""
        return [self.track] if isinstance(self.track, str) else list(self.track)


def model_entrant(name: str, checkpoint: str = "best") -> Entrant:
    """The greedy driver of a trained model's ``checkpoint`` (``best``, the best evaluation
    during training, or ``last``; the last, with a note, when it has no best)."""
    from racerl.model.folder import model_folder
    from racerl.train.trainer import load_policy

    folder = model_folder(name)
    chosen = folder.checkpoint(checkpoint)
    policy, config = load_policy(name, chosen.kind)
    actions = load_action_space(config.action_space)
    driver = PolicyDriver(policy, actions, label=f"model {folder.name}",
                          observation=config.observation, rgb=config.rgb,
                          frame_stack=config.frame_stack, sensors=config.sensors)
    digest = hashlib.sha256(chosen.path.read_bytes()).hexdigest()
    identity = {"model": folder.name, "model_hash": digest, "checkpoint": chosen.kind,
                "algorithm": config.algorithm, "network": config.network,
                "trained_on": config.track}
    return Entrant(folder.name, driver, folder.root, identity, config.track, chosen.note,
                   race_setup(None, config.race_options()))


def scripted_entrant(name: str, speed: float = 1.0) -> Entrant:
    """A scripted baseline driver; its evaluations live under the racerl home."""
    driver = ScriptedDriver(name, speed)
    identity = {"driver": driver.label, "model_hash": f"scripted:{driver.label}"}
    return Entrant(driver.label, driver, racerl_home() / "drivers" / name, identity,
                   DEFAULT_TRACK)


def entrant(model: str | None, driver: str | None, speed: float = 1.0,
            checkpoint: str = "best") -> Entrant:
    """A model by name or path (its ``checkpoint``), or a scripted driver: exactly one of
    the two."""
    if model is None and driver is None:
        raise RacerlError("name a model (racerl evaluate MODEL) or a scripted driver "
                          f"(--driver {' or '.join(DRIVERS)})")
    if model is not None and driver is not None:
        raise RacerlError(f"give a model ({model!r}) or --driver {driver!r}, not both")
    if model is not None:
        return model_entrant(model, checkpoint)
    return scripted_entrant(driver, speed)


def with_rules(settings: EvalSettings, **changes) -> EvalSettings:
    """``settings`` with some of its rules changed."""
    return replace(settings, rules=replace(settings.rules, **changes))


def run_trials(policy: Callable[[np.ndarray], object], env, trials: int = 3,
               seed: int = 0) -> list[Episode]:
    """Drive ``trials`` single-car episodes of a ready ``env`` with ``policy(obs)`` (one
    observation at a time), under the env's own (training) rules; for quick checks of
    policies outside a model folder."""
    racers = env.racers
    def one_at_a_time(batch) -> np.ndarray:
        return np.stack([np.asarray(policy(take(batch, i))) for i in range(racers.n)])

    driver = PolicyDriver(one_at_a_time, racers.actions, "policy",
                          observation=racers.observation, sensors=racers.sensors)
    results = []
    for k in range(trials):
        episode = rollout(racers, driver, seeds=[seed + k]).episodes[0]
        results.append(replace(episode, trial=k + 1))
    return results
