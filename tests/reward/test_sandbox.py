"""The reward sandbox: a catalogue of bad functions, each a clear error, no hang, no harm."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from racerl.cli import app
from racerl.errors import RewardFunctionError
from racerl.reward.function import load_reward_function
from racerl.reward.sandbox import load_sandboxed
from racerl.sim.batch import BatchSim
from racerl.track.catalog import load_track

PARAMS = {"steps": 2.0, "progress": 1.0, "all_wheels_on_track": True, "speed": 1.0,
          "distance_from_center": 0.1, "track_width": 0.76, "waypoints": [(0.0, 0.0)]}


def write(tmp_path, body: str, name: str = "reward.py"):
    path = tmp_path / name
    path.write_text(body)
    return path


def call_once(path, **limits):
    with load_sandboxed(path, **limits) as sandbox:
        return sandbox.score([sandbox.instance()], [dict(PARAMS)])[0]


@pytest.mark.parametrize("body, fragment", [
    ("def reward_function(params)\n    return 1.0\n", "syntax error on line 1"),
    ("def reward(params):\n    return 1.0\n", "defines no function 'reward_function"),
    ("def reward_function():\n    return 1.0\n", "exactly one argument"),
    ("import not_a_module_xyz\n", "importing the file raised ModuleNotFoundError"),
    ("def reward_function(params):\n    raise ValueError('bad lap')\n",
     "raised ValueError: bad lap"),
    ("def reward_function(params):\n    return None\n", "returned None"),
    ("def reward_function(params):\n    return 'fast'\n", "returned 'fast'"),
    ("def reward_function(params):\n    return float('nan')\n", "returned nan"),
    ("def reward_function(params):\n    return float('-inf')\n", "returned -inf"),
    ("def reward_function(params):\n    return object()\n", "of type object, which is not a"),
    ("def reward_function(params):\n    block = bytearray(10 * 1024 ** 3)\n    return 1.0\n",
     "needs more memory than the sandbox allows (1024 MiB)"),
    ("import socket\n\ndef reward_function(params):\n"
     "    socket.create_connection(('127.0.0.1', 9))\n    return 1.0\n",
     "does not allow socket."),
    ("import os\n\ndef reward_function(params):\n    os.system('true')\n    return 1.0\n",
     "does not allow os.system"),
    ("import subprocess\n\ndef reward_function(params):\n"
     "    subprocess.run(['true'])\n    return 1.0\n", "does not allow"),
])
def test_bad_functions_give_clear_errors(tmp_path, body, fragment):
    with pytest.raises(RewardFunctionError) as info:
        call_once(write(tmp_path, body))
    assert fragment in str(info.value)
    assert "reward.py" in str(info.value)


def test_removing_files_is_refused_and_nothing_is_touched(tmp_path):
    victim = tmp_path / "model" / "important.txt"
    victim.parent.mkdir()
    victim.write_text("keep me")
    for call in (f"os.remove({str(victim)!r})", f"shutil.rmtree({str(victim.parent)!r})"):
        body = f"import os, shutil\n\ndef reward_function(params):\n    {call}\n    return 1.0\n"
        # Outside the sandbox's view the file is not there to remove (and the audit hook
        # refuses the call where there is no such view).
        with pytest.raises(RewardFunctionError, match=r"FileNotFoundError|does not allow"):
            call_once(write(tmp_path, body))
    assert victim.read_text() == "keep me"


def test_writing_outside_the_scratch_folder_is_refused(tmp_path):
    target = tmp_path / "written.txt"
    body = f"def reward_function(params):\n    open({str(target)!r}, 'w').write('x')\n" \
           "    return 1.0\n"
    with pytest.raises(RewardFunctionError, match=r"FileNotFoundError|does not allow writing"):
        call_once(write(tmp_path, body))
    assert not target.exists()


def test_scratch_files_live_and_die_with_the_worker(tmp_path):
    body = ("import os\n\ndef reward_function(params):\n"
            "    if os.path.exists('scratch.txt'):\n        return 2.0\n"
            "    open('scratch.txt', 'w').write('x')\n    return 1.0\n")
    path = write(tmp_path, body)
    with load_sandboxed(path) as sandbox:
        car = sandbox.instance()
        assert sandbox.score([car, car], [dict(PARAMS)] * 2) == [1.0, 2.0]
        folder = sandbox._dir
    assert not folder.exists()
    with load_sandboxed(path) as sandbox:  # a new sandbox starts with an empty scratch
        assert sandbox.score([sandbox.instance()], [dict(PARAMS)]) == [1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reward.py"]


def test_an_endless_loop_is_stopped_and_the_sandbox_refuses_more(tmp_path):
    path = write(tmp_path, "def reward_function(params):\n    while True:\n        pass\n")
    with load_sandboxed(path, call_timeout=0.3) as sandbox:
        car = sandbox.instance()
        with pytest.raises(RewardFunctionError, match="did not return within") as first:
            sandbox.score([car], [dict(PARAMS)])
        assert first.value.fatal
        with pytest.raises(RewardFunctionError) as second:
            sandbox.score([car], [dict(PARAMS)])
        assert second.value is first.value


def test_the_cpu_limit_stops_a_loop_even_with_a_long_wall_clock_limit(tmp_path):
    path = write(tmp_path, "def reward_function(params):\n    while True:\n        pass\n")
    with pytest.raises(RewardFunctionError, match="more CPU time than the sandbox allows"):
        call_once(path, cpu_seconds=1.0, call_timeout=60.0)


def test_an_ordinary_error_leaves_the_worker_running(tmp_path):
    body = ("def reward_function(params):\n    print('debug output does not break it')\n"
            "    if params['progress'] > 50:\n        raise ValueError('late')\n"
            "    return params['progress']\n")
    with load_sandboxed(write(tmp_path, body)) as sandbox:
        car = sandbox.instance()
        with pytest.raises(RewardFunctionError, match="late"):
            sandbox.score([car], [dict(PARAMS, progress=60.0)])
        assert sandbox.score([car, car], [dict(PARAMS, progress=3.0), dict(PARAMS)]) \
            == [3.0, 1.0]


def test_each_car_has_its_own_module_state(tmp_path):
    body = "count = [0]\n\ndef reward_function(params):\n    count[0] += 1\n" \
           "    return float(count[0])\n"
    with load_sandboxed(write(tmp_path, body)) as sandbox:
        a, b = sandbox.instance(), sandbox.instance()
        assert sandbox.score([a, a, b], [PARAMS] * 3) == [1.0, 2.0, 1.0]


def test_the_simulator_gets_the_same_rewards_through_the_sandbox():
    track = load_track("loop")
    path = "progress"  # keeps state per car: isolation matters
    rng = np.random.default_rng(0)
    steer, speed = rng.uniform(-20, 20, (40, 4)), rng.uniform(0.5, 2.0, (40, 4))
    with load_sandboxed(path) as sandbox:
        runs = []
        for reward in (load_reward_function(path), sandbox):
            sim = BatchSim(track, 4, reward=reward, start="round_robin")
            runs.append(np.array([sim.step(steer[k], speed[k]).rewards for k in range(40)]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.abs(runs[0]).sum() > 0


def test_follow_raceline_example_runs_unchanged_in_the_sandbox():
    track = load_track("loop")
    # Its first call computes the race line inside the sandbox (no cache there): seconds.
    with load_sandboxed("examples/rewards/follow_raceline.py", cpu_seconds=20,
                        call_timeout=20) as sandbox:
        sim = BatchSim(track, 2, reward=sandbox, start="line")
        sim.step([0, 0], [1, 1])
        rewards = sim.step([0, 0], [1, 1]).rewards
    assert np.all(rewards > 0)


def test_callables_are_refused():
    with pytest.raises(RewardFunctionError, match="from files"):
        load_sandboxed(lambda params: 1.0)


def test_cli_check_and_lab_with_sandbox(tmp_path):
    runner = CliRunner()
    hang = write(tmp_path, "def reward_function(params):\n    while True:\n        pass\n")
    result = runner.invoke(app, ["reward", "check", str(hang), "--sandbox"])
    assert result.exit_code == 1
    # Wall clock (2 s) and CPU limit (1-2 s of CPU) race here; either stops the loop.
    assert "did not return within" in result.output or "more CPU time" in result.output
    good = runner.invoke(app, ["reward", "check", "follow_center_line", "--sandbox"])
    assert good.exit_code == 0, good.output
    assert "in the sandbox" in good.output
    lab = runner.invoke(app, ["reward", "lab", "examples/rewards/centre_bonus.py", "--sandbox",
                              "--picture", str(tmp_path / "lab.png")])
    assert lab.exit_code == 0, lab.output
    assert "warning: zig-zag ±" in lab.output and "learn to weave" in lab.output

