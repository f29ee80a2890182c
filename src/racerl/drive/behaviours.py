"""Scripted behaviours for the reward lab and the reward check, driven in one ``BatchSim``.

Each behaviour is a way a policy could learn to drive — well (centre line, race line) or
badly (weaving, hugging a border, crawling, stopping, leaving the track, driving backwards).
All of them run as one batch, one car per behaviour, with the real simulator and the user's
reward function, so what each earns is exactly what training would pay it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from racerl.drive.pursuit import PurePursuitDriver, RaceLineDriver
from racerl.drive.raceline import CAR_HALF_WIDTH, compute_raceline, lane_frame
from racerl.reward.function import RewardFunction
from racerl.sim.batch import BatchSim
from racerl.sim.vehicle import CONTROL_DT, CarState, VehicleParams
from racerl.track.geometry import Track

SLOW, MEDIUM, FAST = 0.5, 1.0, 2.0  # m/s for the centre-line drives
ZIGZAG_WAVELENGTH = 1.2  # metres from one swing to the next in the same direction
ZIGZAG_SWING = 0.2  # of the track width, each side of the centre line
MAX_STEPS = 3000  # 200 s of driving: enough for a lap at crawling speed on most tracks


@dataclass(frozen=True)
class Behaviour:
    """One scripted way to drive: ``good`` behaviours are the ones a developer wants."""

    key: str
    label: str
    good: bool
    make: Callable[[Track, VehicleParams], Controller]


class Controller:
    """Commands for one car; ``pin`` keeps it where it is (the car stands still)."""

    pin = False
    start_reversed = False

    def act(self, car: CarState) -> tuple[float, float]:
        raise NotImplementedError


@dataclass
class _Pursuit(Controller):
    driver: object  # anything with act(CarState) -> (steer array, speed array)
    pin: bool = False
    start_reversed: bool = False

    def act(self, car: CarState) -> tuple[float, float]:
        steer, speed = self.driver.act(car)
        return float(steer[0]), float(speed[0])


@dataclass
class _Constant(Controller):
    steer: float
    speed: float
    pin: bool = False

    def act(self, car: CarState) -> tuple[float, float]:
        return self.steer, self.speed


def _centre(speed: float):
    return lambda track, vehicle: _Pursuit(PurePursuitDriver(track, speed, vehicle=vehicle))


def _offset_line(track: Track, offsets: Callable[[np.ndarray, np.ndarray, np.ndarray],
                                                 np.ndarray]) -> np.ndarray:
    frame = lane_frame(track, spacing=0.05)
    pts = frame.offset(offsets(frame.arc, frame.left, frame.right))
    return np.concatenate([pts, pts[:1]])


def _zigzag(speed: float):
    """Weave across the centre line inside the lane's middle half (swings of a fifth of the
    track width each way): the weave a reward paying for "near the centre" does not see."""

    def make(track: Track, vehicle: VehicleParams) -> Controller:
        waves = max(1, round(track.length / ZIGZAG_WAVELENGTH))  # whole waves: a closed line

        def offsets(arc, left, right):
            swing = np.minimum(ZIGZAG_SWING * (left + right), np.minimum(left, right)
                               - CAR_HALF_WIDTH)
            return np.maximum(swing, 0.0) * np.sin(2 * np.pi * waves * arc / track.length)

        line = _offset_line(track, offsets)
        return _Pursuit(PurePursuitDriver(track, speed, lookahead=0.3, line=line,
                                          vehicle=vehicle))

    return make


def _hug(speed: float):
    """Drive along the left border with the wheels just inside it."""

    def make(track: Track, vehicle: VehicleParams) -> Controller:
        line = _offset_line(track, lambda arc, left, right: left - CAR_HALF_WIDTH - 0.02)
        return _Pursuit(PurePursuitDriver(track, speed, line=line, vehicle=vehicle))

    return make


def _raceline(track: Track, vehicle: VehicleParams) -> Controller:
    return _Pursuit(RaceLineDriver(track, compute_raceline(track, vehicle), vehicle=vehicle))


def _stop(track: Track, vehicle: VehicleParams) -> Controller:
    # Commands speed 0 (the params say 0; the car model would still roll at its minimum
    # speed, so the lab holds the car where it is).
    return _Constant(0.0, 0.0, pin=True)


def _off_track(track: Track, vehicle: VehicleParams) -> Controller:
    # Steer away from the turn the track makes, so the car heads for the outer border.
    return _Constant(-15.0 if track.is_ccw else 15.0, MEDIUM)


def _reverse(track: Track, vehicle: VehicleParams) -> Controller:
    backwards = track.reverse().waypoints
    return _Pursuit(PurePursuitDriver(track, MEDIUM, line=backwards, vehicle=vehicle),
                    start_reversed=True)


def _crawl(track: Track, vehicle: VehicleParams) -> Controller:
    return _Pursuit(PurePursuitDriver(track, vehicle.min_speed, vehicle=vehicle))


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("centre_slow", f"centre line {SLOW:g} m/s", True, _centre(SLOW)),
    Behaviour("centre_medium", f"centre line {MEDIUM:g} m/s", True, _centre(MEDIUM)),
    Behaviour("centre_fast", f"centre line {FAST:g} m/s", True, _centre(FAST)),
    Behaviour("raceline", "race line", True, _raceline),
    Behaviour("zigzag", f"zig-zag in the lane {MEDIUM:g} m/s", False, _zigzag(MEDIUM)),
    Behaviour("hug_border", f"hugging the left border {MEDIUM:g} m/s", False, _hug(MEDIUM)),
    Behaviour("crawl", "crawling at minimum speed", False, _crawl),
    Behaviour("stop", "standing still", False, _stop),
    Behaviour("off_track", "leaving the track", False, _off_track),
    Behaviour("reverse", "driving in reverse", False, _reverse),
)


@dataclass
class Drive:
    """What one behaviour did in one episode from the start line."""

    behaviour: Behaviour
    status: str = "in_progress"
    progress: float = 0.0  # percent of a lap, at the episode's last step
    rewards: list[float] = field(default_factory=list)  # one per RUN step
    points: list[tuple[float, float]] = field(default_factory=list)  # params x, y per step
    params: list[dict] = field(default_factory=list)  # kept only when asked for

    @property
    def steps(self) -> int:
        return len(self.rewards)

    @property
    def seconds(self) -> float:
        return self.steps * CONTROL_DT

    @property
    def total(self) -> float:
        return float(np.sum(self.rewards))


def drive_behaviours(track: Track, reward: RewardFunction | None = None,
                     behaviours: tuple[Behaviour, ...] = BEHAVIOURS,
                     vehicle: VehicleParams | None = None, max_steps: int = MAX_STEPS,
                     keep_params: bool = False) -> list[Drive]:
    """Drive every behaviour for one episode from the start line, all cars in one batch.

    A car whose episode has ended is put back in PREPARE every step, so the reward function
    is never called for it again; ``max_steps`` bounds the slowest behaviour.
    """
    vehicle = vehicle or VehicleParams()
    controllers = [b.make(track, vehicle) for b in behaviours]
    n = len(behaviours)
    sim = BatchSim(track, n, reward=reward, vehicle=vehicle, start="line", max_steps=max_steps)
    for i, ctrl in enumerate(controllers):
        if ctrl.start_reversed:
            sim.car.yaw[i] = (sim.car.yaw[i] + 2 * np.pi) % (2 * np.pi) - np.pi  # turned round
    drives = [Drive(b) for b in behaviours]
    done = np.zeros(n, dtype=bool)
    steer, speed = np.zeros(n), np.zeros(n)
    while not done.all():
        pins = [(sim.car.x[i], sim.car.y[i], sim.car.yaw[i]) for i in range(n)]
        for i, ctrl in enumerate(controllers):
            if not done[i]:
                view = CarState(*(arr[i:i + 1].copy() for arr in (
                    sim.car.x, sim.car.y, sim.car.yaw, sim.car.speed, sim.car.steering)))
                steer[i], speed[i] = ctrl.act(view)
        result = sim.step(steer, speed)
        for i, drive in enumerate(drives):
            if done[i] or result.status[i] == "prepare":
                continue
            p = result.params[i]
            drive.rewards.append(float(result.rewards[i]))
            drive.points.append((p["x"], p["y"]))
            drive.progress = float(p["progress"])
            drive.status = result.status[i]
            if keep_params:
                drive.params.append(p)
            if result.terminated[i] or result.truncated[i]:
                done[i] = True
        for i, ctrl in enumerate(controllers):
            if done[i]:
                sim.reset([i])  # parked in PREPARE: no more reward calls for this car
            elif ctrl.pin:
                sim.car.x[i], sim.car.y[i], sim.car.yaw[i] = pins[i]
                sim.car.speed[i] = 0.0
    return drives
