"""DeepRacer's simulation ("RoboMaker") log beside the sim-traces, as the console's model
download holds it, so that deepracer-utils reads a racerl model folder with its defaults.

The console download of a model holds one log per simulation job::

    logs/training/training-<YYYYmmddHHMMSS>-<id>-robomaker.log
    logs/evaluation/evaluation-<YYYYmmddHHMMSS>-<id>-robomaker.log
    logs/leaderboard/leaderboard-<YYYYmmddHHMMSS>-<id>-robomaker.log   (race submissions)

deepracer-utils looks for the training one as soon as it opens a folder of that layout (and
fails without it), ``DeepRacerLog.load()`` and ``load_robomaker_logs()`` read their data from
these logs, and the notebooks take the track's name from them. Of all RoboMaker prints, the
readers use four (reference section 10): one ``SIM_TRACE_LOG:`` line per step, the
hyperparameters after "Using the following hyper-parameters" (required), the action space
and the sensor/network line (from model_metadata.json), and the ``/WORLD_NAME`` launch
parameter. racerl writes those, in DeepRacer's words and formats, and nothing else it would
have to invent.

The training log grows with the run: appended (whole lines, one write) as each iteration's
sim-trace file is written, so after a kill it holds whole lines only. A resume cuts it back
to the checkpoint it continues from, as the sim-trace files are; a model trained before
racerl wrote the log gets it rebuilt from its sim-traces then. Evaluation logs are written
once, atomically.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from racerl.atomic import atomic_write_text
from racerl.model.simtrace import read_simtrace_rows, training_trace_path

PREFIX = "SIM_TRACE_LOG:"
HYPERPARAMETERS_LINE = "Using the following hyper-parameters"
"""The line after which deepracer-utils reads the hyperparameters JSON (simapp's
sagemaker_graph_manager prints it so)."""
TRAINING, EVALUATION, LEADERBOARD = "training", "evaluation", "leaderboard"


def sim_trace_line(row: Sequence) -> str:
    """One step as DeepRacer logs it: a sim-trace row (columns 1-17, values as Python
    values or as the CSV's text) at the simapp's fixed precision: X, Y, yaw, reward and
    progress with 4 decimals, steer, throttle, track length and pause with 2, episode, step
    and waypoint as integers, the rest as written (simapp ``sim_trace_log``, AWS-era
    fields; deepracer-utils parses exactly this)."""
    (episode, steps, x, y, yaw, steer, throttle, action, reward, done, on_track, progress,
     waypoint, track_len, tstamp, status, pause) = row[:17]  # not racerl's extra columns
    fields = (
        _whole(episode), _whole(steps), _fixed(x, 4), _fixed(y, 4), _fixed(yaw, 4),
        _fixed(steer, 2), _fixed(throttle, 2), str(action), _fixed(reward, 4), _flag(done),
        _flag(on_track), _fixed(progress, 4), _whole(waypoint), _fixed(track_len, 2),
        str(float(tstamp)), str(status), _fixed(pause, 2))
    return PREFIX + ",".join(fields)


def _whole(value: object) -> str:
    return str(int(float(value)))


def _fixed(value: object, decimals: int) -> str:
    return f"{float(value):.{decimals}f}"


def _flag(value: object) -> str:
    """A boolean as Python prints it, from a bool or from the CSV's text."""
    return "True" if str(value) == "True" else "False"


def line_episode(line: str) -> int | None:
    """The episode of a ``SIM_TRACE_LOG:`` line, None for any other line."""
    if not line.startswith(PREFIX):
        return None
    return int(line[len(PREFIX):].split(",", 1)[0])


def world_name(track: str | list[str]) -> str:
    """The track as DeepRacer's ``WORLD_NAME`` names it: the name, or a track file's stem
    (deepracer-utils' TrackIO loads ``<world>.npy``). A run on several tracks logs its
    first, as a DRfC multi-track run's first worker does; the sim-traces name each
    episode's track."""
    if not isinstance(track, str):
        track = track[0]
    return Path(track).stem if track.endswith(".npy") else track


def header(job: str, root: Path, world: str) -> str:
    """The lines before the steps: the job, the model and the track as RoboMaker's launch
    parameters print them, then what the model folder says about the car (sensor and
    network, action space, hyperparameters), each only when the folder has it (a scripted
    driver has none)."""
    lines = [f"racerl {job} job of {root.name}: the lines of DeepRacer's simulation log that "
             "log analysis reads",
             f" * /JOB_TYPE: {job.upper()}",
             f" * /MODEL_NAME: {root.name}",
             f" * /WORLD_NAME: {world}"]
    metadata = _read_json(root / "model" / "model_metadata.json")
    if metadata is not None:
        sensors = "[" + ", ".join(f"'{s}'" for s in metadata.get("sensor", [])) + "]"
        lines.append(f"Sensor list {sensors}, network {metadata.get('neural_network')}, "
                     f"simapp_version {metadata.get('version')}, training_algorithm "
                     f"{metadata.get('training_algorithm')}, action_space_type "
                     f"{metadata.get('action_space_type')}")
        # The simapp prints the action space as a Python literal; deepracer-utils turns its
        # quotes back into JSON's, so JSON with single quotes reads back exactly.
        space = json.dumps(metadata.get("action_space")).replace('"', "'")
        lines.append(f"Action space from file: {space}")
    hyperparameters = _read_json(root / "ip" / "hyperparameters.json")
    if hyperparameters is not None:
        lines.append(HYPERPARAMETERS_LINE)
        lines.append(json.dumps(hyperparameters, indent=2, sort_keys=True))
    return "\n".join(lines) + "\n"


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _stamp() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime())


# -- training: one log per model, appended as iterations are written ---------------------


def training_log(root: Path) -> Path | None:
    """The model's training log, or None before racerl wrote one."""
    found = sorted((Path(root) / "logs" / TRAINING).glob("training-*-robomaker.log"))
    return found[0] if found else None


def start_training_log(root: Path, world: str) -> Path:
    """A new model's training log: the header, written atomically (before any step)."""
    return atomic_write_text(_new_training_log_path(root), header(TRAINING, Path(root), world))


def _new_training_log_path(root: Path) -> Path:
    name = f"training-{_stamp()}-{Path(root).name}-robomaker.log"
    return Path(root) / "logs" / TRAINING / name


def append_steps(path: Path, rows: Iterable[Sequence]) -> None:
    """Append steps as whole lines in one write, flushed to disk: a kill leaves the lines
    before it whole (a resume drops anything after its checkpoint)."""
    text = "".join(sim_trace_line(row) + "\n" for row in rows)
    if not text:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)


def resume_training_log(root: Path, world: str, episodes: int, per_file: int) -> Path:
    """The training log a resumed run appends to, holding exactly the steps of the
    ``episodes`` episodes its checkpoint counted, as the sim-trace files do: later lines
    (a killed run's) and a line cut short are dropped. A model trained before racerl
    wrote the log gets it now, rebuilt from its sim-trace files. Written atomically."""
    path = training_log(root)
    if path is None:
        rows = []
        for block in range(math.ceil(episodes / per_file)):
            trace = training_trace_path(Path(root), block)
            if trace.is_file():
                rows += [r for r in read_simtrace_rows(trace) if int(r[0]) < episodes]
        path = _new_training_log_path(root)
        text = header(TRAINING, Path(root), world) + "".join(sim_trace_line(r) + "\n"
                                                             for r in rows)
    else:
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # the last write of a killed run, cut short
            episode = line_episode(line)
            if episode is None or episode < episodes:
                kept.append(line)
        text = "".join(kept)
    text += f"racerl: training resumed from the checkpoint after episode {episodes}\n"
    return atomic_write_text(path, text)


# -- evaluations: one log each, written once ------------------------------------------------


def evaluation_log_path(root: Path, name: str, kind: str = EVALUATION) -> Path:
    """Where the log of evaluation ``name`` (its sim-trace folder's name,
    ``<YYYYmmddHHMMSS>-<id>``) goes: deepracer-utils names its stream by that time, as it
    names the sim-trace's."""
    return Path(root) / "logs" / kind / f"{kind}-{name}-robomaker.log"


def write_evaluation_log(root: Path, name: str, world: str, rows: Iterable[Sequence],
                         kind: str = EVALUATION) -> Path:
    """An evaluation's (or, ``kind`` leaderboard, a race submission's) log, atomically."""
    text = header(kind, Path(root), world) + "".join(sim_trace_line(r) + "\n" for r in rows)
    return atomic_write_text(evaluation_log_path(root, name, kind), text)
