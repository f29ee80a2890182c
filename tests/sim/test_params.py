"""The reward function's params dict: keys, types and values (reference sections 2.1-2.5)."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from racerl.drive.pursuit import PurePursuitDriver
from racerl.reward.function import load_reward_function
from racerl.sim.batch import BatchSim
from racerl.track.geometry import Track
from tests.helpers import (
    MODEL_POINT_OFFSET,
    Recorder,
    base_for_model_point,
    circle_track,
    params_at,
    place,
    straight_track,
)

R = 2.0
KEYS = {  # reference section 2.3, every row
    "all_wheels_on_track", "x", "y", "heading", "distance_from_center", "projection_distance",
    "progress", "steps", "speed", "steering_angle", "track_width", "track_length", "waypoints",
    "closest_waypoints", "is_left_of_center", "is_reversed", "is_offtrack", "is_crashed",
    "closest_objects", "objects_location", "objects_left_of_center", "objects_distance",
    "objects_distance_from_center", "objects_heading", "objects_speed", "object_in_camera",
    "sim_time",
}
FLOAT_KEYS = ("x", "y", "distance_from_center", "projection_distance", "steps", "speed",
              "steering_angle", "track_width", "track_length", "sim_time")
BOOL_KEYS = ("all_wheels_on_track", "is_left_of_center", "is_reversed", "is_offtrack",
             "is_crashed", "object_in_camera")
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@pytest.fixture(scope="module")
def circle() -> Track:
    return Track(circle_track(radius=R), name="circle")


def tangent_pose(phi: float, radius: float, clockwise: bool = False) -> tuple[float, float, float]:
    """base_link (x, y, yaw_deg) whose model point is at polar (radius, phi), heading along
    the circle in the driving direction."""
    yaw = math.degrees(phi) + (-90.0 if clockwise else 90.0)
    x, y = base_for_model_point(radius * math.cos(phi), radius * math.sin(phi), yaw)
    return x, y, yaw


def run_steps(sim: BatchSim, n: int, driver: PurePursuitDriver | None = None,
              steering: float = 0.0, speed: float = 1.0) -> list:
    results = []
    for _ in range(n):
        if driver is not None:
            steer, spd = driver.act(sim.car)
        else:
            steer, spd = [steering] * sim.n, [speed] * sim.n
        results.append(sim.step(steer, spd))
    return results


def assert_types(params: dict) -> None:
    assert set(params) == KEYS
    for key in FLOAT_KEYS:
        assert type(params[key]) is float, key
    for key in BOOL_KEYS:
        assert type(params[key]) is bool, key
    assert isinstance(params["heading"], float)  # float or numpy float64 (reference 2.3)
    assert type(params["progress"]) is float or (type(params["progress"]) is int
                                                 and params["progress"] == 100)
    assert type(params["waypoints"]) is list
    assert all(type(w) is tuple and len(w) == 2 for w in params["waypoints"])
    assert all(type(v) is float for w in params["waypoints"] for v in w)
    cw = params["closest_waypoints"]
    assert type(cw) is list and len(cw) == 2 and all(type(i) is int for i in cw)
    co = params["closest_objects"]
    assert type(co) is list and len(co) == 2 and all(type(i) is int for i in co)
    for key in ("objects_location", "objects_left_of_center", "objects_distance",
                "objects_distance_from_center", "objects_heading", "objects_speed"):
        assert type(params[key]) is list, key


# -- keys and types ----------------------------------------------------------------------------


def test_every_key_with_its_type(circle):
    x, y, yaw = tangent_pose(0.7, R + 0.1)
    params = params_at(circle, x, y, yaw)
    assert_types(params)


def test_types_on_prepare_step_and_on_a_real_track(deepracer_tracks):
    track = Track.load(deepracer_tracks / "reinvent_base.npy")
    recorder = Recorder()
    sim = BatchSim(track, 1, reward=load_reward_function(recorder), start="line")
    prepare = sim.step([0.0], [1.0]).params[0]
    assert_types(prepare)
    run_steps(sim, 3, PurePursuitDriver(track))
    for params in recorder.calls:
        assert_types(params)
    assert len(recorder.calls[0]["waypoints"]) == 119


def test_object_keys_keep_their_defaults(circle):
    params = params_at(circle, *tangent_pose(1.0, R))
    assert params["closest_objects"] == [0, 0]
    for key in ("objects_location", "objects_left_of_center", "objects_distance",
                "objects_distance_from_center", "objects_heading", "objects_speed"):
        assert params[key] == [], key
    assert params["object_in_camera"] is False
    assert params["is_crashed"] is False


def test_waypoints_and_track_length(circle):
    params = params_at(circle, *tangent_pose(1.0, R))
    assert params["waypoints"] == [tuple(p) for p in circle_track(radius=R)[:, 0:2].tolist()]
    assert params["waypoints"][0] == params["waypoints"][-1]  # closing point included
    assert params["track_length"] == circle.length
    rev = params_at(circle.reverse(), *tangent_pose(1.0, R, clockwise=True))
    assert rev["waypoints"] == params["waypoints"][::-1]
    assert rev["track_length"] == pytest.approx(circle.length, rel=1e-12)


# -- steps ---------------------------------------------------------------------------------


def test_steps_are_floats_from_one_on_prepare(circle):
    recorder = Recorder()
    sim = BatchSim(circle, 1, reward=load_reward_function(recorder), start="line")
    results = run_steps(sim, 4, PurePursuitDriver(circle))
    assert [r.params[0]["steps"] for r in results] == [1.0, 2.0, 3.0, 4.0]
    assert [p["steps"] for p in recorder.calls] == [2.0, 3.0, 4.0]
    assert all(type(p["steps"]) is float for p in recorder.calls)
    sim.reset([0])
    sim.step([0.0], [1.0])
    assert len(recorder.calls) == 3  # the new episode's PREPARE step: no call
    sim.step([0.0], [1.0])
    assert recorder.calls[-1]["steps"] == 2.0


# -- progress --------------------------------------------------------------------------------


def test_first_step_progress_on_open_line():
    track = Track(straight_track(length=5.0))
    sim = BatchSim(track, 1, start="line")
    params = sim.step([0.0], [1.0]).params[0]
    assert params["progress"] == pytest.approx(100 * MODEL_POINT_OFFSET / 5.0, abs=1e-12)
    assert params["x"] == pytest.approx(MODEL_POINT_OFFSET, abs=1e-12)


def test_first_step_progress_on_circle(circle):
    sim = BatchSim(circle, 1, start="line")
    params = sim.step([0.0], [1.0]).params[0]
    assert params["progress"] == pytest.approx(100 * MODEL_POINT_OFFSET / circle.length,
                                               rel=2e-3)
    assert params["closest_waypoints"] == [2, 3]  # P is 0.14 m on, segments are 0.063 m


def drive_lap(track: Track, start_ndist: float = 0.0, speed: float = 1.0,
              max_steps: int = 1000):
    recorder = Recorder()
    sim = BatchSim(track, 1, reward=load_reward_function(recorder), start="line")
    sim.reset([0], start_ndist=start_ndist)
    driver = PurePursuitDriver(track, speed=speed)
    results = []
    for _ in range(max_steps):
        steer, spd = driver.act(sim.car)
        results.append(sim.step(steer, spd))
        if results[-1].terminated[0]:
            break
    return results, recorder


@pytest.mark.parametrize("start", [0.0, 0.35, 0.95])
def test_lap_ends_with_int_100(circle, start):
    results, recorder = drive_lap(circle, start_ndist=start)
    last = results[-1].params[0]
    assert results[-1].status[0] == "lap_complete"
    assert last["progress"] == 100 and type(last["progress"]) is int
    assert recorder.calls[-1]["progress"] == 100  # the terminal step calls the reward too
    before = results[-2].params[0]["progress"]
    assert type(before) is float and 99.0 < before < 100.0
    progress = [r.params[0]["progress"] for r in results]
    assert all(b >= a for a, b in itertools.pairwise(progress))
    assert all(-180.0 <= r.params[0]["heading"] <= 180.0 for r in results)


def test_lap_on_reinvent_base(deepracer_tracks):
    track = Track.load(deepracer_tracks / "reinvent_base.npy")
    results, _ = drive_lap(track)
    assert results[-1].status[0] == "lap_complete"
    assert results[-1].params[0]["progress"] == 100
    assert type(results[-1].params[0]["progress"]) is int
    # about L / v at 1 m/s and 15 steps per second
    assert len(results) == pytest.approx(track.length * 15, rel=0.05)


def test_progress_counts_from_the_episode_start(circle):
    sim = BatchSim(circle, 1, start="round_robin")
    sim.reset([0], start_ndist=0.35)
    results = run_steps(sim, 20, PurePursuitDriver(circle))
    first = results[0].params[0]
    assert first["progress"] == pytest.approx(100 * MODEL_POINT_OFFSET / circle.length, rel=2e-3)
    assert first["projection_distance"] == pytest.approx(
        0.35 * circle.length + MODEL_POINT_OFFSET, abs=2e-3)
    last = results[-1].params[0]
    expected = 100 * (last["projection_distance"] / circle.length - 0.35)
    assert last["progress"] == pytest.approx(expected, abs=1e-9)


def test_round_robin_starts_progress_at_zero(circle):
    sim = BatchSim(circle, 3, start="round_robin")
    results = run_steps(sim, 2, PurePursuitDriver(circle))
    assert len(set(np.round(sim.state.start_ndist, 6))) == 3  # three different start points
    for params in results[0].params:
        assert params["progress"] == pytest.approx(100 * MODEL_POINT_OFFSET / circle.length,
                                                   rel=2e-3)


@pytest.mark.parametrize("start", [0.0, 0.5])
def test_backing_behind_the_start_gives_negative_progress(circle, start):
    phi = 2 * math.pi * start - 0.2 / R  # model point 0.2 m (of arc) behind the start
    x, y, yaw = tangent_pose(phi, R)
    params = params_at(circle, x, y, yaw, start_ndist=start)
    assert params["progress"] < 0
    assert params["progress"] == pytest.approx(-100 * 0.2 / circle.length, rel=5e-3)


def test_progress_wraps_over_the_start_line_within_a_lap(circle):
    """Starting at 95 %, the car crosses waypoint 0 mid-lap; progress keeps counting up."""
    sim = BatchSim(circle, 1, start="line")
    sim.reset([0], start_ndist=0.95)
    results = run_steps(sim, 30, PurePursuitDriver(circle))
    progress = [r.params[0]["progress"] for r in results]
    ndist = [r.params[0]["projection_distance"] / circle.length for r in results]
    assert ndist[0] > 0.95 and ndist[-1] < 0.2  # it did cross the start line
    assert all(b >= a for a, b in itertools.pairwise(progress))
    assert 0 < progress[-1] < 20


# -- position and heading ----------------------------------------------------------------------


@pytest.mark.parametrize("yaw_deg", [0.0, 37.0, 90.0, 179.0, -120.0, -1.0])
def test_xy_is_the_model_point_and_heading_is_the_yaw(circle, yaw_deg):
    bx, by = 1.1, -1.6
    params = params_at(circle, bx, by, yaw_deg)
    yaw = math.radians(yaw_deg)
    assert params["x"] == pytest.approx(bx + 0.14 * math.cos(yaw), abs=1e-12)
    assert params["y"] == pytest.approx(by + 0.14 * math.sin(yaw), abs=1e-12)
    assert params["heading"] == pytest.approx(yaw_deg, abs=1e-9)


def test_params_describe_the_pose_before_the_action(circle):
    recorder = Recorder()
    sim = BatchSim(circle, 1, reward=load_reward_function(recorder), start="line")
    sim.step([0.0], [1.0])
    x, y, yaw = tangent_pose(1.0, R)
    place(sim, 0, x, y, yaw)
    sim.step([30.0], [4.0])
    seen = recorder.calls[-1]
    assert seen["x"] == pytest.approx(x + 0.14 * math.cos(math.radians(yaw)), abs=1e-12)
    assert seen["heading"] == pytest.approx(yaw, abs=1e-9)
    assert sim.car.x[0] != pytest.approx(x, abs=1e-3)  # the car has moved since


@pytest.mark.parametrize(("steering", "speed"), [(45.0, 1.0), (-60.0, 0.0), (10.0, 7.5),
                                                 (0.0, 0.05), (-30.0, -1.0)])
def test_speed_and_steering_are_the_commands_unclipped(circle, steering, speed):
    x, y, yaw = tangent_pose(1.0, R)
    params = params_at(circle, x, y, yaw, steering=steering, speed=speed)
    assert params["steering_angle"] == steering and type(params["steering_angle"]) is float
    assert params["speed"] == speed and type(params["speed"]) is float


def test_the_car_itself_is_clipped(circle):
    sim = BatchSim(circle, 1, start="line")
    run_steps(sim, 10, steering=45.0, speed=9.0)
    assert abs(sim.car.steering[0]) <= math.radians(30.0) + 1e-12
    assert sim.car.speed[0] <= 4.0 + 1e-12


def test_integer_commands_are_reported_as_floats(circle):
    sim = BatchSim(circle, 1, start="line")
    sim.step(np.array([0]), np.array([1]))
    params = sim.step(np.array([15]), np.array([2])).params[0]
    assert params["steering_angle"] == 15.0 and type(params["steering_angle"]) is float
    assert params["speed"] == 2.0 and type(params["speed"]) is float


# -- distance, width, side ---------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-0.3, -0.1, 0.2])
def test_distance_from_center_and_width(circle, offset):
    params = params_at(circle, *tangent_pose(2.5, R + offset))
    assert params["distance_from_center"] == pytest.approx(abs(offset), abs=1e-3)
    assert params["track_width"] == pytest.approx(0.8, abs=1e-3)
    assert params["is_left_of_center"] is (offset < 0)
    assert params["all_wheels_on_track"] is True
    assert params["is_offtrack"] is False


def test_is_reversed(circle):
    pose = tangent_pose(1.0, R)
    assert params_at(circle, *pose)["is_reversed"] is False
    assert params_at(circle.reverse(), *tangent_pose(1.0, R, True))["is_reversed"] is True
    cw = Track(circle_track(clockwise=True))
    assert params_at(cw, *tangent_pose(-1.0, R, True))["is_reversed"] is False


def test_reversed_run_sides_and_waypoints(circle):
    rev = circle.reverse()
    phi = -10.5 * 2 * math.pi / 200  # mid segment 10 of the reversed run
    inside = params_at(rev, *tangent_pose(phi, R - 0.2, clockwise=True))
    assert inside["is_left_of_center"] is False  # driving clockwise, the inside is the right
    assert inside["closest_waypoints"] == [10, 11]
    outside = params_at(rev, *tangent_pose(phi, R + 0.2, clockwise=True))
    assert outside["is_left_of_center"] is True


# -- the params dict is the reward function's own copy ---------------------------------------


def vandal(params):
    """Reward function that wrecks its params dict after taking a look."""
    vandal.seen.append(copy.deepcopy(params))
    params["x"] = 1e9
    params["progress"] = 555.0
    params["steps"] = -1.0
    params["waypoints"].clear()
    params["closest_waypoints"][0] = -7
    params["objects_location"].append([1.0, 2.0])
    del params["track_width"]
    return 1.0


def test_mutating_params_does_not_leak_into_the_next_step(circle):
    vandal.seen = []
    sim = BatchSim(circle, 1, reward=load_reward_function(vandal), start="line")
    driver = PurePursuitDriver(circle)
    results = run_steps(sim, 4, driver)
    assert len(vandal.seen) == 3
    for seen in vandal.seen:
        assert_types(seen)
        assert len(seen["waypoints"]) == 201
        assert seen["objects_location"] == []
        assert 0 < seen["progress"] < 10
    assert [s["steps"] for s in vandal.seen] == [2.0, 3.0, 4.0]
    assert results[-1].status[0] == "in_progress"


def test_mutating_params_does_not_change_the_step_result(circle):
    """Reference 2.1: the reward function gets a deep copy; the simulator's own params (the
    ones a sim-trace is written from) must stay as they were."""
    vandal.seen = []
    sim = BatchSim(circle, 1, reward=load_reward_function(vandal), start="line")
    sim.step([0.0], [1.0])
    result = sim.step([0.0], [1.0])
    assert result.params[0] == vandal.seen[0]


def test_cars_do_not_share_params_objects(circle):
    sim = BatchSim(circle, 2, start="line")
    params = sim.step([0.0, 0.0], [1.0, 1.0]).params
    assert params[0]["waypoints"] is not params[1]["waypoints"]
    assert params[0]["closest_waypoints"] is not params[1]["closest_waypoints"]


# -- the reward is what the function returned --------------------------------------------------


@pytest.mark.parametrize("value", [0.123456789, -5.5, 3, True, np.float32(0.1), 1e5, -1e5,
                                   1e-300])
def test_step_reward_is_exactly_the_returned_value(circle, value):
    sim = BatchSim(circle, 1, reward=load_reward_function(lambda params: value), start="line")
    assert sim.step([0.0], [1.0]).rewards[0] == 0.0  # PREPARE
    rewards = [sim.step([0.0], [1.0]).rewards[0] for _ in range(3)]
    assert rewards == [float(value)] * 3


def test_reward_depends_on_params(circle):
    sim = BatchSim(circle, 1, reward=load_reward_function(lambda p: p["steps"] * 0.25 + p["x"]),
                   start="line")
    sim.step([0.0], [1.0])
    result = sim.step([0.0], [1.0])
    p = result.params[0]
    assert result.rewards[0] == p["steps"] * 0.25 + p["x"]


def test_example_reward_function_runs_on_params(circle):
    sim = BatchSim(circle, 1, reward=load_reward_function("follow_center_line"), start="line")
    sim.step([0.0], [1.0])
    result = sim.step([0.0], [1.0])
    assert result.rewards[0] == pytest.approx(1.0)  # on the centre line: the top marker


# -- properties ------------------------------------------------------------------------------


@SETTINGS
@given(start=st.floats(0.0, 0.999), speed=st.floats(0.5, 2.5))
def test_progress_grows_while_driving_forward(start, speed):
    track = Track(circle_track(radius=R))
    sim = BatchSim(track, 1, start="line")
    sim.reset([0], start_ndist=start)
    results = run_steps(sim, 25, PurePursuitDriver(track, speed=speed))
    progress = [r.params[0]["progress"] for r in results]
    assert progress[1] == pytest.approx(progress[0], abs=1e-9)  # it stood during PREPARE
    assert all(b > a for a, b in itertools.pairwise(progress[1:]))
    assert all(0 < p < 100 for p in progress)


@SETTINGS
@given(ndist=st.floats(0.0, 1.0, exclude_max=True), reverse=st.booleans())
def test_on_the_centre_line_distance_is_zero(ndist, reverse):
    track = Track(circle_track(radius=R), reverse=reverse)
    xy, yaw = track.pose_at(ndist)
    yaw_deg = math.degrees(yaw)
    x, y = base_for_model_point(float(xy[0]), float(xy[1]), yaw_deg)
    params = params_at(track, x, y, yaw_deg, start_ndist=ndist)
    assert params["distance_from_center"] == pytest.approx(0.0, abs=1e-9)
    assert params["x"] == pytest.approx(float(xy[0]), abs=1e-9)
    gap = abs(params["projection_distance"] / track.length - ndist)
    assert min(gap, 1 - gap) < 1e-9
    assert params["all_wheels_on_track"] is True


@SETTINGS
@given(phi=st.floats(0.0, 2 * math.pi), offset=st.floats(0.02, 0.35), reverse=st.booleans(),
       clockwise=st.booleans())
def test_mirrored_poses_flip_the_side(phi, offset, reverse, clockwise):
    track = Track(circle_track(radius=R, clockwise=clockwise), reverse=reverse)
    driving_cw = clockwise != reverse
    inner = params_at(track, *tangent_pose(phi, R - offset, driving_cw))
    outer = params_at(track, *tangent_pose(phi, R + offset, driving_cw))
    assert inner["is_left_of_center"] is (not driving_cw)
    assert outer["is_left_of_center"] is driving_cw
    assert inner["distance_from_center"] == pytest.approx(offset, abs=1e-3)
    assert outer["distance_from_center"] == pytest.approx(offset, abs=1e-3)
    gap = abs(inner["projection_distance"] - outer["projection_distance"])
    assert min(gap, track.length - gap) < 1e-2  # the same place along the line
