"""The episode state is one struct of arrays that only the simulator writes: resets clear it
field by field, and cars are moved through BatchSim's own methods."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from racerl.reward.function import load_reward_function
from racerl.sim.batch import BatchSim
from racerl.sim.rules import EvaluationRules
from racerl.sim.state import PENALISED, TERMINAL, EpisodeState, Status
from racerl.track.catalog import load_track
from tests.helpers import Recorder


def test_statuses_read_as_deepracers_text():
    assert Status.LAP_COMPLETE == "lap_complete" and str(Status.OFF_TRACK) == "off_track"
    assert f"{Status.TIME_UP}" == "time_up"
    assert set(PENALISED) < set(Status) and Status.PAUSE not in TERMINAL


def test_reset_clears_every_episode_field_but_the_start_cycle():
    sim = BatchSim(load_track("loop"), 2, rules=EvaluationRules(off_track_penalty=1.0))
    for _ in range(60):  # straight on at the bends: resets, penalties and pauses pile up
        sim.step(0.0, [2.0, 1.0])
    touched = {f.name for f in dataclasses.fields(EpisodeState)
               if np.any(np.nan_to_num(getattr(sim.state, f.name)) != 0)}
    assert {"steps", "sim_time", "resets_used", "penalty_time", "off_track"} <= touched
    started = sim.state.episodes_started.copy()
    next_start = sim.next_start(np.array([0]))[0]
    sim.reset([0])
    for f in dataclasses.fields(EpisodeState):
        value = getattr(sim.state, f.name)[0]
        if f.name == "episodes_started":
            assert value == started[0] + 1
        elif f.name == "start_ndist":
            assert value == next_start
        elif f.name in ("last_x", "last_y"):
            assert np.isnan(value)
        else:
            assert value == 0, f.name
    assert sim.state.steps[1] == 60  # the other car's episode goes on


def test_place_moves_a_car_without_starting_a_new_episode():
    sim = BatchSim(load_track("loop"), 1, start="line")
    for _ in range(5):
        sim.step(0.0, 1.0)
    xy = np.array([[sim.car.x[0], sim.car.y[0] + 0.05]])
    sim.place([0], xy, [0.3])
    assert (sim.car.x[0], sim.car.y[0], sim.car.yaw[0]) == (xy[0, 0], xy[0, 1], 0.3)
    assert sim.car.speed[0] == 0.0 and sim.state.steps[0] == 5
    params = sim.step(0.0, 1.0).params[0]  # the params see the new pose at once
    assert params["heading"] == pytest.approx(np.degrees(0.3))


def test_parked_cars_stay_in_prepare_and_are_not_rewarded():
    recorder = Recorder()
    sim = BatchSim(load_track("loop"), 2, reward=load_reward_function(recorder), start="line")
    sim.step(0.0, 1.0)
    sim.step(0.0, 1.0)
    calls = len(recorder.calls)
    start = sim.state.start_ndist.copy()
    for _ in range(3):
        sim.park([1])
        result = sim.step(0.0, 1.0)
        assert result.status[1] == Status.PREPARE and result.rewards[1] == 0.0
    assert len(recorder.calls) == calls + 3  # car 0 only
    assert sim.state.start_ndist[1] == start[1]


def test_hold_keeps_a_car_still_while_its_clock_runs():
    sim = BatchSim(load_track("loop"), 2, start="line")
    sim.step(0.0, 1.0)
    x0 = sim.car.x.copy()
    for _ in range(10):
        sim.step(0.0, 1.0, hold=[True, False])
    assert sim.car.x[0] == x0[0] and sim.car.speed[0] == 0.0
    assert sim.car.x[1] != x0[1] and sim.state.sim_time[0] == sim.state.sim_time[1]
