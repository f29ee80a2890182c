"""Training end to end: learning for real, the model folder, traces, kills and resumes."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from racerl.cli import app
from racerl.envs.single import make_env
from racerl.errors import RewardFunctionError
from racerl.evaluate.evaluation import run_trials
from racerl.model.best_checkpoint import training_episodes
from racerl.model.config import ConfigError, TrainConfig, load_config, load_config_dict
from racerl.model.folder import (
    ModelBusyError,
    model_folder,
    named_model_folder,
    training_lock,
)
from racerl.model.robomaker_log import sim_trace_line, training_log
from racerl.model.simtrace import read_simtrace_rows, training_trace_path
from racerl.train.trainer import INTERRUPTED, load_policy, train
from tests.helpers import racerl_home

runner = CliRunner()
QUICK = {"track": "oval", "observation": "state", "network": "mlp", "n_envs": 8,
         "rollout_steps": 64, "batch_size": 128, "num_epochs": 4, "learning_rate": 1e-3,
         "seed": 0, "num_episodes_between_training": 5}


def quick_config(**changes) -> TrainConfig:
    return load_config_dict({**QUICK, **changes}, "test")


# -- the configuration ----------------------------------------------------------------------


def test_defaults_are_valid_and_round_trip_through_yaml(tmp_path):
    cfg = TrainConfig().validate()
    path = tmp_path / "train.yaml"
    cfg.save(path)
    assert load_config(path) == cfg


def test_unknown_and_out_of_range_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting.*learning_rat.*valid settings"):
        load_config_dict({"learning_rat": 0.1})
    with pytest.raises(ConfigError, match="num_epochs must be a whole number in"):
        load_config_dict({"num_epochs": 0})
    with pytest.raises(ConfigError, match="algorithm must be one of ppo, sac"):
        load_config_dict({"algorithm": "dqn"})
    with pytest.raises(ConfigError, match="'mlp' needs observation"):
        load_config_dict({"network": "mlp"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("batch_size: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not a readable YAML"):
        load_config(bad)


# -- a real training run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short real run (state observation, the oval), shared by the tests below."""
    home = tmp_path_factory.mktemp("train_home")
    with racerl_home(home):
        result = train("quick", quick_config(), steps=8 * 64 * 8)
    return home, result


def test_training_beats_a_random_policy(trained, monkeypatch):
    home, _ = trained
    monkeypatch.setenv("RACERL_HOME", str(home))
    env = make_env(track="oval", observation="state", start="line", max_steps=2000)
    policy, _ = load_policy("quick")
    learned = np.mean([r.progress for r in run_trials(policy, env, 2)])
    rng = np.random.default_rng(0)
    random = np.mean([r.progress for r in run_trials(lambda o: int(rng.integers(10)), env, 5)])
    assert learned > random + 20, (learned, random)


def test_model_folder_has_deepracer_layout(trained):
    _, result = trained
    root = result.folder.root
    meta = json.loads((root / "model" / "model_metadata.json").read_text())
    assert meta["training_algorithm"] == "clipped_ppo" and len(meta["action_space"]) == 10
    hyper = json.loads((root / "ip" / "hyperparameters.json").read_text())
    assert hyper["batch_size"] == 128 and hyper["lr"] == 1e-3
    assert (root / "reward_function.py").read_text().count("def reward_function") == 1
    assert yaml.safe_load((root / "config.yaml").read_text())["track"] == "oval"
    assert list((root / "logs").rglob("events.out.tfevents*")), "TensorBoard logs missing"
    state = json.loads((root / "checkpoints" / "state.json").read_text())
    assert state["num_timesteps"] >= 8 * 64 * 8


def test_traces_load_in_deepracer_utils_and_match_the_run(trained):
    deepracer_logs = pytest.importorskip("deepracer.logs")
    _, result = trained
    log = deepracer_logs.DeepRacerLog(model_folder=str(result.folder.root))
    log.load_training_trace()
    df = log.dataframe()
    metrics = training_episodes(result.folder.metrics())  # the traces hold training only
    assert df["unique_episode"].nunique() == len(metrics)
    steps = df.groupby("unique_episode")["steps"].max().sort_index().to_numpy()
    assert steps.tolist() == [m["steps"] for m in metrics]
    rewards = df.groupby("unique_episode")["reward"].sum().sort_index().to_numpy()
    np.testing.assert_allclose(rewards, [m["reward"] for m in metrics], rtol=1e-9)
    assert set(df["episode_status"]) >= {"prepare", "in_progress"}


def test_reward_in_traces_is_the_users_number(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    reward = tmp_path / "odd.py"
    reward.write_text("def reward_function(params):\n    return 0.123 + params['steps'] * 1e-3\n")
    result = train("odd", quick_config(normalize_reward=True), steps=8 * 64,
                   reward=reward)
    trace = (result.folder.root / "sim-trace" / "training" / "training-simtrace"
             / "0-iteration.csv").read_text().splitlines()[1:]
    for line in trace[:50]:
        cols = line.split(",")
        steps, value, status = float(cols[1]), float(cols[8]), cols[15]
        expected = 0.0 if status == "prepare" else 0.123 + steps * 1e-3
        assert value == pytest.approx(expected, abs=1e-12)


def test_plot_saves_the_training_chart(trained, monkeypatch, tmp_path):
    home, _ = trained
    monkeypatch.setenv("RACERL_HOME", str(home))
    out = tmp_path / "chart.png"
    result = runner.invoke(app, ["plot", "quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(out)).std() > 5


def test_clone_starts_from_the_trained_weights(trained, monkeypatch):
    home, _ = trained
    monkeypatch.setenv("RACERL_HOME", str(home))
    cfg = model_folder("quick").config().replace(learning_rate=1e-8)
    train("copy", cfg, steps=8 * 64, clone="quick")
    a, _ = load_policy("quick")
    b, _ = load_policy("copy")
    obs = make_env(track="oval", observation="state").reset(seed=3)[0]
    assert int(a(obs)) == int(b(obs))
    with pytest.raises(Exception, match="already exists"):
        train("copy", cfg, steps=8 * 64, clone="quick")


def test_reward_error_stops_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    reward = tmp_path / "late.py"
    reward.write_text("calls = 0\n\ndef reward_function(params):\n    global calls\n"
                      "    calls += 1\n    if calls > 200:\n        return float('nan')\n"
                      "    return 1.0\n")
    with pytest.raises(RewardFunctionError, match=r"failed at step \d+\.0: it returned nan"):
        train("broken", quick_config(), steps=8 * 64 * 20, reward=reward)
    folder = model_folder("broken")
    assert folder.checkpoint_path.is_file()  # saved after the first updates
    load_policy("broken")  # and loadable


def test_a_reward_that_exits_stops_training_with_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    reward = tmp_path / "leaves.py"
    reward.write_text("import sys\n\ndef reward_function(params):\n    sys.exit(0)\n")
    config = tmp_path / "quick.yaml"
    config.write_text(yaml.safe_dump(QUICK))
    result = runner.invoke(app, ["train", "--name", "leaves", "--config", str(config),
                                 "--reward", str(reward), "--steps", "512", "--trials", "0"])
    assert result.exit_code == 2, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("error:") and str(reward) in first
    assert "raised SystemExit (sys.exit(0))" in first and "Traceback" not in result.output


def test_os_exit_0_in_a_reward_fails_training(tmp_path):
    # In a subprocess: os._exit(0) would end pytest itself, successfully.
    reward = tmp_path / "quits.py"
    reward.write_text("import os\n\ndef reward_function(params):\n    os._exit(0)\n")
    config = tmp_path / "quick.yaml"
    config.write_text(yaml.safe_dump(QUICK))
    done = subprocess.run([sys.executable, "-m", "racerl.cli", "train", "--name", "quits",
                           "--config", str(config), "--reward", str(reward), "--steps", "512",
                           "--trials", "0"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RACERL_HOME": str(tmp_path)})
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"reward_function in {reward}" in output and "called os._exit(0)" in output
    assert "Traceback" not in output


def test_a_keyboard_interrupt_raised_by_the_reward_is_its_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    reward = tmp_path / "kbd.py"
    reward.write_text("def reward_function(params):\n    raise KeyboardInterrupt\n")
    with pytest.raises(RewardFunctionError, match="raised KeyboardInterrupt itself"):
        train("kbd", quick_config(), steps=8 * 64 * 2, reward=reward)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_a_reward_call_still_stops_training(tmp_path, monkeypatch, presses):
    # The Ctrl-Cs arrive while the reward function runs (where they often do): one asks the
    # run to stop at the next step, a second stops it at once; either way it is the user's
    # interrupt, saved as such, not an error of the function.
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    monkeypatch.delenv("PRESSED", raising=False)  # shared by the cars' module copies
    reward = tmp_path / "pressed.py"
    reward.write_text("import os, signal\ncalls = 0\n\ndef reward_function(params):\n"
                      "    global calls\n    calls += 1\n"
                      "    if calls == 100 and 'PRESSED' not in os.environ:\n"
                      "        os.environ['PRESSED'] = '1'\n"
                      f"        for _ in range({presses}):\n"
                      "            signal.raise_signal(signal.SIGINT)\n    return 1.0\n")
    result = train("pressed", quick_config(), steps=8 * 64 * 4, reward=reward)
    assert result.stop_reason == INTERRUPTED
    assert result.progress.steps < 8 * 64 * 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    load_policy("pressed")


# -- nothing lost: real processes, real signals -----------------------------------------------


def _start_training(home: Path, name: str, tmp_path: Path, *extra: str) -> subprocess.Popen:
    config = tmp_path / "quick.yaml"
    config.write_text(yaml.safe_dump(QUICK))
    env = {**os.environ, "RACERL_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "racerl.cli", "train", "--name", name,
                             "--config", str(config), "--steps", "10000000", "--trials", "0",
                             *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_for_checkpoints(folder, count: int, proc: subprocess.Popen, timeout: float = 120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if folder.state_path.is_file() and folder.state().get("num_timesteps", 0) >= \
                count * 8 * 64:
            return
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {proc.stdout.read()}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail("no checkpoint in time")


@pytest.mark.slow
def test_kill_9_leaves_a_loadable_checkpoint_and_resume_continues(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    proc = _start_training(tmp_path, "killed", tmp_path)
    folder = model_folder("killed")
    _wait_for_checkpoints(folder, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = folder.state()
    load_policy("killed")  # the checkpoint on disk is whole
    assert _training_log_episodes(folder.root)  # whole lines only, readable as it is
    result = runner.invoke(app, ["train", "--name", "killed", "--resume", "--steps", "1024",
                                 "--trials", "0"])
    assert result.exit_code == 0, result.output
    after = folder.state()
    assert after["num_timesteps"] >= before["num_timesteps"] + 1024
    assert after["episodes"] > before["episodes"]
    assert len(folder.metrics()) == after["metrics_count"]
    # The training log holds exactly the steps of the sim-trace files: the killed run's
    # steps after its checkpoint are gone, the resumed run's follow.
    logged = _training_log_episodes(folder.root)
    assert logged == list(range(after["episodes"]))
    lines = [line for line in training_log(folder.root).read_text().splitlines()
             if line.startswith("SIM_TRACE_LOG:")]
    per_file = QUICK["num_episodes_between_training"]
    rows = [row for block in range(math.ceil(after["episodes"] / per_file))
            for row in read_simtrace_rows(training_trace_path(folder.root, block))
            if int(row[0]) < after["episodes"]]
    assert lines == [sim_trace_line(row) for row in rows]


def _training_log_episodes(root: Path) -> list[int]:
    """The episodes deepracer-utils reads from the model's training log, by default."""
    deepracer_logs = pytest.importorskip("deepracer.logs")
    log = deepracer_logs.DeepRacerLog(model_folder=str(root))
    log.load()
    return sorted(log.dataframe()["episode"].unique().tolist())


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    proc = _start_training(tmp_path, "stopped", tmp_path)
    folder = model_folder("stopped")
    _wait_for_checkpoints(folder, 2, proc)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "interrupted (Ctrl-C)" in output
    assert "Traceback" not in output
    load_policy("stopped")


@pytest.mark.parametrize("algorithm", ["sac", "ppo"])
def test_continuous_actions_train_with_sac_and_ppo(tmp_path, monkeypatch, algorithm):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    space = tmp_path / "model_metadata.json"
    space.write_text(json.dumps({"action_space_type": "continuous", "action_space": {
        "steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1.5}}}))
    cfg = quick_config(algorithm=algorithm, action_space=str(space), batch_size=64)
    result = train(f"cont-{algorithm}", cfg, steps=8 * 64)
    meta = json.loads(result.folder.metadata_path.read_text())
    assert meta["training_algorithm"] == ("sac" if algorithm == "sac" else "clipped_ppo")
    assert meta["action_space_type"] == "continuous"
    policy, _ = load_policy(f"cont-{algorithm}")
    action = policy(make_env(track="oval", observation="state").reset(seed=0)[0])
    assert np.shape(action) == (2,) and np.all(np.abs(action) <= 1.0)


def test_sac_refuses_a_discrete_action_space(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    with pytest.raises(Exception, match="continuous action space"):
        train("bad-sac", quick_config(algorithm="sac"), steps=8 * 64)
    assert not model_folder("bad-sac").root.exists()  # a failed start leaves no folder


def test_the_model_stays_locked_for_the_whole_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    folder = named_model_folder("held")
    tried = []

    def second_run_of_the_same_model(progress):
        with pytest.raises(ModelBusyError), training_lock(folder):
            pass
        tried.append(progress.iteration)

    train("held", quick_config(), steps=8 * 64 * 2, on_iteration=second_run_of_the_same_model)
    assert tried  # refused at every iteration
    with training_lock(folder):  # and free once the run has returned
        pass


def test_cli_mistakes_are_one_line_errors_and_force_checks_first(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rat: 0.1\n")
    cases = [
        (["train", "--name", "x", "--config", str(bad), "--minutes", "1"], "valid settings"),
        (["train", "--name", "x", "--lighting", "disco", "--steps", "10"], "lighting must be"),
        (["train", "--name", "x", "--steps", "0"], "must be positive"),
        (["train", "--name", "x", "--minutes", "1", "--seed", "-1"], "seed must be"),
        (["train", "--name", "x", "--resume", "--seed", "3", "--steps", "10"], "--resume"),
        (["train", "--name", "x"], "give a budget"),
    ]
    for args, fragment in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.output and "Traceback" not in result.output, result.output
    # --force on an existing model with a broken reward: the old model is kept.
    keep = model_folder("keep")
    keep.root.mkdir(parents=True)
    (keep.root / "config.yaml").write_text("track: oval\n")
    result = runner.invoke(app, ["train", "--name", "keep", "--force", "--reward",
                                 str(tmp_path / "typo.py"), "--steps", "10"])
    assert result.exit_code == 2 and "no such reward function" in result.output
    assert (keep.root / "config.yaml").is_file()


def test_example_reward_by_name_and_yaml_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(QUICK) + "learning_rate: 1e-3\n")  # YAML reads a string
    assert load_config(config).learning_rate == 1e-3
    result = train("named", quick_config(reward="stay_inside_borders"), steps=8 * 64)
    copied = (result.folder.root / "reward_function.py").read_text()
    assert "Stay inside the two borders" in copied


def test_a_sandboxed_reward_trains_exactly_like_the_same_reward_in_process(tmp_path):
    settings = {"n_envs": 4, "batch_size": 64, "num_episodes_between_training": 4}
    plain = train("plain", quick_config(**settings), steps=4 * 64 * 2)
    boxed = train("boxed", quick_config(**settings, sandbox_reward=True), steps=4 * 64 * 2)
    assert boxed.folder.config().sandbox_reward
    assert [m["reward"] for m in boxed.folder.metrics()] == \
        [m["reward"] for m in plain.folder.metrics()]
    sneaky = tmp_path / "sneaky.py"
    target = tmp_path / "written.txt"
    sneaky.write_text("def reward_function(params):\n"
                      f"    open({str(target)!r}, 'w').write('x')\n"
                      "    return 1.0\n")
    with pytest.raises(RewardFunctionError):
        train("sneaky", quick_config(**settings, sandbox_reward=True, reward=str(sneaky)),
              steps=4 * 64)
    assert not target.exists()


def test_train_command_trains_among_obstacles(tmp_path, monkeypatch):
    """racerl train --race-type object_avoidance: the options land in the model's config and
    the cars train among the boxes (some episodes end in crashes)."""
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    config = tmp_path / "quick.yaml"
    config.write_text(yaml.safe_dump({**QUICK, "eval_every": 0}))
    result = runner.invoke(app, ["train", "--name", "boxes", "--config", str(config),
                                 "--race-type", "object_avoidance",
                                 "--number-of-obstacles", "4",
                                 "--randomize-obstacle-locations",
                                 "--steps", "2048", "--trials", "0"])
    assert result.exit_code == 0, result.output
    saved = model_folder("boxes").config()
    assert (saved.race_type, saved.number_of_obstacles, saved.randomize_obstacle_locations) \
        == ("object_avoidance", 4, True)
    statuses = {m["episode_status"] for m in training_episodes(model_folder("boxes").metrics())}
    assert "crashed" in statuses, statuses
