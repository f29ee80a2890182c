"""DeepRacer's simulation log: lines in the simapp's format, the header deepracer-utils
parses, and a training log that stays whole through kills and resumes."""

from __future__ import annotations

import json
from io import StringIO

import pytest

from racerl.model.robomaker_log import (
    append_steps,
    evaluation_log_path,
    header,
    line_episode,
    resume_training_log,
    sim_trace_line,
    start_training_log,
    training_log,
    world_name,
    write_evaluation_log,
)
from racerl.model.simtrace import read_simtrace_rows, training_trace_path, write_simtrace

deepracer_logs = pytest.importorskip("deepracer.logs")

ACTIONS = [{"steering_angle": -30.0, "speed": 0.5, "index": 0},
           {"steering_angle": 30.0, "speed": 1.0, "index": 1}]
HYPERPARAMETERS = {"batch_size": 64, "lr": 0.0003, "num_episodes_between_training": 5,
                   "loss_type": "mean squared error"}


def _row(episode: int, step: int, action: object = 1) -> list:
    done = step == 3
    return [episode, float(step), 1.23456789, -2.5, 91.123456, 30.0, 1.0, action,
            0.123456, done, True, 12.3456789 * step, 7, 17.709, 0.06666666666666667 * step,
            "lap_complete" if done else "in_progress", 0.0]


def _episodes(first: int, last: int) -> list[list]:
    return [_row(e, s) for e in range(first, last) for s in (1, 2, 3)]


def _model_dir(tmp_path, name="m"):
    root = tmp_path / name
    (root / "model").mkdir(parents=True)
    (root / "ip").mkdir()
    (root / "model" / "model_metadata.json").write_text(json.dumps({
        "action_space": ACTIONS, "action_space_type": "discrete",
        "sensor": ["FRONT_FACING_CAMERA"], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
        "training_algorithm": "clipped_ppo", "version": "5"}))
    (root / "ip" / "hyperparameters.json").write_text(json.dumps(HYPERPARAMETERS))
    return root


def _steps(path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("SIM_TRACE_LOG:")]


def test_a_step_reads_as_the_simapp_prints_it():
    line = sim_trace_line(_row(4, 3))
    assert line == ("SIM_TRACE_LOG:4,3,1.2346,-2.5000,91.1235,30.00,1.00,1,0.1235,True,True,"
                    "37.0370,7,17.71,0.2,lap_complete,0.00")
    continuous = sim_trace_line(_row(0, 1, action="[-12.5 1.25]"))
    assert ",[-12.5 1.25],0.1235,False," in continuous
    assert line_episode(line) == 4 and line_episode(" * /WORLD_NAME: x") is None


def test_deepracer_utils_parses_the_line_back_to_the_row():
    rows = [_row(2, 1), _row(2, 3), _row(3, 1, action="[-12.5 1.25]")]
    data = deepracer_logs.SimulationLogsIO.load_buffer(
        StringIO("".join(sim_trace_line(r) + "\n" for r in rows)))
    df = deepracer_logs.SimulationLogsIO.convert_to_pandas(data, episodes_per_iteration=2)
    assert df["episode"].tolist() == [2, 2, 3] and df["iteration"].tolist() == [1, 1, 1]
    assert df["steps"].tolist() == [1, 3, 1]
    assert df["action"].tolist() == [1, 1, -1]  # a continuous action has no index
    assert df["done"].tolist() == [False, True, False]
    assert df["progress"].tolist() == [pytest.approx(r[11], abs=5e-5) for r in rows]
    assert df["x"].tolist() == [pytest.approx(1.23456789, abs=5e-5)] * 3
    assert df["tstamp"].tolist() == [r[14] for r in rows]  # printed in full, as the simapp does
    assert df["episode_status"].tolist() == ["in_progress", "lap_complete", "in_progress"]


def test_a_row_read_back_from_the_csv_logs_the_same_line(tmp_path):
    rows = [_row(0, 1), _row(0, 3), _row(1, 2, action="[-12.5 1.25]")]
    path = write_simtrace(tmp_path / "0-iteration.csv", rows)
    assert [sim_trace_line(r) for r in read_simtrace_rows(path)] == \
        [sim_trace_line(r) for r in rows]


def test_the_header_holds_what_deepracer_utils_reads(tmp_path):
    root = _model_dir(tmp_path)
    write_simtrace(training_trace_path(root, 0), _episodes(0, 2))
    path = start_training_log(root, world_name("/somewhere/reinvent_base.npy"))
    append_steps(path, _episodes(0, 2))
    assert " * /WORLD_NAME: reinvent_base\n" in path.read_text()
    log = deepracer_logs.DeepRacerLog(model_folder=str(root))
    log.load_robomaker_logs()
    assert len(log.dataframe()) == 6
    assert log.hyperparameters() == HYPERPARAMETERS
    assert log.action_space() == ACTIONS
    assert log.agent_and_network() == {
        "world": "reinvent_base", "sensor_list": ["FRONT_FACING_CAMERA"],
        "network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "simapp_version": "5"}


def test_a_scripted_driver_has_no_car_to_describe(tmp_path):
    text = header("evaluation", tmp_path / "centerline", "loop")
    assert "WORLD_NAME: loop" in text and "hyper-parameters" not in text
    assert "Sensor list" not in text


def test_the_training_log_is_found_and_appended_to(tmp_path):
    root = _model_dir(tmp_path)
    assert training_log(root) is None
    path = start_training_log(root, "oval")
    assert training_log(root) == path
    assert path.parent == root / "logs" / "training"
    assert path.name.startswith("training-") and path.name.endswith("-m-robomaker.log")
    append_steps(path, _episodes(0, 2))
    append_steps(path, [])
    append_steps(path, _episodes(2, 3))
    assert _steps(path) == [sim_trace_line(r) for r in _episodes(0, 3)]
    assert path.read_text().endswith("\n")


def test_a_resume_cuts_the_log_back_to_its_checkpoint(tmp_path):
    root = _model_dir(tmp_path)
    path = start_training_log(root, "oval")
    append_steps(path, _episodes(0, 9))
    with path.open("a") as f:  # a killed run's last write, cut short
        f.write("SIM_TRACE_LOG:9,1,3.35")
    assert resume_training_log(root, "oval", 7, 5) == path
    assert _steps(path) == [sim_trace_line(r) for r in _episodes(0, 7)]
    text = path.read_text()
    assert text.startswith(header("training", root, "oval"))
    assert text.endswith("training resumed from the checkpoint after episode 7\n")
    append_steps(path, _episodes(7, 8))
    assert [line_episode(s) for s in _steps(path)][-4:] == [6, 7, 7, 7]


def test_a_model_from_before_the_log_gets_it_on_resume(tmp_path):
    root = _model_dir(tmp_path)
    write_simtrace(training_trace_path(root, 0), _episodes(0, 5))
    write_simtrace(training_trace_path(root, 1), _episodes(5, 8))  # 8 was cut short
    write_simtrace(training_trace_path(root, 2), _episodes(10, 11))  # a killed run's
    path = resume_training_log(root, "oval", 7, 5)
    assert training_log(root) == path
    assert _steps(path) == [sim_trace_line(r) for r in _episodes(0, 7)]
    log = deepracer_logs.DeepRacerLog(model_folder=str(root))
    log.load()  # the console layout's default: the training log
    df = log.dataframe()
    assert df["episode"].unique().tolist() == list(range(7))
    assert df["iteration"].unique().tolist() == [0, 1]
    assert log.hyperparameters() == HYPERPARAMETERS


def test_an_evaluation_log_is_named_for_its_sim_trace(tmp_path):
    root = _model_dir(tmp_path)
    path = write_evaluation_log(root, "20240102030405-abc123", "oval", _episodes(0, 2))
    assert path == root / "logs" / "evaluation" / \
        "evaluation-20240102030405-abc123-robomaker.log"
    assert _steps(path) == [sim_trace_line(r) for r in _episodes(0, 2)]
    board = write_evaluation_log(root, "20240102030405-abc123", "oval", [], "leaderboard")
    assert board == evaluation_log_path(root, "20240102030405-abc123", "leaderboard")
    assert board.name == "leaderboard-20240102030405-abc123-robomaker.log"
    assert " * /JOB_TYPE: LEADERBOARD" in board.read_text()
