"""The Gymnasium environment: one DeepRacer car on one track, driven by a reward function.

``RacerEnv`` is a thin shell over :class:`~racerl.envs.cars.Racers` with one car, the same
core the batched :class:`~racerl.envs.vector.RacerVectorEnv` uses, so a user can debug with one
car what trains with many. ``help(racerl.RacerEnv)`` shows this manual.

## Action space
From a ``model_metadata.json`` action space (reference section 5): ``Discrete(n)`` over the
listed (steering, speed) pairs, by default the console's 10 actions (5 steering levels up to
±30°, speeds 0.5 and 1.0 m/s); or, for a continuous space, ``Box(-1, 1, (2,))`` mapped
linearly onto [low, high] of steering (degrees) and speed (m/s).

``step`` takes only actions in the space, by Gymnasium's ``contains``: an int (or NumPy
integer) id in ``0 .. n-1``, or 2 finite numbers in [-1, 1]. Anything else (``-1``,
``1.5``, ``"3"``, NaN, a scalar or a wrong shape for a continuous space) raises
:class:`~racerl.envs.checks.InvalidActionError`, a ``ValueError`` and
``gymnasium.error.InvalidAction`` whose message names the action and the space; nothing is
clipped (see :mod:`racerl.envs.checks`).

## Observation space
``observation="camera"`` (default): DeepRacer's front camera, ``Box(0, 255, (120, 160, C),
uint8)``, channels last, grey (C = 1) or ``rgb=True`` (C = 3), times ``frame_stack`` (the
newest frame last). ``observation="state"``: a float32 vector of 17 values (speed, steering,
offset from the centre line, heading error, the centre line ahead in the car's frame; see
:func:`racerl.envs.cars.state_observation`).

``sensor`` (model_metadata.json's list; README "Sensors") adds DeepRacer's other sensors:
``["STEREO_CAMERAS"]`` makes the image ``(120, 160, 2 x frame_stack)`` (left and right
grey images); a lidar (``LIDAR``, ``SECTOR_LIDAR``, ``DISCRETIZED_SECTOR_LIDAR`` with
``lidar_config``) makes the observation a ``Dict`` keyed by the sensor names: the camera's
image Box and the lidar's float32 Box of 64, 8 or sectors x values.

## Rewards
Exactly what the user's ``reward_function(params)`` returns on each RUN step, 0.0 on the
PREPARE step (the first step of an episode, where DeepRacer does not call it).
``info["params"]`` is the params dict of the step (on RUN steps, the values the function
was called with).

## Starting state
On the centre line, heading at the next waypoint, standing still. ``start="round_robin"``
(default, training) cycles the start through 20 points 5 % of the lap apart (a reset
with a seed restarts that cycle, so seeded resets are reproducible; ``round_robin_step``
and ``start_offset`` set the step and the first start, DeepRacer's
``ROUND_ROBIN_ADVANCE_DIST`` and ``START_POSITION_OFFSET``); ``start="line"``
(evaluation) always starts at ``start_offset``, by default waypoint 0.
``reset(options={"start_ndist": f})`` starts at fraction ``f`` of the lap. ``lighting``
names a preset of :mod:`racerl.camera.lighting` (``studio`` by default, ``random`` for
randomisation), drawn anew for every episode from the seed.

## Episode end
Terminated on ``lap_complete``, ``off_track``, ``crashed``, ``immobilized`` or ``reversed``
(``info["status"]``); truncated after ``max_steps`` steps. ``step`` before the first
``reset``, or after an episode ended, raises ``gymnasium.error.ResetNeeded``, every time
and before anything moves. For a step before reset that is what Gymnasium's
``OrderEnforcing`` wrapper (part of ``gymnasium.make``) raises; after the end, where
Gymnasium's classic-control envs only log a warning and drive on, we raise: DeepRacer
never drives on after an episode ends, and a car stepped past its end would feed the
reward function params from beyond its episode.

## Arguments
``track`` (name, path or Track), ``reward_function`` (path, example name or callable;
default the follow-centre-line example), ``action_space`` (model_metadata path or dict),
``observation``, ``sensor``, ``lidar_config``, ``rgb``, ``frame_stack``, ``lighting``,
``render_mode`` (``"rgb_array"``:
top-down view with the trail), ``start``, ``start_offset``, ``round_robin_step``,
``max_steps``, ``reverse`` (drive the track the other way; a ``_cw``/``_ccw`` track name
does too), ``alternate_direction`` (turn round after every episode), ``seed`` (used by the
first reset). The batched env also takes a list of tracks (see
:class:`~racerl.envs.vector.RacerVectorEnv`).

## Version history
* v0: camera and state observations, lighting presets, DeepRacer params and episode rules.
  Actions outside the space and steps out of order are refused, not driven. Stereo cameras
  and lidars (``sensor``, ``lidar_config``) added; the front camera's Box is unchanged.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np

from racerl.envs.cars import Racers, take
from racerl.envs.checks import single_action, start_fraction
from racerl.sim.state import Status
from racerl.track import DEFAULT_TRACK


class RacerEnv(gym.Env):
    __doc__ = __doc__

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, track=DEFAULT_TRACK, reward_function=None, action_space=None,
                 observation: str = "camera", render_mode: str | None = None,
                 seed: int | None = None, **kwargs):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', not {render_mode!r}")
        self.racers = Racers(1, track=track, reward_function=reward_function,
                             action_space=action_space, observation=observation, **kwargs)
        self.sim = self.racers.sim
        self.track = self.racers.track
        self.actions = self.racers.actions
        self.action_space = self.racers.single_action_space
        self.observation_space = self.racers.single_observation_space
        self.render_mode = render_mode
        self._first_seed = seed
        self._trail: list[tuple[float, float]] = []
        self._renderer = None
        self._reset_needed: str | None = "before calling env.reset()"
        """Why ``step`` may not run now, or None while an episode is under way."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._first_seed is not None:
            seed, self._first_seed = self._first_seed, None
        super().reset(seed=seed)
        start = start_fraction((options or {}).get("start_ndist"))
        obs = take(self.racers.reset(np.array([0]), seeds=[seed], start_ndist=start), 0)
        self._reset_needed = None
        self._trail = [(float(self.sim.car.x[0]), float(self.sim.car.y[0]))]
        return obs, {"status": Status.PREPARE, "start_ndist": float(self.sim.state.start_ndist[0])}

    def step(self, action):
        if self._reset_needed is not None:
            raise gym.error.ResetNeeded(f"Cannot call env.step() {self._reset_needed}")
        result = self.racers.step(single_action(self.action_space, action))
        self._trail.append((float(self.sim.car.x[0]), float(self.sim.car.y[0])))
        info = step_info(result.params[0], result.status[0], float(result.lap_time[0]))
        if result.terminated[0] or result.truncated[0]:
            ended = f"terminated: {result.status[0]}" if result.terminated[0] else \
                f"truncated after max_steps={self.sim.max_steps}"
            self._reset_needed = (f"after the episode ended ({ended}); call env.reset() to "
                                  "start the next one")
        return (take(result.obs, 0), float(result.rewards[0]), bool(result.terminated[0]),
                bool(result.truncated[0]), info)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            from racerl.camera.topdown import TopDownRenderer

            self._renderer = TopDownRenderer(self.track)
        car = self.sim.car
        pose = np.array([[car.x[0], car.y[0], car.yaw[0]]])
        return self._renderer.draw(pose, [np.array(self._trail)])


def step_info(params: dict, status: str, lap_time: float) -> dict:
    """The info dict of one car's step."""
    info = {"params": params, "status": status, "progress": params["progress"],
            "steps": params["steps"]}
    if status == Status.LAP_COMPLETE:
        info["lap_time"] = lap_time
    return info


def make_env(track=DEFAULT_TRACK, reward_function=None, action_space=None,
             seed: int | None = None, **kwargs) -> RacerEnv:
    """A ready :class:`RacerEnv`; ``kwargs`` are the remaining constructor arguments."""
    return RacerEnv(track=track, reward_function=reward_function, action_space=action_space,
                    seed=seed, **kwargs)
