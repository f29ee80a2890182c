"""Loading reward functions from files, the shipped examples, and isolation between cars."""

from __future__ import annotations

import pytest

from racerl.errors import RewardFunctionError
from racerl.reward.function import EXAMPLES, example_path, load_reward_function


def write(tmp_path, text, name="reward.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


def base_params(**overrides):
    params = {"track_width": 0.76, "distance_from_center": 0.0, "all_wheels_on_track": True,
              "steering_angle": 0.0, "progress": 1.5, "steps": 3.0}
    params.update(overrides)
    return params


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load_and_return_floats(name):
    func = load_reward_function(name).instance()
    assert type(func(base_params())) is float
    assert example_path(name).is_file()


def test_follow_center_line_bands_are_inclusive():
    func = load_reward_function("follow_center_line").instance()
    width = 0.8
    assert func(base_params(track_width=width, distance_from_center=0.1 * width)) == 1.0
    assert func(base_params(track_width=width, distance_from_center=0.2)) == 0.5
    assert func(base_params(track_width=width, distance_from_center=0.4)) == 0.1
    assert func(base_params(track_width=width, distance_from_center=0.41)) == 1e-3


def test_stay_inside_borders_needs_margin():
    func = load_reward_function("stay_inside_borders").instance()
    assert func(base_params(track_width=1.0, distance_from_center=0.44)) == 1.0
    assert func(base_params(track_width=1.0, distance_from_center=0.46)) == 1e-3
    assert func(base_params(all_wheels_on_track=False)) == 1e-3


def test_prevent_zigzag_penalises_strictly_above_15_degrees():
    func = load_reward_function("prevent_zigzag").instance()
    assert func(base_params(steering_angle=15.0)) == 1.0
    assert func(base_params(steering_angle=-15.5)) == pytest.approx(0.8)


@pytest.mark.parametrize("text, fragment", [
    ("def reward_function(params)\n    return 1.0\n", "syntax error on line 1"),
    ("def reward(params):\n    return 1.0\n", "defines no function 'reward_function"),
    ("def reward_function():\n    return 1.0\n", "exactly one argument"),
    ("def reward_function(a, b):\n    return 1.0\n", "exactly one argument"),
    ("import not_a_module_xyz\n", "importing the file raised ModuleNotFoundError"),
])
def test_broken_files_fail_at_load_with_the_file_named(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(RewardFunctionError) as err:
        load_reward_function(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_missing_file_suggests_examples(tmp_path):
    with pytest.raises(RewardFunctionError, match="no such reward function file"):
        load_reward_function(tmp_path / "nope.py")
    with pytest.raises(RewardFunctionError, match="follow_center_line"):
        load_reward_function("not_an_example")


def test_each_instance_has_its_own_globals(tmp_path):
    path = write(tmp_path, "count = 0\n\ndef reward_function(params):\n"
                           "    global count\n    count += 1\n    return float(count)\n")
    reward = load_reward_function(path)
    a, b = reward.instance(), reward.instance()
    assert [a({}), a({}), a({})] == [1.0, 2.0, 3.0]
    assert b({}) == 1.0


def test_plain_callable_is_accepted_and_checked():
    assert load_reward_function(lambda params: 2.0).instance()({}) == 2.0
    with pytest.raises(RewardFunctionError, match="exactly one argument"):
        load_reward_function(lambda: 2.0)
