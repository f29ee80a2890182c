"""stable-baselines3 adapter: a :class:`~racerl.envs.vector.RacerVectorEnv` as an SB3 ``VecEnv``.

SB3 predates Gymnasium's vector API: it wants ``step_async``/``step_wait``, a ``dones``
array, a list of per-env info dicts, and the last observation of an ended episode in
``info["terminal_observation"]`` (with ``info["TimeLimit.truncated"]`` when the step cap cut
it short). The vector env already resets ended cars in the same step, so this is only a
change of shape. Importing this module imports stable-baselines3 (and so PyTorch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from racerl.envs.vector import RacerVectorEnv


class RacerSB3VecEnv(VecEnv):
    """The cars of a :class:`RacerVectorEnv` as stable-baselines3 environments."""

    def __init__(self, venv: RacerVectorEnv):
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space,
                         venv.single_action_space)
        self._actions = None
        self._seed = None

    def reset(self):
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None
        return obs

    def seed(self, seed: int | None = None):
        self._seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        # The user's own reward, params and track ride along for the logs (sim-trace,
        # metrics): wrappers such as VecNormalize may rescale ``rewards`` but never these.
        infos = [{"status": info["status"][i], "progress": info["progress"][i],
                  "params": info["params"][i], "reward": float(rewards[i]),
                  "track": info["track"][i]}
                 for i in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = info["final_obs"][i]
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            if not np.isnan(info["lap_time"][i]):
                infos[i]["lap_time"] = float(info["lap_time"][i])
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices=None) -> list:
        return [getattr(self.venv, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list:
        method = getattr(self.venv, method_name)
        return [method(*args, **kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def _indices(self, indices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else indices


def to_sb3(venv: RacerVectorEnv) -> RacerSB3VecEnv:
    """Wrap a racerl vector env for stable-baselines3 (``PPO("CnnPolicy", to_sb3(venv))``)."""
    return RacerSB3VecEnv(venv)
