"""Loading reward functions from files, the shipped examples, and isolation between cars."""

from __future__ import annotations

import os
import signal

import pytest

from racerl.errors import RewardFunctionError
from racerl.reward.function import (
    EXAMPLES,
    call_reward,
    example_path,
    load_reward_function,
    watch_ctrl_c,
)

REAL_EXIT = os._exit


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


# -- code that would end the process, and values float() cannot take --------------------------
# os._exit is tested in subprocesses (tests/lab/test_rewardcheck.py, tests/train): here, a
# regression would end pytest itself, with status 0.


PARAMS = {"steps": 3.0}


def call(tmp_path, body: str):
    """call_reward on a fresh instance of a reward file, inside a Ctrl-C watch (as the
    trainer, the check and the lab call it)."""
    path = write(tmp_path, body)
    with watch_ctrl_c():
        return call_reward(load_reward_function(path).instance(), dict(PARAMS),
                           f"reward_function in {path}")


@pytest.mark.parametrize("body, fragment", [
    ("import sys\ndef reward_function(params):\n    sys.exit(0)\n",
     "raised SystemExit (sys.exit(0))"),
    ("def reward_function(params):\n    raise SystemExit\n", "raised SystemExit"),
    ("def reward_function(params):\n    raise KeyboardInterrupt\n",
     "raised KeyboardInterrupt itself (no Ctrl-C was pressed)"),
    ("def reward_function(params):\n    raise GeneratorExit\n", "raised GeneratorExit"),
    ("class Odd(BaseException):\n    pass\ndef reward_function(params):\n    raise Odd('x')\n",
     "raised Odd: x"),
    ("def reward_function(params):\n    return 10**400\n",
     "a number too large for a float (about 10**400)"),
    ("def reward_function(params):\n    return 10**5000\n",  # too long even for repr()
     "a number too large for a float (about 10**5000)"),
    ("class N:\n    def __float__(self):\n        raise RuntimeError('no')\n"
     "def reward_function(params):\n    return N()\n",
     "object of type N whose conversion to a number raised RuntimeError: no"),
    ("import sys\nclass N:\n    def __float__(self):\n        sys.exit(1)\n"
     "def reward_function(params):\n    return N()\n", "raised SystemExit (sys.exit(1))"),
    ("class N:\n    def __float__(self):\n        return 1.0\n    def __repr__(self):\n"
     "        raise RuntimeError\ndef reward_function(params):\n    return [N()]\n",
     "not a number"),  # an unprintable value still gets its message
])
def test_exits_interrupts_and_unconvertible_values_are_reward_errors(tmp_path, body, fragment):
    with pytest.raises(RewardFunctionError) as err:
        call(tmp_path, body)
    assert fragment in str(err.value)
    assert str(tmp_path / "reward.py") in str(err.value) and "step 3.0" in str(err.value)
    assert os._exit is REAL_EXIT


@pytest.mark.parametrize("body, fragment", [
    ("import sys\nsys.exit(0)\n", "importing the file raised SystemExit (sys.exit(0))"),
    ("raise KeyboardInterrupt\n", "importing the file raised KeyboardInterrupt itself"),
])
def test_exiting_at_import_is_a_load_error(tmp_path, body, fragment):
    path = write(tmp_path, body)
    with watch_ctrl_c(), pytest.raises(RewardFunctionError) as err:
        load_reward_function(path)
    assert fragment in str(err.value) and str(path) in str(err.value)
    assert os._exit is REAL_EXIT


def test_a_real_ctrl_c_during_the_call_stays_a_keyboard_interrupt(tmp_path):
    # The signal arrives while the reward function runs, as a Ctrl-C would.
    body = ("import signal\ndef reward_function(params):\n"
            "    signal.raise_signal(signal.SIGINT)\n    return 1.0\n")
    with pytest.raises(KeyboardInterrupt):
        call(tmp_path, body)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_without_a_watch_a_keyboard_interrupt_is_taken_for_ctrl_c(tmp_path):
    func = load_reward_function(write(tmp_path, "def reward_function(params):\n"
                                                "    raise KeyboardInterrupt\n")).instance()
    with pytest.raises(KeyboardInterrupt):
        call_reward(func, dict(PARAMS), "reward")


def test_os_exit_is_put_back_after_a_call(tmp_path):
    assert call(tmp_path, "def reward_function(params):\n    return 1.0\n") == 1.0
    assert os._exit is REAL_EXIT
