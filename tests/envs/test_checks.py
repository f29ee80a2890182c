"""What the envs refuse: actions outside the space (named in the message, before any car
moves), a step before reset or after an episode's end, impossible car counts and arguments
of the wrong type; and Gymnasium's env checker on the continuous space."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import racerl.envs.vector as vector
from racerl.envs.cars import Racers
from racerl.envs.checks import MAX_CARS, InvalidActionError
from racerl.envs.single import make_env
from racerl.envs.vector import make_vec_env

CONTINUOUS = {"action_space_type": "continuous", "action_space": {
    "steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2.0}}}
STATE = {"track": "loop", "observation": "state"}
HARD_LEFT, STRAIGHT = 9, 5  # the default space: (30°, 1 m/s), (0°, 1 m/s)


def snapshot(sim) -> dict[str, np.ndarray]:
    """Every array of the cars' pose and episode state, copied."""
    return {f"{part}.{f.name}": getattr(obj, f.name).copy()
            for part, obj in (("car", sim.car), ("state", sim.state))
            for f in dataclasses.fields(obj)}


def assert_untouched(sim, before: dict[str, np.ndarray]) -> None:
    for name, value in snapshot(sim).items():
        assert np.array_equal(value, before[name], equal_nan=True), name


def started(env, steps: int = 3, action=STRAIGHT):
    env.reset(seed=0)
    for _ in range(steps):
        env.step(action)
    return env


# -- the single env: discrete actions -----------------------------------------------------------


@pytest.mark.parametrize("action, shown", [
    (-1, "-1 (int)"),  # used to drive the last action of the menu
    (10, "10 (int)"),  # used to end in an IndexError
    (1.5, "1.5 (float)"),
    (3.0, "3.0 (float)"),
    ("3", "'3' (str)"),
    (True, "True (bool)"),
    (np.array([3]), "array([3]) (ndarray)"),
    (None, "None (NoneType)"),
])
def test_discrete_step_refuses_actions_outside_the_space(action, shown):
    env = started(make_env(**STATE))
    before = snapshot(env.sim)
    with pytest.raises(InvalidActionError) as caught:
        env.step(action)
    message = str(caught.value)
    assert f"action {shown} is not in the action space Discrete(10)" in message
    assert "integer id from 0 to 9" in message
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, gym.error.InvalidAction)
    assert_untouched(env.sim, before)


@pytest.mark.parametrize("action", [3, np.int32(3), np.uint8(3), np.array(3, dtype=np.int64)])
def test_discrete_step_takes_ints_and_numpy_integers(action):
    env = started(make_env(**STATE))
    _, _, _, _, info = env.step(action)
    assert info["params"]["steering_angle"] == env.unwrapped.actions.steering[3]
    assert info["params"]["speed"] == env.unwrapped.actions.speed[3]


# -- the single env: continuous actions -----------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_continuous_action_is_refused_and_the_car_untouched(bad):
    env = started(make_env(action_space=CONTINUOUS, **STATE), action=np.zeros(2))
    before = snapshot(env.sim)
    with pytest.raises(InvalidActionError, match=rf"it holds {bad}") as caught:
        env.step(np.array([bad, 0.5]))
    assert "Box(-1.0, 1.0, (2,), float32)" in str(caught.value)
    assert_untouched(env.sim, before)
    _, _, _, _, info = env.step(np.array([0.0, 0.5]))  # and the car drives on, all finite
    assert all(np.isfinite(info["params"][key]) for key in ("x", "y", "heading",
                                                              "steering_angle", "speed"))


@pytest.mark.parametrize("action, fragment", [
    (np.zeros(3), "it is of shape (3,)"),
    (np.zeros((1, 2)), "it is of shape (1, 2)"),
    (0.5, "it is a scalar"),  # used to end in an IndexError
    (np.float32(0.5), "it is a scalar"),
    ("ab", "a string is not an action"),
    (np.array([True, False]), "its values are bool, not numbers"),
    ([[0.0], [1.0, 2.0]], "array of 2 finite numbers"),
])
def test_continuous_step_refuses_wrong_shapes_scalars_and_types(action, fragment):
    env = started(make_env(action_space=CONTINUOUS, **STATE), action=np.zeros(2))
    before = snapshot(env.sim)
    with pytest.raises(InvalidActionError) as caught:
        env.step(action)
    message = str(caught.value)
    assert fragment in message and "Box(-1.0, 1.0, (2,), float32)" in message
    assert message.startswith(f"action {action!r}")
    assert_untouched(env.sim, before)


def test_continuous_out_of_bounds_is_refused_not_clipped():
    env = started(make_env(action_space=CONTINUOUS, **STATE), action=np.zeros(2))
    before = snapshot(env.sim)
    with pytest.raises(InvalidActionError, match=r"1\.5 is outside \[-1\.0, 1\.0\].*ClipAction"):
        env.step(np.array([1.5, 0.0], dtype=np.float32))
    assert_untouched(env.sim, before)


@pytest.mark.parametrize("action", [np.array([1.0, -1.0], dtype=np.float32), [1.0, -1.0],
                                    np.array([1, -1]), (1.0, -1.0)])
def test_continuous_step_takes_any_real_array_on_the_bounds(action):
    env = started(make_env(action_space=CONTINUOUS, **STATE), action=np.zeros(2))
    _, _, _, _, info = env.step(action)
    assert info["params"]["steering_angle"] == 30.0 and info["params"]["speed"] == 0.5


def test_continuous_env_passes_gymnasium_env_checker():
    env = gym.make("racerl/DeepRacer-v0", action_space=CONTINUOUS, disable_env_checker=True,
                   **STATE)
    check_env(env.unwrapped)


# -- the order of reset and step ----------------------------------------------------------------


def test_step_before_reset_raises_reset_needed():
    env = make_env(**STATE)
    before = snapshot(env.sim)
    with pytest.raises(gym.error.ResetNeeded, match=r"step\(\) before calling env.reset\(\)"):
        env.step(STRAIGHT)
    assert_untouched(env.sim, before)
    env.reset(seed=0)
    env.step(STRAIGHT)


def test_step_after_termination_raises_reset_needed_until_reset():
    env = make_env(start="line", **STATE)
    env.reset(seed=0)
    terminated = truncated = False
    for _ in range(200):
        *_, terminated, truncated, info = env.step(HARD_LEFT)
        if terminated or truncated:
            break
    assert terminated and info["status"] == "off_track"
    before = snapshot(env.sim)
    for _ in range(2):  # every time, not once
        with pytest.raises(gym.error.ResetNeeded, match=r"after the episode ended "
                           r"\(terminated: off_track\); call env.reset\(\)"):
            env.step(STRAIGHT)
    assert_untouched(env.sim, before)
    env.reset()
    _, _, terminated, _, info = env.step(STRAIGHT)
    assert not terminated and info["status"] == "prepare"


def test_step_after_truncation_raises_reset_needed():
    env = make_env(max_steps=3, **STATE)
    env.reset(seed=0)
    flags = [env.step(STRAIGHT)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    with pytest.raises(gym.error.ResetNeeded, match=r"truncated after max_steps=3"):
        env.step(STRAIGHT)


def test_vector_step_before_reset_raises_reset_needed():
    venv = make_vec_env(2, **STATE)
    before = snapshot(venv.sim)
    with pytest.raises(gym.error.ResetNeeded, match=r"before calling env.reset\(\)"):
        venv.step(np.array([STRAIGHT, STRAIGHT]))
    assert_untouched(venv.sim, before)


# -- the vector env -----------------------------------------------------------------------------


@pytest.mark.parametrize("actions, fragment", [
    (np.array([STRAIGHT, -1, STRAIGHT]), "action -1 of car 1 is not in the action space "
                                          "Discrete(10)"),
    ([STRAIGHT, STRAIGHT, 10], "action 10 of car 2 is not in the action space Discrete(10)"),
    (np.array([1.0, 2.0, 3.0]), "actions of dtype float64 for the action space Discrete(10)"),
    (np.array([True, False, True]), "actions of dtype bool"),
    (np.array([STRAIGHT, STRAIGHT]), "actions of shape (2,) for 3 cars"),
    (STRAIGHT, "actions of shape () for 3 cars"),
])
def test_vector_step_refuses_a_batch_with_a_bad_action(actions, fragment):
    venv = make_vec_env(3, **STATE)
    venv.reset(seed=0)
    venv.step(np.full(3, STRAIGHT))
    before = snapshot(venv.sim)
    with pytest.raises(InvalidActionError) as caught:
        venv.step(actions)
    assert fragment in str(caught.value)
    assert_untouched(venv.sim, before)  # no car moved, not even the good ones


@pytest.mark.parametrize("row, fragment", [
    ([np.nan, 0.0], "action [nan, 0.0] of car 1 is not in the action space Box"),
    ([0.0, -1.01], "-1.01 is outside [-1.0, 1.0]"),
])
def test_vector_continuous_step_refuses_nan_and_out_of_bounds(row, fragment):
    venv = make_vec_env(2, action_space=CONTINUOUS, **STATE)
    venv.reset(seed=0)
    before = snapshot(venv.sim)
    with pytest.raises(InvalidActionError) as caught:
        venv.step(np.array([[0.0, 0.0], row]))
    assert fragment in str(caught.value)
    assert_untouched(venv.sim, before)
    with pytest.raises(InvalidActionError, match=r"shape \(2,\) for 2 cars.*shape \(2, 2\)"):
        venv.step(np.zeros(2))


def test_sb3_adapter_refuses_bad_actions():
    pytest.importorskip("stable_baselines3")
    from racerl.envs.sb3 import to_sb3

    env = to_sb3(make_vec_env(2, **STATE))
    env.reset()
    with pytest.raises(InvalidActionError, match="action 12 of car 0"):
        env.step(np.array([12, STRAIGHT]))


@pytest.fixture
def no_batch_built(monkeypatch):
    """Building a batch fails the test: a refused car count must be refused before any car
    (and its reward function and camera frames) is made."""
    def build(n, **kwargs):
        raise AssertionError(f"a batch of {n} cars was built")

    monkeypatch.setattr(vector, "Racers", build)


@pytest.mark.parametrize("n", [0, -3, MAX_CARS + 1, 10**6])
def test_make_vec_env_refuses_impossible_car_counts(no_batch_built, n):
    with pytest.raises(ValueError, match=rf"num_envs must be from 1 to {MAX_CARS}, not {n}: "
                                         r"every car holds its own reward function"):
        make_vec_env(n, **STATE)


@pytest.mark.parametrize("n, shown", [("4", "'4' (str)"), (2.0, "2.0 (float)"),
                                      (True, "True (bool)"), (None, "None (NoneType)")])
def test_make_vec_env_refuses_car_counts_of_the_wrong_type(no_batch_built, n, shown):
    with pytest.raises(TypeError) as caught:
        make_vec_env(n, **STATE)
    assert str(caught.value) == f"num_envs must be a whole number of cars, not {shown}"


def test_make_vec_env_takes_numpy_integers():
    venv = make_vec_env(np.int64(2), **STATE)
    assert venv.num_envs == 2 and type(venv.num_envs) is int
    assert venv.reset(seed=0)[0].shape[0] == 2


@pytest.mark.parametrize("seed", ["1", [1], [1, "2"], -1, 1.5])
def test_vector_reset_refuses_bad_seeds(seed):
    venv = make_vec_env(2, **STATE)
    with pytest.raises(TypeError, match=r"seed must be None, a non-negative int or a list of "
                                        r"2 of them"):
        venv.reset(seed=seed)


# -- other arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("start", [float("nan"), "a", float("inf")])
def test_reset_refuses_a_start_that_is_not_a_finite_fraction(start):
    for env in (make_env(**STATE), make_vec_env(2, **STATE)):
        with pytest.raises(ValueError, match=r"options\['start_ndist'\] must be a finite"):
            env.reset(options={"start_ndist": start})
    assert np.isfinite(env.sim.car.x).all()


@pytest.mark.parametrize("name, value, error", [
    ("frame_stack", "2", TypeError), ("frame_stack", 2.0, TypeError),
    ("frame_stack", 0, ValueError),
    ("max_steps", "10", TypeError), ("max_steps", 0, ValueError),
])
def test_sizes_of_the_wrong_type_are_clear_errors(name, value, error):
    with pytest.raises(error, match=rf"{name} must be"):
        make_env(**STATE, **{name: value})


def test_racers_refuse_non_finite_commands_before_any_car_moves():
    """The batch core guards its controllers too (rollout drives it without ``step``)."""
    cars = Racers(2, **STATE)
    cars.reset(np.arange(2))
    cars.drive(np.zeros(2), np.ones(2))
    before = snapshot(cars.sim)
    with pytest.raises(ValueError, match=r"car 1: steering nan degrees, speed 1.0 m/s"):
        cars.drive(np.array([0.0, np.nan]), np.ones(2))
    with pytest.raises(ValueError, match=r"car 0: steering 0.0 degrees, speed inf m/s"):
        cars.drive(0.0, np.array([np.inf, 1.0]))
    assert_untouched(cars.sim, before)
