"""Scripted drivers: pure pursuit along a line, for baselines, tests and demos.

Pure pursuit steers towards the point one look-ahead distance further along the line, with
the bicycle-model steering angle that puts the rear axle on a circle through that point.
It drives a whole batch at once, like everything else in the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racerl.drive.raceline import RaceLine, compute_raceline
from racerl.reward.function import RewardFunction
from racerl.sim.batch import BatchSim
from racerl.sim.vehicle import CarState, VehicleParams
from racerl.track.geometry import Track
from racerl.track.polyline import Polyline


class PurePursuitDriver:
    """Follow ``line`` (default: the track's centre line) at a constant ``speed``.

    ``lookahead`` is in metres; about three wheelbases keeps tight DeepRacer hairpins and
    long straights both smooth at moderate speed.
    """

    def __init__(self, track: Track, speed: float = 1.0, lookahead: float = 0.45,
                 line: np.ndarray | None = None, vehicle: VehicleParams | None = None):
        self.track = track
        self.speed = float(speed)
        self.lookahead = float(lookahead)
        self.vehicle = vehicle or VehicleParams()
        vertices = track.waypoints if line is None else np.asarray(line, dtype=np.float64)
        self.line = Polyline(vertices, closed=track.is_loop)

    def act(self, car: CarState) -> tuple[np.ndarray, np.ndarray]:
        """Steering (degrees, left positive) and speed (m/s) for every car in the batch."""
        steer_deg, _ = pursue(car, self.line, self.lookahead, self.vehicle)
        return steer_deg, np.full(len(car.x), self.speed)


def pursue(car: CarState, line: Polyline, lookahead: float | np.ndarray,
           vehicle: VehicleParams) -> tuple[np.ndarray, np.ndarray]:
    """Pure-pursuit steering (degrees) towards the point ``lookahead`` metres along ``line``
    from each car's rear axle, and the rear axle's arc length on the line."""
    rear = np.stack([car.x - vehicle.rear_axle_offset * np.cos(car.yaw),
                     car.y - vehicle.rear_axle_offset * np.sin(car.yaw)], axis=-1)
    arc, _ = line.project(rear)
    target, _ = line.interpolate(arc + lookahead)
    dx, dy = target[:, 0] - rear[:, 0], target[:, 1] - rear[:, 1]
    alpha = np.arctan2(dy, dx) - car.yaw
    distance = np.maximum(np.hypot(dx, dy), 1e-6)
    steer = np.arctan2(2.0 * vehicle.wheelbase * np.sin(alpha), distance)
    steer_deg = np.clip(np.degrees(steer), -vehicle.max_steering_deg, vehicle.max_steering_deg)
    return steer_deg, arc


@dataclass(frozen=True)
class LapResult:
    """How a scripted lap went: status, time, and the path driven (base_link positions)."""

    status: str
    lap_time: float | None  # seconds, when the lap was completed
    steps: int
    progress: float
    trail: np.ndarray  # (K, 2)
    speeds: np.ndarray  # (K,) actual speed at each trail point
    total_reward: float


def drive_lap(track: Track, speed: float = 1.0, lookahead: float = 0.45,
              reward: RewardFunction | None = None, max_steps: int = 20_000) -> LapResult:
    """Drive one evaluation lap from the start line with pure pursuit on the centre line."""
    sim = BatchSim(track, 1, reward=reward, start="line", max_steps=max_steps)  # on the line
    driver = PurePursuitDriver(track, speed=speed, lookahead=lookahead, vehicle=sim.vehicle)
    return run_lap(sim, driver)


class RaceLineDriver:
    """Pure pursuit on a race line, commanding the line's planned speed.

    The look-ahead grows with speed (``lookahead`` metres plus ``lookahead_time`` seconds of
    travel), so fast straights stay calm and slow corners stay tight; the speed command is
    the plan a short ``preview`` time ahead, because the car's speed lags its command.
    """

    def __init__(self, track: Track, raceline: RaceLine, lookahead: float = 0.3,
                 lookahead_time: float = 0.15, preview: float = 0.2,
                 vehicle: VehicleParams | None = None):
        self.track = track
        self.raceline = raceline
        self.lookahead = float(lookahead)
        self.lookahead_time = float(lookahead_time)
        self.preview = float(preview)
        self.vehicle = vehicle or VehicleParams()
        self.line = Polyline(raceline.closed_xy, closed=True)
        self._speed = np.append(raceline.speed, raceline.speed[0])

    def act(self, car: CarState) -> tuple[np.ndarray, np.ndarray]:
        """Steering (degrees, left positive) and speed (m/s) for every car in the batch."""
        speed = np.maximum(car.speed, 0.0)
        steer_deg, arc = pursue(car, self.line, self.lookahead + self.lookahead_time * speed,
                                self.vehicle)
        preview = np.mod(arc + self.preview * speed, self.line.length)
        command = np.interp(preview, self.line.cumulative, self._speed)
        return steer_deg, command


def drive_raceline_lap(track: Track, raceline: RaceLine | None = None,
                       reward: RewardFunction | None = None,
                       max_steps: int = 20_000, vehicle: VehicleParams | None = None
                       ) -> LapResult:
    """Drive one evaluation lap from the start line on the race line (computed or cached
    when not given): the track's reference lap, the "physical limit" of the vehicle model."""
    vehicle = vehicle or VehicleParams()
    line = raceline if raceline is not None else compute_raceline(track, vehicle)
    sim = BatchSim(track, 1, reward=reward, vehicle=vehicle, start="line", max_steps=max_steps)
    return run_lap(sim, RaceLineDriver(track, line, vehicle=vehicle))


def run_lap(sim: BatchSim, driver) -> LapResult:
    """Drive car 0 of ``sim`` with ``driver.act`` until its episode ends."""
    trail, speeds, total = [(sim.car.x[0], sim.car.y[0])], [0.0], 0.0
    while True:
        result = sim.step(*driver.act(sim.car))
        trail.append((sim.car.x[0], sim.car.y[0]))
        speeds.append(sim.car.speed[0])
        total += float(result.rewards[0])
        if result.terminated[0] or result.truncated[0]:
            break
    lap_time = float(result.lap_time[0]) if result.status[0] == "lap_complete" else None
    return LapResult(result.status[0], lap_time, int(sim.steps[0]),
                     float(result.params[0]["progress"]), np.array(trail), np.array(speeds),
                     total)
