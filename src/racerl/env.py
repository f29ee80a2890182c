"""The Gymnasium environment: one DeepRacer car on one track, driven by a reward function.

``RacerEnv`` is a thin shell over :class:`~racerl.sim.BatchSim` with one car, so a user can
debug with one car what the batched simulator trains with many.

## Action space
From a ``model_metadata.json`` action space (reference section 5): ``Discrete(n)`` over the
listed (steering, speed) pairs, by default the console's 10 actions (5 steering levels up to
±30°, speeds 0.5 and 1.0 m/s); or, for a continuous space, ``Box(-1, 1, (2,))`` mapped
linearly onto [low, high] of steering (degrees) and speed (m/s).

## Observation space
``observation="state"``: a float32 vector of 17 values (until the camera arrives):
actual speed / 4, actual steering / 30°, signed offset from the centre line in half-widths
(left positive), sin and cos of the heading error to the track direction, and the centre
line 0.3, 0.6, 1, 1.5, 2 and 3 m ahead as (x, y) in the car's frame divided by 3 m.
Everything is clipped to [-10, 10].

## Rewards
Exactly what the user's ``reward_function(params)`` returns on each RUN step, 0.0 on the
PREPARE step (the first step of an episode), as in DeepRacer. ``info["params"]`` is the dict
the function was called with.

## Starting state
On the centre line, heading at the next waypoint, standing still. ``start="round_robin"``
(default, training) cycles the start through 20 points 5 % of the lap apart (a reset
with a seed restarts that cycle, so seeded resets are reproducible);
``start="line"`` (evaluation) always starts at waypoint 0. ``reset(options={"start_ndist":
f})`` starts at fraction ``f`` of the lap.

## Episode end
Terminated on ``lap_complete``, ``off_track``, ``crashed``, ``immobilized`` or ``reversed``
(``info["status"]``); truncated after ``max_steps`` steps.

## Arguments
``track`` (name, path or Track), ``reward_function`` (path, example name or callable;
default the follow-centre-line example), ``action_space`` (model_metadata path or dict),
``observation``, ``render_mode`` (``"rgb_array"``: top-down view with the trail), ``start``,
``max_steps``, ``reverse`` (drive the track the other way), ``seed`` (used by the first reset).

## Version history
* v0: state observation, DeepRacer params and episode rules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import gymnasium as gym
import numpy as np

from racerl.actions import ActionSpace, load_action_space
from racerl.catalog import DEFAULT_TRACK, load_track
from racerl.reward import RewardFunction, load_reward_function
from racerl.sim import DEFAULT_MAX_STEPS, BatchSim
from racerl.track import Track
from racerl.vehicle import VehicleParams

LOOKAHEAD_M = (0.3, 0.6, 1.0, 1.5, 2.0, 3.0)
STATE_SIZE = 5 + 2 * len(LOOKAHEAD_M)
STATE_LIMIT = 10.0


def state_observation(sim: BatchSim) -> np.ndarray:
    """(N, 17) float32 state vectors for every car of a batch (see the module docstring)."""
    car, geo, track = sim.car, sim.geometry, sim.track
    half_width = np.maximum(0.5 * geo.track_width, 1e-6)
    offset = np.where(geo.is_left_of_center, 1.0, -1.0) * geo.distance_from_center / half_width
    error = car.yaw - geo.track_heading
    arc = geo.ndist[:, None] * track.length + np.asarray(LOOKAHEAD_M)[None, :]
    ahead, _ = track.center.interpolate(arc)
    dx, dy = ahead[..., 0] - car.x[:, None], ahead[..., 1] - car.y[:, None]
    c, s = np.cos(car.yaw)[:, None], np.sin(car.yaw)[:, None]
    local = np.stack([c * dx + s * dy, -s * dx + c * dy], axis=-1) / 3.0
    obs = np.concatenate([
        np.stack([car.speed / 4.0, np.degrees(car.steering) / 30.0, offset,
                  np.sin(error), np.cos(error)], axis=-1),
        local.reshape(len(car.x), -1),
    ], axis=-1)
    return np.clip(obs, -STATE_LIMIT, STATE_LIMIT).astype(np.float32)


class RacerEnv(gym.Env):
    """One DeepRacer car on a track (see the module docstring for the full manual)."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, track: str | Path | Track = DEFAULT_TRACK,
                 reward_function: str | Path | Callable | RewardFunction | None = None,
                 action_space: str | Path | dict | ActionSpace | None = None,
                 observation: str = "state", render_mode: str | None = None,
                 start: str = "round_robin", max_steps: int = DEFAULT_MAX_STEPS,
                 reverse: bool = False, seed: int | None = None,
                 vehicle: VehicleParams | None = None):
        if observation != "state":
            raise ValueError(f"observation must be 'state', not {observation!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', not {render_mode!r}")
        self.track = load_track(track, reverse=reverse)
        if not isinstance(reward_function, RewardFunction):
            reward_function = load_reward_function(reward_function or "follow_center_line")
        self.actions = load_action_space(action_space)
        self.action_space = self.actions.gym_space()
        self.observation_space = gym.spaces.Box(-STATE_LIMIT, STATE_LIMIT, (STATE_SIZE,),
                                                dtype=np.float32)
        self.render_mode = render_mode
        self.sim = BatchSim(self.track, 1, reward=reward_function, vehicle=vehicle,
                            start=start, max_steps=max_steps)
        self._first_seed = seed
        self._trail: list[tuple[float, float]] = []
        self._renderer = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._first_seed is not None:
            seed, self._first_seed = self._first_seed, None
        super().reset(seed=seed)
        if seed is not None:
            self.sim.episodes_started[:] = 0  # a seed restarts the whole episode sequence
        start = (options or {}).get("start_ndist")
        self.sim.reset([0], start_ndist=start)
        self._trail = [(float(self.sim.car.x[0]), float(self.sim.car.y[0]))]
        return state_observation(self.sim)[0], {"status": "prepare",
                                                "start_ndist": float(self.sim.start_ndist[0])}

    def step(self, action):
        steering, speed = self.actions.to_physical(np.asarray(action)[None, ...])
        result = self.sim.step(steering, speed)
        self._trail.append((float(self.sim.car.x[0]), float(self.sim.car.y[0])))
        params = result.params[0]
        info = {"params": params, "status": result.status[0], "progress": params["progress"],
                "steps": params["steps"]}
        if result.status[0] == "lap_complete":
            info["lap_time"] = float(result.lap_time[0])
        return (state_observation(self.sim)[0], float(result.rewards[0]),
                bool(result.terminated[0]), bool(result.truncated[0]), info)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            from racerl.render import TopDownRenderer

            self._renderer = TopDownRenderer(self.track)
        car = self.sim.car
        pose = np.array([[car.x[0], car.y[0], car.yaw[0]]])
        return self._renderer.draw(pose, [np.array(self._trail)])


def make_env(track: str | Path | Track = DEFAULT_TRACK, reward_function=None,
             action_space=None, seed: int | None = None, **kwargs) -> RacerEnv:
    """A ready :class:`RacerEnv`; ``kwargs`` are the remaining constructor arguments."""
    return RacerEnv(track=track, reward_function=reward_function, action_space=action_space,
                    seed=seed, **kwargs)
