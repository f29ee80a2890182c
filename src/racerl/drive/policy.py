"""A trained policy as a controller: observations in, the batch's commands out.

It lives with the other controllers so that anyone who drives a policy, the evaluation and
the trainer's own evaluation laps alike, drives it the same way through
:func:`racerl.drive.rollout.rollout`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from racerl.camera.sensors import Sensors
from racerl.drive.rollout import Commands, Controller
from racerl.envs.actions import ActionSpace, ContinuousActions
from racerl.envs.cars import Observation
from racerl.sim.vehicle import CarState, VehicleParams
from racerl.track.geometry import Track


class PolicyDriver:
    """A trained policy: ``policy(obs_batch)`` returns action ids or normalised boxes
    (``obs_batch``: the images, or one array per sensor for a model with a lidar)."""

    def __init__(self, policy: Callable[[np.ndarray], np.ndarray], actions: ActionSpace,
                 label: str, observation: str = "camera", rgb: bool = False,
                 frame_stack: int = 1, sensors: Sensors | None = None):
        self.policy = policy
        self.actions = actions
        self.label = label
        self.observation, self.rgb, self.frame_stack = observation, rgb, frame_stack
        self.sensors = sensors or Sensors()
        """What the policy sees besides (or instead of) the front camera."""

    def controller(self, track: Track, vehicle: VehicleParams) -> Controller:
        return self

    def act(self, car: CarState, obs: Observation | None) -> Commands:
        action = np.asarray(self.policy(obs))
        steering, speed = self.actions.to_physical(action)
        # A discrete action is logged by its id; a continuous one by the command itself,
        # which the trace writer reads from the params.
        labels = None if isinstance(self.actions, ContinuousActions) else \
            [int(a) for a in action.reshape(-1)]
        return Commands(steering, speed, labels)
