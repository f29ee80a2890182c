"""Obstacles and bot cars in BatchSim: layouts, collisions, params, bots, evaluation rules.

The layouts are checked against hand-computed places on a circle of radius 2 m (lanes at
radius 1.8 m inside, 2.2 m outside, the lap 4*pi m long, counter-clockwise from (2, 0)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from racerl.reward.protocol import reward_source
from racerl.sim.batch import BatchSim
from racerl.sim.contacts import NO_CONTACT, first_contact
from racerl.sim.objects import BOX_LENGTH, CAR_LENGTH, Kind, Objects
from racerl.sim.race_setup import RaceSetup, parse_object_positions
from racerl.sim.rules import EvaluationRules
from racerl.sim.state import Status
from racerl.track.geometry import Track
from tests.helpers import Recorder, circle_track, place

LAP = 4 * math.pi
FIXED = RaceSetup("object_avoidance", object_positions=parse_object_positions("0.25,1;0.5,-1"))


def circle() -> Track:
    return Track(circle_track(n=201), name="circle")


def sim_with(race: RaceSetup, n: int = 1, **kwargs) -> BatchSim:
    reward = kwargs.pop("reward", None)
    return BatchSim(circle(), n, reward=reward_source(reward) if reward else None,
                    start="line", race=race, **kwargs)


def test_time_trial_has_no_objects_and_default_keys():
    sim = sim_with(RaceSetup())
    assert sim.objects.x.shape == (1, 0)
    sim.step(0.0, 1.0)
    params = sim.step(0.0, 1.0).params[0]
    assert params["closest_objects"] == [0, 0] and params["objects_location"] == []
    assert params["object_in_camera"] is False and params["is_crashed"] is False


def test_fixed_positions_stand_in_their_lanes():
    sim = sim_with(FIXED)
    o = sim.objects
    # The lane point nearest the centre-line point: within 0.2 m x sin(pi / 200) of the lane
    # vertex beside it (the nearest point on a polygon's chord lies just past the vertex).
    np.testing.assert_allclose([o.x[0, 0], o.y[0, 0]], [0.0, 1.8], atol=4e-3)  # quarter, inner
    np.testing.assert_allclose([o.x[0, 1], o.y[0, 1]], [-2.2, 0.0], atol=4e-3)  # half, outer
    # Turned along the lane (counter-clockwise), within half a segment's turn.
    assert abs(math.remainder(o.yaw[0, 0] - math.pi, 2 * math.pi)) < 0.02
    assert abs(math.remainder(o.yaw[0, 1] + math.pi / 2, 2 * math.pi)) < 0.02
    assert o.kind.tolist() == [[Kind.BOX, Kind.BOX]] and o.length[0, 0] == BOX_LENGTH


def test_even_spacing_alternates_lanes_from_the_inner_one():
    sim = sim_with(RaceSetup("object_avoidance", number_of_obstacles=3,
                             min_distance_between_obstacles=25.0))  # percent of the lap
    o = sim.objects
    # linspace(0.25 L, L - 1, 3): angles (arc / radius 2) in the lanes' order.
    arcs = np.linspace(0.25 * LAP, LAP - 1.0, 3)
    radius = np.array([1.8, 2.2, 1.8])
    angle = np.arctan2(o.y[0], o.x[0]) % (2 * math.pi)
    np.testing.assert_allclose(angle, arcs / 2.0, atol=2e-3)
    np.testing.assert_allclose(np.hypot(o.x[0], o.y[0]), radius, atol=2e-3)


def test_random_layouts_are_seeded_spaced_and_change_per_episode():
    race = RaceSetup("object_avoidance", number_of_obstacles=4, randomize_obstacle_locations=True,
                     min_distance_between_obstacles=10.0)
    a, b = sim_with(race, 3), sim_with(race, 3)
    for sim in (a, b):
        sim.reset([0, 1, 2], restart_cycle=True, seeds=np.array([7, 7, 8]))
    np.testing.assert_array_equal(a.objects.x, b.objects.x)  # same seeds, same layouts
    np.testing.assert_array_equal(a.objects.x[0], a.objects.x[1])  # seed 7 twice
    assert not np.allclose(a.objects.x[0], a.objects.x[2])  # seed 8 differs
    first = a.objects.x[0].copy()
    a.reset([0])
    assert not np.allclose(first, a.objects.x[0])  # the next episode is drawn anew
    for sim_layout in (a.objects,):
        arc = (np.arctan2(sim_layout.y, sim_layout.x) % (2 * math.pi)) * 2.0
        gaps = np.diff(np.sort(arc, axis=1), axis=1)
        assert (gaps >= 0.1 * LAP - 0.02).all()  # 10 % of the lap apart, at least


def test_parked_cars_have_a_cars_footprint():
    sim = sim_with(RaceSetup("object_avoidance", number_of_obstacles=2, is_obstacle_bot_car=True))
    assert sim.objects.kind.tolist() == [[Kind.BOT_CAR] * 2]
    assert sim.objects.length[0, 0] == CAR_LENGTH


def one_box(x: float, y: float, yaw: float) -> Objects:
    o = Objects.empty(1, 1)
    o.x[:], o.y[:], o.yaw[:] = x, y, yaw
    o.length[:], o.width[:], o.present[:] = 0.5, 0.4, True
    return o


@pytest.mark.parametrize(("car_x", "car_y", "hit"), [
    (0.40, 0.0, True),  # rear corners at x 0.238, inside the box's 0.25
    (0.42, 0.0, False),  # rear corners at x 0.258: clear
])
def test_a_car_corner_inside_the_box_is_a_contact(car_x, car_y, hit):
    got = first_contact(np.array([car_x]), np.array([car_y]), np.zeros(1), one_box(0, 0, 0))
    assert (got[0] != NO_CONTACT) == hit


def test_a_box_corner_in_the_cars_side_is_no_contact():
    """DeepRacer tests the car's corners only (track_data.get_collided_object_name)."""
    box = one_box(0.0, 0.0, math.pi / 4)  # its top corner at (0.035, 0.318)
    got = first_contact(np.array([0.035]), np.array([0.386]), np.zeros(1), box)
    assert got[0] == NO_CONTACT


def test_params_at_a_hand_computed_layout():
    rec = Recorder()
    sim = sim_with(FIXED, reward=rec)
    place(sim, 0, 2.0, 0.0, 90.0)  # on the line, heading counter-clockwise
    sim.step(0.0, 0.1)
    p = sim.step(0.0, 0.1).params[0]
    assert p["closest_objects"] == [1, 0]  # behind: the half-way box (wrapping); ahead: 0
    assert all(type(i) is int for i in p["closest_objects"])
    np.testing.assert_allclose(p["objects_location"], [[0.0, 1.8], [-2.2, 0.0]], atol=4e-3)
    assert p["objects_left_of_center"] == [True, False]  # inner is left, counter-clockwise
    np.testing.assert_allclose(p["objects_distance"], [0.25 * LAP, 0.5 * LAP], atol=5e-3)
    np.testing.assert_allclose(p["objects_distance_from_center"], [0.2, 0.2], atol=1e-3)
    assert p["objects_heading"] == [0.0, 0.0] and p["objects_speed"] == [0.0, 0.0]
    assert type(p["objects_distance"][0]) is float and type(p["object_in_camera"]) is bool


def test_object_in_camera_keeps_deepracers_registry_quirk():
    """Past the first box and looking back at it, with the second box behind the camera:
    closest_objects[1] is box 1 (not in view), but the simapp compares registry indices, where
    the agent is entry 0, so it reports box 0's visibility: True."""
    sim = sim_with(FIXED)
    base = np.array([2 * math.cos(3 * math.pi / 4), 2 * math.sin(3 * math.pi / 4)])
    yaw = math.atan2(1.8 - base[1], 0.0 - base[0])  # straight at box 0
    place(sim, 0, base[0], base[1], math.degrees(yaw))
    sim.step(0.0, 0.1)
    p = sim.step(0.0, 0.1).params[0]
    assert p["closest_objects"][1] == 1
    assert p["object_in_camera"] is True


def test_driving_into_a_box_crashes_and_ends_a_training_episode():
    sim = sim_with(FIXED)
    place(sim, 0, 0.40 * math.cos(0.0) + 0.0, 1.8, 180.0)  # rear corners in box 0
    sim.step(0.0, 0.1)  # prepare
    out = sim.step(0.0, 0.1)
    assert out.status[0] == Status.CRASHED and out.terminated[0]
    assert out.params[0]["is_crashed"] is True


def test_evaluation_crash_into_a_box_resets_behind_it_in_the_other_lane():
    rules = EvaluationRules(collision_penalty=3.0)
    sim = sim_with(FIXED, rules=rules)
    sim.step(0.0, 0.1)
    place(sim, 0, 0.25, 1.8, 180.0)  # nose into box 0 from behind (its lane, inner)
    out = sim.step(0.0, 0.1)
    assert out.status[0] == Status.CRASHED and not out.terminated[0]
    assert sim.state.crashed[0] == 1 and sim.state.penalty_time[0] == 3.0
    # 1 m behind the box along the centre line (arc 0.25 L - 1), in the outer lane.
    angle = (0.25 * LAP - 1.0) / 2.0
    np.testing.assert_allclose([sim.car.x[0], sim.car.y[0]],
                               [2.2 * math.cos(angle), 2.2 * math.sin(angle)], atol=0.02)


def bots(**options) -> RaceSetup:
    return RaceSetup("head_to_bot", **{"number_of_bot_cars": 2, "bot_car_speed": 0.5, **options})


def test_bot_cars_drive_their_lanes_at_their_speed():
    sim = sim_with(bots(min_distance_between_bot_cars=1.0))
    o = sim.objects
    np.testing.assert_allclose(np.hypot(o.x[0], o.y[0]), [1.8, 2.2], atol=2e-3)
    start = np.arctan2(o.y[0], o.x[0]) % (2 * math.pi) * 2.0  # centre-line arcs
    # linspace(1 m, L - 1 m, 2) on the polygon (a little shorter than the circle), lanes
    # inner then outer.
    np.testing.assert_allclose(start, [1.0, sim.courses.length[0] - 1.0], atol=5e-3)
    for _ in range(30):  # 2 s
        sim.step(0.0, 0.1)
    arc = np.arctan2(o.y[0], o.x[0]) % (2 * math.pi) * 2.0
    np.testing.assert_allclose((arc - start) % LAP, [1.0, 1.0], atol=5e-3)
    assert o.speed[0].tolist() == [0.5, 0.5] and (o.kind[0] == Kind.BOT_CAR).all()


def test_bot_cars_change_lanes_within_the_set_times():
    race = bots(number_of_bot_cars=1, is_lane_change=True, lower_lane_change_time=1.0,
                upper_lane_change_time=1.0, lane_change_distance=0.5)
    sim = sim_with(race)
    radius = []
    for _ in range(63):  # 4.2 s
        sim.step(0.0, 0.1)
        radius.append(float(np.hypot(sim.objects.x[0, 0], sim.objects.y[0, 0])))
    radius = np.array(radius)
    # From the first step (1/15 s) waits 1 s, crosses over 0.5 m = 1 s at 0.5 m/s, waits
    # 1 s, crosses back.
    assert abs(radius[10] - 1.8) < 2e-3  # t = 0.73 s: still inner
    assert abs(radius[30] - 2.2) < 2e-3  # t = 2.07 s: arrived outside
    assert 1.85 < radius[21] < 2.15  # t = 1.47 s: on its way
    assert 1.85 < radius[50] < 2.15  # t = 3.4 s: crossing back
    assert abs(radius[-1] - 1.8) < 2e-3  # t = 4.2 s: back inside (the change ended at 4.07 s)


def test_rear_ending_a_bot_crashes_but_being_rear_ended_stops_the_bots():
    sim = sim_with(bots(number_of_bot_cars=1, min_distance_between_bot_cars=2.0))
    sim.step(0.0, 0.1)
    bx, by = sim.objects.x[0, 0], sim.objects.y[0, 0]
    yaw = sim.objects.yaw[0, 0]
    # Just behind the bot, nose in its tail.
    place(sim, 0, bx - 0.3 * math.cos(yaw), by - 0.3 * math.sin(yaw), math.degrees(yaw))
    assert sim.step(0.0, 0.1).status[0] == Status.CRASHED
    sim2 = sim_with(bots(number_of_bot_cars=1, min_distance_between_bot_cars=2.0))
    sim2.step(0.0, 0.1)
    bx, by = sim2.objects.x[0, 0], sim2.objects.y[0, 0]
    place(sim2, 0, bx + 0.3 * math.cos(yaw), by + 0.3 * math.sin(yaw), math.degrees(yaw))
    out = sim2.step(0.0, 0.1)
    assert out.status[0] == Status.IN_PROGRESS and out.params[0]["is_crashed"] is False
    assert sim2.traffic.bots.crashes[0] == 1


def test_bot_params_carry_headings_and_speeds():
    sim = sim_with(bots())
    sim.step(0.0, 0.1)
    yaw = sim.objects.yaw[0].copy()  # the params describe the world before the step
    p = sim.step(0.0, 0.1).params[0]
    assert p["objects_speed"] == [0.5, 0.5]
    np.testing.assert_allclose(p["objects_heading"], yaw)
    # Along the lanes, counter-clockwise: 90 degrees ahead of the bots' angles.
    np.testing.assert_allclose(np.cos(yaw - np.arctan2(sim.objects.y[0], sim.objects.x[0])),
                               0.0, atol=0.05)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="race_type"):
        RaceSetup("drag_race")
    with pytest.raises(ValueError, match="object_positions"):
        parse_object_positions("0.5;1")
    with pytest.raises(ValueError, match="lower_lane_change_time"):
        RaceSetup(lower_lane_change_time=6.0, upper_lane_change_time=5.0)
