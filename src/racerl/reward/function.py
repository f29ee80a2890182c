"""Load a user's ``reward_function(params)`` from a file, and call it the way DeepRacer does.

DeepRacer imports the user's file as a module and calls ``reward_function`` with a fresh
copy of the params every RUN step. The return value goes through ``float()``; an exception,
``None``, a string, NaN, infinity or a value outside [-1e5, 1e5] ends the job with an error
(reference section 2.1). Nothing is clipped or replaced: a silent 0 would teach the car a
reward nobody wrote.

Every car gets its own module instance (:meth:`RewardFunction.instance`), because in
DeepRacer each car runs in its own worker process: a reward function that keeps state in
module globals (last progress, last position) must not see another car's values.
"""

from __future__ import annotations

import inspect
import math
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from racerl.errors import RewardFunctionError

REWARD_LIMIT = 1e5
EXAMPLES = ("follow_center_line", "stay_inside_borders", "prevent_zigzag", "progress")
DEFAULT_EXAMPLE = "follow_center_line"


def example_path(name: str) -> Path:
    """Path of a shipped example reward function (see :data:`EXAMPLES`)."""
    if name not in EXAMPLES:
        raise RewardFunctionError(f"no example reward function {name!r}; "
                                  f"examples: {', '.join(EXAMPLES)}")
    return Path(str(resources.files("racerl.examples") / "rewards" / f"{name}.py"))


@dataclass(frozen=True)
class RewardFunction:
    """A reward function's source, compiled once; :meth:`instance` gives an isolated copy."""

    label: str  # how errors name it: "reward_function in /path/file.py"
    code: types.CodeType | None = None
    func: Callable | None = None  # a plain callable passed in from Python

    def instance(self) -> Callable[[dict], object]:
        """A callable with its own module globals (a plain callable is shared as it is)."""
        if self.func is not None:
            return self.func
        module = types.ModuleType("reward_function_module")
        module.__file__ = self.label
        try:
            exec(self.code, module.__dict__)  # running the user's code is the point
        except Exception as exc:
            raise RewardFunctionError(
                f"{self.label}: importing the file raised {type(exc).__name__}: {exc}") from None
        func = module.__dict__.get("reward_function")
        if not callable(func):
            raise RewardFunctionError(f"{self.label}: the file defines no function "
                                      "'reward_function(params)'")
        _check_signature(func, self.label)
        return func

    def score(self, instances: Sequence[Callable[[dict], object]],
              params: Sequence[dict]) -> list[float]:
        """Each instance called on a deep copy of its params, judged by DeepRacer's rules."""
        return [call_reward(func, reward_copy(p), self.label)
                for func, p in zip(instances, params, strict=True)]

    def close(self) -> None:
        """Nothing to release: the code runs in this process."""


def load_reward_function(source: str | Path | Callable) -> RewardFunction:
    """Load ``reward_function`` from a .py file, an example name or a Python callable.

    Syntax errors, import errors and a missing or wrongly shaped function are reported here,
    before any driving, as :class:`RewardFunctionError` naming the file and the problem.
    """
    if callable(source):
        _check_signature(source, getattr(source, "__name__", repr(source)))
        return RewardFunction(label=getattr(source, "__qualname__", repr(source)), func=source)
    path = reward_file(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RewardFunctionError(f"{path}: cannot read the file ({exc})") from None
    try:
        code = compile(text, str(path), "exec")
    except SyntaxError as exc:
        raise RewardFunctionError(
            f"{path}: syntax error on line {exc.lineno}: {exc.msg}") from None
    reward = RewardFunction(label=f"reward_function in {path}", code=code)
    reward.instance()  # fail now, not on the first step, if the module is broken
    return reward


def reward_file(source: str | Path) -> Path:
    """The file behind a reward path or a shipped example's name; an error if there is none."""
    path = Path(source).expanduser()
    if not path.suffix and str(source) in EXAMPLES:
        path = example_path(str(source))
    if not path.is_file():
        hint = f" (or one of the examples: {', '.join(EXAMPLES)})" if not path.suffix else ""
        raise RewardFunctionError(f"{path}: no such reward function file{hint}")
    return path


def _check_signature(func: Callable, label: str) -> None:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return  # builtins and C callables: nothing to check
    try:
        sig.bind({})
    except TypeError:
        raise RewardFunctionError(
            f"{label}: reward_function must take exactly one argument (params), "
            f"its signature is {sig}") from None


def call_reward(func: Callable, params: dict, label: str) -> float:
    """Call one reward function on one params dict and return DeepRacer's ``float()`` of it."""
    try:
        value = func(params)
    except RewardFunctionError:
        raise  # already a full report (a sandboxed call that was stopped)
    except Exception as exc:
        raise _error(label, params, f"raised {type(exc).__name__}: {exc}") from exc
    if value is None or isinstance(value, (str, bytes)):
        raise _error(label, params, f"returned {value!r}; it must return a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _error(label, params, f"returned {value!r} of type {type(value).__name__}, "
                                    "which is not a number") from None
    if not math.isfinite(number):
        raise _error(label, params, f"returned {number}; rewards must be finite")
    if abs(number) > REWARD_LIMIT:
        raise _error(label, params, f"returned {number}, outside DeepRacer's "
                                    f"[-{REWARD_LIMIT:g}, {REWARD_LIMIT:g}]")
    return number


def _error(label: str, params: dict, what: str) -> RewardFunctionError:
    step = params.get("steps")
    return RewardFunctionError(f"{label} failed at step {step}: it {what}.\n"
                               f"params: {format_params(params)}", params=params, step=step,
                               problem=what)


def format_params(params: dict) -> str:
    """Params as one readable line, with the long waypoint list shortened."""
    parts = []
    for key, value in params.items():
        if key == "waypoints" and isinstance(value, list):
            parts.append(f"'waypoints': [{len(value)} points]")
        else:
            parts.append(f"{key!r}: {value!r}")
    return "{" + ", ".join(parts) + "}"


LIST_KEYS = ("waypoints", "closest_waypoints", "closest_objects", "objects_left_of_center",
             "objects_distance", "objects_distance_from_center", "objects_heading",
             "objects_speed")


def reward_copy(params: dict) -> dict:
    """The copy a reward function gets: DeepRacer passes a deep copy, so mutating it changes
    nothing. Scalars and tuples are immutable, so copying the lists (and the point lists in
    ``objects_location``) is a full deep copy, and much cheaper than ``copy.deepcopy``."""
    out = params.copy()
    for key in LIST_KEYS:
        out[key] = list(params[key])
    out["objects_location"] = [list(p) for p in params["objects_location"]]
    return out
