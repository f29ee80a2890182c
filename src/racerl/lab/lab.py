"""The reward lab: what a reward function pays for each way of driving, before any training.

A reinforcement learner finds whatever earns the most return per episode. If weaving,
crawling or standing still out-earns clean fast driving, that is what hours of training
will produce. The lab drives the scripted behaviours of :mod:`racerl.drive.behaviours` with the
real simulator and the user's reward function and compares, per behaviour:

* **return per lap**: the episode's return divided by the share of the lap it covered,
  ``return / (progress / 100)``; only for behaviours that covered at least
  :data:`MIN_PROGRESS` percent (stopping, reversing and leaving the track end the episode
  long before that, so a per-lap figure would be an extrapolation of a few steps);
* **return per second**: the episode's return over its driving time (steps / 15 Hz);
* **episode return**: what the episode paid in total.

Behaviours are ranked by return per lap (then per second); a warning is raised, in plain
words with the ratio, whenever a behaviour nobody wants earns more than driving well:

* zig-zag or border hugging vs the centre line at the same speed per lap, or vs the good
  behaviour that earns fastest per second;
* crawling vs the fastest good lap (racing), per lap;
* stopping, reversing, leaving the track vs a good lap, per episode or per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from racerl.drive.behaviours import BEHAVIOURS, Behaviour, Drive, drive_behaviours
from racerl.drive.rollout import Episode
from racerl.reward.function import watch_ctrl_c
from racerl.reward.protocol import RewardSource
from racerl.sim.state import Status
from racerl.sim.vehicle import CONTROL_DT, VehicleParams
from racerl.track.geometry import Track

MIN_PROGRESS = 25.0  # percent of a lap below which no per-lap figure is given
WARN_RATIO = 1.05  # "earns more" means at least 5 % more: ties are not exploits


@dataclass(frozen=True)
class Row:
    """One behaviour's line of the lab table."""

    key: str
    label: str
    good: bool
    status: str
    progress: float
    steps: int
    episode_return: float
    per_lap: float | None
    per_second: float | None
    lap_time: float | None

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class LabReport:
    track: str
    reward: str
    rows: list[Row]  # ranked, best first
    warnings: list[str]
    drives: dict[str, Drive]  # by behaviour key, for the picture

    @property
    def best(self) -> Row:
        return self.rows[0]

    def as_dict(self) -> dict:
        return {"track": self.track, "reward": self.reward,
                "ranking": [r.as_dict() for r in self.rows], "warnings": self.warnings}


def row_of(behaviour: Behaviour, episode: Episode) -> Row:
    """The lab's figures for one behaviour's episode; the lap time is the simulator's."""
    total = episode.total_reward
    progress = episode.progress
    per_lap = total / (progress / 100.0) if progress >= MIN_PROGRESS else None
    driving = (episode.steps - 1) * CONTROL_DT  # the PREPARE step does not drive
    per_second = total / driving if driving > 0 else None
    return Row(behaviour.key, behaviour.label, behaviour.good, episode.status, progress,
               episode.steps, total, per_lap, per_second, episode.lap_time)


def rank(rows: list[Row]) -> list[Row]:
    """Best first: return per lap, then per second; rows without a per-lap figure last."""
    def key(r: Row) -> tuple:
        return (r.per_lap is None, -(r.per_lap or 0.0), -(r.per_second or -math.inf))
    return sorted(rows, key=key)


def run_lab(track: Track, reward: RewardSource, vehicle: VehicleParams | None = None,
            max_steps: int | None = None) -> LabReport:
    """Drive every behaviour with ``reward`` on ``track`` and judge what it pays for."""
    kwargs = {"max_steps": max_steps} if max_steps else {}
    with watch_ctrl_c():  # the function's own KeyboardInterrupt is its error; Ctrl-C is not
        drives = drive_behaviours(track, reward, BEHAVIOURS, vehicle, **kwargs)
    rows = [row_of(d.behaviour, d.episode) for d in drives]
    return LabReport(track.name, reward.label, rank(rows), find_warnings(rows),
                     {d.behaviour.key: d for d in drives})


def _ratio(a: float, b: float) -> str:
    """'1.4× the' when both are positive, otherwise the two numbers side by side."""
    if b > 0 and a > 0:
        return f"{a / b:.2f}× the"
    return f"{a:.3g} vs {b:.3g} for the"


def _more(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return a > b * WARN_RATIO if b > 0 else a > b + abs(b) * (WARN_RATIO - 1) + 1e-9


def find_warnings(rows: list[Row]) -> list[str]:
    """Plain-word warnings for undesirable behaviours that out-earn good driving."""
    by = {r.key: r for r in rows}
    good_laps = [r for r in rows if r.good and r.status == Status.LAP_COMPLETE]
    if not good_laps:
        return ["no good behaviour completed a lap (the track may be too tight for the "
                "scripted drivers), so nothing could be compared"]
    same_speed = by.get("centre_medium")
    if same_speed is None or same_speed.status != Status.LAP_COMPLETE:
        same_speed = max(good_laps, key=lambda r: r.per_lap or -math.inf)
    racing = min(good_laps, key=lambda r: r.lap_time or math.inf)
    best_lap = max(good_laps, key=lambda r: r.episode_return)
    best_rate = max(good_laps, key=lambda r: r.per_second or -math.inf)
    out: list[str] = []

    for key, does, consequence in (
            ("zigzag", "zig-zag", "the car will learn to weave"),
            ("hug_border", "hugging the border", "the car will learn to drive along the edge")):
        r = by.get(key)
        if r is None:
            continue
        if _more(r.per_lap, same_speed.per_lap):
            out.append(f"{does} earns {_ratio(r.per_lap, same_speed.per_lap)} "
                       f"{same_speed.label} return per lap: {consequence}")
        elif _more(r.per_second, best_rate.per_second):
            out.append(f"{does} earns {_ratio(r.per_second, best_rate.per_second)} "
                       f"{best_rate.label} return per second: {consequence}")

    crawl = by.get("crawl")
    if crawl is not None and _more(crawl.per_lap, racing.per_lap):
        out.append(f"crawling earns {_ratio(crawl.per_lap, racing.per_lap)} return per lap "
                   f"of racing ({racing.label}): the reward pays for steps, not progress, "
                   "so the car will learn to drive slowly")

    for key, does in (("stop", "standing still"), ("off_track", "leaving the track"),
                      ("reverse", "driving in reverse")):
        r = by.get(key)
        if r is None:
            continue
        if _more(r.episode_return, best_lap.episode_return):
            ratio = _ratio(r.episode_return, best_lap.episode_return)
            out.append(f"{does} ends the episode with {ratio} return of a whole lap "
                       f"({best_lap.label}): "
                       "the car will learn to end its episodes early")
        elif _more(r.per_second, best_rate.per_second):
            out.append(f"{does} earns {_ratio(r.per_second, best_rate.per_second)} return "
                       f"per second of {best_rate.label}: the car may learn to "
                       f"{'stop' if key == 'stop' else 'do this'} instead of racing")
    return out


def lab_picture(track: Track, report: LabReport, size: int = 720) -> np.ndarray:
    """The track with the best-ranked behaviour's path coloured by the reward of each step."""
    from racerl.camera.topdown import TopDownRenderer, speed_colors

    drive = report.drives[report.best.key]
    rewards = np.asarray(drive.rewards)
    points = np.asarray(drive.points)
    lo, hi = (float(rewards.min()), float(rewards.max())) if len(rewards) else (0.0, 1.0)
    if hi - lo > 1e-9:
        colors = speed_colors(rewards - lo, vmax=hi - lo)
        scale = f"step reward {lo:.3g} (purple) - {hi:.3g} (yellow)"
    else:
        colors = speed_colors(np.ones(len(rewards)))
        scale = f"step reward {lo:.3g} on every step"
    caption = f"{track.name}: best-paid behaviour '{drive.behaviour.label}'; {scale}"
    renderer = TopDownRenderer(track, size=size)
    return renderer.draw(trails=[points], trail_colors=[colors], caption=caption)


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if abs(value) < 1000 \
        else f"{value:.0f}"


TABLE_COLUMNS = ("rank", "behaviour", "status", "progress %", "steps", "return",
                 "return/lap", "return/s")


def table_rows(report: LabReport) -> list[tuple[str, ...]]:
    """The lab table as strings, for the terminal and for the README."""
    return [(str(k), r.label + ("" if r.good else " (unwanted)"), r.status,
             f"{r.progress:.1f}", str(r.steps), fmt(r.episode_return, 4), fmt(r.per_lap, 4),
             fmt(r.per_second, 3)) for k, r in enumerate(report.rows, 1)]

