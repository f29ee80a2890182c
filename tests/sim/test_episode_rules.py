"""Episode rules: phases, statuses and their priority, starts, lap time, reward errors
(reference sections 2.1, 8 and 12)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from racerl.drive.pursuit import PurePursuitDriver
from racerl.errors import RewardFunctionError
from racerl.reward.function import load_reward_function
from racerl.sim.batch import BatchSim
from racerl.sim.vehicle import VehicleParams
from racerl.track.geometry import Track
from tests.helpers import Recorder, base_for_model_point, circle_track, place, straight_track

R = 2.0


@pytest.fixture(scope="module")
def circle() -> Track:
    return Track(circle_track(radius=R), name="circle")


def pose_on_circle(phi: float, radius: float = R, backwards: bool = False):
    """base_link (x, y, yaw_deg) with the model point at polar (radius, phi), heading along
    the counter-clockwise direction (or against it)."""
    yaw = math.degrees(phi) + (-90.0 if backwards else 90.0)
    x, y = base_for_model_point(radius * math.cos(phi), radius * math.sin(phi), yaw)
    return x, y, yaw


def consecutive_counts(flags: list[bool]) -> list[int]:
    out, run = [], 0
    for flag in flags:
        run = run + 1 if flag else 0
        out.append(run)
    return out


# -- phases ----------------------------------------------------------------------------------


def test_prepare_step_does_not_call_the_reward_and_does_not_move(circle):
    recorder = Recorder(value=2.5)
    sim = BatchSim(circle, 1, reward=load_reward_function(recorder), start="line")
    x0, y0 = sim.car.x[0], sim.car.y[0]
    first = sim.step([30.0], [4.0])
    assert first.status == ["prepare"]
    assert first.rewards[0] == 0.0
    assert not first.terminated[0] and not first.truncated[0]
    assert recorder.calls == []
    assert (sim.car.x[0], sim.car.y[0]) == (x0, y0)  # a zero command was sent
    second = sim.step([0.0], [1.0])
    assert second.status == ["in_progress"]
    assert second.rewards[0] == 2.5
    assert len(recorder.calls) == 1
    assert sim.car.x[0] != x0 or sim.car.y[0] != y0


def test_reward_calls_count_in_a_batch_with_resets(circle):
    recorder = Recorder()
    sim = BatchSim(circle, 3, reward=load_reward_function(recorder), start="round_robin")
    for _ in range(4):
        sim.step([0.0] * 3, [1.0] * 3)
    assert len(recorder.calls) == 3 * 3
    sim.reset([1])
    result = sim.step([0.0] * 3, [1.0] * 3)
    assert len(recorder.calls) == 3 * 3 + 2
    assert result.status == ["in_progress", "prepare", "in_progress"]
    assert result.rewards.tolist() == [1.0, 0.0, 1.0]
    assert all(p["steps"] >= 2.0 for p in recorder.calls)


def test_max_steps_truncates(circle):
    sim = BatchSim(circle, 1, start="line", max_steps=5)
    driver = PurePursuitDriver(circle)
    results = [sim.step(*driver.act(sim.car)) for _ in range(5)]
    assert [bool(r.truncated[0]) for r in results] == [False] * 4 + [True]
    assert not any(r.terminated[0] for r in results)


def test_max_steps_per_car(circle):
    sim = BatchSim(circle, 2, start="line", max_steps=np.array([3, 5]))
    driver = PurePursuitDriver(circle)
    results = [sim.step(*driver.act(sim.car)) for _ in range(5)]
    assert [r.truncated.tolist() for r in results] == [
        [False, False], [False, False], [True, False], [True, False], [True, True]]


# -- lap complete and lap time -----------------------------------------------------------------


def test_lap_complete_and_lap_time(circle):
    sim = BatchSim(circle, 1, start="line")
    driver = PurePursuitDriver(circle, speed=1.0)
    results = []
    while not results or not results[-1].terminated[0]:
        results.append(sim.step(*driver.act(sim.car)))
        assert len(results) < 400, "the lap never completed"
    last = results[-1]
    assert last.status == ["lap_complete"]
    assert all(r.status == ["in_progress"] for r in results[1:-1])
    assert all(math.isnan(r.lap_time[0]) for r in results[:-1])
    steps = len(results)  # PREPARE included, as in DeepRacer's 247 steps for a 16.47 s lap
    assert last.lap_time[0] == pytest.approx(steps / 15.0, rel=1e-12)
    assert circle.length <= last.lap_time[0] <= circle.length + 0.6  # at about 1 m/s


# -- off track and wheels --------------------------------------------------------------------


@pytest.mark.parametrize(("base_y", "all_on", "off"), [
    (-0.24, False, False),   # only the front-right wheel is beyond y = -0.3
    (-0.36, False, False),   # only the rear-left wheel is still on the road
    (-0.45, False, True),    # all four wheels off
    (-0.10, True, False),    # all four on
])
def test_wheels_decide_off_track(base_y, all_on, off):
    # Yaw -45 deg: wheel centres sit at base_y + 0.115 (rear-left), -0.002 (front-left),
    # +0.0004 (rear-right) and -0.1145 (front-right); the road is |y| < 0.3.
    track = Track(straight_track(length=5.0, width=0.6))
    recorder = Recorder()
    sim = BatchSim(track, 1, reward=load_reward_function(recorder), start="line")
    place(sim, 0, 2.5, base_y, -45.0)
    sim.step([0.0], [1.0])
    place(sim, 0, 2.5, base_y, -45.0)
    result = sim.step([0.0], [1.0])
    params = recorder.calls[-1]
    assert params["all_wheels_on_track"] is all_on
    assert params["is_offtrack"] is off
    assert result.status == ["off_track" if off else "in_progress"]
    assert bool(result.terminated[0]) is off
    assert result.rewards[0] == 1.0  # the terminal step still calls the reward function


@pytest.mark.parametrize("radius", [0.5, 1.5, 2.6, 4.0])
def test_off_track_in_the_hole_and_outside(circle, radius):
    sim = BatchSim(circle, 1, start="line")
    sim.step([0.0], [1.0])
    place(sim, 0, *pose_on_circle(1.0, radius))
    result = sim.step([0.0], [1.0])
    assert result.status == ["off_track"]
    assert result.terminated[0]
    assert result.params[0]["is_offtrack"] is True


def test_driving_off_the_road_ends_the_episode(circle):
    sim = BatchSim(circle, 1, start="line")
    results = [sim.step([0.0], [2.0]) for _ in range(200)]  # straight on: leaves the circle
    statuses = [r.status[0] for r in results]
    assert "off_track" in statuses
    end = statuses.index("off_track")
    assert all(s == "in_progress" for s in statuses[1:end])
    assert results[end].params[0]["all_wheels_on_track"] is False
    assert results[end - 1].params[0]["is_offtrack"] is False


# -- reversed ----------------------------------------------------------------------------------


def test_reversed_after_15_steps_of_falling_progress(circle):
    sim = BatchSim(circle, 1, start="line")
    sim.reset([0], start_ndist=0.5)
    sim.place([0], [[sim.car.x[0], sim.car.y[0]]], [sim.car.yaw[0] + math.pi])  # turned round
    driver = PurePursuitDriver(circle.reverse(), speed=1.0)
    results = []
    while not results or not results[-1].terminated[0]:
        results.append(sim.step(*driver.act(sim.car)))
        assert len(results) < 60
    progress = [r.params[0]["progress"] for r in results]
    assert progress[0] < 0  # the model point is behind the start
    falls = consecutive_counts([False] + [b < a for a, b in itertools.pairwise(progress)])
    expected_end = falls.index(15)
    assert len(results) - 1 == expected_end
    assert results[-1].status == ["reversed"]
    assert all(r.status == ["in_progress"] for r in results[1:-1])


def test_driving_forward_never_reverses(circle):
    sim = BatchSim(circle, 1, start="line")
    driver = PurePursuitDriver(circle, speed=1.0)
    statuses = [sim.step(*driver.act(sim.car)).status[0] for _ in range(60)]
    assert statuses == ["prepare"] + ["in_progress"] * 59


# -- immobilized ------------------------------------------------------------------------------


def test_immobilized_when_the_car_cannot_move(circle):
    """The car's speed is clipped to >= 0.1 m/s, so a stop needs a car without that floor."""
    sim = BatchSim(circle, 1, start="line", vehicle=VehicleParams(min_speed=0.0))
    results = [sim.step([0.0], [0.0]) for _ in range(16)]
    statuses = [r.status[0] for r in results]
    # base_link never moves: RUN steps 1..14 continue, the 15th ends the episode
    assert statuses[:15] == ["prepare"] + ["in_progress"] * 14
    assert statuses[15] == "immobilized"
    assert results[15].terminated[0]


def test_no_immobilized_with_the_default_speed_floor(circle):
    sim = BatchSim(circle, 1, start="line")
    statuses = [sim.step([0.0], [0.0]).status[0] for _ in range(40)]
    assert statuses == ["prepare"] + ["in_progress"] * 39
    assert sim.car.speed[0] == pytest.approx(0.1, abs=1e-3)


def creep_backwards(circle: Track, step_m: float, off_track_at: int | None = None,
                    n: int = 17) -> list[str]:
    """Place the car before every step a little further back along the line."""
    sim = BatchSim(circle, 1, start="line")
    sim.reset([0], start_ndist=0.5)
    statuses = []
    for k in range(n):
        phi = math.pi - k * step_m / R
        radius = 3.2 if k == off_track_at else R
        place(sim, 0, *pose_on_circle(phi, radius))
        result = sim.step([0.0], [1.0])
        statuses.append(result.status[0])
        if result.terminated[0]:
            break
    return statuses


def test_creeping_backwards_fast_is_reversed(circle):
    statuses = creep_backwards(circle, step_m=0.01)
    assert statuses == ["prepare"] + ["in_progress"] * 14 + ["reversed"]


def test_immobilized_beats_reversed(circle):
    statuses = creep_backwards(circle, step_m=0.0002)  # under 0.3 mm per step, still falling
    assert statuses == ["prepare"] + ["in_progress"] * 14 + ["immobilized"]


def test_off_track_beats_reversed(circle):
    statuses = creep_backwards(circle, step_m=0.01, off_track_at=15)
    assert statuses == ["prepare"] + ["in_progress"] * 14 + ["off_track"]


# -- lap complete beats off track ---------------------------------------------------------


@pytest.mark.parametrize(("final_ndist", "expected"), [(0.02, "lap_complete"),
                                                       (0.5, "off_track")])
def test_lap_complete_beats_off_track(circle, final_ndist, expected):
    sim = BatchSim(circle, 1, start="line")
    sim.step([0.0], [1.0])
    for ndist in (0.3, 0.6, 0.9):
        place(sim, 0, *pose_on_circle(2 * math.pi * ndist))
        assert sim.step([0.0], [1.0]).status == ["in_progress"]
    place(sim, 0, *pose_on_circle(2 * math.pi * final_ndist, radius=3.2))
    result = sim.step([0.0], [1.0])
    assert result.params[0]["is_offtrack"] is True
    assert result.status == [expected]
    assert result.terminated[0]
    if expected == "lap_complete":
        assert result.params[0]["progress"] == 100


# -- start positions -------------------------------------------------------------------------


def test_round_robin_starts_are_5_percent_apart(circle):
    sim = BatchSim(circle, 1, start="round_robin")
    starts = []
    for _ in range(25):
        sim.reset([0])
        starts.append(float(sim.state.start_ndist[0]))
    assert starts[0] == 0.0  # episode 0 starts at START_POSITION_OFFSET (default 0)
    steps = [(b - a) % 1.0 for a, b in itertools.pairwise(starts)]
    assert steps == pytest.approx([0.05] * 24, abs=1e-9)
    assert len({round(s, 9) % 1.0 for s in starts}) == 20
    assert starts[20] == pytest.approx(starts[0], abs=1e-9)


def test_round_robin_start_offset_and_several_cars(circle):
    sim = BatchSim(circle, 3, start="round_robin", start_offset=0.1)
    sim.reset()
    before = sim.state.start_ndist.copy()
    assert 0.1 in np.round(before, 9)
    assert len(set(np.round(before, 9))) == 3  # the cars do not all start at one point
    sim.reset()
    assert ((sim.state.start_ndist - before) % 1.0).tolist() == pytest.approx([0.05] * 3, abs=1e-9)


def test_start_pose_is_on_the_centre_line_facing_the_next_waypoint(circle):
    sim = BatchSim(circle, 1, start="round_robin")
    for _ in range(5):
        sim.reset([0])
        start = float(sim.state.start_ndist[0])
        xy, yaw = circle.pose_at(start)
        assert [sim.car.x[0], sim.car.y[0]] == pytest.approx(np.asarray(xy).tolist(), abs=1e-12)
        assert sim.car.yaw[0] == pytest.approx(yaw, abs=1e-12)
        assert sim.car.speed[0] == 0.0
        angle = math.atan2(sim.car.y[0], sim.car.x[0]) % (2 * math.pi)
        assert angle == pytest.approx(2 * math.pi * start, abs=1e-3)


def test_line_start_is_always_the_start_line(circle):
    sim = BatchSim(circle, 2, start="line")
    for _ in range(3):
        sim.reset()
        assert sim.state.start_ndist.tolist() == [0.0, 0.0]
        assert sim.car.x.tolist() == pytest.approx([R, R])


# -- reward function errors ------------------------------------------------------------------


def returning(value):
    def my_reward_function(params):
        return value
    return my_reward_function


def raising(params):
    raise ValueError("boom in the reward")


@pytest.mark.parametrize(("func", "words"), [
    (raising, ["ValueError", "boom in the reward"]),
    (returning(None), ["None"]),
    (returning("fast"), ["'fast'"]),
    (returning(float("nan")), ["nan"]),
    (returning(float("inf")), ["inf"]),
    (returning(-float("inf")), ["inf"]),
    (returning(1e6), ["1000000"]),
    (returning(-1e6), ["1000000"]),
    (returning(100000.5), ["100000.5"]),
    (returning([1.0]), ["[1.0]"]),
])
def test_reward_errors_stop_the_run(circle, func, words):
    sim = BatchSim(circle, 1, reward=load_reward_function(func), start="line")
    sim.step([0.0], [1.0])  # PREPARE: the function is not called
    with pytest.raises(RewardFunctionError) as err:
        sim.step([0.0], [1.0])
    message = str(err.value)
    assert func.__name__ in message
    assert "step 2" in message
    assert "params" in message and "'track_length'" in message
    for word in words:
        assert word in message
    assert err.value.step == 2.0
    assert err.value.params["steps"] == 2.0


def test_reward_error_at_a_later_step_names_that_step(circle):
    def fails_at_five(params):
        if params["steps"] == 5.0:
            raise KeyError("missing")
        return 1.0

    sim = BatchSim(circle, 1, reward=load_reward_function(fails_at_five), start="line")
    for _ in range(4):
        sim.step([0.0], [1.0])
    with pytest.raises(RewardFunctionError, match="step 5") as err:
        sim.step([0.0], [1.0])
    assert "fails_at_five" in str(err.value)


def test_reward_error_from_a_file_names_the_file(circle, tmp_path):
    path = tmp_path / "my_reward.py"
    path.write_text("def reward_function(params):\n    return params['no_such_key']\n")
    sim = BatchSim(circle, 1, reward=load_reward_function(path), start="line")
    sim.step([0.0], [1.0])
    with pytest.raises(RewardFunctionError) as err:
        sim.step([0.0], [1.0])
    assert str(path) in str(err.value)
    assert "no_such_key" in str(err.value)


def test_largest_allowed_rewards_pass(circle):
    for value in (1e5, -1e5):
        sim = BatchSim(circle, 1, reward=load_reward_function(returning(value)), start="line")
        sim.step([0.0], [1.0])
        assert sim.step([0.0], [1.0]).rewards[0] == value
