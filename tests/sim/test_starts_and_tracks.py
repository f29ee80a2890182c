"""DeepRacer-for-Cloud's start and direction options in the simulator (reference 8.1), and a
batch of cars spread over several tracks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from racerl.reward.function import load_reward_function
from racerl.sim.batch import BatchSim
from racerl.sim.rules import EvaluationRules
from racerl.track.catalog import load_track
from racerl.track.geometry import Track
from tests.helpers import circle_track


@pytest.fixture(scope="module")
def circle() -> Track:
    return Track(circle_track(radius=2.0), name="circle")


def starts_of(sim: BatchSim, car: int, episodes: int) -> list[float]:
    out = []
    for _ in range(episodes):
        sim.reset([car])
        out.append(float(sim.state.start_ndist[car]))
    return out


def test_starts_advance_by_round_robin_advance_dist_from_the_offset(circle):
    sim = BatchSim(circle, 1, start="round_robin", start_offset=0.25, round_robin_step=0.1)
    starts = starts_of(sim, 0, 12)
    assert starts[0] == pytest.approx(0.25)  # START_POSITION_OFFSET: the first episode
    steps = [(b - a) % 1.0 for a, b in itertools.pairwise(starts)]
    assert steps == pytest.approx([0.1] * 11, abs=1e-9)  # ROUND_ROBIN_ADVANCE_DIST
    assert starts[10] == pytest.approx(starts[0], abs=1e-9)  # 10 start points, cycling
    # The car stands there (base_link on the centre line, at that fraction of the circle).
    for start in starts[:3]:
        sim.reset([0], start_ndist=start)
        angle = math.atan2(sim.car.y[0], sim.car.x[0]) % (2 * math.pi)
        assert angle == pytest.approx(2 * math.pi * start, abs=1e-3)


def test_without_change_start_position_every_episode_starts_at_the_offset(circle):
    sim = BatchSim(circle, 2, start="line", start_offset=0.3, round_robin_step=0.1)
    for _ in range(4):
        sim.reset()
        assert sim.state.start_ndist.tolist() == pytest.approx([0.3, 0.3])


def test_start_fractions_outside_a_lap_are_refused(circle):
    with pytest.raises(ValueError, match=r"lap fractions in \[0, 1\]"):
        BatchSim(circle, 1, round_robin_step=1.5)
    with pytest.raises(ValueError, match=r"lap fractions in \[0, 1\]"):
        BatchSim(circle, 1, start_offset=-0.1)


def test_alternate_driving_direction_turns_round_after_every_episode(circle):
    calls: list[dict] = []
    reward = load_reward_function(lambda p: calls.append(p) or 1.0)
    sim = BatchSim(circle, 2, reward=reward, start="round_robin", alternate_direction=True)
    seen = []
    for _ in range(4):
        sim.reset()
        calls.clear()
        sim.step(0.0, 1.0)  # PREPARE: no reward call
        sim.step(0.0, 1.0)
        seen.append([p["is_reversed"] for p in calls])
        assert [sim.track_of(i).is_ccw for i in range(2)] == [not r for r in seen[-1]]
    # Car 0 starts the way the track runs, car 1 (its track's second car) the other way;
    # each turns round at every episode.
    assert seen == [[False, True], [True, False], [False, True], [True, False]]
    # A turned-round episode starts where the round robin says, along the reversed line.
    sim.reset()
    for car in range(2):
        xy, yaw = sim.track_of(car).pose_at(float(sim.state.start_ndist[car]))
        assert [sim.car.x[car], sim.car.y[car], sim.car.yaw[car]] == pytest.approx(
            [*np.asarray(xy).tolist(), yaw])


def test_cars_are_spread_over_the_tracks_each_with_its_own_geometry():
    oval, loop = load_track("oval"), load_track("loop")
    calls: list[dict] = []
    reward = load_reward_function(lambda p: calls.append(p) or 1.0)
    sim = BatchSim([oval, loop], 5, reward=reward, start="round_robin")
    assert sim.home.tolist() == [0, 1, 0, 1, 0]
    sim.reset()
    # The cars of each track spread over its start points (car j of a track: j * 0.05).
    assert sim.state.start_ndist.tolist() == pytest.approx([0.0, 0.0, 0.05, 0.05, 0.1])
    sim.step(0.0, 1.0)
    sim.step(0.0, 1.0)
    lengths = [p["track_length"] for p in calls]
    assert lengths == pytest.approx([oval.length, loop.length] * 2 + [oval.length])
    assert [len(p["waypoints"]) for p in calls[:2]] == [len(oval.waypoints),
                                                        len(loop.waypoints)]
    # Each car is measured on its own track: as a batch of one on that track measures it.
    for car, track in enumerate([oval, loop, oval, loop, oval]):
        alone = BatchSim(track, 1, start="line")
        alone.place([0], [[sim.car.x[car], sim.car.y[car]]], [sim.car.yaw[car]])
        assert sim.geometry.ndist[car] == pytest.approx(alone.geometry.ndist[0])
        assert sim.geometry.track_width[car] == pytest.approx(alone.geometry.track_width[0])
    with pytest.raises(ValueError, match="drive 2 tracks or directions"):
        sim.track  # noqa: B018 - a batch on two tracks has no one track


def test_a_batch_needs_a_car_per_track():
    with pytest.raises(ValueError, match=r"1 car\(s\) cannot drive 2 tracks"):
        BatchSim([load_track("oval"), load_track("loop")], 1)


def test_evaluation_resets_put_each_car_back_on_its_own_track():
    oval, loop = load_track("oval"), load_track("loop")
    sim = BatchSim([oval, loop], 2, start="line", rules=EvaluationRules(off_track_penalty=1.0))
    paused = np.zeros(2, dtype=bool)
    for _ in range(400):
        result = sim.step(0.0, 2.0)  # straight ahead: both cars leave their track
        paused |= np.array([s == "off_track" for s in result.status])
        if paused.all():
            break
    assert paused.all()
    for car, track in enumerate([oval, loop]):
        on = track.on_track(sim.car.wheel_positions()[car:car + 1])
        assert on.all(), f"car {car} was not put back on {track.name}"
