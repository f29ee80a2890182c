"""One rollout drives every lap: batched controllers, routed groups, one record per episode."""

from __future__ import annotations

import numpy as np
import pytest

from racerl.drive.behaviours import BEHAVIOURS, behaviour_controller
from racerl.drive.pursuit import PurePursuitDriver, drive_lap
from racerl.drive.rollout import Commands, Keep, Routed, rollout
from racerl.envs.cars import Racers
from racerl.sim.rules import EvaluationRules
from racerl.sim.state import Status
from racerl.sim.vehicle import CONTROL_DT
from racerl.track.catalog import load_track


def test_each_car_of_a_batch_drives_its_own_lap_with_simulator_lap_times():
    track = load_track("loop")
    cars = Racers(3, track=track, observation="state", start="line")
    speeds = np.array([0.8, 1.0, 1.5])
    result = rollout(cars, PurePursuitDriver(track, speeds), keep=Keep(trajectory=True))
    assert [e.trial for e in result.episodes] == [1, 2, 3]
    assert all(e.status == Status.LAP_COMPLETE for e in result.episodes)
    times = [e.lap_time for e in result.episodes]
    assert times[0] > times[1] > times[2]
    for e, path in zip(result.episodes, result.trajectories, strict=True):
        assert e.lap_time == pytest.approx(e.steps * CONTROL_DT) == e.elapsed
        assert len(path.poses) == e.steps + 1 and len(path.status) == e.steps
        assert e.total_reward == pytest.approx(sum(path.rewards))
    # The middle car drove exactly the lap a single car drives at that speed.
    assert result.episodes[1].lap_time == drive_lap(track, speed=1.0).lap_time


def test_a_race_gives_one_episode_per_lap():
    track = load_track("loop")
    cars = Racers(1, track=track, observation="state", start="line",
                  rules=EvaluationRules(laps=3), max_steps=10_000)
    result = rollout(cars, PurePursuitDriver(track, 1.5), keep=Keep(trajectory=True))
    laps = result.episodes
    assert [e.trial for e in laps] == [1, 2, 3]
    # Only the race's last lap ends as lap_complete; the earlier laps' last steps are
    # in_progress, as DeepRacer logs them (simapp episode_complete_reset_rule.py).
    assert [e.status for e in laps] == [Status.IN_PROGRESS] * 2 + [Status.LAP_COMPLETE]
    assert all(e.completed and e.progress == 100.0 for e in laps)
    assert sum(e.steps for e in laps) == len(result.trajectories[0].status)
    # The first lap starts standing (and has the PREPARE step), so it is the slowest.
    assert laps[0].lap_time > laps[1].lap_time


def test_routed_groups_each_act_on_their_own_cars():
    class Fixed:
        observation = None

        def __init__(self, steer: float):
            self.steer = steer

        def act(self, car, obs):
            return Commands(np.full(len(car.x), self.steer), np.full(len(car.x), 1.0),
                            labels=[self.steer] * len(car.x))

    routed = Routed([(np.array([0, 2]), Fixed(5.0)), (np.array([1]), Fixed(-5.0))])
    cars = Racers(3, track="loop", observation="state", start="line")
    commands = routed.act(cars.sim.car, None)
    assert commands.steering.tolist() == [5.0, -5.0, 5.0]
    assert commands.labels == [5.0, -5.0, 5.0]


def test_the_lab_batch_shares_controllers_between_behaviours_on_one_line():
    track = load_track("loop")
    routed = behaviour_controller(track, BEHAVIOURS, Racers(1, track=track).sim.vehicle)
    sizes = sorted(len(cars) for cars, _ in routed.groups)
    # The three centre-line speeds, crawling, the weave and the border share one lane
    # pursuit; standing still and leaving the track share one constant command.
    assert len(routed.groups) == 4 and sizes == [1, 1, 2, 6]
