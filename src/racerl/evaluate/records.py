"""Evaluation records on disk, in the layout DeepRacer's console used and deepracer-utils reads.

One evaluation of a model (or of a scripted driver) becomes, under its folder::

    sim-trace/evaluation/<YYYYmmddHHMMSS>-<id>/evaluation-simtrace/0-iteration.csv
    sim-trace/evaluation/<YYYYmmddHHMMSS>-<id>/evaluation.json     (racerl's summary)
    sim-trace/evaluation/<YYYYmmddHHMMSS>-<id>/video.mp4   (with racerl evaluate --save-video)
    metrics/evaluation/evaluation-<YYYYmmddHHMMSS>-<id>.json      (DeepRacer's metrics)
    logs/evaluation/evaluation-<YYYYmmddHHMMSS>-<id>-robomaker.log (DeepRacer's simulation log)
    logs/leaderboard/leaderboard-<YYYYmmddHHMMSS>-<id>-robomaker.log   (a race submission's too)

The folder is assembled under a hidden temporary name and renamed into place in one step,
so a reader never sees half an evaluation and a failed one leaves nothing behind; the
metrics and logs beside it follow, each written atomically.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from racerl.atomic import atomic_write_json
from racerl.errors import RacerlError
from racerl.evaluate.evaluation import EvaluationRun
from racerl.model.deepracer_metrics import status_label
from racerl.model.robomaker_log import LEADERBOARD, world_name, write_evaluation_log
from racerl.model.simtrace import read_simtrace, write_simtrace

VIDEO_FILE = "video.mp4"
"""An evaluation's video in its folder (``racerl evaluate --save-video``; the web console
shows it)."""


def evaluations_dir(root: Path) -> Path:
    return Path(root) / "sim-trace" / "evaluation"


def save_evaluation(root: Path, run: EvaluationRun, about: dict | None = None) -> Path:
    """Write ``run`` under the model (or driver) folder ``root``; returns its folder."""
    parent = evaluations_dir(root)
    parent.mkdir(parents=True, exist_ok=True)
    name = f"{_fresh_stamp(parent)}-{uuid.uuid4().hex[:6]}"
    staging = parent / f".{name}.tmp"
    target = parent / name
    try:
        write_simtrace(staging / "evaluation-simtrace" / "0-iteration.csv", run.rows)
        atomic_write_json(staging / "evaluation.json", evaluation_summary(run, name, about))
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    atomic_write_json(Path(root) / "metrics" / "evaluation" / f"evaluation-{name}.json",
                      deepracer_metrics(run))
    world = world_name(run.settings.track)
    write_evaluation_log(root, name, world, run.rows)
    if about is not None and "race" in about:
        write_evaluation_log(root, name, world, run.rows, LEADERBOARD)
    return target


def _fresh_stamp(parent: Path) -> str:
    """A 14-digit UTC time no other evaluation in ``parent`` has: deepracer-utils names an
    evaluation of the old console layout by this time alone, so two in one second would
    merge into one stream."""
    while True:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        if not any(parent.glob(f"{stamp}-*")) and not any(parent.glob(f".{stamp}-*")):
            return stamp
        time.sleep(0.2)


def evaluation_summary(run: EvaluationRun, name: str, about: dict | None) -> dict:
    return {"id": name, "driver": run.driver, **(about or {}),
            "settings": run.settings.describe(),
            "summary": asdict(run.summary()),
            "trials": [{**asdict(t), "completed": t.completed} for t in run.trials]}


def deepracer_metrics(run: EvaluationRun) -> dict:
    """DeepRacer's evaluation metrics JSON: one entry per trial (or lap of a race)."""
    now = int(time.time() * 1000)
    entries = []
    for t in run.trials:
        elapsed = round(t.elapsed * 1000)
        counts = {"crash_count": t.crashed, "immobilized_count": t.immobilized,
                  "off_track_count": t.off_track, "reversed_count": t.reversed}
        entries.append({"completion_percentage": int(t.progress), "metric_time": now,
                        "start_time": now - elapsed, "elapsed_time_in_milliseconds": elapsed,
                        "episode_status": status_label(t.status), **counts,
                        "reset_count": sum(counts.values()), "trial": t.trial})
    return {"metrics": entries}


def list_evaluations(root: Path) -> list[Path]:
    """Evaluation folders of a model, oldest first (their names start with the time)."""
    parent = evaluations_dir(root)
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and
                  (p / "evaluation.json").is_file())


def latest_evaluation(root: Path) -> Path:
    found = list_evaluations(root)
    if not found:
        raise RacerlError(f"{root}: no evaluation yet; run `racerl evaluate` first")
    return found[-1]


def load_summary(folder: Path) -> dict:
    return json.loads((Path(folder) / "evaluation.json").read_text(encoding="utf-8"))


def read_trace(folder: Path) -> list[dict]:
    """The evaluation's sim-trace rows with numbers as numbers (status and action as text)."""
    return read_simtrace(Path(folder) / "evaluation-simtrace" / "0-iteration.csv")
