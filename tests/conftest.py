"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import racerl  # noqa: F401  first: its tensorboard switch precedes any stable-baselines3 import

REPO = Path(__file__).resolve().parents[1]
# Training tunes torch's thread count by timing its updates (racerl.train.threads), and a
# matrix product may round differently on another thread count: tests that compare two
# runs bit for bit fix the count, as a user who needs reproducible runs does.
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, min(2, os.cpu_count() or 1))))
MISSING_TRACKS = ("DeepRacer track files not found: add them with 'racerl tracks add "
                  "<deepracer-simapp>/bundle/routes' or put their folder (../shared/tracks "
                  "in CI) on RACERL_TRACK_PATH")


def find_deepracer_tracks() -> Path | None:
    """The folder holding DeepRacer's route files (reinvent_base.npy...), if there is one."""
    candidates = [Path(p).expanduser()
                  for p in os.environ.get("RACERL_TRACK_PATH", "").split(os.pathsep) if p.strip()]
    candidates.append(REPO.parent / "shared" / "tracks")
    for folder in candidates:
        if (folder / "reinvent_base.npy").is_file():
            return folder
    return None


@pytest.fixture(scope="session")
def deepracer_tracks() -> Path:
    """Path of the DeepRacer track folder; skips the test when it is absent."""
    folder = find_deepracer_tracks()
    if folder is None:
        pytest.skip(MISSING_TRACKS)
    return folder


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty racerl home; DeepRacer's tracks stay on the search path."""
    home = tmp_path_factory.mktemp("racerl_home")
    monkeypatch.setenv("RACERL_HOME", str(home))
    folder = find_deepracer_tracks()
    if folder is not None:
        monkeypatch.setenv("RACERL_TRACK_PATH", str(folder))
    return home


@pytest.fixture(scope="session")
def tiny_model_home(tmp_path_factory) -> Path:
    """A racerl home holding 'tiny': a real PPO model (state observation, the oval) trained
    for a few seconds, shared by the evaluation, race and export tests."""
    from racerl.model.config import load_config_dict
    from racerl.train.trainer import train
    from tests.helpers import racerl_home

    home = tmp_path_factory.mktemp("tiny_model_home")
    config = load_config_dict({"track": "oval", "observation": "state", "network": "mlp",
                               "n_envs": 8, "rollout_steps": 64, "batch_size": 128,
                               "learning_rate": 1e-3, "seed": 0,
                               "num_episodes_between_training": 5}, "tiny")
    with racerl_home(home):
        train("tiny", config, steps=8 * 64 * 8)
    return home
