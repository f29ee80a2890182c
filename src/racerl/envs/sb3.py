"""stable-baselines3 adapter: a :class:`~racerl.envs.vector.RacerVectorEnv` as an SB3 ``VecEnv``.

SB3 predates Gymnasium's vector API: it wants ``step_async``/``step_wait``, and each step
in its own layout (:mod:`racerl.envs.sb3_layout`, shared with the rollout workers of
:mod:`racerl.train.workers`). The vector env already resets ended cars in the same step, so
this is only a change of shape. Importing this module imports stable-baselines3 (and so
PyTorch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from racerl.envs.sb3_layout import sb3_step
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
        return sb3_step(self.venv, self._actions)

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
