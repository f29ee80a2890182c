"""make_env with obstacles and bot cars: a real Gymnasium env, crashes end episodes."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import racerl
import racerl.sim.race_setup as race_setup_module
from racerl.envs.cars import race_setup
from racerl.model.config import MAX_OBJECTS, RACE_FIELDS, ConfigError, TrainConfig
from racerl.sim.race_setup import RaceSetup


@pytest.mark.parametrize("options", [
    {"race_type": "object_avoidance", "number_of_obstacles": 3},
    {"race_type": "object_avoidance", "object_positions": "0.3,1;0.6,-1"},
    {"race_type": "head_to_bot", "number_of_bot_cars": 2, "bot_car_speed": 0.5,
     "is_lane_change": True},
])
def test_make_env_with_objects_passes_check_env(options):
    env = racerl.make_env(observation="state", seed=3, **options)
    check_env(env.unwrapped)
    assert env.unwrapped.sim.objects.count == (2 if "object_positions" in options
                                               else options.get("number_of_obstacles", 2))


def test_driving_into_a_box_ends_the_episode_as_a_crash():
    env = racerl.make_env(observation="state", race_type="object_avoidance",
                          object_positions="0.1,1", seed=0)
    env.reset(seed=0)
    sim = env.unwrapped.sim
    o = sim.objects
    back = 0.5  # metres behind the box, in its lane, facing it
    sim.place([0], [[o.x[0, 0] - back * np.cos(o.yaw[0, 0]),
                     o.y[0, 0] - back * np.sin(o.yaw[0, 0])]], o.yaw[0, :1])
    for _ in range(30):
        step = env.unwrapped.racers.drive(np.zeros(1), np.ones(1))
        if step.terminated[0]:
            break
    assert step.status[0] == "crashed" and step.params[0]["is_crashed"] is True


def test_train_config_checks_race_options():
    cfg = TrainConfig(race_type="head_to_bot", number_of_bot_cars=2).validate()
    assert race_setup(None, cfg.race_options()).bot_cars == 2
    with pytest.raises(ConfigError, match="race_type"):
        TrainConfig(race_type="drag").validate()
    with pytest.raises(ConfigError, match="head_to_model is raced, not trained"):
        TrainConfig(race_type="head_to_model").validate()
    with pytest.raises(ConfigError, match="object_positions"):
        TrainConfig(race_type="object_avoidance", object_positions="0.5").validate()
    with pytest.raises(ConfigError, match="lower_lane_change_time"):
        TrainConfig(lower_lane_change_time=6.0).validate()
    assert race_setup(None, TrainConfig().race_options()).objects == 0
    fixed = TrainConfig(race_type="object_avoidance", object_positions="0.2,1; 1,-1;")
    assert race_setup(None, fixed.validate().race_options()).object_positions == (
        (0.2, 1), (1.0, -1))


def test_the_configs_race_fields_are_the_simulators():
    assert set(RACE_FIELDS) | set(race_setup_module.MATCH_FIELDS) == set(
        RaceSetup.__dataclass_fields__)
    assert MAX_OBJECTS == race_setup_module.MAX_OBJECTS
    for name in RACE_FIELDS:  # the same defaults (DRfC's)
        assert getattr(TrainConfig(), name) == (
            "" if name == "object_positions" else getattr(RaceSetup(), name)), name


def test_the_camera_observation_shows_a_box_ahead_and_time_trials_are_unchanged():
    boxed = racerl.make_env(race_type="object_avoidance", object_positions="0.05,1",
                            start="line", seed=0)
    plain = racerl.make_env(start="line", seed=0)
    with_box, _ = boxed.reset(seed=0)
    without, _ = plain.reset(seed=0)
    # The box 0.9 m ahead in the inner lane covers thousands of the 19,200 pixels.
    assert (with_box != without).sum() > 1000
    # A time trial's frame is the camera's floor alone, as before objects existed.
    racers = plain.unwrapped.racers
    car = racers.sim.car
    floor = racers.camera.render(car.x, car.y, car.yaw, racers.lights, np.zeros(1, np.uint64),
                                 texture=racers.sim.home)
    assert np.array_equal(without, floor[0])
