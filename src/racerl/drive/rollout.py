"""One rollout for every driven lap: a batch of cars, one controller, until every car is done.

Evaluation trials, races, the reward lab's behaviours, the reward check's drives, scripted
laps and quick policy checks all drive through :func:`rollout`, so lap times, penalties and
statuses come from the simulator in one place and every caller gets the same record,
:class:`Episode`, one per trial (or per lap of a continuous race).

A controller is anything with the :class:`Controller` protocol: it sees the batch's car
state (and observations, when it asks for them) and returns :class:`Commands`, arrays of
steering and speed for every car at once. A trained policy, pure pursuit, the race line and
the lab's scripted behaviours are all controllers; :class:`Routed` gives different cars of
one batch to different controllers, each still acting on its cars as one array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from racerl.envs.cars import BatchStep, Racers, state_observation
from racerl.sim.batch import BatchSim
from racerl.sim.state import PENALISED, Status
from racerl.sim.vehicle import CONTROL_DT, CarState


@dataclass
class Commands:
    """What a controller wants every car of the batch to do for one step."""

    steering: np.ndarray
    """Degrees, left positive, one per car."""
    speed: np.ndarray
    """m/s, one per car."""
    labels: list | None = None
    """The sim-trace ``action`` of each car (an action id or "[steering speed]")."""
    hold: np.ndarray | None = None
    """Cars that stand still this step (see :meth:`racerl.sim.batch.BatchSim.step`)."""

    def __iter__(self):
        """``steering, speed = commands``: the two arrays a bare simulator step takes."""
        return iter((self.steering, self.speed))


class Controller(Protocol):
    """Chooses every car's command at once.

    ``observation`` says what it needs besides the car state: ``None`` (scripted drivers
    steer from the pose), ``"camera"`` or ``"state"`` (a policy's input).
    """

    observation: str | None

    def act(self, car: CarState, obs: np.ndarray | None) -> Commands:
        ...


@dataclass
class Routed:
    """Cars of one batch split between controllers: ``groups`` of (car indices,
    controller); each controller acts on its own cars as one batch."""

    groups: list[tuple[np.ndarray, Controller]]
    observation: str | None = None

    def act(self, car: CarState, obs: np.ndarray | None) -> Commands:
        n = len(car.x)
        steering, speed, hold = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
        labels: list = [None] * n
        for cars, controller in self.groups:
            sub = controller.act(car.take(cars), None if obs is None else obs[cars])
            steering[cars], speed[cars] = sub.steering, sub.speed
            if sub.hold is not None:
                hold[cars] = sub.hold
            if sub.labels is not None:
                for k, i in enumerate(cars):
                    labels[i] = sub.labels[k]
        return Commands(steering, speed, labels, hold)


@dataclass
class Trajectory:
    """What one car did, step by step: index 0 of the pose lists is the start, entry k + 1
    the pose after step k; the per-step lists have one entry per step."""

    poses: list[tuple[float, float, float]] = field(default_factory=list)
    """base_link x, y (m) and yaw (rad)."""
    frames: list[np.ndarray] = field(default_factory=list)
    """The newest camera frame at each pose (when kept)."""
    status: list[Status] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    points: list[tuple[float, float]] = field(default_factory=list)
    """The params' x, y of each step (the point the reward function is told)."""
    params: list[dict] = field(default_factory=list)
    """The params of each step (when kept)."""
    labels: list = field(default_factory=list)
    """The sim-trace action of each step."""
    clock: list[float] = field(default_factory=list)
    """The lap timer after each step (the lap time on a lap_complete step)."""
    pause: list[float] = field(default_factory=list)
    """Penalty seconds still to serve after each step."""
    off_track: list[int] = field(default_factory=list)
    """Off-track resets of the episode so far, after each step."""


@dataclass
class Episode:
    """One trial (or one lap of a continuous race), as DeepRacer's evaluation lists it."""

    trial: int
    """1-based: the car's number when each car drives one trial; the lap's number in a
    continuous race."""
    status: Status
    progress: float
    """Completion %, 100 for a finished lap."""
    steps: int
    """Simulator steps it took (the PREPARE step included)."""
    lap_time: float | None
    """Seconds including penalties, from the simulator, when the lap was completed."""
    elapsed: float
    """Seconds of simulated time it took."""
    off_track: int = 0
    reversed: int = 0
    immobilized: int = 0
    crashed: int = 0
    """Collisions with obstacles or bot cars (evaluation rules forgive them)."""
    penalty: float = 0.0
    """Seconds of penalties served."""
    total_reward: float = 0.0
    """The return: the sum of the rewards the simulator paid."""
    car: int = 0
    """Which car of the batch drove it."""

    @property
    def completed(self) -> bool:
        return self.lap_time is not None


@dataclass
class Rollout:
    """Everything one rollout produced: episodes in trial order, and per car what it did
    (empty trajectories unless asked for)."""

    episodes: list[Episode]
    trajectories: list[Trajectory]


@dataclass(frozen=True)
class Keep:
    """What a rollout records beyond its episodes."""

    trajectory: bool = False
    """Poses, statuses, rewards, points, labels and timers of every step."""
    frames: bool = False
    """Camera frames (needs a camera batch)."""
    params: bool = False
    """The params dict of every step."""


def rollout(cars: Racers, controller: Controller, *, seeds: Sequence[int] | None = None,
            keep: Keep = Keep(), turned: np.ndarray | None = None,
            starts: np.ndarray | None = None) -> Rollout:
    """Reset every car of ``cars`` (with ``seeds``, one per car) and drive them with
    ``controller`` until each car's episode has ended; ``turned`` (bool per car) starts
    those cars facing backwards, ``starts`` (lap fraction per car) puts them on the centre
    line there instead of where the batch's start mode would.

    An ended car is parked in PREPARE until the last car finishes, so its reward function
    is not called again. Under evaluation rules with several laps (a race), every lap is an
    :class:`Episode` of its own.
    """
    sim = cars.sim
    everyone = np.arange(cars.n)
    obs = cars.reset(everyone, seeds=None if seeds is None else list(seeds), start_ndist=starts)
    if turned is not None and np.any(turned):
        back = np.flatnonzero(turned)
        sim.place(back, np.stack([sim.car.x[back], sim.car.y[back]], axis=-1),
                  sim.car.yaw[back] + np.pi)
        obs = cars.observe(everyone, fresh=True)
    continuous = sim.rules is not None and sim.rules.laps > 1
    tracks = [Trajectory() for _ in everyone]
    if keep.trajectory or keep.frames:
        for i, t in enumerate(tracks):
            t.poses.append(_pose(sim.car, i))
            if keep.frames:
                t.frames.append(obs[i, :, :, -1])
    marks = _Marks(cars.n)
    episodes: list[Episode] = []
    done = np.zeros(cars.n, dtype=bool)
    while not done.all():
        commands = controller.act(sim.car, _observation(controller, cars, obs))
        step = cars.drive(commands.steering, commands.speed, hold=commands.hold)
        obs = step.obs
        live = np.flatnonzero(~done)
        marks.returns[live] += step.rewards[live]
        finished = step.terminated | step.truncated
        if keep.trajectory or keep.frames:
            clock = sim.state.lap_clock()
            for i in live:
                _record(tracks[i], sim, step, commands, i, keep, obs, clock)
        lapped = ~np.isnan(step.lap_time)  # the simulator's lap_complete steps
        for i in live[(lapped | finished)[live]]:
            lap = float(step.lap_time[i]) if lapped[i] else None
            progress = 100.0 if lap is not None else float(step.params[i]["progress"])
            # A race numbers its laps: the simulator's lap count, this one included.
            number = int(sim.state.laps_done[i]) + (lap is None) if continuous else int(i) + 1
            episodes.append(marks.close(sim, int(i), number, step.status[i], progress, lap))
        done |= finished
        if done.any():
            sim.park(np.flatnonzero(done))
    if not continuous:
        episodes.sort(key=lambda e: e.trial)
    return Rollout(episodes, tracks)


def _observation(controller: Controller, cars: Racers, obs: np.ndarray) -> np.ndarray | None:
    """What the controller asked to see: the batch's observations, or the state vector
    when the batch renders a camera for someone else (a video of a state model)."""
    if controller.observation is None:
        return None
    if controller.observation == cars.observation:
        return obs
    return state_observation(cars.sim)


def _pose(car: CarState, i: int) -> tuple[float, float, float]:
    return float(car.x[i]), float(car.y[i]), float(car.yaw[i])


def _record(t: Trajectory, sim: BatchSim, step: BatchStep, commands: Commands, i: int,
            keep: Keep, obs: np.ndarray, clock: np.ndarray) -> None:
    status, params = step.status[i], step.params[i]
    t.poses.append(_pose(sim.car, i))
    t.status.append(status)
    t.rewards.append(float(step.rewards[i]))
    t.points.append((params["x"], params["y"]))
    t.labels.append(None if commands.labels is None else commands.labels[i])
    lap_time = float(step.lap_time[i])
    t.clock.append(float(clock[i]) if np.isnan(lap_time) else lap_time)
    t.pause.append(float(step.pause_duration[i]))
    t.off_track.append(int(sim.state.off_track[i]))
    if keep.params:
        t.params.append(params)
    if keep.frames:
        t.frames.append(obs[i, :, :, -1])


class _Marks:
    """Each car's counters at the start of its current lap, so that a race reports each
    lap's own steps, failures, penalties and return."""

    COUNTERS = PENALISED

    def __init__(self, n: int):
        self.steps = np.zeros(n, dtype=np.int64)
        self.penalty = np.zeros(n)
        self.counts = {str(k): np.zeros(n, dtype=np.int64) for k in self.COUNTERS}
        self.returns = np.zeros(n)

    def close(self, sim: BatchSim, i: int, number: int, status: Status, progress: float,
              lap_time: float | None) -> Episode:
        st = sim.state
        steps, penalty = int(st.steps[i]), float(st.penalty_time[i])
        counts = {str(k): int(st.failures(k)[i]) for k in self.COUNTERS}
        episode = Episode(number, status, progress, steps - int(self.steps[i]), lap_time,
                          (steps - int(self.steps[i])) * CONTROL_DT,
                          penalty=penalty - float(self.penalty[i]),
                          total_reward=float(self.returns[i]), car=i,
                          **{k: counts[k] - int(self.counts[k][i]) for k in counts})
        self.steps[i], self.penalty[i] = steps, penalty
        for k in counts:
            self.counts[k][i] = counts[k]
        self.returns[i] = 0.0
        return episode
