"""Evaluation and race rules in the simulator: resets, penalties, continuous laps, time-up.

Most tests build a hand-made situation on a circle of radius 2 m (road 0.8 m wide, lanes at
radius 1.8 and 2.2): a car placed just before the line or far outside the road, so that one
rule fires on a known step; see racerl.sim.rules for the simapp code each rule follows.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest
import shapely

from racerl.drive.pursuit import PurePursuitDriver
from racerl.reward.function import load_reward_function
from racerl.sim.batch import BatchSim
from racerl.sim.rules import EvaluationRules, reset_pose
from racerl.sim.vehicle import CONTROL_DT
from racerl.track.catalog import load_track
from racerl.track.geometry import Track
from tests.helpers import Recorder, base_for_model_point, circle_track, place

R = 2.0
OUTSIDE = 3.5  # a radius where all four wheels are off the circle's road


@pytest.fixture(scope="module")
def circle() -> Track:
    return Track(circle_track(radius=R), name="circle")


def started(track: Track, rules: EvaluationRules, recorder: Recorder | None = None
            ) -> BatchSim:
    """One car on the start line under ``rules``, its PREPARE step done."""
    sim = BatchSim(track, 1, reward=load_reward_function(recorder or Recorder()),
                   start="line", rules=rules)
    assert sim.step(0.0, 1.0).status == ["prepare"]
    return sim


def stand(sim: BatchSim, phi: float, radius: float = R):
    """One step with the car placed, facing counter-clockwise, so that its model point is
    at polar (radius, phi), held there (the step's params and rules see that pose)."""
    yaw = math.degrees(phi) + 90.0
    x, y = base_for_model_point(radius * math.cos(phi), radius * math.sin(phi), yaw)
    place(sim, 0, x, y, yaw)
    return sim.step(0.0, 1.0, hold=[True])


def drive_round_to(sim: BatchSim, phi: float) -> list:
    """Steps standing at points 1 rad apart up to ``phi`` (radians from the start line,
    counter-clockwise), ending there: a lap driven in a few steps."""
    return [stand(sim, a) for a in [*np.arange(0.5, phi, 1.0), phi]]


def pose(sim: BatchSim) -> tuple[float, float, float]:
    return float(sim.car.x[0]), float(sim.car.y[0]), float(sim.car.yaw[0])


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
    # A 0 s penalty still costs one pause step (simapp _judge_action_at_pause_phase).
    assert sim.step(0.0, 1.0).status[0] == "pause"
    assert sim.step(0.0, 1.0).status[0] == "in_progress"


def test_a_race_is_one_episode_of_several_laps_with_the_timer_restarting():
    track = load_track("loop")
    sim = BatchSim(track, 1, start="line", rules=EvaluationRules(laps=3))
    driver = PurePursuitDriver(track, speed=2.0, vehicle=sim.vehicle)
    laps, steps = [], 0
    while True:
        result = sim.step(*driver.act(sim.car))
        steps += 1
        if not np.isnan(result.lap_time[0]):
            laps.append((float(result.lap_time[0]), result.status[0],
                         bool(result.terminated[0]), result.params[0]["progress"]))
        if result.terminated[0] or result.truncated[0]:
            break
    # Only the race's last lap ends it as lap_complete; the earlier laps' steps are
    # in_progress (simapp episode_complete_reset_rule.py: done only at NUMBER_OF_TRIALS laps).
    assert [(status, done, progress) for _, status, done, progress in laps] == [
        ("in_progress", False, 100), ("in_progress", False, 100), ("lap_complete", True, 100)]
    assert sim.state.laps_done[0] == 3
    assert sum(t for t, *_ in laps) == pytest.approx(steps * CONTROL_DT)
    assert laps[1][0] < laps[0][0]  # a flying start beats the standing one


def test_without_rules_training_ends_the_episode_at_the_first_failure():
    sim = BatchSim(load_track("loop"), 1, start="line")
    assert straight_until(sim, "off_track")[-1].terminated[0]


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="laps"):
        EvaluationRules(laps=0)
    with pytest.raises(ValueError, match="penalties"):
        EvaluationRules(off_track_penalty=-1.0)
    with pytest.raises(ValueError, match="race_duration"):
        EvaluationRules(race_duration=0.0)
    with pytest.raises(ValueError, match="reset_behind_dist"):
        EvaluationRules(reset_behind_dist=-1.0)


# -- a lap while paused, the pause step, the remembered progress --------------------------------


def test_a_lap_completed_while_paused_after_a_reset_counts(circle):
    recorder = Recorder()
    sim = started(circle, EvaluationRules(off_track_penalty=2.0), recorder)
    before = drive_round_to(sim, 2 * np.pi - 0.05 / R)  # model point 5 cm before the line
    assert before[-1].status == ["in_progress"]
    assert 99.0 < before[-1].params[0]["progress"] < 100.0
    failed = stand(sim, -0.05 / R, radius=OUTSIDE)  # the next step finds it off the track
    assert failed.status == ["off_track"] and not failed.terminated[0]
    # Put back at the previous step's progress: base_link there, so its model point (0.14 m
    # ahead) is past the line. The lap counts on the first pause step and ends the trial,
    # without a reward call (simapp _check_for_episode_termination checks lap completion in
    # every phase; _judge_action_at_pause_phase keeps the status when done).
    calls = len(recorder.calls)
    lapped = sim.step(0.0, 1.0)
    assert lapped.status == ["lap_complete"] and lapped.terminated[0]
    assert lapped.params[0]["progress"] == 100
    assert lapped.rewards[0] == 0.0 and len(recorder.calls) == calls
    steps = 1 + len(before) + 2  # prepare, the steps round, the failure, the pause
    assert lapped.lap_time[0] == pytest.approx(steps * CONTROL_DT)


@pytest.mark.parametrize(("penalty", "pause_steps"), [(0.0, 1), (0.5, 8), (1.0, 15), (2.0, 30)])
def test_every_reset_is_followed_by_at_least_one_pause_step(circle, penalty, pause_steps):
    recorder = Recorder()
    sim = started(circle, EvaluationRules(off_track_penalty=penalty), recorder)
    stand(sim, 1.0)
    failed = stand(sim, 1.0, radius=OUTSIDE)
    assert failed.status == ["off_track"] and failed.pause_duration[0] == penalty
    frozen, calls = pose(sim), len(recorder.calls)
    statuses = []
    while (result := sim.step(0.0, 1.0)).status == ["pause"]:
        statuses.append(result)
        assert result.rewards[0] == 0.0 and pose(sim) == frozen
    # DeepRacer counts the penalty down in sim time and leaves PAUSE at the first step that
    # finds it at or below zero: 0.5 s is 8 steps of 1/15 s, 0 s still one.
    assert len(statuses) == pause_steps
    assert statuses[-1].pause_duration[0] == 0.0
    assert len(recorder.calls) == calls + 1  # none while paused, one for the step after
    assert result.status == ["in_progress"] and result.rewards[0] == 1.0
    assert sim.state.off_track[0] == 1 and sim.state.penalty_time[0] == penalty


def test_a_reset_remembers_the_failing_steps_progress(circle):
    sim = started(circle, EvaluationRules())
    stand(sim, 1.0)
    failed = stand(sim, 1.5, radius=OUTSIDE)
    assert failed.status == ["off_track"]
    # The car goes back to the previous step's progress, but the progress remembered for the
    # next step's wrap and reverse rules is the failing step's (simapp judge_action).
    assert sim.state.prev_progress[0] == pytest.approx(failed.params[0]["progress"])
    assert failed.params[0]["progress"] == pytest.approx(100 * 1.5 / (2 * np.pi), abs=0.1)


def test_a_lap_and_a_reset_on_one_step_of_a_race_count_the_lap_once(circle):
    """Off the track with the model point projected past the line: in a race the lap counts
    and the car is reset before the line. The failing step's progress (100, remembered as 0)
    keeps the crossing of the line at the reset point from counting the lap twice."""
    sim = started(circle, EvaluationRules(laps=3))
    drive_round_to(sim, 2 * np.pi - 0.05 / R)
    failed = stand(sim, 0.05 / R, radius=OUTSIDE)
    assert failed.status == ["off_track"] and not failed.terminated[0]
    assert failed.params[0]["progress"] == 100 and not np.isnan(failed.lap_time[0])
    assert sim.state.laps_done[0] == 1 and sim.state.prev_progress[0] == 0.0
    paused = sim.step(0.0, 1.0)  # the reset pose's model point is past the line again
    assert paused.status == ["pause"] and np.isnan(paused.lap_time[0])
    assert 0.0 < paused.params[0]["progress"] < 1.0 and sim.state.laps_done[0] == 1


# -- time up -------------------------------------------------------------------------------------


def test_an_evaluation_has_no_time_limit():
    """A lap slower than 180 s completes: only the 100,000-step cap bounds an evaluation."""
    track = Track(circle_track(radius=4.0, n=101), name="big circle")
    sim = BatchSim(track, 1, start="line", rules=EvaluationRules())
    driver = PurePursuitDriver(track, speed=0.1, vehicle=sim.vehicle)
    statuses = set()
    while not (result := sim.step(*driver.act(sim.car))).terminated[0]:
        statuses.add(result.status[0])
        assert not result.truncated[0]
    assert statuses == {"prepare", "in_progress"}
    assert result.status == ["lap_complete"] and result.lap_time[0] > 180.0


def test_time_up_ends_a_race_once_its_duration_is_exceeded(circle):
    sim = BatchSim(circle, 1, start="line", rules=EvaluationRules(race_duration=2.0))
    driver = PurePursuitDriver(circle, speed=0.5, vehicle=sim.vehicle)
    statuses = []
    while not (result := sim.step(*driver.act(sim.car))).truncated[0]:
        statuses.append(result.status[0])
    # Step k's race time is its params' sim_time, (k - 1) / 15 s; 31 / 15 s is the first
    # strictly greater than 2 s (simapp race_time_rule.py).
    assert len(statuses) + 1 == 32 and result.status == ["time_up"]
    assert result.params[0]["sim_time"] == pytest.approx(31 / 15)
    assert not result.terminated[0] and set(statuses) == {"prepare", "in_progress"}


def test_time_up_comes_first(circle):
    # A failure on the time-up step is not forgiven: no reset, no penalty, the episode ends
    # (its status is the failure's: simapp get_episode_status lists off_track before time_up).
    sim = started(circle, EvaluationRules(race_duration=2.0))
    for k in range(30):
        assert stand(sim, 0.5 + 0.01 * k).status == ["in_progress"]
    last = stand(sim, 1.0, radius=OUTSIDE)  # step 32
    assert last.status == ["off_track"] and (last.terminated[0] or last.truncated[0])
    assert sim.state.resets_used[0] == 0 and last.pause_duration[0] == 0.0
    # While paused, time up ends the pause and the race.
    sim = started(circle, EvaluationRules(race_duration=2.0, off_track_penalty=5.0))
    stand(sim, 0.5)
    assert stand(sim, 0.5, radius=OUTSIDE).status == ["off_track"]
    statuses = [sim.step(0.0, 1.0) for _ in range(29)]  # steps 4 to 32
    assert [r.status[0] for r in statuses] == ["pause"] * 28 + ["time_up"]
    assert statuses[-1].truncated[0]


# -- where the car is put back -------------------------------------------------------------------


def simapp_lane_pose(rows: np.ndarray, border: slice, arc: float
                     ) -> tuple[tuple[float, float], float]:
    """The reset pose as the simapp computes it with shapely (rollout_agent_ctrl.py
    _get_reset_poses, track_data.py TrackLine with FORWARD_DIFFERENCE), written out here."""
    lane = shapely.LinearRing((rows[:, 0:2] + rows[:, border]) / 2.0)
    centre = shapely.LinearRing(rows[:, 0:2]).interpolate(arc)
    dist = lane.project(centre)
    point = lane.interpolate(dist)
    coords = list(lane.coords)
    ndists = [lane.project(shapely.Point(c), normalized=True) for c in coords[:-1]] + [1.0]
    nxt = bisect.bisect_right(ndists, dist / lane.length) % len(ndists)
    yaw = math.atan2(coords[nxt][1] - point.y, coords[nxt][0] - point.x)
    return (point.x, point.y), yaw


def wobbly_track() -> np.ndarray:
    """A loop whose borders wander, so that lanes are neither parallel to the centre line
    nor a fixed share of the width from it."""
    t = np.linspace(0.0, 2.0 * np.pi, 41)[:-1]
    ring = np.stack([np.cos(t), np.sin(t)], axis=1)
    inner = (1.5 + 0.15 * np.cos(2 * t))[:, None] * ring
    outer = (2.4 + 0.3 * np.sin(3 * t))[:, None] * ring
    rows = np.concatenate([2.0 * ring, inner, outer], axis=1)
    return np.concatenate([rows, rows[:1]])


@pytest.mark.parametrize("arc", [0.3, 2.9, 5.55, 8.0, 12.2])
def test_the_reset_pose_is_on_the_row_midpoint_lane_aimed_at_its_next_point(arc):
    rows = wobbly_track()
    track = Track(rows, name="wobbly")
    centre, _ = track.center.interpolate(np.array([arc]))
    for near, border in ((np.zeros((1, 2)), slice(2, 4)), (5.0 * centre, slice(4, 6))):
        xy, yaw = reset_pose(track, [arc], near)
        expected_xy, expected_yaw = simapp_lane_pose(rows, border, arc)
        assert xy[0] == pytest.approx(expected_xy, abs=1e-9)
        assert yaw[0] == pytest.approx(expected_yaw, abs=1e-9)
        _, centre_heading = track.center.interpolate(np.array([arc]))
        assert abs(yaw[0] - centre_heading[0]) > 1e-3  # not merely along the centre line


@pytest.mark.parametrize(("before", "after", "lane"), [(1.85, OUTSIDE, 1.8), (2.15, 0.5, 2.2)])
def test_the_reset_lane_is_chosen_from_the_previous_steps_pose(circle, before, after, lane):
    """The inner half of the road, then off the track outside (or the outer half, then in
    the hole): the lane nearer to the previous step's pose wins, not the failing one's."""
    sim = started(circle, EvaluationRules())
    stand(sim, 1.0, radius=before)
    assert stand(sim, 1.05, radius=after).status == ["off_track"]
    x, y, yaw = pose(sim)
    assert math.hypot(x, y) == pytest.approx(lane, abs=0.001)
    # base_link where the previous step's model point was, aimed along the lane.
    assert math.atan2(y, x) == pytest.approx(1.0, abs=0.005)
    assert math.cos(yaw - (math.atan2(y, x) + math.pi / 2)) > 0.999


def test_an_obstacle_near_the_reset_point_sends_the_car_behind_it_in_the_other_lane(circle):
    assert EvaluationRules().reset_behind_dist == 1.0  # DRfC's DR_EVAL_RESET_BEHIND_DIST
    angle = 5.0 / R  # an obstacle in the inner lane, 5 m along the centre line
    obstacle = np.array([[1.8 * math.cos(angle), 1.8 * math.sin(angle)]])
    at = circle.center.project(obstacle)[0][0]  # its arc length, about 5 m
    inside, outside = np.zeros((1, 2)), 5.0 * obstacle
    for behind in (1.0, 0.4):
        for arc in (4.5, 5.8):  # behind or ahead of it, within 1 m
            xy, yaw = reset_pose(circle, [arc], inside, obstacles=obstacle, behind=behind)
            plain_xy, plain_yaw = reset_pose(circle, [at - behind], outside)
            assert xy[0] == pytest.approx(plain_xy[0]) and yaw[0] == pytest.approx(plain_yaw[0])
            assert np.hypot(*xy[0]) == pytest.approx(2.2, abs=0.001)  # the outer lane
    # 1.2 m away the obstacle does not matter; in the outer lane it sends the car inside.
    far = reset_pose(circle, [3.8], inside, obstacles=obstacle)
    assert far[0][0] == pytest.approx(reset_pose(circle, [3.8], inside)[0][0])
    outer_obstacle = obstacle * 2.2 / 1.8
    xy, _ = reset_pose(circle, [4.5], outside, obstacles=outer_obstacle)
    assert np.hypot(*xy[0]) == pytest.approx(1.8, abs=0.001)
