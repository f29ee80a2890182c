"""Head-to-model in the simulator: racers sharing a world, each an object of the others."""

import numpy as np
import pytest

from racerl.envs.cars import Racers
from racerl.sim.batch import BatchSim
from racerl.sim.objects import CAR_LENGTH, Kind
from racerl.sim.race_setup import START_GAP, RaceSetup
from racerl.sim.rules import EvaluationRules
from racerl.sim.state import Status
from racerl.track.catalog import load_track

H2M = RaceSetup(race_type="head_to_model")
H2M_ALL = RaceSetup(race_type="head_to_model", done_condition="all")


def duel(race=H2M, rules=None, n=2) -> BatchSim:
    return BatchSim(load_track("oval"), n, start="line", race=race, rules=rules)


def test_the_grid_puts_racer_one_behind_in_the_other_lane():
    sim = duel()
    track = sim.track
    geo = sim.courses.measure(np.stack([sim.car.x, sim.car.y], -1), sim.course)
    arc = geo.ndist * track.length
    behind = (arc[0] - arc[1]) % track.length
    assert behind == pytest.approx(START_GAP, abs=0.02)
    # Racer 0 in the outer lane, racer 1 in the inner one (the simapp's _start_lane_).
    d0 = np.hypot(*(np.array([sim.car.x[0], sim.car.y[0]])
                    - track.outer_lane.interpolate(track.outer_lane.project(
                        np.array([[sim.car.x[0], sim.car.y[0]]]))[0])[0][0]))
    d1 = np.hypot(*(np.array([sim.car.x[1], sim.car.y[1]])
                    - track.inner_lane.interpolate(track.inner_lane.project(
                        np.array([[sim.car.x[1], sim.car.y[1]]]))[0])[0][0]))
    assert d0 < 1e-6 and d1 < 1e-6
    assert geo.distance_from_center[0] > 0.1 and geo.distance_from_center[1] > 0.1
    assert geo.is_left_of_center[0] != geo.is_left_of_center[1]


def test_each_racer_is_the_others_object_in_the_params():
    sim = duel()
    sim.step([0.0, 0.0], [1.0, 1.0])  # PREPARE
    mate = [[float(sim.objects.x[0, 0]), float(sim.objects.y[0, 0])]]
    assert mate == [[float(sim.car.x[1]), float(sim.car.y[1])]]
    result = sim.step([0.0, 0.0], [1.0, 1.0])
    p0, p1 = result.params
    assert p0["objects_location"] == mate
    assert sim.objects.kind.tolist() == [[Kind.RACER], [Kind.RACER]]
    assert sim.objects.length[0, 0] == CAR_LENGTH
    # The objects follow the cars: after the step racer 0's object is racer 1 where it is now.
    assert sim.objects.x[0, 0] == sim.car.x[1] and sim.objects.y[1, 0] == sim.car.y[0]
    # Racer 1 starts behind the line: its progress is negative until it crosses it.
    assert p1["progress"] < 0 < p0["progress"]
    assert p0["closest_objects"] == [0, 0] and p1["closest_objects"] == [0, 0]
    # Not a bot race: headings and speeds are 0.0, as the simapp leaves them.
    assert p0["objects_speed"] == [0.0] and p0["objects_heading"] == [0.0]
    # The simapp's registry quirk: racer 1 asks whether registry entry 0 (racer 0, ahead
    # and in view) is in its camera; racer 0 asks about itself, never in view.
    assert p1["object_in_camera"] is True
    assert p0["object_in_camera"] is False


def put_behind(sim: BatchSim, gap: float) -> None:
    """Racer 1 right behind racer 0 on the centre line, ``gap`` metres between centres."""
    track = sim.track
    arc = 2.0
    xy, yaw = track.center.interpolate(np.array([arc, arc - gap]))
    sim.place([0, 1], xy, yaw)


@pytest.mark.parametrize(("race", "ahead_status", "ahead_done"), [
    (H2M, "in_progress", True),       # any: the first ended episode ends the other's
    (H2M_ALL, "in_progress", False),  # all: the one ahead drives on
])
def test_the_racer_behind_is_the_one_crashed(race, ahead_status, ahead_done):
    sim = duel(race)
    sim.step([0.0, 0.0], [0.0, 0.0])  # PREPARE
    put_behind(sim, 0.8 * CAR_LENGTH)  # overlapping footprints
    result = sim.step([0.0, 0.0], [1.0, 1.0])
    assert result.status[1] == Status.CRASHED and result.terminated[1]
    assert result.params[1]["is_crashed"] is True
    assert result.status[0] == ahead_status and not result.terminated[0]
    assert bool(result.truncated[0]) is ahead_done


def test_racers_apart_do_not_crash():
    sim = duel()
    sim.step([0.0, 0.0], [0.0, 0.0])
    put_behind(sim, 1.2 * CAR_LENGTH)
    result = sim.step([0.0, 0.0], [1.0, 1.0])
    assert result.status == [Status.IN_PROGRESS, Status.IN_PROGRESS]


def test_under_race_rules_the_crashed_racer_is_frozen_where_it_is():
    sim = duel(rules=EvaluationRules(collision_penalty=2.0))
    sim.step([0.0, 0.0], [0.0, 0.0])
    put_behind(sim, 0.8 * CAR_LENGTH)
    here = (float(sim.car.x[1]), float(sim.car.y[1]))
    result = sim.step([0.0, 0.0], [1.0, 1.0])
    assert result.status[1] == Status.CRASHED and not result.terminated[1]
    assert result.pause_duration[1] == pytest.approx(2.0)
    assert (float(sim.car.x[1]), float(sim.car.y[1])) == here
    assert sim.car.x[0] != pytest.approx(here[0])  # the one ahead drove on
    assert sim.state.crashed.tolist() == [0, 1]


def test_a_parked_racer_leaves_the_track_for_the_others():
    sim = duel(H2M_ALL)
    assert sim.objects.present.all()
    sim.park([0])
    assert sim.objects.present.tolist() == [[True], [False]]
    sim.reset()
    assert sim.objects.present.all()


def test_worlds_do_not_mix():
    sim = duel(n=4)  # two heats of two
    assert sim.traffic.mates.ravel().tolist() == [1, 0, 3, 2]
    assert sim.objects.x[2, 0] == sim.car.x[3] and sim.objects.x[0, 0] == sim.car.x[1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 3}, "groups of 2"),
    ({"tracks": 2}, "one track in one direction"),
])
def test_a_head_to_model_batch_is_whole_groups_on_one_track(kwargs, message):
    tracks = [load_track("oval"), load_track("loop")][:kwargs.get("tracks", 1)]
    with pytest.raises(ValueError, match=message):
        BatchSim(tracks, kwargs.get("n", 4), race=H2M)


def test_race_setup_checks_racers_and_done_condition():
    with pytest.raises(ValueError, match="racers must be a whole number from 2"):
        RaceSetup(race_type="head_to_model", racers=1)
    with pytest.raises(ValueError, match="done_condition"):
        RaceSetup(race_type="head_to_model", done_condition="first")
    assert RaceSetup(race_type="head_to_model", racers=3).objects == 2
    assert RaceSetup(race_type="head_to_bot", racers=3).objects == 3  # bots only


def test_the_camera_sees_the_racer_ahead():
    cars = Racers(2, track="oval", race=H2M, start="line")
    cars.reset(np.arange(2), seeds=[0, 0])
    sim = cars.sim
    yaw = float(sim.car.yaw[0])  # racer 1 exactly 0.8 m behind racer 0, facing it
    back = np.array([[sim.car.x[0] - 0.8 * np.cos(yaw), sim.car.y[0] - 0.8 * np.sin(yaw)]])
    sim.place([1], back, np.array([yaw]))
    seen = cars.observe(np.arange(2), fresh=True)[1]
    cars.sim.park([0])  # racer 0 leaves the track
    cars.sim.place([1], np.array([[cars.sim.car.x[1], cars.sim.car.y[1]]]),
                   cars.sim.car.yaw[1:2])
    empty = cars.observe(np.arange(2), fresh=True)[1]
    differs = np.abs(seen.astype(int) - empty.astype(int)).squeeze(-1) > 10
    _, cols = np.nonzero(differs)
    assert differs.sum() > 200  # a car 0.8 m ahead fills a good part of the view
    assert abs(cols.mean() - seen.shape[1] / 2) < 12  # straight ahead: centred
