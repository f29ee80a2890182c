"""racerl: an open, local, fast re-creation of AWS DeepRacer.

The public API is small: :func:`make_env` (or ``gymnasium.make("racerl/DeepRacer-v0")``
after ``import racerl``), :func:`load_track`, :func:`load_reward_function` and
:func:`load_action_space`. Everything else lives in its own module.
"""

from __future__ import annotations

import gymnasium as gym

from racerl.envs.actions import load_action_space
from racerl.envs.single import RacerEnv, make_env
from racerl.envs.vector import RacerVectorEnv, make_vec_env
from racerl.errors import ActionSpaceError, RacerlError, RewardFunctionError, TrackError
from racerl.reward.function import load_reward_function
from racerl.track.catalog import DEFAULT_TRACK, load_track

__all__ = [
    "DEFAULT_TRACK",
    "ActionSpaceError",
    "RacerEnv",
    "RacerVectorEnv",
    "RacerlError",
    "RewardFunctionError",
    "TrackError",
    "load_action_space",
    "load_reward_function",
    "load_track",
    "make_env",
    "make_vec_env",
]
__version__ = "0.1.0"

ENV_ID = "racerl/DeepRacer-v0"
if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="racerl.envs.single:RacerEnv",
                 vector_entry_point="racerl.envs.vector:RacerVectorEnv")
