"""Either direction on any loop: DRfC's _cw/_ccw names, and reverse driving with the right
progress (DeepRacer's REVERSE_DIR, reference section 8.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from racerl.drive.pursuit import PurePursuitDriver
from racerl.drive.rollout import Keep, rollout
from racerl.envs.cars import Racers
from racerl.errors import TrackError
from racerl.sim.state import Status
from racerl.track.catalog import load_track, resolve_track
from racerl.track.geometry import Track
from tests.helpers import circle_track


def test_a_suffix_without_a_file_of_its_own_drives_the_base_track_that_way():
    loop = load_track("loop")
    assert loop.is_ccw  # racerl's built-in loop runs counter-clockwise
    cw, ccw = load_track("loop_cw"), load_track("loop_ccw")
    assert not cw.is_ccw and cw.reversed and cw.name == "loop_cw"
    np.testing.assert_array_equal(cw.rows, loop.rows[::-1])
    assert ccw.is_ccw and not ccw.reversed
    np.testing.assert_array_equal(ccw.rows, loop.rows)
    # reverse_direction turns round whatever the name loaded, as REVERSE_DIR does.
    assert load_track("loop_cw", reverse=True).is_ccw
    assert not load_track("loop_ccw", reverse=True).is_ccw
    assert resolve_track("loop_cw") == (resolve_track("loop")[0], "cw")


def test_deepracer_cw_and_ccw_files_are_their_own_tracks(deepracer_tracks):
    for name in ("reInvent2019_track", "2022_april_open", "penbay_pro"):
        for suffix, ccw in (("_cw", False), ("_ccw", True)):
            path, direction = resolve_track(name + suffix)
            assert path == deepracer_tracks / f"{name}{suffix}.npy" and direction is None
            track = load_track(name + suffix)
            assert track.is_ccw == ccw and not track.reversed
    base = load_track("reinvent_base")  # no reinvent_base_cw.npy: the base, turned round
    turned = load_track("reinvent_base_cw" if base.is_ccw else "reinvent_base_ccw")
    assert turned.is_ccw != base.is_ccw and turned.length == pytest.approx(base.length)


def test_direction_mistakes_are_one_clear_line(deepracer_tracks):
    with pytest.raises(TrackError, match=r"Straight_track is an open line.*no cw direction"):
        load_track("Straight_track_cw")
    with pytest.raises(TrackError, match=r"no track named 'nosuch_ccw'"):
        load_track("nosuch_ccw")
    with pytest.raises(TrackError, match=r"'2022_reinvent_champ'.*Did you mean "
                                         r"'2022_reinvent_champ_cw' or '2022_reinvent_champ_ccw'"):
        load_track("2022_reinvent_champ")


def test_reversed_track_drives_clockwise_with_progress_rising_to_a_lap():
    circle = Track(circle_track(radius=2.0), name="circle")
    cars = Racers(1, track=circle, reverse=True, observation="state", start="line")
    result = rollout(cars, PurePursuitDriver(cars.track, 1.0), keep=Keep(trajectory=True,
                                                                         params=True))
    (episode,) = result.episodes
    assert episode.status == Status.LAP_COMPLETE
    params = result.trajectories[0].params
    progress = [p["progress"] for p in params[1:]]
    assert progress[-1] == 100 and np.all(np.diff(progress) > 0)  # never falls on the way
    assert all(p["is_reversed"] for p in params)
    # Physically clockwise: the polar angle of the car falls from step to step.
    angles = np.unwrap([math.atan2(p["y"], p["x"]) for p in params])
    assert angles[-1] - angles[0] == pytest.approx(-2 * math.pi, abs=0.3)
    # The waypoints the reward function sees run clockwise too, from the same start line.
    waypoints = np.array(params[0]["waypoints"])
    np.testing.assert_allclose(waypoints, circle.waypoints[::-1])
