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

import numpy as np

from racerl.camera.lighting import PRESETS
from racerl.envs.actions import ActionSpace, ContinuousActions, load_action_space
from racerl.envs.cars import Racers, state_observation
from racerl.errors import RacerlError
from racerl.home import racerl_home
from racerl.model.simtrace import trace_row
from racerl.reward.function import DEFAULT_EXAMPLE
from racerl.sim.batch import BatchSim
from racerl.sim.rules import EvaluationRules
from racerl.sim.vehicle import CONTROL_DT
from racerl.track.catalog import DEFAULT_TRACK

DRIVERS = ("centerline", "raceline")


@dataclass(frozen=True)
class EvalSettings:
    """What is evaluated where: the same settings give the same laps, step for step."""

    track: str = DEFAULT_TRACK
    trials: int = 3
    lighting: str = "studio"
    seed: int = 0
    rules: EvaluationRules = field(default_factory=EvaluationRules)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise RacerlError(f"trials must be at least 1, not {self.trials}")
        if self.lighting not in PRESETS:
            raise RacerlError(f"lighting {self.lighting!r}: presets are {', '.join(PRESETS)}")

    @property
    def continuous(self) -> bool:
        """A race: one episode of ``rules.laps`` laps instead of separate trials."""
        return self.rules.laps > 1

    def describe(self) -> dict:
        rules = self.rules
        return {"track": self.track, "trials": self.trials, "lighting": self.lighting,
                "seed": self.seed, "laps": rules.laps, "resets": rules.resets,
                "off_track_penalty": rules.off_track_penalty,
                "reversed_penalty": rules.penalty("reversed"),
                "immobilized_penalty": rules.immobilized_penalty,
                "max_lap_time": rules.max_lap_time}


class Driver:
    """Chooses every car's command from its observation (a model) or its pose (scripted).

    ``observation`` and friends say what the driver must see; :meth:`act` returns steering
    (degrees), speed (m/s) and the sim trace's ``action`` value per car.
    """

    label: str = "driver"
    observation: str = "state"
    rgb: bool = False
    frame_stack: int = 1
    actions: ActionSpace | None = None

    def bind(self, sim: BatchSim) -> None:
        """Called once the cars exist (scripted drivers need the track and the vehicle)."""

    def act(self, obs: np.ndarray, sim: BatchSim) -> tuple[np.ndarray, np.ndarray, list]:
        raise NotImplementedError


class PolicyDriver(Driver):
    """A trained policy: ``policy(obs_batch)`` returns action ids or normalised boxes."""

    def __init__(self, policy: Callable[[np.ndarray], np.ndarray], actions: ActionSpace,
                 label: str, observation: str = "camera", rgb: bool = False,
                 frame_stack: int = 1):
        self.policy = policy
        self.actions = actions
        self.label = label
        self.observation, self.rgb, self.frame_stack = observation, rgb, frame_stack

    def act(self, obs: np.ndarray, sim: BatchSim) -> tuple[np.ndarray, np.ndarray, list]:
        action = np.asarray(self.policy(obs))
        steering, speed = self.actions.to_physical(action)
        if isinstance(self.actions, ContinuousActions):
            labels = [f"[{s} {v}]" for s, v in zip(steering.tolist(), speed.tolist(),
                                                   strict=True)]
        else:
            labels = [int(a) for a in np.asarray(action).reshape(-1)]
        return steering, speed, labels


class ScriptedDriver(Driver):
    """Pure pursuit on the centre line at a fixed speed, or on the optimal race line at its
    speed profile (the track's physical limit): the deterministic baselines of a
    leaderboard."""

    def __init__(self, name: str = "centerline", speed: float = 1.0):
        if name not in DRIVERS:
            raise RacerlError(f"--driver {name!r}: scripted drivers are {', '.join(DRIVERS)}")
        self.name = name
        self.speed = float(speed)
        self.label = f"{name} @ {speed:g} m/s" if name == "centerline" else name
        self._pilot = None

    def bind(self, sim: BatchSim) -> None:
        from racerl.drive.pursuit import PurePursuitDriver, RaceLineDriver

        if self.name == "raceline":
            from racerl.drive.raceline import compute_raceline

            line = compute_raceline(sim.track, sim.vehicle)  # cached per track
            self._pilot = RaceLineDriver(sim.track, line, vehicle=sim.vehicle)
        else:
            self._pilot = PurePursuitDriver(sim.track, speed=self.speed, vehicle=sim.vehicle)

    def act(self, obs: np.ndarray, sim: BatchSim) -> tuple[np.ndarray, np.ndarray, list]:
        steering, speed = self._pilot.act(sim.car)
        labels = [f"[{s} {v}]" for s, v in zip(steering.tolist(), speed.tolist(), strict=True)]
        return steering, speed, labels


@dataclass
class TrialResult:
    """One trial (evaluation) or one lap (race), as DeepRacer's evaluation metrics list it."""

    trial: int  # 1-based
    status: str
    progress: float  # completion %, 100 for a finished lap
    steps: int
    lap_time: float | None  # seconds including penalties, when the lap was completed
    elapsed: float  # seconds of simulated time the trial took
    off_track: int = 0
    reversed: int = 0
    immobilized: int = 0
    penalty: float = 0.0  # seconds of penalties served

    @property
    def completed(self) -> bool:
        return self.lap_time is not None


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


@dataclass
class EvaluationRun:
    """Everything one evaluation produced: results, and per trial what the car did."""

    driver: str
    settings: EvalSettings
    trials: list[TrialResult]
    rows: list[list] = field(default_factory=list)  # sim-trace rows, in step order
    trails: list[list[tuple[float, float, float]]] = field(default_factory=list)
    frames: list[list[np.ndarray]] = field(default_factory=list)  # when asked for
    timeline: list[list[tuple[float, str, float, int]]] = field(default_factory=list)

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
            completion=float(np.mean([t.progress for t in self.trials])))


def evaluate(driver: Driver, settings: EvalSettings, keep_frames: bool = False
             ) -> EvaluationRun:
    """Drive the evaluation; ``keep_frames`` keeps the camera frames (for a video), which
    renders them even for a driver that does not need them."""
    see_camera = driver.observation == "camera" or keep_frames
    observation = "camera" if see_camera else "state"
    cars = 1 if settings.continuous else settings.trials
    rules = settings.rules
    max_steps = int(np.ceil(rules.max_lap_time / CONTROL_DT * rules.laps)) + 2
    racers = Racers(cars, track=settings.track, reward_function=DEFAULT_EXAMPLE,
                    action_space=driver.actions, observation=observation, rgb=driver.rgb,
                    frame_stack=driver.frame_stack, lighting=settings.lighting,
                    start="line", rules=rules, max_steps=max_steps)
    sim = racers.sim
    driver.bind(sim)
    obs = racers.reset(np.arange(cars), seeds=[settings.seed + i for i in range(cars)])
    run = EvaluationRun(driver.label, settings, [])
    run.trails = [[_pose(sim, i)] for i in range(cars)]
    run.frames = [[_frame(obs, i)] if keep_frames else [] for i in range(cars)]
    run.timeline = [[(0.0, "prepare", 0.0, 0)] for _ in range(cars)]
    rows: list[list[list]] = [[] for _ in range(cars)]
    done = np.zeros(cars, dtype=bool)
    marks = [_Marks() for _ in range(cars)]
    while not done.all():
        policy_obs = obs if driver.observation == observation else state_observation(sim)
        steering, speed, labels = driver.act(policy_obs, sim)
        step = racers.drive(steering, speed)
        obs = step.obs
        for i in np.flatnonzero(~done):
            status = step.status[i]
            finished = bool(step.terminated[i] or step.truncated[i])
            # The trace's episode: trials (or, in a race, laps) finished before this step.
            episode = (int(sim.laps_done[i]) - (status == "lap_complete")
                       if settings.continuous else int(i))
            rows[i].append(trace_row(episode, step.params[i], labels[i],
                                     float(step.rewards[i]), finished, status,
                                     float(step.pause_duration[i])))
            run.trails[i].append(_pose(sim, i))
            clock = (float(step.lap_time[i]) if status == "lap_complete"
                     else float(sim.steps[i] - sim.lap_start[i]) * CONTROL_DT)
            run.timeline[i].append((clock, status, float(step.pause_duration[i]),
                                    int(sim.failures["off_track"][i])))
            if keep_frames:
                run.frames[i].append(_frame(obs, i))
            number = len(run.trials) + 1 if settings.continuous else int(i) + 1
            if status == "lap_complete":
                run.trials.append(marks[i].close(number, sim, i, status, 100.0,
                                                 float(step.lap_time[i])))
            elif finished:
                progress = float(step.params[i]["progress"])
                run.trials.append(marks[i].close(number, sim, i, status, progress, None))
            done[i] = finished
    run.rows = [row for per_car in rows for row in per_car]
    if not settings.continuous:
        run.trials.sort(key=lambda t: t.trial)
    return run


class _Marks:
    """Counters at the start of the current lap, so a race reports each lap's own."""

    def __init__(self):
        self.steps = 0
        self.counts = {"off_track": 0, "reversed": 0, "immobilized": 0}
        self.penalty = 0.0

    def close(self, number: int, sim: BatchSim, i: int, status: str, progress: float,
              lap_time: float | None) -> TrialResult:
        counts = {k: int(sim.failures[k][i]) for k in self.counts}
        steps, penalty = int(sim.steps[i]), float(sim.penalty_time[i])
        result = TrialResult(number, status, progress, steps - self.steps, lap_time,
                             (steps - self.steps) * CONTROL_DT,
                             penalty=penalty - self.penalty,
                             **{k: counts[k] - self.counts[k] for k in counts})
        self.steps, self.counts, self.penalty = steps, counts, penalty
        return result


def _pose(sim: BatchSim, i: int) -> tuple[float, float, float]:
    return float(sim.car.x[i]), float(sim.car.y[i]), float(sim.car.yaw[i])


def _frame(obs: np.ndarray, i: int) -> np.ndarray:
    """Car ``i``'s newest camera frame (the last channel of a frame stack)."""
    return obs[i, :, :, -1]


@dataclass
class Entrant:
    """Who drives: a trained model or a scripted driver, where its evaluations are kept
    (the model folder, or ``$RACERL_HOME/drivers/<name>``), and what identifies it."""

    name: str
    driver: Driver
    folder: Path
    identity: dict
    track: str  # the model's training track, the default place to evaluate it


def model_entrant(name: str) -> Entrant:
    """The greedy driver of a trained model's latest checkpoint."""
    from racerl.model.folder import model_folder
    from racerl.train.trainer import load_policy

    folder = model_folder(name)
    policy, config = load_policy(name)
    actions = load_action_space(config.action_space)
    driver = PolicyDriver(policy, actions, label=f"model {folder.name}",
                          observation=config.observation, rgb=config.rgb,
                          frame_stack=config.frame_stack)
    digest = hashlib.sha256(folder.checkpoint_path.read_bytes()).hexdigest()
    identity = {"model": folder.name, "model_hash": digest, "algorithm": config.algorithm,
                "network": config.network, "trained_on": config.track}
    return Entrant(folder.name, driver, folder.root, identity, config.track)


def scripted_entrant(name: str, speed: float = 1.0) -> Entrant:
    """A scripted baseline driver; its evaluations live under the racerl home."""
    driver = ScriptedDriver(name, speed)
    identity = {"driver": driver.label, "model_hash": f"scripted:{driver.label}"}
    return Entrant(driver.label, driver, racerl_home() / "drivers" / name, identity,
                   DEFAULT_TRACK)


def entrant(model: str | None, driver: str | None, speed: float = 1.0) -> Entrant:
    """A model by name or path, or a scripted driver: exactly one of the two."""
    if model is None and driver is None:
        raise RacerlError("name a model (racerl evaluate MODEL) or a scripted driver "
                          f"(--driver {' or '.join(DRIVERS)})")
    if model is not None and driver is not None:
        raise RacerlError(f"give a model ({model!r}) or --driver {driver!r}, not both")
    return model_entrant(model) if model is not None else scripted_entrant(driver, speed)


def with_rules(settings: EvalSettings, **changes) -> EvalSettings:
    """``settings`` with some of its rules changed."""
    return replace(settings, rules=replace(settings.rules, **changes))


def run_trials(policy: Callable[[np.ndarray], object], env, trials: int = 3,
               seed: int = 0) -> list[TrialResult]:
    """Drive ``trials`` single-car episodes of a ready ``env`` with ``policy(obs)``, under
    the env's own (training) rules; for quick checks of policies outside a model folder."""
    results = []
    for k in range(trials):
        obs, _ = env.reset(seed=seed + k)
        steps = 0
        while True:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            steps += 1
            if terminated or truncated:
                break
        lap = info.get("lap_time")
        results.append(TrialResult(k + 1, info["status"], float(info["progress"]),
                                   int(info["steps"]), lap, steps * CONTROL_DT))
    return results
