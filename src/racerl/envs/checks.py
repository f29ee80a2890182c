"""What the envs accept, checked at the door: actions against the action space, the car
count of a batch, seeds, and the arguments a typo can turn into the wrong type.

A bad action must never reach the simulator: a NaN steering angle becomes a NaN pose and a
NaN params dict that the user's reward function then scores, and an id of -1 silently
picks the last action of the menu. So every action is checked, by Gymnasium's rules:

* **Discrete** (``Discrete(n)``): ``Discrete.contains``. An action is a Python ``int`` or a
  NumPy integer scalar (or 0-d integer array) in ``0 .. n-1``; floats (even ``3.0``),
  strings and arrays of shape ``(1,)`` are refused. One stricter rule than Gymnasium:
  ``True``/``False`` are refused too (``Discrete.contains(True)`` holds only because
  ``bool`` subclasses ``int``; a bool where an id belongs is a bug).
* **Continuous** (``Box(-1, 1, (2,))``): ``Box.contains``, so NaN, infinities, a value
  outside ``[-1, 1]``, a scalar or a wrong shape are refused; nothing is clipped behind the
  caller's back (``gymnasium.wrappers.ClipAction`` clips, for policies whose raw output
  wanders). One looser rule: any real dtype is accepted (``Box.contains`` refuses
  ``float64`` for a ``float32`` box, yet ``np.array([0.0, 1.0])`` is a plain action).
* **A batch** (the vector env): one such action per car, shape ``(n,)`` of integers or
  ``(n, 2)`` of reals, checked with a few whole-array operations (no Python loop per car),
  so the check costs microseconds next to a batch step.

A refused action raises :class:`InvalidActionError`, which is both Gymnasium's
``gymnasium.error.InvalidAction`` (what CarRacing raises) and a ``ValueError`` (what a
failed ``contains`` means), with a message naming the action and the space.
"""

from __future__ import annotations

import math
import numbers
from typing import NoReturn

import gymnasium as gym
import numpy as np

MAX_CARS = 4096
"""The most cars one vector env holds (``TrainConfig.n_envs`` has the same cap). Each car
keeps its own reward-function instance, episode state and camera frames: about 0.2 MiB
with grey frames and about 2 MiB with ``rgb=True, frame_stack=4`` (measured with 1000
cars), so 4096 cars take roughly 1 to 8 GiB, and a million would need hundreds."""

CONTINUOUS_RULE = ("an action is an array of 2 finite numbers (steering, speed) within "
                   "[-1, 1]")


class InvalidActionError(gym.error.InvalidAction, ValueError):
    """An action that is not in the env's action space; the message names both."""


def single_action(space: gym.spaces.Discrete | gym.spaces.Box, action: object) -> np.ndarray:
    """``action`` for one car as a batch of one (shape ``(1,)`` or ``(1, 2)``), or
    :class:`InvalidActionError` naming the action and ``space``."""
    if isinstance(space, gym.spaces.Discrete):
        return np.array([_action_id(space, action)], dtype=np.int64)
    if isinstance(action, str | bytes):
        _refuse(action, space, "a string is not an action")
    try:
        a = np.asarray(action)
    except ValueError:  # a ragged list
        _refuse(action, space, CONTINUOUS_RULE)
    if a.dtype.kind not in "iuf":
        _refuse(action, space, f"its values are {a.dtype}, not numbers; {CONTINUOUS_RULE}")
    if a.shape != space.shape:
        what = "a scalar" if a.ndim == 0 else f"of shape {a.shape}"
        _refuse(action, space, f"it is {what}; {CONTINUOUS_RULE}")
    batch = a[None]
    problem = _out_of_bounds(space, batch)
    if problem is not None:
        _refuse(action, space, problem[1])
    return batch


def batch_actions(space: gym.spaces.Discrete | gym.spaces.Box, actions: object,
                  n: int) -> np.ndarray:
    """``actions`` for ``n`` cars, each one in ``space`` (the space of one car), as an array
    (shape ``(n,)`` or ``(n, 2)``); or :class:`InvalidActionError` naming the first bad
    action, its car and ``space``. Whole-array checks: this runs on every batch step."""
    a = np.asarray(actions)
    shape = (n, *space.shape)
    if a.shape != shape:
        raise InvalidActionError(
            f"actions of shape {a.shape} for {n} cars: the batch takes one action per car, "
            f"shape {shape}, each in the action space {space}")
    if isinstance(space, gym.spaces.Discrete):
        if a.dtype.kind not in "iu":
            raise InvalidActionError(f"actions of dtype {a.dtype} for the action space "
                                     f"{space}: {_discrete_rule(space)}")
        if a.min() < 0 or a.max() >= space.n:
            car = int(np.flatnonzero((a < 0) | (a >= space.n))[0])
            _refuse(a[car].item(), space, _discrete_rule(space), car)
        return a
    if a.dtype.kind not in "iuf":
        raise InvalidActionError(f"actions of dtype {a.dtype} for the action space {space}: "
                                 f"{CONTINUOUS_RULE}")
    problem = _out_of_bounds(space, a)
    if problem is not None:
        car, why = problem
        _refuse(a[car].tolist(), space, why, car)
    return a


def _discrete_rule(space: gym.spaces.Discrete) -> str:
    return f"an action is an integer id from 0 to {space.n - 1}"


def _action_id(space: gym.spaces.Discrete, action: object) -> int:
    """The action id, by ``Discrete.contains`` (less bools), else a clear refusal."""
    if isinstance(action, bool | np.bool_):
        _refuse(action, space, f"a bool is not an action id; {_discrete_rule(space)}")
    integral = isinstance(action, int) or (
        isinstance(action, np.generic | np.ndarray) and action.dtype.kind in "iu"
        and action.shape == ())
    if not integral or not 0 <= int(action) < space.n:
        _refuse(action, space, _discrete_rule(space))
    return int(action)


def _out_of_bounds(space: gym.spaces.Box, a: np.ndarray) -> tuple[int, str] | None:
    """The first row of ``a`` (one action per row) holding NaN, an infinity or a value
    outside the box, and what is wrong with it; None when every row is inside. One
    comparison pass: NaN fails ``low <= x <= high`` like any value outside."""
    inside = (a >= space.low) & (a <= space.high)
    if inside.all():
        return None
    row = int(np.flatnonzero(~inside.all(axis=1))[0])
    bad = a[row][~inside[row]]
    if not np.isfinite(bad).all():
        return row, f"it holds {bad[~np.isfinite(bad)][0]}; {CONTINUOUS_RULE}"
    return row, (f"{bad[0]} is outside [{space.low.min()}, {space.high.max()}] (clip it, "
                 "e.g. with gymnasium.wrappers.ClipAction, if your policy's output wanders)")


def _refuse(action: object, space: gym.Space, why: str, car: int | None = None) -> NoReturn:
    """Raise for one action: the caller's own object with its type, or car ``car``'s row
    of a batch."""
    what = f"action {action!r} ({type(action).__name__})" if car is None else \
        f"action {action} of car {car}"
    raise InvalidActionError(f"{what} is not in the action space {space}: {why}")


def car_count(value: object, name: str = "num_envs") -> int:
    """A positive whole number of cars up to :data:`MAX_CARS`, or a message saying why not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number of cars, not {value!r} "
                        f"({type(value).__name__})")
    if not 1 <= value <= MAX_CARS:
        raise ValueError(f"{name} must be from 1 to {MAX_CARS}, not {value}: every car holds "
                         "its own reward function, episode state and camera frames (about "
                         "0.2 MiB grey, 2 MiB with rgb and frame_stack=4)")
    return int(value)


def positive_ints(values: object, n: int, name: str) -> np.ndarray:
    """One whole number of at least 1 per car (``n`` of them), as an int64 array."""
    array = np.asarray(values)
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be a whole number or {n} of them (one per car), not "
                        f"an array of shape {array.shape} and type {array.dtype}")
    if array.min() < 1:
        raise ValueError(f"{name} must be at least 1 for every car, not {array.min()}")
    return array.astype(np.int64)


def positive_int(value: object, name: str) -> int:
    """``value`` if it is a whole number of at least 1, else a message naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, not {value!r} "
                        f"({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return int(value)


def batch_seeds(seed: object, n: int) -> list[int | None] | None:
    """Per-car seeds of a vector reset: ``None``, one int (car ``i`` gets ``seed + i``,
    Gymnasium's convention) or a list of ``n`` ints or ``None``; a clear error otherwise."""
    if seed is None:
        return None
    if _is_seed(seed):
        return [int(seed) + i for i in range(n)]
    if isinstance(seed, list | tuple | np.ndarray) and len(seed) == n \
            and all(s is None or _is_seed(s) for s in seed):
        return [None if s is None else int(s) for s in seed]
    raise TypeError(f"seed must be None, a non-negative int or a list of {n} of them (one per "
                    f"car), not {seed!r}")


def _is_seed(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 0


def start_fraction(value: object) -> float | None:
    """The ``start_ndist`` reset option: ``None`` or a finite fraction of the lap (the
    simulator takes it modulo 1, so 1.25 starts a quarter of the way round)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value):
        raise ValueError("options['start_ndist'] must be a finite fraction of the lap "
                         f"(0.5 = halfway), not {value!r}")
    return float(value)
