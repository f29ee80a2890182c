"""The reward lab's scripted behaviours: their search grid, the lane pursuit that drives
them as one batch, and drives from several starts in batches of similar pace."""

from __future__ import annotations

import numpy as np

from racerl.drive.behaviours import (
    BEHAVIOURS,
    CRAWL_SPEEDS,
    HUG_GAPS,
    HUG_SIDES,
    ZIGZAG_PERIODS,
    ZIGZAG_SPEEDS,
    ZIGZAG_SWINGS,
    batches,
    drive_behaviours,
    search_behaviours,
    zigzag,
)
from racerl.drive.pursuit import LanePursuit
from racerl.drive.raceline import lane_frame
from racerl.drive.rollout import Keep, rollout
from racerl.envs.cars import Racers
from racerl.track.catalog import load_track


def test_the_search_covers_every_grid_point_and_keeps_each_default():
    searched = search_behaviours()
    count = {key: sum(b.key == key for b in searched) for key in {b.key for b in searched}}
    assert count["zigzag"] == len(ZIGZAG_SPEEDS) * len(ZIGZAG_SWINGS) * len(ZIGZAG_PERIODS)
    assert count["hug_border"] == len(HUG_SIDES) * len(HUG_GAPS)
    assert count["crawl"] == len(CRAWL_SPEEDS)
    assert {b.key for b in searched} == {b.key for b in BEHAVIOURS}
    assert set(BEHAVIOURS) <= set(searched)  # the default of each is one of its variants
    assert len({b.label for b in searched}) == len(searched)  # labels tell variants apart


def test_lane_pursuit_keeps_each_car_on_its_own_offset():
    track = load_track("loop")
    frame = lane_frame(track, spacing=0.05)
    offsets = np.stack([np.full(len(frame.arc), d) for d in (0.0, 0.15, -0.15)])
    cars = Racers(3, track=track, observation="state", start="line")
    result = rollout(cars, LanePursuit(track, frame, offsets, speed=1.0),
                     keep=Keep(trajectory=True, params=True))
    assert [e.status for e in result.episodes] == ["lap_complete"] * 3
    for path, wanted in zip(result.trajectories, (0.0, 0.15, -0.15), strict=True):
        settled = path.params[60:]  # after the first metres from the centre-line start
        signed = [p["distance_from_center"] * (1 if p["is_left_of_center"] else -1)
                  for p in settled]
        assert abs(np.median(signed) - wanted) < 0.03


def test_a_weave_swings_as_wide_and_as_often_as_asked():
    track = load_track("loop")
    narrow, wide = zigzag(swing=0.05, period=2.0), zigzag(swing=0.3, period=1.2)
    drives = drive_behaviours(track, None, (narrow, wide), keep_params=True)

    def swing_and_crossings(drive):
        signed = np.array([p["distance_from_center"] * (1 if p["is_left_of_center"] else -1)
                           for p in drive.params])
        return np.percentile(np.abs(signed), 95), np.count_nonzero(np.diff(np.sign(signed)))

    (narrow_swing, narrow_cross), (wide_swing, wide_cross) = map(swing_and_crossings, drives)
    width = 0.76  # the loop's track width
    assert narrow_swing < 0.12 * width < 0.2 * width < wide_swing
    # Two crossings of the centre line per wave: a lap of 17.7 m at 1 m/s is about 15
    # waves of 1.2 s and 9 of 2 s.
    assert wide_cross >= 2 * 12 and narrow_cross < wide_cross


def test_drives_start_where_asked_and_come_back_in_order():
    track = load_track("loop")
    fast, slow = BEHAVIOURS[2], BEHAVIOURS[0]  # 2 and 0.5 m/s: batched apart by length
    drives = drive_behaviours(track, None, (fast, slow), starts=(0.0, 0.5), horizon=100)
    assert [(d.behaviour.key, d.start) for d in drives] == [
        ("centre_fast", 0.0), ("centre_slow", 0.0), ("centre_fast", 0.5), ("centre_slow", 0.5)]
    for d in drives:
        start, _ = track.pose_at(np.array([d.start]))
        assert np.hypot(*(np.asarray(d.points[0]) - start[0])) < 0.2
    # The start-line drives run to the end of the lap; the others stop at the horizon.
    assert [d.episode.status for d in drives[:2]] == ["lap_complete"] * 2
    assert drives[1].episode.steps > 1.8 * drives[0].episode.steps
    assert [len(d.rewards) for d in drives[2:]] == [100, 100]


def test_batches_keep_episodes_of_similar_length_together():
    expected = np.array([20.0, 3000.0, 130.0, 460.0, 20.0, 265.0, 2600.0, 530.0])
    got = [sorted(b.tolist()) for b in batches(expected, spread=2.5)]
    assert got == [[0, 4], [2, 5], [3, 7], [1, 6]]
    assert sorted(np.concatenate(got).tolist()) == list(range(len(expected)))
