"""A lap beside the track's limits: the centre-line driver and the race line."""

from __future__ import annotations

import pytest

from racerl.evaluate.evaluation import EvalSettings, ScriptedDriver, evaluate
from racerl.evaluate.limits import beside_the_limits


def test_a_driver_is_measured_against_the_centre_line_and_the_race_line():
    run = evaluate(ScriptedDriver("centerline", 2.0), EvalSettings(track="oval", trials=1))
    mine, centre, line = beside_the_limits(run)
    assert [s.driver for s in (mine, centre, line)] == \
        ["centerline @ 2 m/s", "centerline @ 1 m/s", "raceline"]
    assert line.ratio == pytest.approx(1.0)
    # 2 m/s beats 1 m/s on the same line, and nothing beats the race line
    assert 1.0 < mine.ratio < centre.ratio
    assert mine.ratio == pytest.approx(mine.summary.best_lap / line.summary.best_lap)
