"""``RacerVectorEnv``: many cars in one batched simulator, one process, as a Gymnasium
vector env (``gymnasium.make_vec("racerl/DeepRacer-v0", num_envs=64)``).

No subprocesses: the batch is stepped with array operations and rendered by one camera
kernel (see :mod:`racerl.envs.cars`). Each car is an independent episode with its own reward
module instance, start position and lighting.

Autoreset is ``SAME_STEP``: when a car's episode ends, ``step`` resets that car at once and
returns the *new* episode's first observation in its row; the ended episode's last
observation (an array, or a dict of arrays for a model with a lidar) is kept in
``info["final_obs"]`` (an object array, set where
``info["_final_obs"]`` is True) and its info in ``info["final_info"]``. stable-baselines3
expects exactly this; :func:`racerl.envs.sb3.to_sb3` adapts the interface.

``num_envs`` is a whole number from 1 to :data:`~racerl.envs.checks.MAX_CARS`. ``step``
takes one action per car (shape ``(num_envs,)`` of integer ids, or ``(num_envs, 2)`` of
finite numbers in [-1, 1]) and refuses a batch with any action outside the space with
:class:`~racerl.envs.checks.InvalidActionError` naming the car, before any car moves; a
``step`` before the first ``reset`` raises ``gymnasium.error.ResetNeeded``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from racerl.envs.cars import Racers, put, take
from racerl.envs.checks import batch_actions, batch_seeds, car_count, start_fraction
from racerl.sim.state import Status
from racerl.track import DEFAULT_TRACK


class RacerVectorEnv(VectorEnv):
    """``num_envs`` DeepRacer cars on one track, or spread over a list of tracks (car i on
    track i % len); keyword arguments as for ``RacerEnv`` and
    :class:`~racerl.envs.cars.Racers`. ``first_car`` makes the cars a slice of a larger
    batch (one rollout worker's share): car i is car ``first_car + i`` of the whole, its
    seed ``seed + first_car + i``, its track and start points those of that car."""

    metadata: ClassVar[dict] = {"autoreset_mode": AutoresetMode.SAME_STEP,
                                "render_modes": []}

    def __init__(self, num_envs: int = 1, track=DEFAULT_TRACK, reward_function=None,
                 action_space=None, observation: str = "camera", seed: int | None = None,
                 first_car: int = 0, **kwargs):
        kwargs.pop("render_mode", None)  # top-down rendering is per single env
        num_envs = car_count(num_envs)
        if isinstance(first_car, bool) or not isinstance(first_car, int | np.integer) \
                or first_car < 0:
            raise ValueError(f"first_car must be a whole number >= 0, not {first_car!r}")
        self.first_car = int(first_car)
        self.racers = Racers(num_envs, track=track, reward_function=reward_function,
                             action_space=action_space, observation=observation,
                             first_car=self.first_car, **kwargs)
        self.num_envs = num_envs
        self.single_observation_space = self.racers.single_observation_space
        self.single_action_space = self.racers.single_action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._first_seed = seed
        self._has_reset = False

    @property
    def sim(self):
        return self.racers.sim

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if seed is None and self._first_seed is not None:
            seed, self._first_seed = self._first_seed, None
        if isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
            seed = int(seed) + self.first_car  # car i is car first_car + i of the whole
        seeds = batch_seeds(seed, self.num_envs)
        start = start_fraction((options or {}).get("start_ndist"))
        obs = self.racers.reset(np.arange(self.num_envs), seeds=seeds, start_ndist=start)
        self._has_reset = True
        info = {"status": np.full(self.num_envs, Status.PREPARE, dtype=object),
                "_status": np.ones(self.num_envs, dtype=bool)}
        return obs, info

    def step(self, actions):
        if not self._has_reset:
            raise ResetNeeded("Cannot call env.step() before calling env.reset()")
        result = self.racers.step(batch_actions(self.single_action_space, actions,
                                                self.num_envs))
        done = result.terminated | result.truncated
        tracks = self.racers.track_name
        info = _batch_info(result.params, result.status, result.lap_time, tracks)
        obs = result.obs
        if done.any():
            ended = np.flatnonzero(done)
            # ``obs`` is this step's own new array: keep copies of the last frames, then
            # overwrite the ended cars' rows with their new episodes' first frames.
            final_obs = _object_array([_copied(take(obs, i)) if done[i] else None
                                       for i in range(self.num_envs)])
            info["final_obs"], info["_final_obs"] = final_obs, done.copy()
            info["final_info"] = _batch_info(result.params, result.status, result.lap_time,
                                             tracks, mask=done)
            info["_final_info"] = done.copy()
            put(obs, ended, self.racers.reset(ended))
        return (obs, result.rewards.copy(), result.terminated.copy(), result.truncated.copy(),
                info)


def _batch_info(params: list[dict], status: list[str], lap_time: np.ndarray,
                tracks: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """Gymnasium's vector info layout: one array per key plus a ``_key`` mask; ``track``
    names each car's track (a multi-track batch's traces say where each episode ran)."""
    n = len(params)
    present = np.ones(n, dtype=bool) if mask is None else mask.copy()
    lap = np.array([s == Status.LAP_COMPLETE for s in status]) & present
    info = {
        "params": _object_array(params),
        "status": np.array(status, dtype=object),
        "progress": np.array([float(p["progress"]) for p in params]),
        "steps": np.array([p["steps"] for p in params]),
        "lap_time": np.where(lap, lap_time, np.nan),
        "track": tracks.copy(),
    }
    for key in list(info):
        info[f"_{key}"] = lap if key == "lap_time" else present
    return info


def _copied(obs):
    """A copy of one car's observation (an array, or one array per sensor)."""
    if isinstance(obs, dict):
        return {key: value.copy() for key, value in obs.items()}
    return obs.copy()


def _object_array(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def make_vec_env(num_envs: int, track=DEFAULT_TRACK, reward_function=None,
                 action_space=None, seed: int | None = None, **kwargs) -> RacerVectorEnv:
    """A ready :class:`RacerVectorEnv` of ``num_envs`` cars."""
    return RacerVectorEnv(num_envs=num_envs, track=track, reward_function=reward_function,
                          action_space=action_space, seed=seed, **kwargs)
