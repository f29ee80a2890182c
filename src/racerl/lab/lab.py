"""The reward lab: what a reward function pays for each way of driving, before any training.

A reinforcement learner finds whatever earns the most return. If weaving, crawling or
standing still out-earns clean fast driving, that is what hours of training will produce.
The lab drives the scripted behaviours of :mod:`racerl.drive.behaviours` with the real
simulator and the user's reward function — each unwanted one over a grid of its parameters
(:func:`~racerl.drive.behaviours.search_behaviours`: weaves of several widths, periods and
speeds, several crawling speeds, both borders at several distances), every variant from
:data:`STARTS` along the lap, in a few batches — and compares, per behaviour:

* **discounted value**: the learner's own yardstick, ``sum_t discount**t * reward_t`` over
  an episode (with the model's discount factor), averaged over the episodes from the
  :data:`STARTS` (DeepRacer starts its training episodes all round the lap). An episode ends
  as in training (lap complete, off track, reversed, immobilised, ``max_steps``), so a fast
  lap's value stops at its finish line while a crawler keeps earning: on a short track a
  per-step reward pays for slowness even when discounted. The sum stops at the
  :func:`horizon`, the step where the discount has shrunk a reward below :data:`FORGOTTEN`
  of its worth (459 steps, 31 s, at 0.99; 4603 at 0.999, beyond ``max_steps``), and the
  episodes from the other starts are driven no further;
* **return per lap**: the start-line episode's return divided by the share of the lap it
  covered, ``return / (progress / 100)``; only for episodes that covered at least
  :data:`MIN_PROGRESS` percent (stopping, reversing and leaving the track end the episode
  long before that, so a per-lap figure would be an extrapolation of a few steps). It is the
  undiscounted view, discount 1: what a lap is worth however long it takes;
* **return per second**: the start-line episode's return over its driving time;
* **episode return**: what the start-line episode paid in total.

Behaviours are ranked by discounted value (then per lap, then per second). A warning is
raised, in plain words with the ratio, whenever a behaviour nobody wants earns more than
driving well by the behaviour's own yardstick — zig-zag and border hugging per lap against
the centre line at the same speed (or per second against the good behaviour that earns
fastest), crawling per lap against racing, stopping, reversing and leaving the track per
episode (or per second) against a good lap — or by discounted value against the best good
behaviour; unless the discounted value says the opposite: when the best good behaviour is
worth clearly more discounted, the learner will not go for the unwanted one whatever a lap
sums to. So a pace reward (``progress / steps``) whose lap sum favours crawling by a little
is not flagged, while DeepRacer's per-step centre-line reward, whose discounted value never
prefers speed, still is.

Each searched behaviour is reported by one variant: of those that earn a warning, the one
that out-earns good driving by the widest margin; when none does, the best-paying.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from racerl.drive.behaviours import (
    MAX_STEPS,
    Behaviour,
    Drive,
    drive_behaviours,
    search_behaviours,
)
from racerl.drive.rollout import Episode
from racerl.model.config import TrainConfig
from racerl.reward.function import watch_ctrl_c
from racerl.reward.protocol import RewardSource
from racerl.sim.race_setup import RaceSetup
from racerl.sim.state import Status
from racerl.sim.vehicle import CONTROL_DT, VehicleParams
from racerl.track.geometry import Track

MIN_PROGRESS = 25.0  # percent of a lap below which no per-lap figure is given
WARN_RATIO = 1.05  # "earns more" means at least 5 % more: ties are not exploits
STARTS = (0.0, 0.25, 0.5, 0.75)  # lap fractions the discounted value's episodes start from
DEFAULT_DISCOUNT = TrainConfig.discount_factor  # the discount a model trains with
FORGOTTEN = 0.01  # a reward discounted below 1 % of its worth no longer counts


@dataclass(frozen=True)
class Row:
    """One behaviour's line of the lab table (one variant of a searched behaviour)."""

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
    discounted: float
    """Discounted return, the mean over the episodes from :data:`STARTS`."""
    speed: float | None = None
    """Commanded m/s (None: the car's minimum, or the race line's plan)."""
    parameters: dict = field(default_factory=dict)
    """A searched variant's parameters (see :func:`parameters_of`)."""
    tried: int = 1
    """How many variants of this behaviour the lab drove."""
    crash_reward: float | None = None
    """What the step that crashed into an object paid (None: the episode did not crash)."""

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class LabReport:
    track: str
    reward: str
    rows: list[Row]  # one per behaviour, ranked, best first
    warnings: list[str]
    drives: dict[str, Drive]  # the shown variant's start-line drive, by key, for the picture
    discount: float = DEFAULT_DISCOUNT
    starts: tuple[float, ...] = STARTS
    variants: dict[str, list[Row]] = field(default_factory=dict)
    """Every variant of each searched behaviour, ranked."""

    @property
    def best(self) -> Row:
        return self.rows[0]

    def as_dict(self) -> dict:
        return {"track": self.track, "reward": self.reward, "discount": self.discount,
                "starts": list(self.starts),
                "ranking": [r.as_dict() for r in self.rows], "warnings": self.warnings,
                "search": {k: [r.as_dict() for r in rows]
                           for k, rows in self.variants.items()}}


def discounted_return(rewards: Sequence[float], discount: float) -> float:
    """``sum_t discount**t * rewards[t]``, t counted from the episode's first paid step."""
    r = np.asarray(rewards, dtype=np.float64)
    return float(np.dot(discount ** np.arange(len(r)), r))


def horizon(discount: float) -> int | None:
    """RUN steps after which ``discount`` has shrunk a reward below :data:`FORGOTTEN` of its
    worth: the episodes from the other starts serve the discounted value only and are cut
    there (None: undiscounted, nothing may be cut)."""
    if discount >= 1.0:
        return None
    if discount <= 0.0:
        return 1
    return max(1, math.ceil(math.log(FORGOTTEN) / math.log(discount)))


def parameters_of(behaviour: Behaviour) -> dict:
    """What the search varies for this behaviour (empty for the unsearched ones)."""
    if behaviour.line == "zigzag":
        return {"swing": behaviour.swing, "period": behaviour.period, "speed": behaviour.speed}
    if behaviour.line == "hug":
        return {"side": behaviour.side, "gap": behaviour.gap}
    if behaviour.key == "crawl":
        return {"speed": behaviour.speed}
    return {}


def row_of(behaviour: Behaviour, episode: Episode, discounted: float = 0.0,
           tried: int = 1, crash_reward: float | None = None) -> Row:
    """The lab's figures for one behaviour's start-line episode and its discounted value
    (see :func:`discounted_return`); the lap time is the simulator's."""
    total = episode.total_reward
    progress = episode.progress
    per_lap = total / (progress / 100.0) if progress >= MIN_PROGRESS else None
    driving = (episode.steps - 1) * CONTROL_DT  # the PREPARE step does not drive
    per_second = total / driving if driving > 0 else None
    return Row(behaviour.key, behaviour.label, behaviour.good, episode.status, progress,
               episode.steps, total, per_lap, per_second, episode.lap_time, discounted,
               behaviour.speed, parameters_of(behaviour), tried, crash_reward)


def rank(rows: list[Row]) -> list[Row]:
    """Best first: discounted value, then return per lap (rows without one after those
    with one), then per second."""
    def key(r: Row) -> tuple:
        return (-r.discounted, r.per_lap is None, -(r.per_lap or 0.0),
                -(r.per_second or -math.inf))
    return sorted(rows, key=key)


def run_lab(track: Track, reward: RewardSource, vehicle: VehicleParams | None = None,
            max_steps: int | None = None, discount: float = DEFAULT_DISCOUNT,
            starts: tuple[float, ...] = STARTS, race: RaceSetup | None = None) -> LabReport:
    """Drive every behaviour (each searched one over its grid) from each of ``starts`` with
    ``reward`` on ``track`` and judge what it pays for with ``discount``; ``race`` with
    obstacles or bot cars drives the object behaviours instead (see
    :data:`~racerl.drive.behaviours.OBJECT_BEHAVIOURS`), each car among its own objects."""
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be between 0 and 1, not {discount}")
    starts = (0.0, *sorted({s % 1.0 for s in starts} - {0.0}))  # the start line comes first
    behaviours = search_behaviours(race)
    cut = horizon(discount)
    with watch_ctrl_c():  # the function's own KeyboardInterrupt is its error; Ctrl-C is not
        drives = drive_behaviours(track, reward, behaviours, vehicle, max_steps or MAX_STEPS,
                                  starts=starts, horizon=cut, race=race)
    line = drives[:len(behaviours)]  # the start-line drives, in the order of behaviours
    values = np.array([discounted_return(d.rewards[:cut], discount) for d in drives])
    value = values.reshape(len(starts), len(behaviours)).mean(axis=0)
    tried = {b.key: sum(v.key == b.key for v in behaviours) for b in behaviours}
    rows = [row_of(d.behaviour, d.episode, float(v), tried[d.behaviour.key], _crash_reward(d))
            for d, v in zip(line, value, strict=True)]
    by_key: dict[str, list[Row]] = {}
    for r in rank(rows):
        by_key.setdefault(r.key, []).append(r)
    good = [r for r in rows if r.good]
    shown = [choose(variants, good, discount) for variants in by_key.values()]
    drive_of = {id(row): d for row, d in zip(rows, line, strict=True)}
    return LabReport(track.name, reward.label, rank(shown), find_warnings(shown, discount),
                     {r.key: drive_of[id(r)] for r in shown}, discount, starts,
                     {k: v for k, v in by_key.items() if len(v) > 1})


def _crash_reward(drive: Drive) -> float | None:
    """The reward of the step that crashed into an object, if the drive ended so."""
    if drive.episode.status != Status.CRASHED or not drive.rewards:
        return None
    return float(drive.rewards[-1])


def choose(variants: list[Row], good: list[Row], discount: float = DEFAULT_DISCOUNT) -> Row:
    """The variant a searched behaviour is reported by: of those that earn a warning against
    the ``good`` rows, the one that out-earns good driving by the widest margin; when none
    does, the best-paying (``variants`` are ranked)."""
    warned = [(verdict.margin, k) for k, v in enumerate(variants)
              if (verdict := _judge(v, good, discount))]
    return variants[max(warned)[1]] if warned else variants[0]


def _ratio(a: float, b: float) -> str:
    """'1.4× the' when both are positive, otherwise the two numbers side by side."""
    if b > 0 and a > 0:
        return f"{a / b:.2f}× the"
    return f"{a:.3g} vs {b:.3g} for the"


def _more(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return a > b * WARN_RATIO if b > 0 else a > b + abs(b) * (WARN_RATIO - 1) + 1e-9


CONSEQUENCES = {
    "zigzag": "the car will learn to weave",
    "hug_border": "the car will learn to drive along the edge",
    "crawl": "the reward pays for steps, not progress, so the car will learn to drive slowly",
    "stop": "the car will learn to end its episodes early",
    "off_track": "the car will learn to end its episodes early",
    "reverse": "the car will learn to end its episodes early",
    "crash": "the reward pays for hitting, so the car will learn to drive into objects",
    "stop_at_object": "the reward pays for stopping, so the car will learn to stand in front "
                      "of an object instead of passing it",
    "late_swerve": "the car will learn to swerve at the last moment, and crash whenever it "
                   "is a little late",
    "tailgate": "the car will learn to sit behind a slow bot car instead of passing it",
}
"""What the car learns when each unwanted behaviour pays."""


@dataclass(frozen=True)
class Verdict:
    """A warning and by how much the unwanted behaviour out-earns good driving."""

    message: str
    margin: float
    """The excess as a fraction of what good driving earns (0.2: 20 % more)."""


def _judge(r: Row, good: list[Row], discount: float = DEFAULT_DISCOUNT) -> Verdict | None:
    """The warning an unwanted row earns against the ``good`` rows, or None."""
    if r.good or r.key not in CONSEQUENCES:
        return None
    laps = [g for g in good if g.status == Status.LAP_COMPLETE]
    if not laps:
        return None
    consequence = CONSEQUENCES[r.key]
    best_value = max(good, key=lambda g: g.discounted)
    if r.key != "crash" and _more(best_value.discounted, r.discounted):
        return None  # the learner values good driving clearly more, whatever laps sum to
    # (A paid crash is flagged whatever the discounted values say: no one wants it paid.)
    best_rate = max(laps, key=lambda g: g.per_second or -math.inf)
    if r.key == "crash":
        avoiding = [g for g in laps if g.speed == r.speed] or laps
        per_step = max(g.episode_return / max(g.steps - 1, 1) for g in avoiding)
        checks = [(r.crash_reward, per_step,
                   f"average step reward of {avoiding[0].label} for the crash step itself")]
    elif r.key in ("zigzag", "hug_border", "late_swerve"):
        same = [g for g in laps if g.speed is not None and g.speed == r.speed]
        same_speed = same[0] if same else max(laps, key=lambda g: g.per_lap or -math.inf)
        checks = [(r.per_lap, same_speed.per_lap, f"{same_speed.label} return per lap")]
    elif r.key in ("crawl", "tailgate"):
        racing = min(laps, key=lambda g: g.lap_time or math.inf)
        checks = [(r.per_lap, racing.per_lap, f"return per lap of racing ({racing.label})")]
    else:
        best_lap = max(laps, key=lambda g: g.episode_return)
        checks = [(r.episode_return, best_lap.episode_return,
                   f"return of a whole lap ({best_lap.label}) in one episode")]
    checks += [(r.per_second, best_rate.per_second, f"{best_rate.label} return per second"),
               (r.discounted, best_value.discounted,
                f"discounted return (discount {discount:g}) of {best_value.label}")]
    for mine, theirs, what in checks:
        if _more(mine, theirs):
            still = "" if what.startswith("discounted") else (
                f", and its discounted return (discount {discount:g}) is "
                f"{_ratio(r.discounted, best_value.discounted)} best good behaviour's "
                f"({best_value.label})")
            return Verdict(f"{r.label} earns {_ratio(mine, theirs)} {what}{still}: "
                           f"{consequence}", (mine - theirs) / max(abs(theirs), 1e-9))
    return None


def find_warnings(rows: list[Row], discount: float = DEFAULT_DISCOUNT) -> list[str]:
    """Plain-word warnings for undesirable behaviours that out-earn good driving."""
    good = [r for r in rows if r.good]
    if not any(r.status == Status.LAP_COMPLETE for r in good):
        return ["no good behaviour completed a lap (the track may be too tight for the "
                "scripted drivers), so nothing could be compared"]
    return [v.message for r in rows if (v := _judge(r, good, discount))]


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
                 "return/lap", "return/s", "discounted")


def _note(r: Row) -> str:
    if r.good:
        return ""
    return f" (unwanted, best of {r.tried})" if r.tried > 1 else " (unwanted)"


def table_rows(report: LabReport) -> list[tuple[str, ...]]:
    """The lab table as strings, for the terminal and for the README."""
    return [(str(k), r.label + _note(r), r.status, f"{r.progress:.1f}", str(r.steps),
             fmt(r.episode_return, 4), fmt(r.per_lap, 4), fmt(r.per_second, 3),
             fmt(r.discounted, 4)) for k, r in enumerate(report.rows, 1)]

