"""Sim-trace CSV files in DeepRacer's layout, readable by the community's deepracer-utils.

One row per step with AWS-era columns 1-17 (reference section 10.1): values written with
Python ``str()``, so booleans read ``True``/``False`` and floats keep full precision. The
``reward`` column is exactly what the user's reward function returned.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from racerl.atomic import atomic_write_text

COLUMNS = ("episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward",
           "done", "all_wheels_on_track", "progress", "closest_waypoint", "track_len",
           "tstamp", "episode_status", "pause_duration")


def closest_waypoint(params: dict) -> int:
    """Whichever of params' [prev, next] waypoints is nearer to the car's point."""
    prev, nxt = params["closest_waypoints"]
    wps, x, y = params["waypoints"], params["x"], params["y"]
    d_prev = math.hypot(wps[prev][0] - x, wps[prev][1] - y)
    d_next = math.hypot(wps[nxt][0] - x, wps[nxt][1] - y)
    return nxt if d_next < d_prev else prev


def trace_row(episode: int, params: dict, action: object, reward: float, done: bool,
              status: str, pause_duration: float = 0.0) -> list:
    """One sim-trace row from a step's params (the pre-action state, as DeepRacer logs it)."""
    return [episode, params["steps"], params["x"], params["y"], params["heading"],
            params["steering_angle"], params["speed"], action, reward, done,
            params["all_wheels_on_track"], params["progress"], closest_waypoint(params),
            params["track_length"], params["sim_time"], status, pause_duration]


def write_simtrace(path: str | Path, rows: list[list]) -> Path:
    """Write one iteration's CSV atomically (header + rows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def training_trace_path(model_dir: Path, iteration: int) -> Path:
    return model_dir / "sim-trace" / "training" / "training-simtrace" / f"{iteration}-iteration.csv"
