"""The scripted pure-pursuit driver completes laps: built-in tracks and all DeepRacer tracks."""

from __future__ import annotations

import numpy as np
import pytest

from racerl.drive.pursuit import PurePursuitDriver, drive_lap, lap_rollout
from racerl.drive.rollout import Keep
from racerl.home import builtin_tracks_dir
from racerl.reward.function import load_reward_function
from racerl.track.catalog import DEEPRACER_TRACK_NAMES, load_track

MODERATE_SPEED = 1.0  # m/s, the top speed of the console's default action space


def constant_reward(params):
    return 1.0


FAST_REWARD = load_reward_function(constant_reward)


@pytest.mark.parametrize("name", sorted(p.stem for p in builtin_tracks_dir().glob("*.npy")))
def test_laps_every_builtin_track(name):
    track = load_track(name)
    result = drive_lap(track, speed=MODERATE_SPEED, reward=FAST_REWARD)
    assert result.status == "lap_complete"
    # A lap at constant speed takes at least the centre-line length over that speed.
    assert result.lap_time >= track.length / MODERATE_SPEED * 0.9
    assert result.lap_time == pytest.approx(result.steps / 15.0)


@pytest.mark.slow
def test_laps_all_127_deepracer_tracks(deepracer_tracks):
    files = sorted(deepracer_tracks.glob("*.npy"))
    assert {p.stem for p in files} >= DEEPRACER_TRACK_NAMES, "some DeepRacer tracks missing"
    failed = {}
    for path in files:
        result = drive_lap(load_track(path), speed=MODERATE_SPEED, reward=FAST_REWARD)
        if result.status != "lap_complete":
            failed[path.stem] = (result.status, result.progress)
    assert not failed, f"pure pursuit failed on {failed}"


def test_lap_times_are_deterministic(deepracer_tracks):
    track = load_track("reinvent_base")
    a, b = (lap_rollout(track, PurePursuitDriver(track, 1.5), FAST_REWARD,
                        keep=Keep(trajectory=True)) for _ in range(2))
    assert a.episodes[0].lap_time == b.episodes[0].lap_time
    np.testing.assert_array_equal(a.trajectories[0].poses, b.trajectories[0].poses)
    assert drive_lap(track, speed=1.5, reward=FAST_REWARD) == a.episodes[0]


def test_faster_target_gives_faster_lap(deepracer_tracks):
    track = load_track("reinvent_base")
    slow = drive_lap(track, speed=0.8, reward=FAST_REWARD)
    fast = drive_lap(track, speed=1.6, reward=FAST_REWARD)
    assert slow.status == fast.status == "lap_complete"
    assert fast.lap_time < slow.lap_time


def test_too_fast_for_the_grip_slides_off(deepracer_tracks):
    """At 4 m/s the tyres cannot hold reinvent_base's corners: the car slides off the road."""
    result = drive_lap(load_track("reinvent_base"), speed=4.0, reward=FAST_REWARD)
    assert result.status == "off_track"
