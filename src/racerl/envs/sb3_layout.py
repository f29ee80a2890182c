"""One step of a :class:`~racerl.envs.vector.RacerVectorEnv` in stable-baselines3's layout.

SB3 predates Gymnasium's vector API: it wants a ``dones`` array, a list of per-env info
dicts, and the last observation of an ended episode in ``info["terminal_observation"]``
(with ``info["TimeLimit.truncated"]`` when the step cap cut it short). The vector env
already resets ended cars in the same step, so this is only a change of shape.

It imports neither stable-baselines3 nor PyTorch, so that a rollout worker
(:mod:`racerl.train.workers`), which only simulates, can give the learner its steps in this
layout without loading them; :mod:`racerl.envs.sb3` is the VecEnv that uses it in-process.
"""

from __future__ import annotations

import numpy as np

from racerl.envs.vector import RacerVectorEnv

SB3Step = tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]
"""``(observations, rewards as float32, dones, infos)``: what a VecEnv's step_wait returns."""


def sb3_step(venv: RacerVectorEnv, actions: np.ndarray) -> SB3Step:
    """Step every car of ``venv`` once and return the step as SB3 wants it."""
    obs, rewards, terminated, truncated, info = venv.step(actions)
    dones = terminated | truncated
    # The user's own reward, params and track ride along for the logs (sim-trace,
    # metrics): wrappers such as VecNormalize may rescale ``rewards`` but never these.
    infos = [{"status": info["status"][i], "progress": info["progress"][i],
              "params": info["params"][i], "reward": float(rewards[i]),
              "track": info["track"][i]}
             for i in range(venv.num_envs)]
    for i in np.flatnonzero(dones):
        infos[i]["terminal_observation"] = info["final_obs"][i]
        infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        if not np.isnan(info["lap_time"][i]):
            infos[i]["lap_time"] = float(info["lap_time"][i])
    return obs, rewards.astype(np.float32), dones, infos
