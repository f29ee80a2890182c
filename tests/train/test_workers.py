"""Rollout workers: the training cars shared among Ray actors, one learner.

The workers must drive exactly what one batched simulator of all their cars drives (same
seeds, tracks, start points, lighting, rewards and infos), so that training with them
differs from local training only in where the cars are simulated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from racerl.cli import app
from racerl.envs.sb3 import to_sb3
from racerl.errors import RewardFunctionError
from racerl.evaluate.evaluation import EvalSettings, evaluate, model_entrant
from racerl.model.config import ConfigError, TrainConfig, load_config_dict
from racerl.model.folder import model_folder
from racerl.model.simtrace import read_simtrace_rows, training_trace_path
from racerl.reward.function import load_reward_function, reward_file
from racerl.train.simulator import training_simulator
from racerl.train.trainer import INTERRUPTED, train
from racerl.train.workers import RolloutWorkers, WorkerError, car_slices

runner = CliRunner()
QUICK = {"track": "oval", "observation": "state", "network": "mlp", "n_envs": 8,
         "rollout_steps": 128, "batch_size": 256, "num_epochs": 2, "learning_rate": 1e-3,
         "seed": 0, "num_episodes_between_training": 5, "eval_every": 1, "eval_trials": 1}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the tests of this module (starting one takes seconds); runs that
    find Ray running leave it running."""
    from racerl.train.cluster import connect, disconnect

    connect(num_cpus=4)
    yield
    disconnect()


# -- settings ---------------------------------------------------------------------------------


def test_cars_are_cut_into_consecutive_slices_of_near_equal_size():
    assert car_slices(8, 2) == [(0, 4), (4, 4)]
    assert car_slices(7, 3) == [(0, 3), (3, 2), (5, 2)]
    assert car_slices(3, 3) == [(0, 1), (1, 1), (2, 1)]
    with pytest.raises(ValueError):
        car_slices(2, 3)


def test_bad_worker_counts_are_refused_by_name():
    assert TrainConfig().workers == 1
    for value in (0, -2, 1.5, True, "two", 5000):
        with pytest.raises(ConfigError, match="workers must be a whole number in"):
            load_config_dict({"workers": value})
    with pytest.raises(ConfigError, match="workers 9 exceeds n_envs 8"):
        load_config_dict({"n_envs": 8, "workers": 9})
    with pytest.raises(ConfigError, match="each needs one on each of the 3 tracks"):
        load_config_dict({"track": ["loop", "oval", "circuit"], "n_envs": 8, "workers": 3})
    load_config_dict({"track": ["loop", "oval"], "n_envs": 8, "workers": 4})


def test_cli_refuses_bad_workers_in_one_line(tmp_path):
    cases = [(["--workers", "0"], "workers must be a whole number in [1, 1024], not 0"),
             (["--workers", "40", "--n-envs", "32"], "workers 40 exceeds n_envs 32"),
             (["--workers", "2", "--address", "nowhere"], "is not host:port"),
             (["--workers", "two"], "Invalid value for '--workers'")]
    for extra, fragment in cases:
        result = runner.invoke(app, ["train", "--name", "x", "--steps", "100", *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert fragment in " ".join(result.output.split()), result.output
        assert "Traceback" not in result.output


# -- the workers drive what one simulator drives -----------------------------------------------


def _same_infos(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if key == "terminal_observation":
                np.testing.assert_array_equal(a[key], b[key])
            else:
                assert a[key] == b[key], key


def test_workers_step_exactly_like_one_simulator_of_all_their_cars(local_ray):
    """Seven cars on two tracks, both directions, round-robin starts, random light and
    episodes cut at 10 steps, shared 3 + 2 + 2 among three workers: every observation,
    reward, done and info of 40 steps equals one local batch's, car by car."""
    config = load_config_dict({"track": ["loop", "oval"], "n_envs": 7, "workers": 3,
                               "lighting": "random", "alternate_driving_direction": True,
                               "max_episode_steps": 10, "seed": 5, "reward": "progress",
                               "batch_size": 64})
    path = reward_file(config.reward)
    local = to_sb3(training_simulator(config, load_reward_function(path)))
    workers = RolloutWorkers(config, path)
    try:
        assert workers.num_envs == 7 and workers.observation_space == local.observation_space
        for env in (local, workers):
            env.seed(config.seed)
        np.testing.assert_array_equal(workers.reset(), local.reset())
        rng = np.random.default_rng(0)
        ended = 0
        for _ in range(40):
            actions = rng.integers(0, local.action_space.n, size=7)
            local.step_async(actions)
            workers.step_async(actions)
            theirs, ours = local.step_wait(), workers.step_wait()
            np.testing.assert_array_equal(ours[0], theirs[0])
            np.testing.assert_array_equal(ours[1], theirs[1])
            np.testing.assert_array_equal(ours[2], theirs[2])
            _same_infos(ours[3], theirs[3])
            ended += int(ours[2].sum())
        assert ended >= 7 * 3  # every car went through several episodes and starts
        tracks = {info["track"] for info in ours[3]}
        assert tracks == {"loop", "oval"}
    finally:
        workers.close()
    assert workers.actors == []


def test_workers_run_a_sandboxed_reward_in_their_own_sandboxes(local_ray):
    config = load_config_dict({**QUICK, "workers": 2, "sandbox_reward": True,
                               "reward": "progress"})
    path = reward_file(config.reward)
    local = to_sb3(training_simulator(config, load_reward_function(path)))
    workers = RolloutWorkers(config, path)
    try:
        for env in (local, workers):
            env.seed(config.seed)
            env.reset()
        for step in range(5):
            actions = np.full(8, step % 10)
            local.step_async(actions)
            workers.step_async(actions)
            np.testing.assert_array_equal(workers.step_wait()[1], local.step_wait()[1])
    finally:
        workers.close()


def test_a_reward_error_in_a_worker_is_the_reward_error(local_ray, tmp_path):
    broken = tmp_path / "late_failure.py"
    broken.write_text("def reward_function(params):\n"
                      "    if params['steps'] > 3:\n"
                      "        raise ValueError('no more')\n"
                      "    return 1.0\n")
    config = load_config_dict({**QUICK, "workers": 2, "reward": str(broken)})
    workers = RolloutWorkers(config, broken)
    try:
        workers.reset()
        with pytest.raises(RewardFunctionError, match=r"late_failure\.py.*no more"):
            for _ in range(6):
                workers.step_async(np.zeros(8, dtype=np.int64))
                workers.step_wait()
    finally:
        workers.close()


def test_a_broken_reward_fails_the_workers_start(local_ray, tmp_path):
    broken = tmp_path / "syntax.py"
    broken.write_text("def reward_function(params)\n    return 1.0\n")
    config = load_config_dict({**QUICK, "workers": 2, "reward": str(broken)})
    with pytest.raises(RewardFunctionError, match=r"syntax\.py: syntax error on line 1"):
        RolloutWorkers(config, broken)


def test_a_dead_worker_is_named_with_what_killed_it(local_ray):
    config = load_config_dict({**QUICK, "workers": 2})
    workers = RolloutWorkers(config, reward_file(config.reward))
    try:
        workers.reset()
        workers.ray.kill(workers.actors[1])
        with pytest.raises(WorkerError, match=r"rollout worker 2 of 2 \(cars 4-7\) died "
                                              r"stepping: .*killed by `ray.kill`"):
            workers.step_async(np.zeros(8, dtype=np.int64))
            workers.step_wait()
    finally:
        workers.close()


# -- training with workers ---------------------------------------------------------------------


def _training_rows(folder) -> list[list]:
    rows, block = [], 0
    while training_trace_path(folder.root, block).is_file():
        rows += read_simtrace_rows(training_trace_path(folder.root, block))
        block += 1
    return rows


CLOCKS = ("wall_time", "seconds", "evaluation_seconds")


def _without_clocks(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in CLOCKS} for r in records]


@pytest.mark.slow
def test_two_workers_train_the_same_complete_model_as_one_process(local_ray):
    """2,048 steps with two workers give a complete model folder that evaluates, with the
    same traces, episodes and evaluations as the same run in one process (torch's threads
    fixed, as conftest does, so that the updates round alike)."""
    steps = 2048
    spread = train("spread", load_config_dict({**QUICK, "workers": 2}), steps=steps)
    single = train("single", load_config_dict(QUICK), steps=steps)
    assert spread.stop_reason == "step budget reached" and spread.progress.steps >= steps
    folder = spread.folder
    assert folder.config().workers == 2
    for path in (folder.checkpoint_path, folder.root / "checkpoints" / "best.zip",
                 folder.metadata_path, folder.reward_path, training_trace_path(folder.root, 0)):
        assert path.is_file(), path
    assert _training_rows(folder) == _training_rows(single.folder)
    assert _without_clocks(folder.metrics()) == _without_clocks(single.folder.metrics())
    assert any(m["phase"] == "evaluation" for m in folder.metrics())
    who = model_entrant("spread")
    run = evaluate(who.driver, EvalSettings(track="oval", trials=1))
    assert len(run.trials) == 1 and run.trials[0].progress > 0


@pytest.mark.slow
def test_ctrl_c_stops_a_run_with_workers_and_keeps_its_checkpoint(tmp_path, monkeypatch):
    """Ctrl-C at the terminal reaches the whole process group: the run stops at the next
    step, saves, stops its workers and its local Ray, and exits cleanly."""
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    config = tmp_path / "quick.yaml"
    config.write_text(yaml.safe_dump({**QUICK, "eval_every": 0}))
    env = {**os.environ, "RACERL_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "racerl.cli", "train", "--name", "stopped",
                             "--config", str(config), "--workers", "2", "--steps", "10000000",
                             "--trials", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    folder = model_folder("stopped")
    deadline = time.time() + 600
    while not (folder.state_path.is_file() and folder.state()["num_timesteps"] >= 2048):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"no checkpoint: {proc.communicate()[0]}")
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: the driver and its workers
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    assert INTERRUPTED in output and "Traceback" not in output
    assert folder.config().workers == 2 and folder.checkpoint_path.is_file()
    model_entrant("stopped")  # its checkpoint loads
