"""Fixtures of the web console's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

# A camera model that trains in seconds: the light CNN on grey frames, 2 iterations.
CAMERA = {"track": "oval", "observation": "camera", "network": "light", "n_envs": 8,
          "rollout_steps": 32, "batch_size": 128, "learning_rate": 1e-3, "seed": 0,
          "num_episodes_between_training": 5, "eval_every": 0}


@pytest.fixture(scope="session")
def camera_model_home(tmp_path_factory) -> Path:
    """A racerl home holding 'cam', a real camera PPO model (what the live camera view and
    the car bundle need), trained for two iterations."""
    from racerl.model.config import load_config_dict
    from racerl.train.trainer import train
    from tests.helpers import racerl_home

    home = tmp_path_factory.mktemp("camera_model_home")
    with racerl_home(home):
        train("cam", load_config_dict(CAMERA, "cam"), steps=8 * 32 * 2)
    return home


@pytest.fixture
def cam(camera_model_home, isolated_home):
    """The session's camera model, copied into this test's home."""
    from tests.helpers import copy_trained_model

    copy_trained_model(camera_model_home / "models" / "cam", isolated_home / "models" / "cam")
    return "cam"
