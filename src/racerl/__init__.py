"""racerl: an open, local, fast re-creation of AWS DeepRacer.

The public API is small: :func:`make_env` (or ``gymnasium.make("racerl/DeepRacer-v0")``
after ``import racerl``), :func:`make_vec_env`, :func:`load_track`,
:func:`load_reward_function` and :func:`load_action_space`. The packages follow the flow of
data (see docs/architecture.md): track, reward, sim, camera, envs, drive, model, train, then
evaluate, lab, edge and viz, and the command line.

Importing racerl is cheap: each public name loads its module on first use, so the car
runtime (``racerl drive`` on onnxruntime) never loads the simulator, Gymnasium or torch.
"""

from __future__ import annotations

import importlib
import sys
import types

from racerl.envs.registration import ENV_ID, register_with_gymnasium
from racerl.errors import ActionSpaceError, RacerlError, RewardFunctionError, TrackError
from racerl.track import DEFAULT_TRACK

# With TensorFlow installed (racerl[car]), torch's tensorboard writer, which
# stable-baselines3 loads, would import all of TensorFlow into every training process:
# seconds of start-up and TensorFlow's log lines, for a trainer that never uses it.
# tensorboard's own switch, a module named tensorboard.compat.notf, keeps it on its built-in
# TensorFlow stub, as without TensorFlow; racerl.edge.car imports TensorFlow itself.
sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))

_LAZY = {
    "RacerEnv": "racerl.envs.single",
    "make_env": "racerl.envs.single",
    "RacerVectorEnv": "racerl.envs.vector",
    "make_vec_env": "racerl.envs.vector",
    "load_track": "racerl.track.catalog",
    "load_reward_function": "racerl.reward.function",
    "load_action_space": "racerl.envs.actions",
}

__all__ = [
    "DEFAULT_TRACK",
    "ENV_ID",
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


def __getattr__(name: str):
    """Load a public name's module the first time the name is used."""
    if name not in _LAZY:
        raise AttributeError(f"module 'racerl' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


register_with_gymnasium()
