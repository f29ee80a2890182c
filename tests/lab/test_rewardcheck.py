"""``racerl reward check``: a catalogue of broken reward functions, each named plainly."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from racerl.cli import app
from racerl.lab.check import SLOW_CALL, check_reward, drive_traces
from racerl.track.catalog import load_track


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # the race line's cache goes to a temp home
        mp.setenv("RACERL_HOME", str(tmp_path_factory.mktemp("home")))
        return drive_traces(load_track("loop"))


def write(tmp_path, body: str):
    path = tmp_path / "reward.py"
    path.write_text(body)
    return path


def check(tmp_path, traces, body, **kwargs):
    return check_reward(write(tmp_path, body), load_track("loop"), traces=traces, **kwargs)


def test_traces_cover_the_edge_cases(traces):
    statuses = {t.label: t for t in traces}
    assert any("leaving the track" in k for k in statuses)
    every = [p for t in traces for p in t.params]
    assert any(p["is_offtrack"] for p in every)
    assert any(p["is_reversed"] for p in every)
    assert any(p["steps"] == 2.0 for p in every)  # the first RUN step, on the start line
    assert any(p["progress"] < 0 for p in every)  # driving backwards
    assert any(p["progress"] == 100 for p in every)
    assert any(p["speed"] == 0.0 for p in every)  # standing still


def test_division_by_speed_is_caught(tmp_path, traces):
    report = check(tmp_path, traces, "def reward_function(params):\n"
                   "    return 1.0 / params['speed']\n")
    [error] = [f.message for f in report.findings]
    assert "while standing still" in error and "raised ZeroDivisionError" in error


@pytest.mark.parametrize("body, fragment", [
    ("def reward_function(params)\n    return 1.0\n", "syntax error on line 1"),
    ("def reward(params):\n    return 1.0\n", "defines no function 'reward_function"),
    ("def reward_function(a, b):\n    return 1.0\n", "exactly one argument"),
    ("def reward_function(params):\n    return None\n", "returned None"),
    ("def reward_function(params):\n    return 'fast'\n", "returned 'fast'"),
    ("def reward_function(params):\n    return float('nan')\n", "returned nan"),
    ("def reward_function(params):\n    return float('inf')\n", "returned inf"),
    ("def reward_function(params):\n    return [1.0]\n", "not a number"),
    ("def reward_function(params):\n    return 1e9\n", "outside DeepRacer's"),
])
def test_errors_are_named(tmp_path, traces, body, fragment):
    report = check(tmp_path, traces, body)
    assert not report.ok
    assert any(fragment in f.message for f in report.findings if f.level == "error")


def test_an_exception_names_the_params_that_caused_it(tmp_path, traces):
    body = ("def reward_function(params):\n"
            "    if not params['all_wheels_on_track']:\n"
            "        raise KeyError('wheels')\n"
            "    return 1.0 - params['distance_from_center']\n")
    report = check(tmp_path, traces, body)
    errors = [f.message for f in report.findings if f.level == "error"]
    assert len(errors) == 1  # reported once, not once per drive that leaves the track
    assert "raised KeyError" in errors[0]
    assert "'all_wheels_on_track': False" in errors[0]


def test_an_endless_loop_is_stopped(tmp_path, traces):
    report = check(tmp_path, traces, "def reward_function(params):\n    while True:\n"
                   "        pass\n", call_timeout=0.2)
    assert [f.level for f in report.findings] == ["error"]
    assert "did not return within 0.2 s" in report.findings[0].message


def test_negative_reward_for_good_driving_is_suspicious(tmp_path, traces):
    report = check(tmp_path, traces, "def reward_function(params):\n"
                   "    return -params['distance_from_center']\n")
    assert report.ok
    assert any("negative reward" in f.message for f in report.findings)


def test_constant_reward_is_flagged(tmp_path, traces):
    report = check(tmp_path, traces, "def reward_function(params):\n    return 1.0\n")
    assert report.ok
    assert any("on every one of" in f.message for f in report.findings)


def test_randomness_is_flagged(tmp_path, traces):
    report = check(tmp_path, traces, "import random\n\ndef reward_function(params):\n"
                   "    return random.random()\n")
    assert any("not deterministic" in f.message for f in report.findings)


def test_state_kept_between_calls_is_deterministic(tmp_path, traces):
    report = check_reward("progress", load_track("loop"), traces=traces)
    assert report.ok and report.findings == []


def test_slow_calls_are_reported(tmp_path, traces):
    sleep = 2 * SLOW_CALL
    report = check(tmp_path, traces, "import time\n\ndef reward_function(params):\n"
                   f"    time.sleep({sleep})\n    return params['speed']\n")
    assert report.seconds_per_call >= sleep
    assert any(f.message.startswith("slow:") for f in report.findings)


@pytest.mark.parametrize("name", ["follow_center_line", "prevent_zigzag"])
def test_shipped_examples_pass_clean(traces, name):
    report = check_reward(name, load_track("loop"), traces=traces)
    assert report.ok and report.findings == []
    assert report.calls > 1000


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    good = runner.invoke(app, ["reward", "check", "follow_center_line"])
    assert good.exit_code == 0, good.output
    assert "ok" in good.output and "calls on loop" in good.output
    bad = runner.invoke(app, ["reward", "check", str(write(tmp_path, "def reward_function(p):"
                                                            "\n    return None\n"))])
    assert bad.exit_code == 1
    assert "returned None" in bad.output
    missing = runner.invoke(app, ["reward", "check", "follow_center_line", "--track", "nope"])
    assert missing.exit_code == 2


# -- functions that would end racerl: an error line and exit code 1, never a silent exit ------


@pytest.mark.parametrize("body, fragment", [
    ("import sys\ndef reward_function(params):\n    sys.exit(0)\n",
     "raised SystemExit (sys.exit(0))"),
    ("def reward_function(params):\n    raise KeyboardInterrupt\n",
     "raised KeyboardInterrupt itself"),
    ("class Odd(BaseException):\n    pass\ndef reward_function(params):\n    raise Odd()\n",
     "raised Odd"),
    ("def reward_function(params):\n    return 10**400\n", "too large for a float"),
    ("class N:\n    def __float__(self):\n        raise RuntimeError('no')\n"
     "def reward_function(params):\n    return N()\n", "conversion to a number raised"),
    ("import sys\nsys.exit(0)\n", "importing the file raised SystemExit"),
])
def test_cli_reports_exits_and_unconvertible_values(tmp_path, body, fragment):
    path = write(tmp_path, body)
    result = CliRunner().invoke(app, ["reward", "check", str(path), "--track", "oval"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors and fragment in errors[0] and str(path) in errors[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("body, fragment", [
    ("import os\ndef reward_function(params):\n    os._exit(0)\n", "called os._exit(0)"),
    ("import os\ndef reward_function(params):\n    try:\n        os._exit(0)\n"
     "    except BaseException:\n        pass\n    return 1.0\n", "called os._exit(0)"),
    ("import os\nos._exit(0)\n", "importing the file called os._exit(0)"),
])
def test_os_exit_0_fails_the_check_instead_of_passing_it(tmp_path, body, fragment):
    # In a subprocess: os._exit(0) would end pytest itself, successfully.
    path = write(tmp_path, body)
    done = subprocess.run([sys.executable, "-m", "racerl.cli", "reward", "check", str(path),
                           "--track", "oval"], capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"reward_function in {path}" in output and fragment in output
    assert "Traceback" not in output


def test_a_real_ctrl_c_stops_the_check(tmp_path, traces):
    # The signal arrives inside the call, as a Ctrl-C usually does: it must end the check,
    # not become a finding about the function.
    body = ("import signal\ndef reward_function(params):\n"
            "    signal.raise_signal(signal.SIGINT)\n    return 1.0\n")
    with pytest.raises(KeyboardInterrupt):
        check(tmp_path, traces, body)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
