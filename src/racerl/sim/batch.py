"""``BatchSim``: N cars on one track, stepped together under DeepRacer's episode rules.

State is a handful of arrays (see :class:`~racerl.sim.vehicle.CarState`); one step is a few
NumPy operations for the whole batch plus one reward-function call per car, the only
per-car Python code. The order inside a step follows reference section 2.5: params and
episode rules describe the car *before* the action moves it, the physics then advances one
camera frame (1/15 s), and the reward function is called with those params.

Episode rules (reference section 8): the first step after a reset is a PREPARE step (zero
command, ``steps`` = 1.0, reward 0, reward function not called); then RUN steps until the
first of, in this priority, ``lap_complete`` (progress ≥ 100), ``crashed``, ``off_track``
(no wheel centre on the road), ``immobilized`` (15 RUN steps moving ≤ 0.3 mm) or
``reversed`` (15 RUN steps of falling progress); ``max_steps`` truncates.

Start positions: ``start="round_robin"`` (training) starts episode k of car i at
``(start_offset + (k + i) * round_robin_step) mod 1`` of the lap, so one car cycles through
DeepRacer's 20 start points 5 % apart and a batch spreads over them; ``start="line"``
(evaluation) always starts on the start line.

Evaluation and race rules (reference section 9) are switched on by passing
:class:`~racerl.sim.rules.EvaluationRules`: then off-track, reversed and immobilized put
the car back in a lane and freeze it for the penalty (status ``pause``, reward 0, the
clock running) until the reset budget is spent, a lap restarts the lap timer when
``laps`` > 1, and a lap slower than ``max_lap_time`` ends the episode as ``time_up``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racerl.reward.function import (
    DEFAULT_EXAMPLE,
    RewardFunction,
    call_reward,
    load_reward_function,
)
from racerl.sim.params import ParamsBatch, as_pylist, build_params, progress_value, reward_copy
from racerl.sim.rules import PENALISED, EvaluationRules, lane_reset_pose
from racerl.sim.vehicle import CONTROL_DT, CarState, VehicleParams, advance, clip_commands
from racerl.track.geometry import Track

TERMINAL = ("lap_complete", "crashed", "off_track", "immobilized", "reversed")
IMMOBILIZED_DISTANCE = 0.0003  # metres per step (reference 8.3)
RULE_COUNT = 15  # consecutive RUN steps for immobilized and reversed (reference 8.3)
DEFAULT_MAX_STEPS = 100_000


@dataclass
class StepResult:
    """What one :meth:`BatchSim.step` produced, one entry per car."""

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    status: list[str]
    params: list[dict]
    lap_time: np.ndarray  # seconds on lap_complete, NaN otherwise
    pause_duration: np.ndarray  # penalty seconds still to serve after this step


class BatchSim:
    """Step N cars at once on one track. Cars are reset individually by the caller."""

    def __init__(self, track: Track, n_cars: int = 1, reward: RewardFunction | None = None,
                 vehicle: VehicleParams | None = None, start: str = "round_robin",
                 start_offset: float = 0.0, round_robin_step: float = 0.05,
                 max_steps: int = DEFAULT_MAX_STEPS, rules: EvaluationRules | None = None):
        if start not in ("round_robin", "line"):
            raise ValueError(f"start must be 'round_robin' or 'line', not {start!r}")
        self.track = track
        self.n = n_cars
        self.vehicle = vehicle or VehicleParams()
        self.start = start
        self.start_offset = start_offset
        self.round_robin_step = round_robin_step
        self.max_steps = max_steps
        self.rules = rules
        self.reward = reward or load_reward_function(DEFAULT_EXAMPLE)
        self.reward_fns = [self.reward.instance() for _ in range(n_cars)]
        self._waypoints = [tuple(p) for p in track.waypoints.tolist()]
        self.car = CarState.zeros(n_cars)
        self.steps = np.zeros(n_cars, dtype=np.int64)
        self.prev_progress = np.zeros(n_cars)
        self.start_ndist = np.zeros(n_cars)
        self.episodes_started = np.zeros(n_cars, dtype=np.int64)
        self.immobile_count = np.zeros(n_cars, dtype=np.int64)
        self.reverse_count = np.zeros(n_cars, dtype=np.int64)
        self.sim_time = np.zeros(n_cars)
        # Evaluation bookkeeping (all zero in training): per episode, reset with the car.
        self.lap_start = np.zeros(n_cars, dtype=np.int64)  # step count at the lap's start
        self.laps_done = np.zeros(n_cars, dtype=np.int64)
        self.pause_steps = np.zeros(n_cars, dtype=np.int64)
        self.resets_used = np.zeros(n_cars, dtype=np.int64)
        self.penalty_time = np.zeros(n_cars)
        self.failures = {status: np.zeros(n_cars, dtype=np.int64) for status in PENALISED}
        self._last_base = np.full((2, n_cars), np.nan)  # base_link one step ago
        self._measured_at = self.car.model_point()
        self.geometry = self.track.measure(self._measured_at)
        self.reset()
        self.episodes_started[:] = 0  # placing the cars is not an episode yet

    # -- episodes -----------------------------------------------------------------------------

    def next_start(self, car: np.ndarray) -> np.ndarray:
        """Start fraction of each given car's next episode."""
        if self.start == "line":
            return np.full(len(car), self.start_offset % 1.0)
        k = self.episodes_started[car] + car
        return (self.start_offset + k * self.round_robin_step) % 1.0

    def reset(self, cars: np.ndarray | list[int] | None = None,
              start_ndist: np.ndarray | float | None = None) -> None:
        """Put the given cars (default: all) at their start pose, standing, in PREPARE."""
        idx = np.arange(self.n) if cars is None else np.asarray(cars, dtype=np.int64)
        if len(idx) == 0:
            return
        if start_ndist is None:
            start = self.next_start(idx)
        else:
            start = np.broadcast_to(np.asarray(start_ndist, dtype=np.float64), idx.shape) % 1.0
        self.episodes_started[idx] += 1
        xy, yaw = self.track.pose_at(start)
        xy = np.atleast_2d(xy)
        self.car.x[idx], self.car.y[idx], self.car.yaw[idx] = xy[:, 0], xy[:, 1], yaw
        self.car.speed[idx] = 0.0
        self.car.steering[idx] = 0.0
        self.start_ndist[idx] = start
        for arr in (self.steps, self.prev_progress, self.immobile_count, self.reverse_count,
                    self.sim_time, self.lap_start, self.laps_done, self.pause_steps,
                    self.resets_used, self.penalty_time, *self.failures.values()):
            arr[idx] = 0
        self._last_base[:, idx] = np.nan
        self._update_geometry(idx)

    # -- stepping -----------------------------------------------------------------------------

    def step(self, steering_deg: np.ndarray, speed: np.ndarray) -> StepResult:
        """Apply one commanded (steering in degrees, speed in m/s) per car for one frame."""
        steering_deg = np.broadcast_to(np.asarray(steering_deg, dtype=np.float64), (self.n,))
        speed = np.broadcast_to(np.asarray(speed, dtype=np.float64), (self.n,))
        prepare = self.steps == 0
        self.steps += 1
        paused = ~prepare & (self.pause_steps > 0)  # serving a penalty: frozen in place
        active = ~prepare & ~paused

        # 1. Where the car is now (before the action moves it): params and rules.
        point = self.car.model_point()
        if not np.array_equal(point, self._measured_at):
            self._update_geometry()  # the pose was set from outside since the last measure
        geo = self.geometry
        before = self.prev_progress.copy()
        raw = self._raw_progress(geo.ndist)
        wheels = self.track.on_track(self.car.wheel_positions())
        all_on = wheels.all(axis=1)
        off_track = ~wheels.any(axis=1)
        lap = raw >= 100.0
        moved = np.hypot(self.car.x - self._last_base[0], self.car.y - self._last_base[1])
        self.immobile_count = np.where(active & (moved <= IMMOBILIZED_DISTANCE),
                                       self.immobile_count + 1, 0)
        self.reverse_count = np.where(active & (raw < self.prev_progress),
                                      self.reverse_count + 1, 0)
        status = self._status(prepare, lap, off_track, paused)
        progress = [progress_value(r) for r in as_pylist(raw)]
        self.prev_progress = np.where(raw >= 100.0, 0.0, raw)
        batch = ParamsBatch(
            x=as_pylist(point[:, 0]), y=as_pylist(point[:, 1]),
            heading=as_pylist(np.degrees(self.car.yaw)),
            distance_from_center=as_pylist(geo.distance_from_center),
            projection_distance=as_pylist(geo.ndist * self.track.length),
            progress=progress, steps=as_pylist(self.steps.astype(np.float64)),
            speed=as_pylist(speed), steering_angle=as_pylist(steering_deg),
            track_width=as_pylist(geo.track_width),
            closest_waypoints=np.stack([geo.prev_waypoint, geo.next_waypoint], 1).tolist(),
            is_left_of_center=as_pylist(geo.is_left_of_center),
            all_wheels_on_track=as_pylist(all_on), is_offtrack=as_pylist(off_track),
            is_crashed=[False] * self.n, sim_time=as_pylist(self.sim_time),
        )
        params = build_params(batch, self._waypoints, self.track.length, self.track.reversed)
        reset = self._penalised(status, active)

        # 2. One camera frame of physics for the cars that drive; PREPARE cars stand still
        # (zero command), paused cars and cars being reset are frozen.
        steer_cmd, speed_cmd = clip_commands(steering_deg, speed, self.vehicle)
        self._last_base = np.stack([self.car.x, self.car.y])
        advance(self.car, np.where(prepare, 0.0, steer_cmd), np.where(prepare, 0.0, speed_cmd),
                self.vehicle, active=~paused & ~reset)
        self.sim_time += CONTROL_DT
        self.pause_steps[paused] -= 1
        if reset.any():
            self._reset_to_lane(np.flatnonzero(reset), status, before)
        self._update_geometry()

        # 3. The reward function sees the params of step 1 (RUN steps only).
        rewards = np.zeros(self.n)
        call_batch = getattr(self.reward, "call_batch", None)  # the sandbox: one round trip
        if call_batch is not None:
            cars = np.flatnonzero(active)
            rewards[cars] = call_batch([self.reward_fns[i] for i in cars],
                                       [params[i] for i in cars])
        else:
            for i in np.flatnonzero(active):
                rewards[i] = call_reward(self.reward_fns[i], reward_copy(params[i]),
                                         self.reward.label)

        terminated = np.array([s in TERMINAL for s in status]) & ~reset
        is_lap = np.array([s == "lap_complete" for s in status])
        lap_time = np.where(is_lap, (self.steps - self.lap_start) * CONTROL_DT, np.nan)
        truncated = ~terminated & (self.steps >= self.max_steps)
        if self.rules is not None:
            self.laps_done += is_lap
            self.lap_start = np.where(is_lap, self.steps, self.lap_start)
            terminated &= ~is_lap | (self.laps_done >= self.rules.laps)
            lap_seconds = (self.steps - self.lap_start) * CONTROL_DT
            time_up = ~terminated & (lap_seconds >= self.rules.max_lap_time)
            for i in np.flatnonzero(time_up):
                status[i] = "time_up"
            truncated |= time_up
        pause_duration = self.pause_steps * CONTROL_DT
        return StepResult(rewards, terminated, truncated, status, params, lap_time,
                          pause_duration)

    def _penalised(self, status: list[str], active: np.ndarray) -> np.ndarray:
        """Cars whose failure this step is forgiven for a reset and a penalty (rules only)."""
        if self.rules is None:
            return np.zeros(self.n, dtype=bool)
        failed = np.isin(np.array(status, dtype=object), PENALISED)
        return active & failed & (self.resets_used < self.rules.resets)

    def _reset_to_lane(self, cars: np.ndarray, status: list[str], before: np.ndarray) -> None:
        """Put failed cars back at their previous step's progress and start their penalty."""
        ndist = self.start_ndist[cars] + before[cars] / 100.0
        xy, yaw = lane_reset_pose(self.track, ndist, np.stack([self.car.x[cars],
                                                               self.car.y[cars]], axis=-1))
        self.car.x[cars], self.car.y[cars], self.car.yaw[cars] = xy[:, 0], xy[:, 1], yaw
        self.car.speed[cars] = 0.0
        self.car.steering[cars] = 0.0
        self.prev_progress[cars] = before[cars]
        self.immobile_count[cars] = 0
        self.reverse_count[cars] = 0
        self._last_base[:, cars] = np.nan
        self.resets_used[cars] += 1
        for i in cars:
            penalty = self.rules.penalty(status[i])
            self.failures[status[i]][i] += 1
            self.penalty_time[i] += penalty
            self.pause_steps[i] = round(penalty / CONTROL_DT)

    def _update_geometry(self, cars: np.ndarray | None = None) -> None:
        """Measure the cars' current model points; the next step's params reuse this."""
        point = self.car.model_point()
        if cars is None:
            self.geometry = self.track.measure(point)
        else:
            fresh = self.track.measure(point[cars])
            for name, value in vars(fresh).items():
                getattr(self.geometry, name)[cars] = value
        self._measured_at = point

    def _raw_progress(self, ndist: np.ndarray) -> np.ndarray:
        """Progress in percent from the episode's start, with DeepRacer's wrap rules (2.4)."""
        raw = 100.0 * (ndist - self.start_ndist)
        raw = np.where(raw <= 0.0, raw + 100.0, raw)
        raw = np.where(self.prev_progress > raw + 50.0, raw + 100.0, raw)
        raw = np.where(raw > self.prev_progress + 50.0, raw - 100.0, raw)
        return raw

    def _status(self, prepare: np.ndarray, lap: np.ndarray, off_track: np.ndarray,
                paused: np.ndarray) -> list[str]:
        """The first rule that fires, in DeepRacer's priority order (reference 8.3)."""
        codes = np.full(self.n, "in_progress", dtype=object)
        codes[paused] = "pause"
        codes[prepare] = "prepare"
        codes[self.reverse_count >= RULE_COUNT] = "reversed"
        codes[self.immobile_count >= RULE_COUNT] = "immobilized"
        codes[off_track & ~paused] = "off_track"
        codes[lap & ~paused] = "lap_complete"
        return codes.tolist()
