"""Action spaces in DeepRacer's ``model_metadata.json`` layout (reference section 5).

A discrete space is a list of ``{"steering_angle": deg, "speed": m/s}`` items, the list
position being the action id (``index`` is written but ignored, as in DeepRacer). A
continuous space gives ``low``/``high`` for steering and speed; the policy acts in a
normalised box [-1, 1]² that maps linearly onto those ranges (order: steering, speed), which
is what DeepRacer's PPO does and what stable-baselines3 expects.

Limits are the console's (droa): 2-30 discrete actions, speed 0.1-4 m/s, steering −30..30°.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from racerl.errors import ActionSpaceError

if TYPE_CHECKING:
    import gymnasium

SPEED_RANGE = (0.1, 4.0)
STEERING_LIMIT = 30.0
DISCRETE_COUNT = (2, 30)


@dataclass(frozen=True)
class DiscreteActions:
    """A fixed menu of (steering_angle, speed) pairs."""

    steering: tuple[float, ...]
    speed: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.steering)

    def gym_space(self) -> gymnasium.spaces.Discrete:
        import gymnasium  # here, not above: the car runtime reads action spaces without it

        return gymnasium.spaces.Discrete(self.n)

    def to_physical(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Action ids to (steering degrees, speed m/s) arrays."""
        idx = np.asarray(action, dtype=np.int64)
        return np.asarray(self.steering)[idx], np.asarray(self.speed)[idx]

    def to_metadata(self) -> dict:
        items = [{"steering_angle": s, "speed": v, "index": i}
                 for i, (s, v) in enumerate(zip(self.steering, self.speed, strict=True))]
        return {"action_space": items, "action_space_type": "discrete"}


@dataclass(frozen=True)
class ContinuousActions:
    """Steering and speed ranges; the policy acts in [-1, 1] and is mapped onto them."""

    steering_low: float
    steering_high: float
    speed_low: float
    speed_high: float

    def gym_space(self) -> gymnasium.spaces.Box:
        import gymnasium

        return gymnasium.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def to_physical(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised actions (..., 2), clipped to [-1, 1], to (steering, speed) arrays."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        half = (a + 1.0) * 0.5
        steer = self.steering_low + half[..., 0] * (self.steering_high - self.steering_low)
        speed = self.speed_low + half[..., 1] * (self.speed_high - self.speed_low)
        return steer, speed

    def to_metadata(self) -> dict:
        return {"action_space": {"steering_angle": {"low": self.steering_low,
                                                    "high": self.steering_high},
                                 "speed": {"low": self.speed_low, "high": self.speed_high}},
                "action_space_type": "continuous"}


ActionSpace = DiscreteActions | ContinuousActions


def default_action_space(max_steering: float = 30.0, steering_levels: int = 5,
                         max_speed: float = 1.0, speed_levels: int = 2) -> DiscreteActions:
    """The console's default discrete space: 5 steering x 2 speed levels (reference 5).

    Steering runs from right to left in the outer loop, speed upwards in the inner loop:
    0 = (−30°, 0.5), 1 = (−30°, 1.0), 2 = (−15°, 0.5), … 9 = (30°, 1.0).
    """
    steering, speed = [], []
    for k in range(steering_levels):
        angle = -max_steering + 2.0 * max_steering * k / (steering_levels - 1)
        for j in range(1, speed_levels + 1):
            steering.append(float(angle))
            speed.append(float(max_speed * j / speed_levels))
    return DiscreteActions(tuple(steering), tuple(speed))


RACING_ACTIONS = ContinuousActions(-STEERING_LIMIT, STEERING_LIMIT, 1.0, SPEED_RANGE[1])
"""The racing preset's space: the console's whole steering range and 1 to 4 m/s.

Measured (README, "Racing"): on ``loop``, with the progress reward, PPO learned laps within
1.05x of the race line in about 200,000 env steps with this space; a 15-action discrete menu
(5 steering x 1.3/2.6/4.0 m/s) reached 1.26x in the same budget. Speeds below 1 m/s only
teach crawling, and the race line itself never drops below about 1.5 m/s on the built-in
tracks.
"""
NAMED_ACTION_SPACES: dict[str, ActionSpace] = {"racing": RACING_ACTIONS}
"""Action spaces a config can name instead of giving a model_metadata.json path."""


def load_action_space(source: str | Path | dict | list | ActionSpace | None) -> ActionSpace:
    """An action space from a model_metadata.json path, its parsed dict, the bare
    ``action_space`` value (a discrete list or a continuous range), a name from
    :data:`NAMED_ACTION_SPACES`, or ``None`` (the console's default)."""
    if source is None:
        return default_action_space()
    if isinstance(source, DiscreteActions | ContinuousActions):
        return source
    if isinstance(source, str) and source in NAMED_ACTION_SPACES:
        return NAMED_ACTION_SPACES[source]
    label = "action space"
    if isinstance(source, list):  # a bare discrete list, as in model_metadata's action_space
        source = {"action_space": source, "action_space_type": "discrete"}
    elif isinstance(source, dict) and "action_space" not in source \
            and {"steering_angle", "speed"} <= source.keys():  # a bare continuous range
        source = {"action_space": source, "action_space_type": "continuous"}
    if not isinstance(source, dict):
        path = Path(source)
        label = str(path)
        try:
            source = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ActionSpaceError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ActionSpaceError(f"{path}: not valid JSON ({exc})") from None
    return parse_action_space(source, label)


def parse_action_space(meta: object, label: str = "action space") -> ActionSpace:
    """Validate a model_metadata dict and build its action space; errors name ``label``."""
    if not isinstance(meta, dict) or "action_space" not in meta:
        raise ActionSpaceError(f"{label}: expected a JSON object with an 'action_space' key "
                               "(model_metadata.json layout)")
    kind = meta.get("action_space_type", "discrete")
    space = meta["action_space"]
    if kind == "discrete":
        return _parse_discrete(space, label)
    if kind == "continuous":
        return _parse_continuous(space, label)
    raise ActionSpaceError(f"{label}: action_space_type must be 'discrete' or 'continuous', "
                           f"not {kind!r}")


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ActionSpaceError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _parse_discrete(space: object, label: str) -> DiscreteActions:
    if not isinstance(space, list):
        raise ActionSpaceError(f"{label}: a discrete action_space must be a list of "
                               "{'steering_angle', 'speed'} objects")
    lo, hi = DISCRETE_COUNT
    if not lo <= len(space) <= hi:
        raise ActionSpaceError(f"{label}: a discrete action space needs {lo}-{hi} actions, "
                               f"it has {len(space)}")
    steering, speed = [], []
    for i, item in enumerate(space):
        where = f"{label}: action {i}"
        if not isinstance(item, dict) or not {"steering_angle", "speed"} <= item.keys():
            raise ActionSpaceError(f"{where} needs 'steering_angle' and 'speed'")
        s = _number(item["steering_angle"], f"{where} steering_angle")
        v = _number(item["speed"], f"{where} speed")
        if abs(s) > STEERING_LIMIT:
            raise ActionSpaceError(f"{where} steering_angle {s} is outside −30..30 degrees")
        if not SPEED_RANGE[0] <= v <= SPEED_RANGE[1]:
            raise ActionSpaceError(f"{where} speed {v} is outside 0.1..4 m/s")
        steering.append(s)
        speed.append(v)
    return DiscreteActions(tuple(steering), tuple(speed))


def _parse_continuous(space: object, label: str) -> ContinuousActions:
    ranges = {}
    for key in ("steering_angle", "speed"):
        entry = space.get(key) if isinstance(space, dict) else None
        if not isinstance(entry, dict) or not {"low", "high"} <= entry.keys():
            raise ActionSpaceError(f"{label}: a continuous action_space needs "
                                   f"'{key}': {{'low': .., 'high': ..}}")
        low = _number(entry["low"], f"{label}: {key} low")
        high = _number(entry["high"], f"{label}: {key} high")
        if not low < high:
            raise ActionSpaceError(f"{label}: {key} low ({low}) must be below high ({high})")
        ranges[key] = (low, high)
    s_lo, s_hi = ranges["steering_angle"]
    v_lo, v_hi = ranges["speed"]
    if s_lo < -STEERING_LIMIT or s_hi > STEERING_LIMIT:
        raise ActionSpaceError(f"{label}: steering range {s_lo}..{s_hi} exceeds −30..30 degrees")
    if v_lo < SPEED_RANGE[0] or v_hi > SPEED_RANGE[1]:
        raise ActionSpaceError(f"{label}: speed range {v_lo}..{v_hi} exceeds 0.1..4 m/s")
    return ContinuousActions(s_lo, s_hi, v_lo, v_hi)
