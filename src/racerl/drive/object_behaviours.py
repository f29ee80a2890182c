"""Scripted ways to drive among obstacles and bot cars, for the reward lab.

With objects on the track a reward can pay for new mistakes: driving into a box (each
step before the crash, or the crash step itself, paid), swerving at the last moment,
stopping in front of a box (the episode ends standing still, but maybe after more pay than
a lap), or sitting behind a slow bot car instead of passing it. :data:`OBJECT_BEHAVIOURS`
drives each of them, and the one wanted way (:func:`avoid`: hold the lane away from the
next object ahead, changed early) at three speeds.

One :class:`ObjectDriver` steers every such car of a batch at once: each step it reads the
objects of its cars from the simulator, finds each car's next object ahead along the centre
line (the one it is passing counts until the car is clear of it), and steers towards a
point ``LOOKAHEAD`` metres ahead at the lateral offset its behaviour wants there, all as
(cars, objects) array operations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from racerl.drive.pursuit import rear_axle, steer_towards
from racerl.drive.raceline import LaneFrame
from racerl.drive.rollout import Commands
from racerl.sim.objects import Objects
from racerl.sim.vehicle import CarState, VehicleParams
from racerl.track.geometry import Track

LOOKAHEAD = 0.45  # metres, as the lane drives
PASSING_M = 0.45  # an object this far behind the car's rear axle still counts (a box's half
# length and the car's length)
# Gaps are metres along the centre line from the car's rear axle to the object's centre; the
# car's nose is about 0.33 m ahead of its rear axle, a box reaches 0.25 m towards it.
LATE_M = 0.9  # a late swerve leaves the centre line this close to the object
STOP_M = 1.0  # a car stopping in front of a box holds here, its nose 0.4 m from the box
TAIL_M = 0.9  # a tailgater keeps this gap to the bot car ahead
BRAKE_GAIN = 1.5  # m/s of speed per metre still to go when closing in on a stop or a bot car
MODES = ("avoid", "late", "through", "stop", "tailgate")


@dataclass(frozen=True)
class ObjectBehaviour:
    """How an :class:`ObjectDriver` car treats the next object: ``mode`` is one of
    :data:`MODES` (the module docstring), ``speed`` its cruising m/s."""

    mode: str
    speed: float


class ObjectDriver:
    """Steers cars ``cars`` (indices into the simulator's batch) by their
    :class:`ObjectBehaviour`; ``objects`` gives the simulator's current objects (all cars)."""

    observation = None

    def __init__(self, track: Track, frame: LaneFrame, cars: np.ndarray,
                 behaviours: list[ObjectBehaviour], objects: Callable[[], Objects],
                 vehicle: VehicleParams | None = None):
        unknown = {b.mode for b in behaviours} - set(MODES)
        if unknown:
            raise ValueError(f"object behaviour modes {sorted(unknown)} are not among {MODES}")
        self.track, self.frame, self.cars = track, frame, np.asarray(cars, dtype=np.int64)
        self.mode = np.array([b.mode for b in behaviours])
        self.speed = np.array([b.speed for b in behaviours], dtype=np.float64)
        self.objects = objects
        self.vehicle = vehicle or VehicleParams()
        self._spacing = track.length / len(frame.arc)

    def _at(self, arc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre point, left normal and lane half (a quarter of the road) at arcs."""
        k = np.round(np.asarray(arc) / self._spacing).astype(np.int64) % len(self.frame.arc)
        lane = 0.5 * np.minimum(self.frame.left[k], self.frame.right[k])
        return self.frame.center[k], self.frame.normal[k], lane

    def next_object(self, rear: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray, np.ndarray]:
        """Per car: its arc, the gap (m along the centre line) to its next object, that
        object's offset left of the centre, its speed, and whether there is one."""
        objects = self.objects().subset(self.cars)
        length = self.track.length
        arc, _ = self.track.center.project(rear)
        k, m = objects.x.shape
        centres = np.stack([objects.x, objects.y], axis=-1).reshape(-1, 2)
        obj_arc, closest = self.track.center.project(centres)
        _, normal, _ = self._at(obj_arc)
        offset = np.einsum("ij,ij->i", centres - closest, normal).reshape(k, m)
        gap = (obj_arc.reshape(k, m) - arc[:, None] + PASSING_M) % length - PASSING_M
        gap = np.where(objects.present, gap, np.inf)
        j = np.argmin(gap, axis=1) if m else np.zeros(k, dtype=np.int64)
        rows = np.arange(k)
        if not m:
            return arc, np.full(k, np.inf), np.zeros(k), np.zeros(k), np.zeros(k, dtype=bool)
        found = np.isfinite(gap[rows, j])
        return arc, gap[rows, j], offset[rows, j], objects.speed[rows, j], found

    def act(self, car: CarState, obs: np.ndarray | None = None) -> Commands:
        rear = rear_axle(car, self.vehicle)
        arc, gap, offset, obj_speed, found = self.next_object(rear)
        centre, normal, lane = self._at(arc + LOOKAHEAD)
        side = np.where(offset >= 0, 1.0, -1.0)  # the object's side of the centre line
        away = np.where(found, -side * lane, 0.0)
        into = np.where(found, offset, 0.0)
        mode = self.mode
        lateral = np.select([mode == "avoid", mode == "late", mode == "tailgate"],
                            [away, np.where(gap < LATE_M, away, 0.0), into], into)
        speed = self.speed.copy()
        tail = (mode == "tailgate") & found
        speed[tail] = np.clip(obj_speed[tail] + BRAKE_GAIN * (gap[tail] - TAIL_M), 0.0,
                              self.speed[tail])
        stop = (mode == "stop") & found
        speed[stop] = np.clip(BRAKE_GAIN * (gap[stop] - STOP_M), 0.0, self.speed[stop])
        hold = stop & (gap < STOP_M + 0.05)
        target = centre + lateral[:, None] * normal
        steer = steer_towards(car, rear, target, self.vehicle)
        return Commands(steer, speed, hold=hold)
