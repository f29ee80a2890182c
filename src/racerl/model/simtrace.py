"""Sim-trace CSV files in DeepRacer's layout, readable by the community's deepracer-utils.

One row per step with AWS-era columns 1-17 (reference section 10.1): values written with
Python ``str()``, so booleans read ``True``/``False`` and floats keep full precision. The
``reward`` column is exactly what the user's reward function returned.

The readers live next to the writer so that the layout is known in one place: training
reads its own unfinished file back on resume, evaluation charts read rows as numbers.
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
NUMERIC_COLUMNS = ("episode", "steps", "X", "Y", "yaw", "steer", "throttle", "reward",
                   "progress", "closest_waypoint", "track_len", "tstamp", "pause_duration")
"""Columns :func:`read_simtrace` turns into floats (``action`` stays text: it may be a
discrete id or a continuous ``[steer speed]`` pair)."""
BOOLEAN_COLUMNS = ("done", "all_wheels_on_track")
TRACK_COLUMNS = ("track",)
"""What a run on several tracks adds after the AWS-era columns: the name of the track of
the row's episode (a run on one track writes exactly :data:`COLUMNS`)."""


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


def action_label(steering: float, speed: float) -> str:
    """A continuous (or scripted) command as the trace's ``action``: "[steering speed]", the
    values as the params report them; a discrete action is logged by its id instead."""
    return f"[{steering} {speed}]"


def write_simtrace(path: str | Path, rows: list[list], extra: tuple[str, ...] = ()) -> Path:
    """Write one iteration's CSV atomically (header + rows); ``extra`` names columns the
    rows carry after :data:`COLUMNS` (e.g. :data:`TRACK_COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow((*COLUMNS, *extra))
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def training_trace_path(model_dir: Path, iteration: int) -> Path:
    return model_dir / "sim-trace" / "training" / "training-simtrace" / f"{iteration}-iteration.csv"


def read_simtrace_rows(path: str | Path) -> list[list[str]]:
    """The data rows of a sim-trace CSV as written (text cells, header left out), e.g. to
    append to the file and write it again unchanged."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))[1:]


def read_simtrace(path: str | Path) -> list[dict]:
    """A sim-trace CSV's rows as dicts keyed by column, numbers as numbers (floats),
    ``done``/``all_wheels_on_track`` as booleans, status and action as text."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in NUMERIC_COLUMNS:
            row[key] = float(row[key])
        for key in BOOLEAN_COLUMNS:
            row[key] = row[key] == "True"
    return rows


def read_partial_block(model_dir: Path, episodes: int, per_file: int) -> list[list[str]]:
    """Rows of the unfinished training sim-trace file a resumed run appends to (empty if
    none): the rows of the ``episodes`` episodes already counted, none of a later one that
    a kill cut short."""
    if episodes % per_file == 0:
        return []
    path = training_trace_path(model_dir, episodes // per_file)
    if not path.is_file():
        return []
    return [row for row in read_simtrace_rows(path) if int(row[0]) < episodes]
