"""Scripted drivers: pure pursuit along a line, for baselines, tests and demos.

Pure pursuit steers towards the point one look-ahead distance further along the line, with
the bicycle-model steering angle that puts the rear axle on a circle through that point.
Both drivers here follow the :class:`~racerl.drive.rollout.Controller` protocol: they
command a whole batch at once, and their laps are driven by :func:`~racerl.drive.rollout.rollout`.
"""

from __future__ import annotations

import numpy as np

from racerl.drive.raceline import LaneFrame, RaceLine, compute_raceline
from racerl.drive.rollout import Commands, Episode, Keep, Rollout, rollout
from racerl.envs.cars import Racers
from racerl.reward.protocol import RewardSource
from racerl.sim.vehicle import CarState, VehicleParams
from racerl.track.geometry import Track
from racerl.track.polyline import Polyline

LAP_MAX_STEPS = 20_000


class PurePursuitDriver:
    """Follow ``line`` (default: the track's centre line) at a constant ``speed`` (one for
    every car, or one per car of the batch).

    ``lookahead`` is in metres; about three wheelbases keeps tight DeepRacer hairpins and
    long straights both smooth at moderate speed.
    """

    observation = None

    def __init__(self, track: Track, speed: float | np.ndarray = 1.0, lookahead: float = 0.45,
                 line: np.ndarray | None = None, vehicle: VehicleParams | None = None):
        self.track = track
        self.speed = np.asarray(speed, dtype=np.float64)
        self.lookahead = float(lookahead)
        self.vehicle = vehicle or VehicleParams()
        vertices = track.waypoints if line is None else np.asarray(line, dtype=np.float64)
        self.line = Polyline(vertices, closed=track.is_loop)

    def act(self, car: CarState, obs: np.ndarray | None = None) -> Commands:
        """Steering (degrees, left positive) and speed (m/s) for every car in the batch."""
        steer_deg, _ = pursue(car, self.line, self.lookahead, self.vehicle)
        return Commands(steer_deg, np.broadcast_to(self.speed, steer_deg.shape).copy())


class LanePursuit:
    """Pure pursuit of one line per car, each line given as offsets from the centre line.

    ``offsets`` is (cars, points): metres left of the centre line (negative: right) at each
    point of ``frame``. Every car is measured against the one centre line and its target is
    its own offset ``lookahead`` metres further along it, so a batch of cars on as many
    different lines (weaves, border hugs, the centre itself) costs one projection per step,
    not one per line. ``speed`` and ``lookahead`` are one value or one per car.
    """

    observation = None

    def __init__(self, track: Track, frame: LaneFrame, offsets: np.ndarray,
                 speed: float | np.ndarray = 1.0, lookahead: float | np.ndarray = 0.45,
                 vehicle: VehicleParams | None = None):
        self.track = track
        self.frame = frame
        self.offsets = np.atleast_2d(np.asarray(offsets, dtype=np.float64))
        self.speed = np.asarray(speed, dtype=np.float64)
        self.lookahead = np.asarray(lookahead, dtype=np.float64)
        self.vehicle = vehicle or VehicleParams()
        self._spacing = track.length / len(frame.arc)  # lane_frame samples evenly

    def act(self, car: CarState, obs: np.ndarray | None = None) -> Commands:
        """Steering (degrees, left positive) and speed (m/s) for every car in the batch."""
        rear = rear_axle(car, self.vehicle)
        arc, _ = self.track.center.project(rear)
        ahead = (arc + self.lookahead) / self._spacing
        n = len(self.frame.arc)
        before = np.floor(ahead).astype(np.int64)
        t = (ahead - before)[:, None]
        i, j = before % n, (before + 1) % n
        centre = (1 - t) * self.frame.center[i] + t * self.frame.center[j]
        normal = (1 - t) * self.frame.normal[i] + t * self.frame.normal[j]
        cars = np.arange(len(arc))
        offset = (1 - t[:, 0]) * self.offsets[cars, i] + t[:, 0] * self.offsets[cars, j]
        target = centre + offset[:, None] * normal
        steer = steer_towards(car, rear, target, self.vehicle)
        return Commands(steer, np.broadcast_to(self.speed, steer.shape).copy())


def pursue(car: CarState, line: Polyline, lookahead: float | np.ndarray,
           vehicle: VehicleParams) -> tuple[np.ndarray, np.ndarray]:
    """Pure-pursuit steering (degrees) towards the point ``lookahead`` metres along ``line``
    from each car's rear axle, and the rear axle's arc length on the line."""
    rear = rear_axle(car, vehicle)
    arc, _ = line.project(rear)
    target, _ = line.interpolate(arc + lookahead)
    return steer_towards(car, rear, target, vehicle), arc


def rear_axle(car: CarState, vehicle: VehicleParams) -> np.ndarray:
    """(N, 2) rear-axle points: pure pursuit's geometry is about the rear axle."""
    return np.stack([car.x - vehicle.rear_axle_offset * np.cos(car.yaw),
                     car.y - vehicle.rear_axle_offset * np.sin(car.yaw)], axis=-1)


def steer_towards(car: CarState, rear: np.ndarray, target: np.ndarray,
                  vehicle: VehicleParams) -> np.ndarray:
    """Steering (degrees, clipped to the car's limit) that puts each rear axle on a circle
    through its ``target`` point."""
    dx, dy = target[:, 0] - rear[:, 0], target[:, 1] - rear[:, 1]
    alpha = np.arctan2(dy, dx) - car.yaw
    distance = np.maximum(np.hypot(dx, dy), 1e-6)
    steer = np.arctan2(2.0 * vehicle.wheelbase * np.sin(alpha), distance)
    return np.clip(np.degrees(steer), -vehicle.max_steering_deg, vehicle.max_steering_deg)


def lap_rollout(track: Track, controller, reward: RewardSource | None = None,
                vehicle: VehicleParams | None = None, max_steps: int = LAP_MAX_STEPS,
                keep: Keep | None = None) -> Rollout:
    """One lap from the start line under training rules (the first failure ends it), one
    car, driven by ``controller``."""
    cars = Racers(1, track=track, reward_function=reward, observation="state",
                  start="line", max_steps=max_steps, vehicle=vehicle)
    return rollout(cars, controller, keep=keep or Keep())


def drive_lap(track: Track, speed: float = 1.0, lookahead: float = 0.45,
              reward: RewardSource | None = None, max_steps: int = LAP_MAX_STEPS) -> Episode:
    """Drive one lap from the start line with pure pursuit on the centre line."""
    driver = PurePursuitDriver(track, speed=speed, lookahead=lookahead)
    return lap_rollout(track, driver, reward, driver.vehicle, max_steps).episodes[0]


class RaceLineDriver:
    """Pure pursuit on a race line, commanding the line's planned speed.

    The look-ahead grows with speed (``lookahead`` metres plus ``lookahead_time`` seconds of
    travel), so fast straights stay calm and slow corners stay tight; the speed command is
    the plan a short ``preview`` time ahead, because the car's speed lags its command.
    """

    observation = None

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

    def act(self, car: CarState, obs: np.ndarray | None = None) -> Commands:
        """Steering (degrees, left positive) and speed (m/s) for every car in the batch."""
        speed = np.maximum(car.speed, 0.0)
        steer_deg, arc = pursue(car, self.line, self.lookahead + self.lookahead_time * speed,
                                self.vehicle)
        preview = np.mod(arc + self.preview * speed, self.line.length)
        command = np.interp(preview, self.line.cumulative, self._speed)
        return Commands(steer_deg, command)


def drive_raceline_lap(track: Track, raceline: RaceLine | None = None,
                       reward: RewardSource | None = None, max_steps: int = LAP_MAX_STEPS,
                       vehicle: VehicleParams | None = None) -> Episode:
    """Drive one lap from the start line on the race line (computed or cached when not
    given): the track's reference lap, the "physical limit" of the vehicle model."""
    vehicle = vehicle or VehicleParams()
    line = raceline if raceline is not None else compute_raceline(track, vehicle)
    driver = RaceLineDriver(track, line, vehicle=vehicle)
    return lap_rollout(track, driver, reward, vehicle, max_steps).episodes[0]
