"""Small shared builders for the tests: synthetic tracks and "params at this pose"."""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from racerl.reward.function import load_reward_function
from racerl.sim.batch import BatchSim
from racerl.track.geometry import Track

MODEL_POINT_OFFSET = 0.14  # reference 2.2: params x, y are 0.14 m ahead of base_link


def circle_track(radius: float = 2.0, width: float = 0.8, n: int = 201,
                 clockwise: bool = False, angles: np.ndarray | None = None) -> np.ndarray:
    """(N, 6) DeepRacer layout of a circular loop centred on the origin.

    Row 0 is at angle 0, i.e. (radius, 0); the last row repeats the first. Columns 2-3 are
    the inner border (radius - width/2), 4-5 the outer one. ``angles`` (radians, increasing,
    starting at 0, without the closing 2*pi) replaces the ``n - 1`` evenly spaced angles.
    """
    if angles is None:
        angles = np.linspace(0.0, 2.0 * np.pi, n)[:-1]
    angles = np.asarray(angles, dtype=np.float64)
    if clockwise:
        angles = -angles
    rows = []
    for r in (radius, radius - width / 2.0, radius + width / 2.0):
        rows += [r * np.cos(angles), r * np.sin(angles)]
    data = np.stack(rows, axis=1)
    return np.concatenate([data, data[:1]])


def straight_track(length: float = 5.0, width: float = 0.6, n: int = 21) -> np.ndarray:
    """(N, 6) open line along +x from the origin; the left border (+y) is columns 2-3."""
    x = np.linspace(0.0, length, n)
    half = np.full(n, width / 2.0)
    return np.stack([x, np.zeros(n), x, half, x, -half], axis=1)


def base_for_model_point(px: float, py: float, yaw_deg: float) -> tuple[float, float]:
    """The base_link position whose model point P (0.14 m ahead) is (px, py)."""
    yaw = math.radians(yaw_deg)
    return px - MODEL_POINT_OFFSET * math.cos(yaw), py - MODEL_POINT_OFFSET * math.sin(yaw)


def place(sim: BatchSim, car: int, x: float, y: float, yaw_deg: float) -> None:
    """Put one car's base_link at (x, y) with yaw in degrees (CCW from +x)."""
    sim.place([car], [[x, y]], [math.radians(yaw_deg)])


class Recorder:
    """A reward function that keeps a deep copy of every params dict it is called with."""

    def __init__(self, value: float = 1.0):
        self.value = value
        self.calls: list[dict] = []

    def __call__(self, params):
        self.calls.append(copy.deepcopy(params))
        return self.value


def params_at(track: Track, x: float, y: float, yaw_deg: float, steering: float = 0.0,
              speed: float = 1.0, start_ndist: float = 0.0) -> dict:
    """Params the reward function sees for a car whose base_link is at (x, y, yaw_deg).

    The car is reset (episode start ``start_ndist``), placed at the pose, stepped once through
    the PREPARE step (no reward call) and placed again before the first RUN step, whose
    params describe the pose before the action moves the car.
    """
    recorder = Recorder()
    sim = BatchSim(track, 1, reward=load_reward_function(recorder), start="line")
    sim.reset([0], start_ndist=start_ndist)
    place(sim, 0, x, y, yaw_deg)
    sim.step([0.0], [1.0])  # PREPARE
    assert recorder.calls == [], "the reward function was called on the PREPARE step"
    place(sim, 0, x, y, yaw_deg)
    sim.step([steering], [speed])
    assert len(recorder.calls) == 1
    return recorder.calls[0]


@contextlib.contextmanager
def racerl_home(path: Path) -> Iterator[Path]:
    """Point RACERL_HOME at ``path`` for a block (module and session fixtures cannot use
    pytest's function-scoped monkeypatch)."""
    old = os.environ.get("RACERL_HOME")
    os.environ["RACERL_HOME"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("RACERL_HOME")
        else:
            os.environ["RACERL_HOME"] = old


EVALUATION_FOLDERS = ("sim-trace/evaluation", "sim-trace/leaderboard", "logs/evaluation",
                      "logs/leaderboard", "metrics/evaluation", "metrics/leaderboard")
"""Where a model folder keeps its evaluations (and race submissions)."""


def copy_trained_model(source: Path, target: Path) -> Path:
    """A copy of a trained model folder as training left it, without the evaluations that
    other tests saved into the shared original."""
    import shutil

    shutil.copytree(source, target)
    for folder in EVALUATION_FOLDERS:
        shutil.rmtree(target / folder, ignore_errors=True)
    return target
