"""`racerl import drfc` in the library: a DeepRacer-for-Cloud folder (DRfC's defaults, and
variants edited from them) becomes the expected TrainConfig and evaluate options, every
setting read has a row saying what became of it, and broken files are one clear error."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from racerl.cli import app
from racerl.envs.actions import ContinuousActions, DiscreteActions, load_action_space
from racerl.envs.cars import race_setup
from racerl.errors import RacerlError
from racerl.evaluate.races import get_race
from racerl.model.config import TrainConfig, load_config
from racerl.model.drfc import (
    ADJUSTED,
    MAPPED,
    NOT_NEEDED,
    UNKNOWN,
    UNSUPPORTED,
    DrfcError,
    parse_env_file,
    read_drfc,
    write_drfc_import,
)
from racerl.reward.function import load_reward_function

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "drfc"
DEFAULTS = FIXTURES / "defaults"
STATUSES = {MAPPED, ADJUSTED, UNSUPPORTED, NOT_NEEDED, UNKNOWN}


def drfc_copy(tmp_path: Path) -> Path:
    """A copy of DRfC's defaults to edit."""
    root = tmp_path / "drfc"
    shutil.copytree(DEFAULTS, root)
    return root


def set_env(path: Path, key: str, value: str) -> None:
    """Set ``key`` in an env file: its line replaced, or a line added."""
    lines = path.read_text().splitlines()
    found = [i for i, line in enumerate(lines) if line.startswith(f"{key}=")]
    if found:
        lines[found[0]] = f"{key}={value}"
    else:
        lines.append(f"{key}={value}")
    path.write_text("\n".join(lines) + "\n")


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def row(imp, key: str, source: str | None = None):
    found = [r for r in imp.rows if r.key == key and (source is None or r.source == source)]
    assert len(found) == 1, (key, found)
    return found[0]


def env_keys(path: Path) -> list[str]:
    return [line.split("=", 1)[0] for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


# -- DRfC's defaults ------------------------------------------------------------------------


def test_drfcs_defaults_become_the_expected_config(tmp_path):
    imp = read_drfc(DEFAULTS, out=tmp_path / "out" / "run.yaml")
    cfg = imp.config
    assert cfg["track"] == "reinvent_base"  # DR_WORLD_NAME
    assert cfg["algorithm"] == "ppo"  # training_algorithm clipped_ppo
    assert cfg["network"] == "shallow"  # DEEP_CONVOLUTIONAL_NETWORK_SHALLOW
    assert cfg["observation"] == "camera" and cfg["frame_stack"] == 1
    assert (cfg["learning_rate"], cfg["entropy"], cfg["discount_factor"]) == (3e-4, 0.01, 0.99)
    assert (cfg["batch_size"], cfg["num_epochs"]) == (64, 5)
    assert cfg["num_episodes_between_training"] == 20 and cfg["sac_alpha"] == 0.2
    assert cfg["eval_trials"] == 5 and cfg["best_model_metric"] == "progress"
    assert cfg["change_start_position"] is True and cfg["round_robin_advance_dist"] == 0.05
    assert cfg["lighting"] == "studio"
    assert imp.name == "rl-deepracer-sagemaker"  # DR_LOCAL_S3_MODEL_PREFIX
    assert imp.evaluation == {"continuous": True, "max_resets": 100, "off_track_penalty": 5.0,
                              "checkpoint": "last"}
    assert imp.evaluate_command() == ("racerl evaluate rl-deepracer-sagemaker --continuous "
                                      "--max-resets 100 --off-track-penalty 5 "
                                      "--checkpoint last")


def test_the_written_config_works_from_another_directory(tmp_path, monkeypatch):
    out = tmp_path / "configs" / "imported.yaml"
    imp = read_drfc(DEFAULTS, out=out)
    assert write_drfc_import(imp) == out
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "imported.yaml", "imported_model_metadata.json", "imported_reward_function.py"]
    data = yaml.safe_load(out.read_text())
    assert data["reward"] == "imported_reward_function.py"  # relative: the folder can move
    assert data["action_space"] == "imported_model_metadata.json"
    assert out.read_text().startswith("# racerl training config imported from")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(out)
    assert Path(cfg.reward) == out.parent / "imported_reward_function.py"
    actions = load_action_space(cfg.action_space)
    assert isinstance(actions, DiscreteActions)  # DRfC's default: five steering angles
    assert actions.steering == (-30.0, -15.0, 0.0, 15.0, 30.0)
    assert actions.speed == (0.6,) * 5
    reward = load_reward_function(cfg.reward).instance()
    assert reward({"track_width": 1.0, "distance_from_center": 0.0, "steering_angle": 0.0}) \
        == 1.0
    assert reward({"track_width": 1.0, "distance_from_center": 0.2,
                   "steering_angle": 30.0}) == pytest.approx(0.4)


def test_every_setting_read_has_a_row_with_a_reason():
    imp = read_drfc(DEFAULTS, out="x.yaml")
    keys = {(r.source, r.key) for r in imp.rows}
    inputs = [("run.env", k) for k in env_keys(DEFAULTS / "run.env")]
    inputs += [("system.env", k) for k in env_keys(DEFAULTS / "system.env")]
    for name in ("hyperparameters.json", "model_metadata.json"):
        inputs += [(name, k) for k in json.loads((DEFAULTS / "custom_files" / name).read_text())]
    assert len(inputs) > 90
    assert set(inputs) <= keys
    assert ("reward_function.py", "reward_function") in keys
    assert len(imp.rows) == len(inputs) + 1  # one row each, nothing else
    for r in imp.rows:
        assert r.status in STATUSES
        if r.status != MAPPED:
            assert r.note, r
    # Every hyperparameter key of DeepRacer's file, each with what became of it.
    assert row(imp, "lr").field == "learning_rate"
    assert row(imp, "beta_entropy").field == "entropy"
    assert row(imp, "stack_size").field == "frame_stack"
    assert row(imp, "loss_type").status == ADJUSTED  # huber; SB3 fits with squared error
    assert row(imp, "term_cond_max_episodes").status == UNSUPPORTED
    assert "--minutes" in row(imp, "term_cond_avg_score").note
    assert row(imp, "e_greedy_value").status == NOT_NEEDED
    # Obstacles and bot cars of other race types: listed with the reason, not dropped.
    for key in ("DR_OA_NUMBER_OF_OBSTACLES", "DR_H2B_BOT_CAR_SPEED"):
        assert row(imp, key).status == NOT_NEEDED and "only for" in row(imp, key).note
    assert "racerl runs locally" in row(imp, "DR_LOCAL_S3_BUCKET").describe()
    assert row(imp, "DR_UPLOAD_S3_PREFIX").describe().startswith("not needed: racerl runs")
    assert row(imp, "DR_EVAL_MAX_RESETS").field == "racerl evaluate --max-resets"
    assert row(imp, "DR_TRAIN_MIN_EVAL_TRIALS").field == "eval_trials"
    # The template's DR_DISPLAY_NAME=$DR_CAR_NAME is read as a shell reads it.
    assert row(imp, "DR_DISPLAY_NAME").drfc_value == "FastCar"


# -- variants -------------------------------------------------------------------------------


def test_a_continuous_action_space(tmp_path):
    root = drfc_copy(tmp_path)
    shutil.copy(FIXTURES / "metadata" / "model_metadata_cont.json",
                root / "custom_files" / "model_metadata.json")
    imp = read_drfc(root, out=tmp_path / "c.yaml")
    write_drfc_import(imp)
    actions = load_action_space(load_config(tmp_path / "c.yaml").action_space)
    assert actions == ContinuousActions(-30.0, 30.0, 1.0, 2.0)
    assert imp.config["algorithm"] == "ppo"
    assert "continuous: steering -30..30 deg, speed 1..2 m/s" in row(imp, "action_space").drfc_value


def test_sac(tmp_path):
    root = drfc_copy(tmp_path)
    shutil.copy(FIXTURES / "metadata" / "model_metadata_sac.json",
                root / "custom_files" / "model_metadata.json")
    edit_json(root / "custom_files" / "hyperparameters.json", sac_alpha=0.1,
              exploration_type="additive_noise")
    imp = read_drfc(root, out=tmp_path / "s.yaml")
    assert imp.config["algorithm"] == "sac" and imp.config["sac_alpha"] == 0.1
    assert row(imp, "beta_entropy").note == "used by PPO only (SAC's is sac_alpha)"
    assert row(imp, "exploration_type").status == MAPPED


def test_another_track_in_the_other_direction_and_other_hyperparameters(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_WORLD_NAME", "reInvent2019_wide_cw")
    set_env(root / "run.env", "DR_TRAIN_REVERSE_DIRECTION", "True")
    set_env(root / "run.env", "DR_TRAIN_CHANGE_START_POSITION", "false")
    set_env(root / "run.env", "DR_TRAIN_START_POSITION_OFFSET", "0.25")
    set_env(root / "run.env", "DR_ENABLE_DOMAIN_RANDOMIZATION", "True")
    set_env(root / "run.env", "DR_TRAIN_BEST_MODEL_METRIC", "lap_time")
    set_env(root / "run.env", "DR_EVAL_RESET_BEHIND_DIST", "0.5")
    edit_json(root / "custom_files" / "hyperparameters.json", lr=0.001, batch_size=128,
              num_epochs=8, discount_factor=0.999, beta_entropy=0.005, stack_size=3,
              num_episodes_between_training=10, loss_type="mean squared error")
    edit_json(root / "custom_files" / "model_metadata.json",
              neural_network="DEEP_CONVOLUTIONAL_NETWORK")
    imp = read_drfc(root, out=tmp_path / "o.yaml")
    cfg = imp.config
    assert cfg["track"] == "reInvent2019_wide_cw" and cfg["reverse_direction"] is True
    assert cfg["change_start_position"] is False and cfg["start_position_offset"] == 0.25
    assert cfg["lighting"] == "random" and imp.evaluation["lighting"] == "random"
    assert cfg["best_model_metric"] == "lap_time"
    assert imp.evaluation["reset_behind_dist"] == 0.5
    assert row(imp, "DR_EVAL_RESET_BEHIND_DIST").field == "racerl evaluate --reset-behind-dist"
    assert (cfg["learning_rate"], cfg["batch_size"], cfg["num_epochs"]) == (0.001, 128, 8)
    assert (cfg["discount_factor"], cfg["entropy"], cfg["frame_stack"]) == (0.999, 0.005, 3)
    assert cfg["num_episodes_between_training"] == 10 and cfg["network"] == "standard"
    assert row(imp, "loss_type").status == MAPPED
    write_drfc_import(imp)
    assert load_config(tmp_path / "o.yaml").frame_stack == 3


def test_values_drfc_takes_but_racerl_refuses_are_adjusted_not_fatal(tmp_path):
    root = drfc_copy(tmp_path)
    edit_json(root / "custom_files" / "hyperparameters.json", lr=0.5, stack_size=12,
              exploration_type="e-greedy")
    set_env(root / "run.env", "DR_TRAIN_BEST_MODEL_METRIC", "reward")
    set_env(root / "run.env", "DR_TRAIN_MIN_EVAL_TRIALS", "100")
    edit_json(root / "custom_files" / "model_metadata.json",
              sensor=["LEFT_CAMERA"],
              neural_network="DEEP_CONVOLUTIONAL_NETWORK_DEEP")
    imp = read_drfc(root, out=tmp_path / "a.yaml")
    lr = row(imp, "lr")
    assert lr.status == ADJUSTED and lr.value == 3e-4 and "learning_rate must be" in lr.note
    assert "learning_rate" not in imp.config and "frame_stack" not in imp.config
    assert row(imp, "stack_size").status == ADJUSTED
    assert row(imp, "exploration_type").status == UNSUPPORTED
    assert row(imp, "epsilon_steps").status == UNSUPPORTED  # e-greedy's, and asked for
    assert row(imp, "DR_TRAIN_BEST_MODEL_METRIC").value == "progress"
    assert row(imp, "DR_TRAIN_MIN_EVAL_TRIALS").status == ADJUSTED
    sensor = row(imp, "sensor")
    assert sensor.status == ADJUSTED and "older name" in sensor.note
    assert "sensor" not in imp.config  # the front camera, racerl's default
    assert imp.config["observation"] == "camera" and imp.config["network"] == "standard"
    assert row(imp, "neural_network").status == ADJUSTED
    write_drfc_import(imp)
    load_config(tmp_path / "a.yaml")
    edit_json(root / "custom_files" / "model_metadata.json",
              sensor=["STEREO_CAMERAS", "LEFT_CAMERA"])
    with pytest.raises(DrfcError, match="exactly one camera"):
        read_drfc(root, out=tmp_path / "b.yaml")  # two cameras: DeepRacer refuses it too


def test_object_avoidance_maps_its_obstacle_settings(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_RACE_TYPE", "OBJECT_AVOIDANCE")
    set_env(root / "run.env", "DR_OA_NUMBER_OF_OBSTACLES", "4")
    set_env(root / "run.env", "DR_OA_OBJECT_POSITIONS", '"0.2,1;0.7,-1"')
    imp = read_drfc(root, out=tmp_path / "oa.yaml")
    assert row(imp, "DR_RACE_TYPE").status == MAPPED
    assert imp.config["race_type"] == "object_avoidance"
    oa = row(imp, "DR_OA_NUMBER_OF_OBSTACLES")
    assert oa.status == MAPPED and oa.field == "number_of_obstacles"
    assert imp.config["number_of_obstacles"] == 4
    assert imp.config["object_positions"] == "0.2,1;0.7,-1"
    assert row(imp, "DR_OA_OBSTACLE_TYPE").status == NOT_NEEDED
    assert row(imp, "DR_H2B_NUMBER_OF_BOT_CARS").status == NOT_NEEDED  # not this race type
    assert race_setup(None, TrainConfig(**imp.config).validate().race_options()).obstacles == 2


def test_head_to_bot_maps_its_bot_car_settings(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_RACE_TYPE", "HEAD_TO_BOT")
    set_env(root / "run.env", "DR_H2B_IS_LANE_CHANGE", "True")
    imp = read_drfc(root, out=tmp_path / "h2b.yaml")
    setup = race_setup(None, TrainConfig(**imp.config).validate().race_options())
    assert setup.bot_cars == 3 and setup.is_lane_change and setup.bot_car_penalty == 5.0
    assert row(imp, "DR_OA_NUMBER_OF_OBSTACLES").status == NOT_NEEDED


def test_head_to_model_trains_a_time_trial_and_suggests_the_race(tmp_path):
    """DeepRacer trains one car alone for HEAD_TO_MODEL; the opponent is the evaluation's, so
    the import suggests a head-to-model race against it, and that race can be created."""
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_RACE_TYPE", "HEAD_TO_MODEL")
    set_env(root / "run.env", "DR_WORLD_NAME", "loop")
    set_env(root / "run.env", "DR_EVAL_OPP_S3_MODEL_PREFIX", "rival-01")
    set_env(root / "run.env", "DR_EVAL_NUMBER_OF_TRIALS", "2")
    imp = read_drfc(root, out=tmp_path / "h2m.yaml")
    kind = row(imp, "DR_RACE_TYPE")
    assert kind.status == MAPPED and imp.config["race_type"] == "time_trial"
    assert "racerl race create --type head-to-model" in kind.note
    opponent = row(imp, "DR_EVAL_OPP_S3_MODEL_PREFIX")
    assert opponent.status == MAPPED and opponent.value == "rival-01"
    assert "race submit" in opponent.field
    for key in ("DR_EVAL_OPP_CAR_NAME", "DR_EVAL_OPP_DISPLAY_NAME", "DR_EVAL_OPP_RACER_NAME"):
        assert row(imp, key).status == NOT_NEEDED and "no racerl counterpart" in row(imp, key).note
    assert row(imp, "DR_EVAL_OPP_CAR_BODY_SHELL_TYPE").status == NOT_NEEDED
    assert not [r for r in imp.rows if r.status == UNSUPPORTED and r.key.startswith(
        ("DR_RACE_TYPE", "DR_EVAL_OPP_"))]
    assert TrainConfig(**imp.config).validate().race_type == "time_trial"

    create, submit = imp.race_commands()
    assert shlex.split(submit) == ["racerl", "race", "submit", imp.race_name,
                                   "rl-deepracer-sagemaker", "rival-01"]
    result = CliRunner().invoke(app, shlex.split(create)[1:])
    assert result.exit_code == 0, result.output
    race = get_race(imp.race_name)
    # DRfC's evaluation settings: 2 trials, 100 resets, 5 s off track, DeepRacer's 'any'
    assert (race.type, race.track, race.laps) == ("head-to-model", "loop", 2)
    assert (race.max_resets, race.off_track_penalty, race.collision_penalty) == (100, 5.0, 5.0)
    assert race.race_setup().done_condition == "any"


def test_without_an_opponent_prefix_drfcs_default_opponent_races(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_RACE_TYPE", "HEAD_TO_MODEL")
    lines = [line for line in (root / "run.env").read_text().splitlines()
             if not line.startswith("DR_EVAL_OPP_")]
    (root / "run.env").write_text("\n".join(lines) + "\n")
    imp = read_drfc(root, name="mine", out=tmp_path / "h2m.yaml")
    assert imp.opponent == "rl-deepracer-sagemaker"  # scripts/evaluation/prepare-config.py
    assert shlex.split(imp.race_commands()[1])[-2:] == ["mine", "rl-deepracer-sagemaker"]


def test_drfcs_template_opponent_is_the_model_itself_so_the_centerline_driver_races(
        tmp_path):
    """DRfC's template races the model's own S3 prefix; a racerl model cannot race itself,
    so the suggested race puts the centre-line driver against it, and the row says so."""
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_RACE_TYPE", "HEAD_TO_MODEL")
    imp = read_drfc(root, out=tmp_path / "h2m.yaml")
    opponent = row(imp, "DR_EVAL_OPP_S3_MODEL_PREFIX")
    assert opponent.status == ADJUSTED and "centre-line" in opponent.note
    assert shlex.split(imp.race_commands()[1])[-3:] == [imp.name, "--driver", "centerline"]


def test_other_race_types_suggest_no_race_and_ignore_the_opponent(tmp_path):
    imp = read_drfc(DEFAULTS, out=tmp_path / "tt.yaml")
    assert imp.opponent is None and imp.race_commands() == []
    assert row(imp, "DR_EVAL_OPP_S3_MODEL_PREFIX").status == NOT_NEEDED


def test_a_bad_object_position_names_the_env_file(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_RACE_TYPE", "OBJECT_AVOIDANCE")
    set_env(root / "run.env", "DR_OA_OBJECT_POSITIONS", "0.2")
    with pytest.raises(DrfcError, match=r"run\.env.*DR_OA_OBJECT_POSITIONS"):
        read_drfc(root, out=tmp_path / "bad.yaml")


def test_multi_config_trains_each_workers_track(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_TRAIN_MULTI_CONFIG", "True")
    set_env(root / "system.env", "DR_WORKERS", "3")
    (root / "worker-2.env").write_text("DR_WORLD_NAME=reInvent2019_track\nDR_CAR_COLOR=Red\n")
    (root / "worker-3.env").write_text("DR_WORLD_NAME=2022_april_open_ccw\nDR_CAR_COLOR=Blue\n"
                                       "DR_TRAIN_REVERSE_DIRECTION=True\n")
    (root / "worker-4.env").write_text("DR_WORLD_NAME=Albert\n")  # beyond DR_WORKERS
    imp = read_drfc(root, out=tmp_path / "m.yaml")
    assert imp.tracks == ["reinvent_base", "reInvent2019_track", "2022_april_open_ccw"]
    assert imp.evaluation["track"] == "reinvent_base"  # DRfC evaluates run.env's track
    assert imp.evaluate_command().startswith("racerl evaluate rl-deepracer-sagemaker "
                                             "--track reinvent_base")
    assert row(imp, "DR_CAR_COLOR", "worker-2.env").status == NOT_NEEDED  # same as run.env
    assert row(imp, "DR_TRAIN_REVERSE_DIRECTION", "worker-3.env").status == UNSUPPORTED
    assert row(imp, "worker-4.env", "worker-4.env").status == NOT_NEEDED
    (root / "worker-3.env").unlink()
    with pytest.raises(DrfcError, match=r"worker-3.env: missing \(DR_TRAIN_MULTI_CONFIG"):
        read_drfc(root, out=tmp_path / "m.yaml")


def test_unknown_settings_are_listed(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_WORLD_NAMES", "typo")
    set_env(root / "run.env", "MY_OWN", "1")
    edit_json(root / "custom_files" / "hyperparameters.json", learning_rate=0.1)
    imp = read_drfc(root, out=tmp_path / "u.yaml")
    for key in ("DR_WORLD_NAMES", "MY_OWN", "learning_rate"):
        assert row(imp, key).status == UNKNOWN
        assert row(imp, key).describe().startswith("unknown DRfC setting, ignored")
    assert imp.config["learning_rate"] == 3e-4  # lr's, not the unknown key's


def test_without_a_world_name_drfcs_fallback_track_is_used(tmp_path):
    root = drfc_copy(tmp_path)
    lines = (root / "run.env").read_text().splitlines()
    (root / "run.env").write_text("\n".join(x for x in lines if "DR_WORLD_NAME" not in x))
    imp = read_drfc(root, out=tmp_path / "n.yaml")
    assert imp.config["track"] == "LGSWide"
    assert row(imp, "DR_WORLD_NAME").drfc_value == "(not set)"


def test_env_files_are_read_as_a_shell_reads_them(tmp_path):
    path = tmp_path / "run.env"
    path.write_text("# a comment\n\nexport A=one\nB='two words'\nC=\"$A and ${A}\"  # note\n"
                    "D=${UNSET:-fallback}\nE=x#y\nF=$DR_DIR/custom\nG=$A'$A'\n")
    values = {e.key: e.value for e in parse_env_file(path, {"DR_DIR": "/drfc"})}
    assert values == {"A": "one", "B": "two words", "C": "one and one", "D": "fallback",
                      "E": "x#y", "F": "/drfc/custom", "G": "one$A"}
    assert [e.line for e in parse_env_file(path)] == [3, 4, 5, 6, 7, 8, 9]


def test_a_setting_in_both_files_counts_from_run_env(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "system.env", "DR_WORLD_NAME", "Albert")
    imp = read_drfc(root, out=tmp_path / "b.yaml")
    assert imp.config["track"] == "reinvent_base"
    overridden = row(imp, "DR_WORLD_NAME", "system.env")
    assert overridden.status == NOT_NEEDED and "run.env line" in overridden.note


@pytest.mark.parametrize("layout", ["root", "flat", "custom_files", "experiment"])
def test_layouts(tmp_path, layout):
    root = drfc_copy(tmp_path)
    folder = root
    if layout == "flat":  # the custom files directly beside run.env
        for path in (root / "custom_files").iterdir():
            shutil.move(path, root / path.name)
        (root / "custom_files").rmdir()
    elif layout == "custom_files":
        folder = root / "custom_files"
    elif layout == "experiment":  # DRfC's experiments/<name>/, system.env at the root
        folder = root / "experiments" / "sprint-v1"
        folder.mkdir(parents=True)
        shutil.move(root / "run.env", folder / "run.env")
        shutil.move(root / "custom_files", folder / "custom_files")
    imp = read_drfc(folder, out=tmp_path / "l.yaml")
    assert imp.config["track"] == "reinvent_base" and imp.config["batch_size"] == 64
    assert any(r.source == "system.env" for r in imp.rows)


def test_the_model_name(tmp_path):
    root = drfc_copy(tmp_path)
    set_env(root / "run.env", "DR_LOCAL_S3_MODEL_PREFIX", "'models/my run'")
    imp = read_drfc(root)
    assert imp.name == "models-my-run" and imp.path == Path("models-my-run.yaml")
    assert row(imp, "DR_LOCAL_S3_MODEL_PREFIX").status == ADJUSTED
    assert read_drfc(root, name="mine").name == "mine"
    with pytest.raises(RacerlError, match="model name 'a/b'"):
        read_drfc(root, name="a/b")
    set_env(root / "run.env", "DR_EVAL_SAVE_MP4", "True")
    assert read_drfc(root, name="mine").evaluation["video"] == "mine.mp4"


# -- errors ---------------------------------------------------------------------------------


def _break(root: Path, how: str) -> str:
    """Break the copy at ``root`` one way; the file the error must name."""
    custom = root / "custom_files"
    if how == "malformed line":
        (root / "run.env").write_text("DR_WORLD_NAME reinvent_base\n")
        return "run.env line 1: expected KEY=value"
    if how == "unterminated quote":
        set_env(root / "run.env", "DR_CAR_NAME", "'Fast")
        return "run.env line"
    if how == "space in value":
        set_env(root / "run.env", "DR_CAR_NAME", "Fast Car")
        return "quote the value"
    if how == "bad switch":
        set_env(root / "run.env", "DR_TRAIN_REVERSE_DIRECTION", "maybe")
        return "DR_TRAIN_REVERSE_DIRECTION must be True or False, not 'maybe'"
    if how == "bad number":
        set_env(root / "run.env", "DR_EVAL_MAX_RESETS", "lots")
        return "DR_EVAL_MAX_RESETS must be a whole number, not 'lots'"
    if how == "bad race type":
        set_env(root / "run.env", "DR_RACE_TYPE", "DRAG_RACE")
        return "DR_RACE_TYPE must be one of TIME_TRIAL"
    if how == "bad json":
        (custom / "hyperparameters.json").write_text('{"lr": 0.001,}')
        return "hyperparameters.json: not valid JSON"
    if how == "json not an object":
        (custom / "model_metadata.json").write_text("[1, 2]")
        return "model_metadata.json: expected a JSON object"
    if how == "bad hyperparameter type":
        edit_json(custom / "hyperparameters.json", batch_size="big")
        return "hyperparameters.json: batch_size must be a whole number, not 'big'"
    if how == "no custom files":
        shutil.rmtree(custom)
        return "no model_metadata.json in"
    if how == "no run.env":
        (root / "run.env").unlink()
        return "no run.env here"
    if how == "no reward_function":
        (custom / "reward_function.py").write_text("def reward(params):\n    return 1.0\n")
        return "reward_function.py: the file defines no function 'reward_function(params)'"
    if how == "reward syntax error":
        (custom / "reward_function.py").write_text("def reward_function(params)\n")
        return "reward_function.py: syntax error on line 1"
    if how == "bad action space":
        edit_json(custom / "model_metadata.json",
                  action_space=[{"steering_angle": 0, "speed": 9}, {"steering_angle": 5}])
        return "model_metadata.json: action 0 speed 9.0 is outside 0.1..4 m/s"
    if how == "sac with discrete actions":
        edit_json(custom / "model_metadata.json", training_algorithm="sac")
        return "model_metadata.json: training_algorithm sac needs a continuous action space"
    if how == "unknown network":
        edit_json(custom / "model_metadata.json", neural_network="TRANSFORMER")
        return "model_metadata.json: neural_network 'TRANSFORMER' is none of"
    raise AssertionError(how)


@pytest.mark.parametrize("how", [
    "malformed line", "unterminated quote", "space in value", "bad switch", "bad number",
    "bad race type", "bad json", "json not an object", "bad hyperparameter type",
    "no custom files", "no run.env", "no reward_function", "reward syntax error",
    "bad action space", "sac with discrete actions", "unknown network"])
def test_broken_files_are_one_clear_error(tmp_path, how):
    root = drfc_copy(tmp_path)
    fragment = _break(root, how)
    with pytest.raises(RacerlError) as caught:
        read_drfc(root, out=tmp_path / "x.yaml")
    message = str(caught.value)
    assert fragment in message and "\n" not in message
    assert str(root) in message  # names the file (or the folder it is missing from)


def test_writing_is_all_or_nothing(tmp_path, monkeypatch):
    out = tmp_path / "w.yaml"
    imp = read_drfc(DEFAULTS, out=out)
    (tmp_path / "w_model_metadata.json").write_text("mine")
    with pytest.raises(DrfcError, match=r"w_model_metadata\.json: exists; --force replaces it"):
        write_drfc_import(imp)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w_model_metadata.json"]
    (tmp_path / "w_model_metadata.json").unlink()

    def full_disk(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("racerl.model.drfc.atomic_write_text", full_disk)
    with pytest.raises(OSError):
        write_drfc_import(imp)
    assert list(tmp_path.iterdir()) == []  # the copies written first are gone again
    monkeypatch.undo()
    write_drfc_import(imp)
    write_drfc_import(imp, force=True)  # replaces its own files
    assert re.search(r"^track: reinvent_base$", out.read_text(), re.MULTILINE)


def test_lidar_and_stereo_sensors_map_to_the_config(tmp_path):
    root = drfc_copy(tmp_path)
    edit_json(root / "custom_files" / "model_metadata.json",
              sensor=["STEREO_CAMERAS", "DISCRETIZED_SECTOR_LIDAR"],
              lidar_config={"num_sectors": "4", "num_values_per_sector": 2.0,
                            "clipping_dist": 1.5})
    imp = read_drfc(root, out=tmp_path / "s.yaml")
    assert imp.config["sensor"] == ["STEREO_CAMERAS", "DISCRETIZED_SECTOR_LIDAR"]
    assert imp.config["lidar_config"] == {"num_sectors": 4, "num_values_per_sector": 2,
                                          "clipping_dist": 1.5}
    assert row(imp, "sensor").status == MAPPED and "8 values" in row(imp, "sensor").note
    assert row(imp, "lidar_config").status == MAPPED
    write_drfc_import(imp)
    config = load_config(tmp_path / "s.yaml")
    assert config.sensors.lidar_size == 8 and config.sensors.camera_channels == 2
    edit_json(root / "custom_files" / "model_metadata.json", sensor=["FRONT_FACING_CAMERA"],
              lidar_config={"num_sectors": 3})
    imp = read_drfc(root, out=tmp_path / "t.yaml")  # no such lidar: its config is unused
    assert "lidar_config" not in imp.config and row(imp, "lidar_config").status == MAPPED
    edit_json(root / "custom_files" / "model_metadata.json",
              sensor=["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
              lidar_config={"num_sectors": 3})
    with pytest.raises(DrfcError, match="num_sectors must divide"):
        read_drfc(root, out=tmp_path / "u.yaml")
