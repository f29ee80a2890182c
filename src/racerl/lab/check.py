"""``racerl reward check``: find what is wrong with a reward function before training does.

The function is loaded (syntax, missing function, wrong signature) and then called on the
params of real drives of the track — the scripted behaviours of :mod:`racerl.drive.behaviours`,
whose episodes cover the edge cases: the start line, leaving the track, driving backwards,
standing still at minimum speed — and of one lap of the track driven in reverse direction
(``is_reversed`` true). Every call goes through DeepRacer's own rules
(:func:`racerl.reward.function.call_reward`: exceptions, non-numbers, NaN, infinity, out of
range are errors), with a time limit per call. Warnings cover what DeepRacer accepts but almost
never means: negative rewards for good driving, one constant value, slow calls and results that
change when the same drive is replayed.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from racerl.drive.behaviours import BEHAVIOURS, drive_behaviours
from racerl.errors import RewardFunctionError
from racerl.reward.function import (
    CallInterrupt,
    call_reward,
    load_reward_function,
    reward_copy,
    watch_ctrl_c,
)
from racerl.track.geometry import Track

MAX_CALLS_PER_DRIVE = 300  # evenly spaced steps of each drive, first and last included
CALL_TIMEOUT = 1.0  # seconds one call may take before it counts as hanging
SLOW_CALL = 1e-3  # seconds per call above which training slows noticeably
REPLAY_STEPS = 100  # steps of one drive replayed to test determinism


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    message: str


@dataclass
class CheckReport:
    """What the check found; ``ok`` when there is no error (warnings are allowed)."""

    source: str
    findings: list[Finding] = field(default_factory=list)
    calls: int = 0
    seconds_per_call: float | None = None
    sandboxed: bool = False

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def error(self, message: str) -> None:
        self.findings.append(Finding("error", message))

    def warn(self, message: str) -> None:
        self.findings.append(Finding("warning", message))


@dataclass(frozen=True)
class Trace:
    """Params of one drive, in driving order, and whether it is driving the user wants."""

    label: str
    good: bool
    params: list[dict]


def check_reward(source: str | Path | Callable, track: Track, sandbox: bool = False,
                 call_timeout: float = CALL_TIMEOUT,
                 traces: list[Trace] | None = None) -> CheckReport:
    """Load and exercise a reward function; never raises for a broken reward function.

    ``traces`` (from :func:`drive_traces`) saves re-driving the track when checking several
    functions on the same track.
    """
    report = CheckReport(str(source), sandboxed=sandbox)
    with watch_ctrl_c():  # the function's own KeyboardInterrupt is a finding, Ctrl-C is not
        try:
            if sandbox:
                from racerl.reward.sandbox import load_sandboxed

                reward = load_sandboxed(source, call_timeout=call_timeout)
            else:
                reward = load_reward_function(source)
        except RewardFunctionError as exc:
            report.error(str(exc))
            return report
        try:
            _exercise(reward, traces or drive_traces(track), report, call_timeout)
        finally:
            reward.close()
    return report


def drive_traces(track: Track) -> list[Trace]:
    """Params of every scripted behaviour on ``track`` and of a centre-line lap of the
    track driven the other way; each drive thinned to at most MAX_CALLS_PER_DRIVE steps."""
    neutral = load_reward_function(_neutral)
    drives = drive_behaviours(track, neutral, keep_params=True)
    centre = tuple(b for b in BEHAVIOURS if b.key == "centre_medium")
    backwards = drive_behaviours(track.reverse(), neutral, centre, keep_params=True)
    traces = [Trace(d.behaviour.label, d.behaviour.good, _thin(d.params)) for d in drives]
    traces += [Trace(f"{d.behaviour.label}, track in reverse direction", True,
                     _thin(d.params)) for d in backwards]
    return traces


def _neutral(params: dict) -> float:
    return 0.0


def _thin(params: list[dict]) -> list[dict]:
    if len(params) <= MAX_CALLS_PER_DRIVE:
        return params
    keep = np.unique(np.linspace(0, len(params) - 1, MAX_CALLS_PER_DRIVE).round().astype(int))
    return [params[i] for i in keep]


def _exercise(reward, traces: list[Trace], report: CheckReport, call_timeout: float) -> None:
    times: list[float] = []
    values: dict[str, list[float]] = {}
    seen_errors: set[str] = set()
    alarm = 0.0 if report.sandboxed else call_timeout  # the sandbox keeps its own time
    for trace in traces:
        try:
            func = reward.instance()
        except RewardFunctionError as exc:
            report.error(str(exc))
            return
        got = values.setdefault(trace.label, [])
        for params in trace.params:
            try:
                value, seconds = _timed_call(func, params, reward.label, alarm)
            except RewardFunctionError as exc:
                if exc.fatal:  # a hang or a dead sandbox: stop here
                    report.error(f"while {trace.label}: {exc}")
                    return
                key = exc.problem or str(exc)
                if key not in seen_errors:
                    seen_errors.add(key)
                    report.error(f"while {trace.label}: {exc}")
                break  # the rest of this drive would only repeat the error
            times.append(seconds)
            got.append(value)
            if (trace.good and value < 0 and params["all_wheels_on_track"]
                    and "negative" not in seen_errors):
                seen_errors.add("negative")
                report.warn(f"returned a negative reward ({value:g}) at step "
                            f"{params['steps']:g} while {trace.label}, with all wheels "
                            "on the track: negative rewards for good driving teach the "
                            "car to end its episodes as soon as it can")
    report.calls = len(times)
    if times:
        report.seconds_per_call = float(np.median(times))
    _judge_speed(report)
    if report.ok:  # with errors, these would only add noise
        _judge_values(values, report)
        _judge_determinism(reward, traces, values, report, alarm)


def _timed_call(func, params: dict, label: str, timeout: float) -> tuple[float, float]:
    """One checked call with a wall-clock limit (SIGALRM on the main thread; the sandbox
    enforces its own limits elsewhere)."""
    copy = reward_copy(params)
    use_alarm = threading.current_thread() is threading.main_thread() and timeout > 0
    if use_alarm:
        def on_alarm(signum, frame):
            raise _CallTimeout

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.perf_counter()
    try:
        value = call_reward(func, copy, label)
    except _CallTimeout:
        raise RewardFunctionError(
            f"{label} did not return within {timeout:g} s at step {params['steps']:g} "
            "(an endless loop?)", params=params, step=params["steps"],
            problem=f"did not return within {timeout:g} s", fatal=True) from None
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return value, time.perf_counter() - start


class _CallTimeout(CallInterrupt):
    """Raised by the alarm inside a hanging call; a BaseException so that the user's own
    ``except Exception`` cannot swallow it, and a CallInterrupt so that ``call_reward``
    lets it through to :func:`_timed_call`."""


def _judge_values(values: dict[str, list[float]], report: CheckReport) -> None:
    every = [v for vs in values.values() for v in vs]
    if len(every) > 1 and max(every) == min(every):
        report.warn(f"returned {every[0]:g} on every one of {len(every)} calls, whatever the "
                    "car did: a constant reward teaches the car nothing")


def _judge_speed(report: CheckReport) -> None:
    t = report.seconds_per_call
    if t is not None and t > SLOW_CALL:
        report.warn(f"slow: {t * 1e3:.2f} ms per call; the simulator steps a car in about "
                    f"0.05 ms, so this caps training at about {1 / t:.0f} steps per second")


def _judge_determinism(reward, traces: list[Trace], values: dict[str, list[float]],
                       report: CheckReport, call_timeout: float) -> None:
    """Replay the start of one drive on a fresh copy: the same params must give the same
    rewards (state kept between calls is fine, randomness or the clock is not)."""
    trace = next((t for t in traces if t.good and len(values.get(t.label, [])) > 1), None)
    if trace is None:
        return
    func = reward.instance()
    first = values[trace.label][:REPLAY_STEPS]
    for k, params in enumerate(trace.params[:len(first)]):
        try:
            again, _ = _timed_call(func, params, reward.label, call_timeout)
        except RewardFunctionError as exc:
            report.error(f"on a replay of the same drive: {exc}")
            return
        if again != first[k] and not (math.isnan(again) and math.isnan(first[k])):
            report.warn(f"not deterministic: replaying the same drive ({trace.label}) gave "
                        f"{again:g} instead of {first[k]:g} at step {params['steps']:g}; "
                        "a reward that changes by chance makes training noisier")
            return
