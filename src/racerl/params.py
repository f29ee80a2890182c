"""The reward function's ``params`` dict, built from simulator arrays key for key.

Types follow shared/reference/deepracer-reference.md section 2.3 exactly: Python ``bool``,
``float``, ``int`` and ``list`` (never NumPy scalars), ``steps`` as a float, ``progress`` as
the int ``100`` on the lap-complete step. Object keys keep their defaults until the
simulator has obstacles.
"""

from __future__ import annotations

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


def build_params(batch: ParamsBatch, waypoints: list[tuple[float, float]],
                 track_length: float, is_reversed: bool) -> list[dict]:
    """One params dict per car, in the key order of the reference table."""
    out = []
    for i in range(len(batch.x)):
        out.append({
            "all_wheels_on_track": batch.all_wheels_on_track[i],
            "x": batch.x[i],
            "y": batch.y[i],
            "heading": batch.heading[i],
            "distance_from_center": batch.distance_from_center[i],
            "projection_distance": batch.projection_distance[i],
            "progress": batch.progress[i],
            "steps": batch.steps[i],
            "speed": batch.speed[i],
            "steering_angle": batch.steering_angle[i],
            "track_width": batch.track_width[i],
            "track_length": track_length,
            "waypoints": list(waypoints),  # its own list per car: tuples inside are immutable
            "closest_waypoints": list(batch.closest_waypoints[i]),
            "is_left_of_center": batch.is_left_of_center[i],
            "is_reversed": is_reversed,
            "is_offtrack": batch.is_offtrack[i],
            "is_crashed": batch.is_crashed[i],
            "closest_objects": [0, 0],
            "objects_location": [],
            "objects_left_of_center": [],
            "objects_distance": [],
            "objects_distance_from_center": [],
            "objects_heading": [],
            "objects_speed": [],
            "object_in_camera": False,
            "sim_time": batch.sim_time[i],
        })
    return out


def reward_copy(params: dict) -> dict:
    """The copy a reward function gets: DeepRacer passes a deep copy, so mutating it changes
    nothing. Values are scalars, lists of scalars or tuples (immutable), or lists of short
    lists (``objects_location``); copying each list one level down is a full deep copy."""
    out = dict(params)
    for key, value in params.items():
        if type(value) is list:
            out[key] = [list(v) for v in value] if value and type(value[0]) is list \
                else list(value)
    return out


def as_pylist(values: np.ndarray) -> list:
    """NumPy array to a list of Python scalars (bool, int, float)."""
    return np.asarray(values).tolist()
