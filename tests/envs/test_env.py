"""The Gymnasium env: API conformance, registration, reward = what the function returned."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import racerl
import racerl.drive.pursuit
from racerl.envs.cars import STATE_SIZE
from racerl.envs.single import RacerEnv
from racerl.errors import RewardFunctionError, TrackError


def test_passes_gymnasium_env_checker():
    env = gym.make("racerl/DeepRacer-v0", render_mode="rgb_array", disable_env_checker=True)
    check_env(env.unwrapped, skip_render_check=False)


def test_registered_with_gymnasium_make():
    env = gym.make("racerl/DeepRacer-v0", track="oval", render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    assert obs.shape == (120, 160, 1) and obs.dtype == np.uint8  # the camera by default
    assert info["status"] == "prepare"
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    env.close()


def test_reward_is_exactly_what_the_function_returned():
    returned = []

    def reward_function(params):
        value = params["progress"] / 7.0 + 0.123
        returned.append(value)
        return value

    env = racerl.make_env(track="loop", reward_function=reward_function, seed=1)
    env.reset()
    _, reward, *_rest, info = env.step(5)
    assert reward == 0.0 and returned == [] and info["status"] == "prepare"
    assert info["steps"] == 1.0
    for _ in range(20):
        _, reward, terminated, _, info = env.step(5)
        assert reward == returned[-1]
        assert info["params"]["steps"] == len(returned) + 1.0
        assert not terminated


def test_state_observation_option():
    env = racerl.make_env(track="loop", observation="state", seed=0)
    obs, _ = env.reset()
    assert obs.shape == (STATE_SIZE,) and obs.dtype == np.float32
    assert env.observation_space.contains(obs)


def test_straight_action_drives_forward_and_obs_changes():
    env = racerl.make_env(track="loop", observation="state", seed=0)
    obs0, _ = env.reset()
    for _ in range(10):
        obs, *_ = env.step(5)  # straight, 1 m/s
    assert obs[0] > 0.1  # the car has speed now
    assert not np.array_equal(obs, obs0)


def test_round_robin_starts_and_seeded_reset_restarts_the_cycle():
    env = racerl.make_env(track="loop")
    starts = [env.reset()[1]["start_ndist"] for _ in range(3)]
    assert starts == pytest.approx([0.0, 0.05, 0.10])
    assert env.reset(seed=7)[1]["start_ndist"] == 0.0
    assert env.reset(options={"start_ndist": 0.5})[1]["start_ndist"] == 0.5


def test_evaluation_start_is_always_the_line():
    env = racerl.make_env(track="loop", start="line")
    assert [env.reset()[1]["start_ndist"] for _ in range(3)] == [0.0, 0.0, 0.0]


def test_continuous_action_space_from_metadata():
    env = racerl.make_env(track="loop", action_space={
        "action_space_type": "continuous",
        "action_space": {"steering_angle": {"low": -30, "high": 30},
                         "speed": {"low": 0.5, "high": 2.0}}})
    assert isinstance(env.action_space, gym.spaces.Box)
    env.reset(seed=0)
    env.step(np.array([0.0, 1.0], dtype=np.float32))
    _, _, _, _, info = env.step(np.array([1.0, 1.0], dtype=np.float32))
    assert info["params"]["steering_angle"] == 30.0
    assert info["params"]["speed"] == 2.0


def test_lap_reports_lap_time_and_int_progress():
    env = racerl.make_env(track="oval", start="line", action_space={"action_space": [
        {"steering_angle": a, "speed": 1.0} for a in (-30, -15, 0, 15, 30)]})
    env.reset(seed=0)
    driver = racerl.drive.pursuit.PurePursuitDriver(env.unwrapped.track)
    angles = np.array([-30, -15, 0, 15, 30])
    while True:
        steer, _ = driver.act(env.unwrapped.sim.car)
        _, _, terminated, truncated, info = env.step(int(np.argmin(np.abs(angles - steer[0]))))
        if terminated or truncated:
            break
    assert info["status"] == "lap_complete"
    assert info["progress"] == 100 and type(info["progress"]) is int
    assert info["lap_time"] == pytest.approx(info["steps"] / 15.0)


def test_reward_errors_surface_not_silent_zero():
    env = racerl.make_env(track="loop", reward_function=lambda params: None)
    env.reset(seed=0)
    env.step(5)  # PREPARE: the function is not called yet
    with pytest.raises(RewardFunctionError, match="returned None"):
        env.step(5)


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(TrackError, match="no track named 'nowhere'"):
        RacerEnv(track="nowhere")
    with pytest.raises(ValueError, match="observation"):
        RacerEnv(track="loop", observation="lidar")
    with pytest.raises(ValueError, match="lighting"):
        RacerEnv(track="loop", lighting="disco")
