"""The optimal race line: inside the borders, within the car's limits, faster than the centre."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from racerl.cli import app
from racerl.drive.pursuit import RaceLineDriver, drive_lap, drive_raceline_lap
from racerl.drive.raceline import (
    CAR_HALF_WIDTH,
    GRIP_SHARE,
    SAFETY,
    compute_raceline,
    curvature,
    lane_frame,
    raceline_dir,
    raceline_for_params,
    waypoint_hash,
)
from racerl.errors import TrackError
from racerl.reward.function import load_reward_function
from racerl.sim.batch import BatchSim
from racerl.sim.vehicle import VehicleParams
from racerl.track.catalog import load_track
from racerl.track.geometry import Track
from tests.helpers import Recorder, circle_track, straight_track

CONSTANT = load_reward_function(lambda params: 1.0)
CENTRE_SPEEDS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


def best_centre_lap(track: Track) -> tuple[float, float]:
    """(speed, lap time) of the fastest constant-speed centre-line lap that completes."""
    laps = [(v, drive_lap(track, speed=v, reward=CONSTANT)) for v in CENTRE_SPEEDS]
    done = [(v, lap.lap_time) for v, lap in laps if lap.status == "lap_complete"]
    return min(done, key=lambda pair: pair[1])


@pytest.mark.parametrize("name", ["loop", "reinvent_base", "reInvent2019_track"])
def test_raceline_beats_the_best_centre_line_lap(name, request):
    if name != "loop":  # built-in; the others are DeepRacer's files (skipped when absent)
        request.getfixturevalue("deepracer_tracks")
    track = load_track(name)
    lap = drive_raceline_lap(track, reward=CONSTANT)
    assert lap.status == "lap_complete"
    speed, centre_time = best_centre_lap(track)
    assert lap.lap_time < centre_time, (speed, centre_time, lap.lap_time)
    # The simulator's lap is close to the plan: the profile is honest about the car.
    line = compute_raceline(track)
    assert lap.lap_time == pytest.approx(line.lap_time, rel=0.15)


def test_line_stays_inside_the_borders_with_a_margin():
    track = load_track("circuit")
    line = compute_raceline(track)
    assert track.on_track(line.xy).all()
    for border in (track.inner, track.outer):
        _, closest = border.project(line.xy)
        assert np.hypot(*(line.xy - closest).T).min() >= CAR_HALF_WIDTH
    assert line.length < track.length  # corners are cut, not driven round the middle


def test_speed_profile_respects_the_vehicle():
    vehicle = VehicleParams()
    line = compute_raceline(load_track("circuit"), vehicle)
    kappa = curvature(line.xy)
    assert np.all(line.speed <= vehicle.max_speed + 1e-9)
    assert np.all(line.speed ** 2 * kappa <= GRIP_SHARE * vehicle.lateral_grip + 1e-6)
    ds = np.hypot(*np.diff(line.closed_xy, axis=0).T)
    v = np.append(line.speed, line.speed[0])
    accel = (v[1:] ** 2 - v[:-1] ** 2) / (2 * ds)
    assert accel.max() <= vehicle.max_acceleration + 1e-6
    assert accel.min() >= -vehicle.max_deceleration - 1e-6


def test_circle_line_is_the_inside_circle_at_its_grip_speed():
    """On a circle every concentric line has the same turn per point, and the shorter one
    has the smaller second differences: the line is the innermost circle the margin allows,
    driven at sqrt(grip share * grip * r)."""
    track = Track(circle_track(radius=2.0, width=0.8))
    line = compute_raceline(track)
    radius = np.hypot(*line.xy.T)
    assert np.ptp(radius) < 0.02
    assert radius.mean() == pytest.approx(2.0 - 0.4 + CAR_HALF_WIDTH + SAFETY, abs=0.01)
    expected = np.sqrt(GRIP_SHARE * VehicleParams().lateral_grip * radius.mean())
    assert np.median(line.speed) == pytest.approx(expected, rel=0.03)


def test_open_track_is_refused():
    with pytest.raises(TrackError, match="needs a closed loop"):
        lane_frame(Track(straight_track()))


def test_lane_frame_measures_both_sides():
    frame = lane_frame(Track(circle_track(radius=2.0, width=0.8)))
    np.testing.assert_allclose(frame.left, 0.4, atol=2e-3)
    np.testing.assert_allclose(frame.right, 0.4, atol=2e-3)
    # Left of a counter-clockwise circle is towards its centre.
    assert np.all(np.hypot(*frame.offset(np.full(len(frame.arc), 0.1)).T) < 2.0)


def test_cache_is_written_once_and_reused():
    track = load_track("oval")
    first = compute_raceline(track)
    files = list(raceline_dir().glob("oval-*.npy"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = compute_raceline(track)
    assert files[0].stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first.xy, again.xy)
    np.testing.assert_array_equal(first.speed, again.speed)


def first_params(track: Track) -> dict:
    recorder = Recorder()
    sim = BatchSim(track, 1, reward=load_reward_function(recorder), start="line")
    sim.step([0.0], [1.0])
    sim.step([0.0], [1.0])
    return recorder.calls[0]


def test_reward_helper_finds_the_line_from_params():
    track = load_track("loop")
    params = first_params(track)
    assert waypoint_hash(params["waypoints"]) == waypoint_hash(track.waypoints)
    missed = raceline_for_params(params)  # empty home: found on the search path, cached
    assert list(raceline_dir().glob("loop-*.npy"))
    np.testing.assert_array_equal(missed.xy, compute_raceline(track).xy)


def test_reward_helper_on_an_unknown_track():
    params = first_params(Track(circle_track(radius=3.1)))
    with pytest.raises(TrackError, match="no known track has these waypoints"):
        raceline_for_params(params)


def test_follow_raceline_example_prefers_the_line():
    reward = load_reward_function("examples/rewards/follow_raceline.py").instance()
    track = load_track("loop")
    line = compute_raceline(track)
    params = first_params(track)
    k = 10
    on_line = dict(params, x=float(line.xy[k, 0]), y=float(line.xy[k, 1]),
                   speed=float(line.speed[k]))
    off_line = dict(on_line, speed=0.5 * float(line.speed[k]),
                    x=on_line["x"] + 0.2, y=on_line["y"])
    assert type(reward(on_line)) is float
    assert reward(on_line) > reward(off_line)


def test_driver_api_batches():
    track = load_track("loop")
    driver = RaceLineDriver(track, compute_raceline(track))
    sim = BatchSim(track, 3, reward=CONSTANT, start="line")
    steer, speed = driver.act(sim.car)
    assert steer.shape == speed.shape == (3,)
    assert np.all(speed > 0)


def test_cli_writes_csv_npy_and_png(tmp_path):
    result = CliRunner().invoke(app, ["raceline", "--track", "loop", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    table = np.load(tmp_path / "loop_raceline.npy")
    csv = np.loadtxt(tmp_path / "loop_raceline.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(csv, table, atol=1e-5)
    assert table.shape[1] == 3
    assert (tmp_path / "loop_raceline.png").stat().st_size > 10_000
    assert "driven in the simulator" in result.output
    bad = CliRunner().invoke(app, ["raceline", "--track", "no_such_track"])
    assert bad.exit_code == 2
