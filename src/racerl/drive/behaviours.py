"""Scripted behaviours for the reward lab and the reward check, driven as one batch.

Each behaviour is a way a policy could learn to drive — well (centre line, race line) or
badly (weaving, hugging a border, crawling, stopping, leaving the track, driving backwards).
All of them run as one batch through :func:`~racerl.drive.rollout.rollout`, one car per
behaviour, with the real simulator and the user's reward function, so what each earns is
exactly what training would pay it. Behaviours that follow the same line share one batched
pure-pursuit controller (the centre-line drives at every speed, crawling included), so the
batch is driven by a handful of array operations per step, not a loop over cars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racerl.drive.pursuit import PurePursuitDriver, RaceLineDriver
from racerl.drive.raceline import CAR_HALF_WIDTH, compute_raceline, lane_frame
from racerl.drive.rollout import Commands, Controller, Episode, Keep, Routed, Trajectory, rollout
from racerl.envs.cars import Racers
from racerl.reward.protocol import RewardSource
from racerl.sim.vehicle import CarState, VehicleParams
from racerl.track.geometry import Track

SLOW, MEDIUM, FAST = 0.5, 1.0, 2.0  # m/s for the centre-line drives
ZIGZAG_WAVELENGTH = 1.2  # metres from one swing to the next in the same direction
ZIGZAG_SWING = 0.2  # of the track width, each side of the centre line
ZIGZAG_LOOKAHEAD = 0.3  # metres: shorter than the default so the car follows the weave
OFF_TRACK_STEER = 15.0  # degrees steered away from the track's turn when leaving it
MAX_STEPS = 3000  # 200 s of driving: enough for a lap at crawling speed on most tracks


@dataclass(frozen=True)
class Behaviour:
    """One scripted way to drive: ``good`` behaviours are the ones a developer wants.

    ``line`` is what the car follows: ``centre``, ``raceline``, ``zigzag``, ``hug`` (the
    left border), ``reverse`` (the centre line the other way) or ``constant`` (a fixed
    command: ``steer_out`` degrees away from the track's turn, or ``hold`` to stand still).
    """

    key: str
    label: str
    good: bool
    line: str
    speed: float | None = MEDIUM
    """Commanded m/s; None is the car's minimum speed."""
    steer_out: float = 0.0
    hold: bool = False
    turned: bool = False
    """Start facing backwards."""


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("centre_slow", f"centre line {SLOW:g} m/s", True, "centre", SLOW),
    Behaviour("centre_medium", f"centre line {MEDIUM:g} m/s", True, "centre", MEDIUM),
    Behaviour("centre_fast", f"centre line {FAST:g} m/s", True, "centre", FAST),
    Behaviour("raceline", "race line", True, "raceline", None),
    Behaviour("zigzag", f"zig-zag in the lane {MEDIUM:g} m/s", False, "zigzag"),
    Behaviour("hug_border", f"hugging the left border {MEDIUM:g} m/s", False, "hug"),
    Behaviour("crawl", "crawling at minimum speed", False, "centre", None),
    # Speed 0 (the params say 0; the car model would still roll at its minimum speed, so
    # the car is held where it is).
    Behaviour("stop", "standing still", False, "constant", 0.0, hold=True),
    Behaviour("off_track", "leaving the track", False, "constant", MEDIUM,
              steer_out=OFF_TRACK_STEER),
    Behaviour("reverse", "driving in reverse", False, "reverse", turned=True),
)


@dataclass
class ConstantCommands:
    """The same command every step, one per car (``hold`` cars stand still)."""

    steering: np.ndarray
    speed: np.ndarray
    hold: np.ndarray
    observation = None

    def act(self, car: CarState, obs: np.ndarray | None = None) -> Commands:
        return Commands(self.steering.copy(), self.speed.copy(), hold=self.hold.copy())


def _offset_line(track: Track, offsets) -> np.ndarray:
    """A closed line at ``offsets(arc, left room, right room)`` metres left of the centre."""
    frame = lane_frame(track, spacing=0.05)
    pts = frame.offset(offsets(frame.arc, frame.left, frame.right))
    return np.concatenate([pts, pts[:1]])


def zigzag_line(track: Track) -> np.ndarray:
    """Weave across the centre line inside the lane's middle half (swings of a fifth of the
    track width each way): the weave a reward paying for "near the centre" does not see."""
    waves = max(1, round(track.length / ZIGZAG_WAVELENGTH))  # whole waves: a closed line

    def offsets(arc, left, right):
        swing = np.minimum(ZIGZAG_SWING * (left + right), np.minimum(left, right)
                           - CAR_HALF_WIDTH)
        return np.maximum(swing, 0.0) * np.sin(2 * np.pi * waves * arc / track.length)

    return _offset_line(track, offsets)


def hug_line(track: Track) -> np.ndarray:
    """Along the left border with the wheels just inside it."""
    return _offset_line(track, lambda arc, left, right: left - CAR_HALF_WIDTH - 0.02)


def behaviour_controller(track: Track, behaviours: tuple[Behaviour, ...],
                         vehicle: VehicleParams) -> Routed:
    """One controller for a batch of behaviours, car i driving ``behaviours[i]``; cars on
    the same line share one batched controller."""
    groups: dict[str, list[int]] = {}
    for i, b in enumerate(behaviours):
        groups.setdefault(b.line, []).append(i)
    routed: list[tuple[np.ndarray, Controller]] = []
    for line, cars in groups.items():
        members = [behaviours[i] for i in cars]
        speed = np.array([vehicle.min_speed if b.speed is None else b.speed for b in members])
        routed.append((np.array(cars), _controller(track, vehicle, line, members, speed)))
    return Routed(routed)


def _controller(track: Track, vehicle: VehicleParams, line: str, members: list[Behaviour],
                speed: np.ndarray) -> Controller:
    if line == "centre":
        return PurePursuitDriver(track, speed, vehicle=vehicle)
    if line == "zigzag":
        return PurePursuitDriver(track, speed, lookahead=ZIGZAG_LOOKAHEAD,
                                 line=zigzag_line(track), vehicle=vehicle)
    if line == "hug":
        return PurePursuitDriver(track, speed, line=hug_line(track), vehicle=vehicle)
    if line == "reverse":
        return PurePursuitDriver(track, speed, line=track.reverse().waypoints, vehicle=vehicle)
    if line == "raceline":
        return RaceLineDriver(track, compute_raceline(track, vehicle), vehicle=vehicle)
    if line == "constant":
        away = -1.0 if track.is_ccw else 1.0  # steer against the turn: towards the outside
        return ConstantCommands(np.array([away * b.steer_out for b in members]), speed,
                                np.array([b.hold for b in members]))
    raise ValueError(f"behaviour line {line!r} is not one of centre, zigzag, hug, reverse, "
                     "raceline, constant")


@dataclass
class Drive:
    """One behaviour's episode from the start line and the steps it drove."""

    behaviour: Behaviour
    episode: Episode
    path: Trajectory

    @property
    def rewards(self) -> list[float]:
        """The reward of every RUN step (the PREPARE step pays nothing and is left out)."""
        return self.path.rewards[1:]

    @property
    def points(self) -> list[tuple[float, float]]:
        """The params' x, y of every RUN step."""
        return self.path.points[1:]

    @property
    def params(self) -> list[dict]:
        """The params of every RUN step (kept only when asked for)."""
        return self.path.params[1:]


def drive_behaviours(track: Track, reward: RewardSource | None = None,
                     behaviours: tuple[Behaviour, ...] = BEHAVIOURS,
                     vehicle: VehicleParams | None = None, max_steps: int = MAX_STEPS,
                     keep_params: bool = False) -> list[Drive]:
    """Drive every behaviour for one episode from the start line, all cars in one batch;
    ``max_steps`` bounds the slowest behaviour."""
    vehicle = vehicle or VehicleParams()
    cars = Racers(len(behaviours), track=track, reward_function=reward, observation="state",
                  start="line", max_steps=max_steps, vehicle=vehicle)
    result = rollout(cars, behaviour_controller(track, behaviours, vehicle),
                     keep=Keep(trajectory=True, params=keep_params),
                     turned=np.array([b.turned for b in behaviours]))
    return [Drive(b, e, t) for b, e, t in zip(behaviours, result.episodes,
                                              result.trajectories, strict=True)]
