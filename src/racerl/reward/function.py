"""Load a user's ``reward_function(params)`` from a file, and call it the way DeepRacer does.

DeepRacer imports the user's file as a module and calls ``reward_function`` with a fresh
copy of the params every RUN step. The return value goes through ``float()``; an exception,
``None``, a string, NaN, infinity or a value outside [-1e5, 1e5] ends the job with an error
(reference section 2.1). Nothing is clipped or replaced: a silent 0 would teach the car a
reward nobody wrote.

Every car gets its own module instance (:meth:`RewardFunction.instance`), because in
DeepRacer each car runs in its own worker process: a reward function that keeps state in
module globals (last progress, last position) must not see another car's values.

The user's code runs in this process, so it could end the process itself: ``sys.exit``,
``os._exit``, raising ``KeyboardInterrupt``. A reward function that does so is broken like
one that raises, and is reported the same way: a :class:`RewardFunctionError` naming the
file, so that training stops with one line and a non-zero exit code instead of ending
silently, perhaps with status 0 (a CI job would pass it). A real Ctrl-C is not the reward
function's doing and stays a ``KeyboardInterrupt`` (:func:`watch_ctrl_c`).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from racerl.errors import RewardFunctionError

REWARD_LIMIT = 1e5
EXAMPLES = ("follow_center_line", "stay_inside_borders", "prevent_zigzag", "progress",
            "object_avoidance")
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
            with _UserCode():
                exec(self.code, module.__dict__)  # running the user's code is the point
        except _UserCodeError as failed:
            raise RewardFunctionError(f"{self.label}: importing the file {failed.what}") from None
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
    """Call one reward function on one params dict and return DeepRacer's ``float()`` of it.

    Anything the call does instead of returning a usable number — raise, exit, return
    ``None``, a string, an int too large for a float, an object whose ``__float__`` fails —
    is a :class:`RewardFunctionError` naming ``label`` and the params; only a real Ctrl-C
    (see :func:`watch_ctrl_c`) and a :class:`CallInterrupt` pass through unchanged.
    """
    try:
        with _UserCode():
            number = _number(func(params), label, params)  # float() may run user code too
    except _UserCodeError as failed:
        raise _error(label, params, failed.what) from failed.__cause__
    if not math.isfinite(number):
        raise _error(label, params, f"returned {number}; rewards must be finite")
    if abs(number) > REWARD_LIMIT:
        raise _error(label, params, f"returned {number}, outside DeepRacer's "
                                    f"[-{REWARD_LIMIT:g}, {REWARD_LIMIT:g}]")
    return number


def _number(value: object, label: str, params: dict) -> float:
    """DeepRacer's ``float(value)``, or the error that says why it is not a number."""
    if value is None or isinstance(value, (str, bytes)):
        raise _error(label, params, f"returned {_shown(value)}; it must return a number")
    try:
        return float(value)
    except OverflowError:
        size = (f" (about 10**{int(value.bit_length() * math.log10(2))})"
                if isinstance(value, int) else "")
        raise _error(label, params, f"returned a number too large for a float{size}; "
                                    "rewards must be finite") from None
    except (TypeError, ValueError):
        raise _error(label, params, f"returned {_shown(value)} of type "
                                    f"{type(value).__name__}, which is not a number") from None
    except Exception as exc:  # the value's own __float__ failed
        raise _error(label, params, f"returned an object of type {type(value).__name__} "
                                    f"whose conversion to a number raised "
                                    f"{type(exc).__name__}: {_text(exc)}") from None


class CallInterrupt(BaseException):
    """Raised into a reward call from outside it (a time limit's alarm): :func:`call_reward`
    lets it through for its sender to report. A BaseException, so that the user's own
    ``except Exception`` cannot swallow it."""


# -- code that tries to end the process ---------------------------------------------------


class _UserCode:
    """A block running the user's code: ``os._exit`` refused (:func:`_exit_refused`), and
    anything that ends the block other than finishing, a :class:`RewardFunctionError` (a
    report already), a :class:`CallInterrupt` or a real Ctrl-C becomes
    :class:`_UserCodeError`, saying what the code did. A plain class with attribute swaps,
    not a generator: it wraps every reward call, so it must cost well under a microsecond.
    The swap is process-wide while the block runs; nothing else in racerl calls ``os._exit``."""

    __slots__ = ("ctrl_c_before", "exits_before", "saved")

    def __enter__(self) -> None:
        self.ctrl_c_before = _CtrlCWatch.seen
        self.exits_before = _ExitRefused.calls
        self.saved = os._exit
        os._exit = _exit_refused
        if _posix is not None:
            _posix._exit = _exit_refused  # os._exit is posix._exit: one function, two names

    def __exit__(self, kind, exc, traceback) -> bool:
        # Never put the stand-in back as the real thing (nested or interleaved calls).
        os._exit = self.saved if self.saved is not _exit_refused else _REAL_EXIT
        if _posix is not None:
            _posix._exit = _REAL_EXIT
        if exc is None:
            if _ExitRefused.calls != self.exits_before:  # swallowed by the user's except
                raise _UserCodeError(_what_it_did(_ExitRefused(_ExitRefused.last_code)))
            return False
        if isinstance(exc, (RewardFunctionError, CallInterrupt)) \
                or not _raised_by_user_code(exc, self.ctrl_c_before):
            return False  # let it through unchanged
        raise _UserCodeError(_what_it_did(exc)) from _cause(exc)


class _UserCodeError(Exception):
    """The user's code did not finish: ``what`` says what it did ("raised ValueError: x")."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class _ExitRefused(BaseException):
    """What ``os._exit`` raises while racerl runs a reward function (:class:`_UserCode`)."""

    calls = 0  # os._exit calls refused so far, in this process
    last_code: object = None

    def __init__(self, code: object):
        super().__init__(code)
        self.code = code


def _exit_refused(code: object = 0) -> None:
    """Stands in for ``os._exit`` during a reward call.

    ``os._exit`` ends the process at once, with no exception to catch and whatever status
    the function chose — ``os._exit(0)`` would end a training run or a ``racerl reward
    check`` in CI silently and successfully. So while the user's code runs, this raises
    instead; the call counts it even if the user's own ``except BaseException`` swallows it.
    """
    _ExitRefused.calls += 1
    _ExitRefused.last_code = code
    raise _ExitRefused(code)


_REAL_EXIT = os._exit
_posix = sys.modules.get("posix")  # where os._exit comes from on Linux and macOS


def _what_it_did(exc: BaseException) -> str:
    """The user code's way of not returning, in words ("raised ValueError: x")."""
    if isinstance(exc, _ExitRefused):
        return f"called os._exit({_shown(exc.code)}), which would have ended the whole process"
    if isinstance(exc, SystemExit):
        return (f"raised SystemExit (sys.exit({_shown(exc.code)})), which would have ended "
                "the whole process")
    if isinstance(exc, KeyboardInterrupt):
        return "raised KeyboardInterrupt itself (no Ctrl-C was pressed)"
    message = _text(exc)
    return f"raised {type(exc).__name__}" + (f": {message}" if message else "")


def _cause(exc: BaseException) -> BaseException | None:
    """The exception to chain to the report: an ordinary one, for whoever debugs it; never
    an exiting one, which an outer handler could mistake for the real thing."""
    return exc if isinstance(exc, Exception) else None


# -- telling a Ctrl-C from a KeyboardInterrupt the reward function raises ------------------


class _CtrlCWatch:
    """A SIGINT handler that counts Ctrl-Cs, then does what the handler before it did."""

    seen = 0  # SIGINTs received by any watch, in this process

    def __init__(self, previous):
        self.previous = previous

    def __call__(self, signum, frame) -> None:
        _CtrlCWatch.seen += 1
        if callable(self.previous):
            self.previous(signum, frame)
        elif self.previous != signal.SIG_IGN:  # SIG_DFL, or a handler set outside Python
            raise KeyboardInterrupt


@contextlib.contextmanager
def watch_ctrl_c() -> Iterator[None]:
    """While inside, a ``KeyboardInterrupt`` that a reward function raises itself becomes a
    :class:`RewardFunctionError`, and a real Ctrl-C stays a ``KeyboardInterrupt``.

    Both look the same once raised. So this installs a SIGINT handler that counts every
    Ctrl-C before passing it on to the handler it replaced (Python's, which raises
    ``KeyboardInterrupt``, or the trainer's, which asks the run to stop): a call during which
    no Ctrl-C arrived raised its ``KeyboardInterrupt`` itself. Where no watch is the current
    handler (no ``with watch_ctrl_c()``, or another handler installed since), racerl cannot
    tell the two apart and lets the ``KeyboardInterrupt`` through, as a Ctrl-C. Signals
    reach only the main thread, so elsewhere this changes nothing and needs nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    watch = _CtrlCWatch(previous)
    signal.signal(signal.SIGINT, watch)
    try:
        yield
    finally:
        # Put the old handler back only if ours is still there: a handler that replaced
        # itself meanwhile (the trainer's, after the first Ctrl-C) chose its successor.
        if signal.getsignal(signal.SIGINT) is watch:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _raised_by_user_code(exc: BaseException, ctrl_c_before: int) -> bool:
    """Whether ``exc``, out of a call of user code, was the code's own doing rather than a
    Ctrl-C arriving during the call (see :func:`watch_ctrl_c`)."""
    if not isinstance(exc, KeyboardInterrupt):
        return True  # sys.exit, os._exit, GeneratorExit, the user's own BaseException
    if threading.current_thread() is not threading.main_thread():
        return True  # signals are handled on the main thread only
    return (isinstance(signal.getsignal(signal.SIGINT), _CtrlCWatch)
            and _CtrlCWatch.seen == ctrl_c_before)


def _shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` for a message, short, and never an error of its own (a huge int or
    the user's ``__repr__`` can raise)."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _text(exc: BaseException) -> str:
    """``str(exc)`` on one line, and never an error of its own."""
    try:
        return " ".join(str(exc).split())
    except Exception:
        return f"<{type(exc).__name__} whose message cannot be shown>"


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
