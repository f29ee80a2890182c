"""What the export tests feed the exported graphs: the trained SB3 model itself and the
observations it really sees (its own greedy drive, in studio then random light)."""

from __future__ import annotations

import numpy as np

from racerl.envs.single import make_env
from racerl.model.folder import model_folder
from racerl.train.trainer import load_model, load_policy


def sb3_model(name: str):
    folder = model_folder(name)
    config = folder.config().replace(action_space=str(folder.metadata_path))
    return load_model(config, folder.checkpoint_path, None)


def greedy_observations(name: str, count: int, seed: int) -> np.ndarray:
    """``count`` observations of the model's own greedy drive, half in studio light, half in
    random light."""
    config = model_folder(name).config()
    policy, _ = load_policy(name)
    observations = []
    for lighting in ("studio", "random"):
        env = make_env(track=config.track, observation=config.observation,
                       action_space=str(model_folder(name).metadata_path), lighting=lighting,
                       seed=seed)
        obs, _ = env.reset()
        for _ in range(count // 2):
            observations.append(obs)
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            if terminated or truncated:
                obs, _ = env.reset()
    return np.stack(observations)
