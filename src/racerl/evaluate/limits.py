"""A car's laps beside the track's limits: the centre-line driver and the race line.

A lap time means little on its own: 8 s is fast on one track and a crawl on another. The
two scripted drivers give it a scale on the same track, under the same rules: the
centre line at a steady 1 m/s (what DeepRacer's default actions allow) and the optimal
race line at its planned speeds (the car's physical limit, ``racerl raceline``). Each lap
is reported as a multiple of the race line's.
"""

from __future__ import annotations

from dataclasses import dataclass

from racerl.evaluate.evaluation import (
    EvalSettings,
    EvaluationRun,
    ScriptedDriver,
    Summary,
    evaluate,
)

CENTRE_LINE_SPEED = 1.0  # m/s: the top speed of DeepRacer's default action space


@dataclass(frozen=True)
class Standing:
    """One driver's line of the comparison."""

    driver: str
    summary: Summary
    ratio: float | None
    """Best lap over the race line's best lap (None when either completed none)."""


def beside_the_limits(run: EvaluationRun) -> list[Standing]:
    """``run``'s driver, then the centre-line and race-line drivers on the same track,
    lighting and rules (one trial each: they drive the same lap every time)."""
    settings = EvalSettings(track=run.settings.track, trials=1, lighting=run.settings.lighting,
                            seed=run.settings.seed, rules=run.settings.rules)
    centre = evaluate(ScriptedDriver("centerline", CENTRE_LINE_SPEED), settings)
    line = evaluate(ScriptedDriver("raceline"), settings)
    limit = line.summary().best_lap
    standings = []
    for each in (run, centre, line):
        summary = each.summary()
        ratio = summary.best_lap / limit if summary.best_lap and limit else None
        standings.append(Standing(each.driver, summary, ratio))
    return standings
