"""The reward function's ``params`` dict, built from simulator arrays key for key.

Types follow shared/reference/deepracer-reference.md section 2.3 exactly: Python ``bool``,
``float``, ``int`` and ``list`` (never NumPy scalars), ``steps`` as a float, ``progress`` as
the int ``100`` on the lap-complete step. Object keys keep their defaults until the
simulator has obstacles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class ParamsBatch:
    """Per-car values for one step; lists of Python scalars, index = car."""

    x: list[float]
    y: list[float]
    heading: list[float]
    distance_from_center: list[float]
    projection_distance: list[float]
    progress: list[float | int]
    steps: list[float]
    speed: list[float]
    steering_angle: list[float]
    track_width: list[float]
    closest_waypoints: list[list[int]]
    is_left_of_center: list[bool]
    all_wheels_on_track: list[bool]
    is_offtrack: list[bool]
    is_crashed: list[bool]
    sim_time: list[float]


def progress_value(raw: float) -> float | int:
    """DeepRacer's ``min(raw, 100)``: the int 100 once a lap is done, the float otherwise."""
    return min(raw, 100)


def build_params(batch: ParamsBatch, waypoints: Sequence[list[tuple[float, float]]],
                 track_length: Sequence[float], is_reversed: Sequence[bool]) -> list[dict]:
    """One params dict per car, in the key order of the reference table; ``waypoints``,
    ``track_length`` and ``is_reversed`` are per car too (each car's own track)."""
    rows = zip(batch.all_wheels_on_track, batch.x, batch.y, batch.heading,
               batch.distance_from_center, batch.projection_distance, batch.progress,
               batch.steps, batch.speed, batch.steering_angle, batch.track_width,
               batch.closest_waypoints, batch.is_left_of_center, batch.is_offtrack,
               batch.is_crashed, batch.sim_time, waypoints, track_length, is_reversed,
               strict=True)
    return [{
        "all_wheels_on_track": on_track, "x": x, "y": y, "heading": heading,
        "distance_from_center": distance, "projection_distance": projection,
        "progress": progress, "steps": steps, "speed": speed, "steering_angle": steering,
        "track_width": width, "track_length": length,
        "waypoints": list(points),  # its own list per car: tuples inside are immutable
        "closest_waypoints": list(closest), "is_left_of_center": left,
        "is_reversed": reversed_, "is_offtrack": off, "is_crashed": crashed,
        "closest_objects": [0, 0], "objects_location": [], "objects_left_of_center": [],
        "objects_distance": [], "objects_distance_from_center": [], "objects_heading": [],
        "objects_speed": [], "object_in_camera": False, "sim_time": sim_time,
    } for (on_track, x, y, heading, distance, projection, progress, steps, speed, steering,
           width, closest, left, off, crashed, sim_time, points, length, reversed_) in rows]


def as_pylist(values: np.ndarray) -> list:
    """NumPy array to a list of Python scalars (bool, int, float)."""
    return np.asarray(values).tolist()
