"""Evaluation and race rules in the simulator: resets, penalties, continuous laps, time-up."""

from __future__ import annotations

import numpy as np
import pytest

from racerl.drive.pursuit import PurePursuitDriver
from racerl.sim.batch import BatchSim
from racerl.sim.rules import EvaluationRules, lane_reset_pose
from racerl.sim.vehicle import CONTROL_DT
from racerl.track.catalog import load_track


def straight_until(sim: BatchSim, status: str, limit: int = 2000):
    """Drive straight ahead at 2 m/s until a step reports ``status``; all steps so far."""
    steps = []
    for _ in range(limit):
        result = sim.step(0.0, 2.0)
        steps.append(result)
        if result.status[0] == status:
            return steps
    raise AssertionError(f"no {status} within {limit} steps")


def test_off_track_resets_the_car_into_a_lane_and_freezes_it_for_the_penalty():
    track = load_track("loop")
    sim = BatchSim(track, 1, start="line", rules=EvaluationRules(off_track_penalty=2.0))
    steps = straight_until(sim, "off_track")
    failed = steps[-1]
    assert not failed.terminated[0] and not failed.truncated[0]
    assert failed.pause_duration[0] == pytest.approx(2.0)
    progress_before = steps[-2].params[0]["progress"]
    reset_pose = (sim.car.x[0], sim.car.y[0], sim.car.yaw[0])
    assert track.on_track(sim.car.wheel_positions()).all()
    assert sim.car.speed[0] == 0.0

    pauses = []
    while True:
        result = sim.step(0.0, 2.0)
        if result.status[0] != "pause":
            break
        pauses.append(result)
        assert result.rewards[0] == 0.0
        assert (sim.car.x[0], sim.car.y[0], sim.car.yaw[0]) == reset_pose
    assert len(pauses) == round(2.0 / CONTROL_DT)  # 30 frames: the clock runs on
    remaining = [p.pause_duration[0] for p in pauses]
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0.0
    assert result.status[0] == "in_progress"
    # Put back where it was: progress continues from the previous step's.
    assert result.params[0]["progress"] == pytest.approx(progress_before, abs=1.0)
    assert sim.state.off_track[0] == 1 and sim.state.penalty_time[0] == 2.0


def test_the_reset_point_is_in_the_lane_nearer_the_car_facing_along_the_track():
    track = load_track("loop")
    centre, heading = track.center.interpolate(np.array([3.0]))
    normal = np.array([-np.sin(heading[0]), np.cos(heading[0])])
    width = track.local_width(centre)[0]
    for side in (1.0, -1.0):
        near = centre[0] + side * normal * 2.0  # far off the track on that side
        xy, yaw = lane_reset_pose(track, np.array([3.0 / track.length]), near[None])
        assert xy[0] == pytest.approx(centre[0] + side * normal * width / 4, abs=1e-9)
        assert yaw[0] == pytest.approx(heading[0])


def test_a_spent_reset_budget_ends_the_episode_on_the_next_failure():
    sim = BatchSim(load_track("loop"), 1, start="line",
                   rules=EvaluationRules(resets=1, off_track_penalty=0.5))
    first = straight_until(sim, "off_track")[-1]
    assert not first.terminated[0]
    second = straight_until(sim, "off_track")[-1]
    assert second.terminated[0]
    assert sim.state.resets_used[0] == 1 and sim.state.off_track[0] == 1


def test_immobilized_resets_without_a_pause_and_reversed_costs_the_off_track_penalty():
    rules = EvaluationRules(off_track_penalty=1.5)
    assert rules.penalty("reversed") == 1.5 and rules.penalty("immobilized") == 0.0
    assert EvaluationRules(reversed_penalty=0.5).penalty("reversed") == 0.5
    sim = BatchSim(load_track("loop"), 1, start="line", rules=rules)
    sim.step(0.0, 0.0)  # prepare
    statuses = [sim.step(0.0, 0.0).status[0] for _ in range(40)]  # 0.1 m/s is the floor
    # Standing still is impossible (min speed 0.1 m/s moves 6.7 mm a frame): no failure.
    assert "immobilized" not in statuses
    sim.reset()
    sim.step(0.0, 0.0)
    for _ in range(20):  # hold the car: it moves less than 0.3 mm per frame
        result = sim.step(0.0, 0.1, hold=[True])
        if result.status[0] == "immobilized":
            break
    assert result.status[0] == "immobilized" and not result.terminated[0]
    assert result.pause_duration[0] == 0.0
    assert sim.step(0.0, 1.0).status[0] == "in_progress"


def test_a_race_is_one_episode_of_several_laps_with_the_timer_restarting():
    track = load_track("loop")
    sim = BatchSim(track, 1, start="line", rules=EvaluationRules(laps=2))
    driver = PurePursuitDriver(track, speed=2.0, vehicle=sim.vehicle)
    laps, steps = [], 0
    while True:
        result = sim.step(*driver.act(sim.car))
        steps += 1
        if result.status[0] == "lap_complete":
            laps.append((float(result.lap_time[0]), bool(result.terminated[0])))
        if result.terminated[0] or result.truncated[0]:
            break
    assert [done for _, done in laps] == [False, True]
    assert sum(t for t, _ in laps) == pytest.approx(steps * CONTROL_DT)
    assert laps[1][0] < laps[0][0]  # a flying start beats the standing one


def test_a_lap_slower_than_the_limit_ends_as_time_up():
    sim = BatchSim(load_track("loop"), 1, start="line",
                   rules=EvaluationRules(max_lap_time=2.0))
    statuses = []
    for _ in range(100):
        result = sim.step(0.0, 0.3)
        statuses.append(result.status[0])
        if result.truncated[0]:
            break
    assert statuses[-1] == "time_up" and len(statuses) == 30


def test_without_rules_training_ends_the_episode_at_the_first_failure():
    sim = BatchSim(load_track("loop"), 1, start="line")
    assert straight_until(sim, "off_track")[-1].terminated[0]


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="laps"):
        EvaluationRules(laps=0)
    with pytest.raises(ValueError, match="penalties"):
        EvaluationRules(off_track_penalty=-1.0)
