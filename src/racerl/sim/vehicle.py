"""Batched dynamics of the 1/18-scale DeepRacer car at the 15 Hz control rate.

The model is a kinematic bicycle about ``base_link`` (which sits mid-wheelbase) with three
additions so that driving has consequences:

* **Speed response** is a first-order lag (time constant ``speed_time_constant``) bounded by
  ``max_acceleration``/``max_deceleration``: a commanded 4 m/s is not reached at once.
* **Steering response** is rate-limited (``steering_rate``), like the car's servo.
* **Lateral grip**: the tyres hold at most ``lateral_grip`` m/s² of centripetal acceleration.
  Above it the yaw rate is capped at ``lateral_grip / v`` (the car slides outwards on a wider
  arc than it steers) and the slide scrubs speed (``slide_speed_loss``).

Where the numbers come from (shared/reference/deepracer-reference.md section 3):

==========================  =========  ===================================================
parameter                   value      source
==========================  =========  ===================================================
wheelbase                   0.163974   reference section 3 (URDF joint positions)
rear axle behind base_link  0.081663   reference section 3 (rear wheel joints)
wheel positions             see below  reference section 3 (URDF), used for the wheel test
commanded speed limits      0.1-4 m/s  reference section 3 (``MIN_SPEED``/``MAX_SPEED``)
steering limit              30 deg     reference section 3 (``MAX_ANGLE``)
lateral_grip                4.9 m/s²   Gazebo wheel friction mu = 0.5 times g (reference)
speed_time_constant         0.1 s      ours: DeepRacer does not publish a lag (section 13)
max_acceleration            6 m/s²     ours: reaches 4 m/s in under a second
max_deceleration            8 m/s²     ours
steering_rate               360 deg/s  ours: a hobby servo turns 60 deg in about 0.17 s
slide_speed_loss            2.0 1/s    ours: fraction of speed lost per second of full slide
==========================  =========  ===================================================

Each control step is integrated in ``substeps`` Euler sub-steps. Everything is arrays over
the batch; there is no per-car Python code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONTROL_DT = 1.0 / 15.0  # one step per camera frame (reference section 12)
MODEL_POINT_OFFSET = 0.14  # params x, y are 0.14 m ahead of base_link (reference 2.2)

# Wheel centres relative to base_link, (forward, left) in metres: rear-left, front-left,
# rear-right, front-right (reference section 3).
WHEEL_OFFSETS = np.array([
    [-0.081663, 0.08105],
    [0.082311, 0.079601],
    [-0.081663, -0.08105],
    [0.082311, -0.079601],
])


@dataclass(frozen=True)
class VehicleParams:
    """Physical constants of the car; see the module docstring for their sources."""

    wheelbase: float = 0.163974
    rear_axle_offset: float = 0.081663
    min_speed: float = 0.1
    max_speed: float = 4.0
    max_steering_deg: float = 30.0
    lateral_grip: float = 0.5 * 9.81
    speed_time_constant: float = 0.1
    max_acceleration: float = 6.0
    max_deceleration: float = 8.0
    steering_rate_deg: float = 360.0
    slide_speed_loss: float = 2.0
    substeps: int = 4


@dataclass
class CarState:
    """Struct-of-arrays state of N cars: ``base_link`` pose and actuator states."""

    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray  # radians, CCW from +x
    speed: np.ndarray  # m/s along the heading
    steering: np.ndarray  # radians, left positive

    @classmethod
    def zeros(cls, n: int) -> CarState:
        return cls(*(np.zeros(n) for _ in range(5)))

    def take(self, cars: np.ndarray) -> CarState:
        """A copy of the given cars' state (a sub-batch for one controller)."""
        return CarState(self.x[cars], self.y[cars], self.yaw[cars], self.speed[cars],
                        self.steering[cars])

    def model_point(self) -> np.ndarray:
        """(N, 2) point the reward function calls (x, y): 0.14 m ahead of base_link."""
        return np.stack([self.x + MODEL_POINT_OFFSET * np.cos(self.yaw),
                         self.y + MODEL_POINT_OFFSET * np.sin(self.yaw)], axis=-1)

    def wheel_positions(self) -> np.ndarray:
        """(N, 4, 2) wheel-centre positions in the track frame."""
        c, s = np.cos(self.yaw)[:, None], np.sin(self.yaw)[:, None]
        fx, fy = WHEEL_OFFSETS[:, 0], WHEEL_OFFSETS[:, 1]
        return np.stack([self.x[:, None] + c * fx - s * fy,
                         self.y[:, None] + s * fx + c * fy], axis=-1)


def clip_commands(steering_deg: np.ndarray, speed: np.ndarray,
                  params: VehicleParams) -> tuple[np.ndarray, np.ndarray]:
    """What the car can execute: speed to [0.1, 4] m/s, steering to ±30° (in radians)."""
    steer = np.radians(np.clip(steering_deg, -params.max_steering_deg, params.max_steering_deg))
    return steer, np.clip(speed, params.min_speed, params.max_speed)


def advance(state: CarState, steering_cmd: np.ndarray, speed_cmd: np.ndarray,
            params: VehicleParams, dt: float = CONTROL_DT,
            active: np.ndarray | None = None) -> None:
    """Integrate all cars for ``dt`` seconds under already-clipped commands, in place.

    ``active`` (bool per car) freezes the others, e.g. cars on their PREPARE step.
    """
    h = dt / params.substeps
    rate = np.radians(params.steering_rate_deg) * h
    lr_over_l = params.rear_axle_offset / params.wheelbase
    x, y, yaw, v, delta = state.x.copy(), state.y.copy(), state.yaw.copy(), \
        state.speed.copy(), state.steering.copy()
    for _ in range(params.substeps):
        dv = (speed_cmd - v) / params.speed_time_constant * h
        v = v + np.clip(dv, -params.max_deceleration * h, params.max_acceleration * h)
        delta = delta + np.clip(steering_cmd - delta, -rate, rate)
        tan_d = np.tan(delta)
        beta = np.arctan(lr_over_l * tan_d)  # slip angle of base_link
        yaw_rate = v * np.cos(beta) * tan_d / params.wheelbase
        lateral = np.abs(v * yaw_rate)
        sliding = lateral > params.lateral_grip
        if np.any(sliding):
            limit = params.lateral_grip / np.maximum(v, 1e-6)
            excess = np.where(sliding, 1.0 - params.lateral_grip / np.maximum(lateral, 1e-9), 0.0)
            yaw_rate = np.where(sliding, np.sign(yaw_rate) * limit, yaw_rate)
            v = v * (1.0 - params.slide_speed_loss * excess * h)
        x = x + v * np.cos(yaw + beta) * h
        y = y + v * np.sin(yaw + beta) * h
        yaw = yaw + yaw_rate * h
    yaw = (yaw + np.pi) % (2 * np.pi) - np.pi
    if active is None:
        active = np.ones(len(x), dtype=bool)
    for name, value in (("x", x), ("y", y), ("yaw", yaw), ("speed", v), ("steering", delta)):
        getattr(state, name)[active] = value[active]
