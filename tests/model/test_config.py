"""The training configuration: every SB3 setting is a field that reaches the model, bad
values are refused by name, old config files still load, and layering has one order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from racerl.errors import RacerlError
from racerl.model.config import (
    ConfigError,
    TrainConfig,
    layered_config,
    load_config,
    load_config_dict,
)

NEW_FIELDS = {"gae_lambda": 0.95, "clip_range": 0.2, "value_coef": 0.5, "max_grad_norm": 0.5,
              "buffer_size": 100_000, "learning_starts": None, "tau": 0.005, "train_freq": 1,
              "gradient_steps": 1, "mlp_layers": [64, 64], "device": "cpu"}
TINY = {"track": "oval", "observation": "state", "network": "mlp", "n_envs": 2,
        "rollout_steps": 32, "batch_size": 32, "num_epochs": 1, "seed": 0}


def test_new_fields_have_the_values_the_trainer_used_to_hard_code():
    cfg = TrainConfig().validate()
    assert {name: getattr(cfg, name) for name in NEW_FIELDS} == NEW_FIELDS
    assert TrainConfig().mlp_layers is not TrainConfig().mlp_layers  # no shared default list


def test_every_new_field_is_documented_in_the_source():
    source = (Path(__file__).resolve().parents[2] / "src/racerl/model/config.py").read_text()
    for name in NEW_FIELDS:
        assert f'    {name}: ' in source
        after = source.split(f"    {name}: ", 1)[1].splitlines()[1]
        assert after.strip().startswith('"""'), f"{name} has no docstring"


# -- the settings reach stable-baselines3 ---------------------------------------------------


def _build(tmp_path: Path, **changes):
    from racerl.reward.function import load_reward_function, reward_file
    from racerl.train.trainer import build_env, build_model

    cfg = load_config_dict({**TINY, **changes}, "test")
    env = build_env(cfg, load_reward_function(reward_file(cfg.reward)))
    return cfg, build_model(cfg, env, tmp_path / "logs"), env


def _continuous_space(tmp_path: Path) -> str:
    space = tmp_path / "model_metadata.json"
    space.write_text(json.dumps({"action_space_type": "continuous", "action_space": {
        "steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1.5}}}))
    return str(space)


@pytest.mark.parametrize("changes", [
    {},
    {"gae_lambda": 0.9, "clip_range": 0.1, "value_coef": 0.25, "max_grad_norm": 2.0,
     "mlp_layers": [32], "device": "auto"},
])
def test_ppo_settings_reach_the_sb3_model(tmp_path, changes):
    cfg, model, env = _build(tmp_path, **changes)
    try:
        assert model.gae_lambda == cfg.gae_lambda
        assert model.clip_range(1.0) == pytest.approx(cfg.clip_range)
        assert model.vf_coef == cfg.value_coef
        assert model.max_grad_norm == cfg.max_grad_norm
        assert model.policy.net_arch == cfg.mlp_layers
        assert model.policy.mlp_extractor.policy_net[0].out_features == cfg.mlp_layers[0]
        assert (model.n_steps, model.n_epochs, model.batch_size) == (32, 1, 32)
        if cfg.device == "cpu":
            assert model.device.type == "cpu"
    finally:
        env.close()


@pytest.mark.parametrize("changes", [
    {},
    {"buffer_size": 5000, "learning_starts": 10, "tau": 0.02, "train_freq": 2,
     "gradient_steps": 3, "mlp_layers": [16, 16, 16]},
    {"gradient_steps": -1, "learning_starts": 0},
])
def test_sac_settings_reach_the_sb3_model(tmp_path, changes):
    cfg, model, env = _build(tmp_path, algorithm="sac", action_space=_continuous_space(tmp_path),
                             **changes)
    try:
        assert model.buffer_size == cfg.buffer_size
        expected_starts = cfg.batch_size if cfg.learning_starts is None else cfg.learning_starts
        assert model.learning_starts == expected_starts
        assert model.tau == cfg.tau
        assert model.train_freq.frequency == cfg.train_freq
        assert model.gradient_steps == cfg.gradient_steps
        assert model.ent_coef == cfg.sac_alpha
        assert model.policy.net_arch == cfg.mlp_layers
        assert model.device.type == "cpu"
    finally:
        env.close()


def test_a_tiny_sac_run_with_its_own_settings_learns_and_saves_them(tmp_path):
    from racerl.model.folder import model_folder
    from racerl.train.trainer import train

    cfg = load_config_dict({**TINY, "algorithm": "sac", "buffer_size": 2000,
                            "learning_starts": 16, "tau": 0.01, "gradient_steps": 2,
                            "action_space": _continuous_space(tmp_path)}, "test")
    result = train("tiny-sac", cfg, steps=2 * 32)
    saved = model_folder("tiny-sac").config()
    assert result.progress.steps >= 2 * 32
    assert (saved.buffer_size, saved.learning_starts, saved.tau, saved.gradient_steps) == \
        (2000, 16, 0.01, 2)


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"gae_lambda": 1.5}, "gae_lambda must be a number in [0, 1]"),
    ({"gae_lambda": "high"}, "gae_lambda must be a number"),
    ({"clip_range": 0}, "clip_range must be a number"),
    ({"clip_range": True}, "clip_range must be a number"),
    ({"value_coef": -0.1}, "value_coef must be a number"),
    ({"max_grad_norm": 0.0}, "max_grad_norm must be a number"),
    ({"buffer_size": 0}, "buffer_size must be a whole number"),
    ({"buffer_size": 1000.5}, "buffer_size must be a whole number"),
    ({"algorithm": "sac", "buffer_size": 100}, "buffer_size 100 cannot hold one batch"),
    ({"learning_starts": -1}, "learning_starts must be a whole number"),
    ({"learning_starts": 1.5}, "learning_starts must be a whole number"),
    ({"tau": 0.0}, "tau must be a number"),
    ({"tau": 1.5}, "tau must be a number"),
    ({"train_freq": 0}, "train_freq must be a whole number"),
    ({"gradient_steps": 0}, "gradient_steps must be a whole number in [1, 10000] (or -1)"),
    ({"gradient_steps": -2}, "gradient_steps must be"),
    ({"mlp_layers": 64}, "mlp_layers must be a list"),
    ({"mlp_layers": [64, 0]}, "mlp_layers must be a list"),
    ({"mlp_layers": [64.0]}, "mlp_layers must be a list"),
    ({"mlp_layers": [True]}, "mlp_layers must be a list"),
    ({"mlp_layers": [8] * 9}, "mlp_layers must be a list"),
    ({"observation": "camera", "network": "light", "mlp_layers": [32]},
     "mlp_layers sets the widths of network 'mlp' only"),
    ({"device": "tpu"}, "device must be one of cpu, cuda, auto, not 'tpu'"),
])
def test_bad_values_of_the_new_fields_are_refused_by_name(changes, fragment):
    with pytest.raises(ConfigError) as caught:
        load_config_dict({**TINY, "batch_size": 512, "rollout_steps": 256, **changes}, "my.yaml")
    assert str(caught.value).startswith("my.yaml: ")
    assert fragment in str(caught.value)


def test_good_values_at_the_edges_are_accepted():
    load_config_dict({**TINY, "gae_lambda": 1.0, "value_coef": 0.0, "learning_starts": 0,
                      "tau": 1.0, "gradient_steps": -1, "mlp_layers": [], "device": "cuda"})
    load_config_dict({"network": "light", "mlp_layers": [64, 64]})  # the default is fine


def test_yaml_numbers_written_without_a_dot_are_read_as_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("tau: 5e-3\nclip_range: 1e-1\nmlp_layers: [128, 32]\n"
                    "network: mlp\nobservation: state\n")
    cfg = load_config(path)
    assert (cfg.tau, cfg.clip_range, cfg.mlp_layers) == (0.005, 0.1, [128, 32])
    assert load_config_dict(yaml.safe_load(cfg.to_yaml())) == cfg  # round trip


# -- old files ------------------------------------------------------------------------------


def test_an_old_config_yaml_without_the_new_keys_still_loads(tmp_path):
    old = {"track": "oval", "reward": "follow_center_line", "algorithm": "ppo",
           "batch_size": 128, "num_epochs": 4, "learning_rate": 0.001, "entropy": 0.01,
           "discount_factor": 0.99, "sac_alpha": 0.2, "network": "mlp", "observation": "state",
           "rgb": False, "frame_stack": 1, "action_space": None, "lighting": "studio",
           "n_envs": 8, "rollout_steps": 64, "num_episodes_between_training": 5,
           "normalize_reward": False, "sandbox_reward": False, "max_episode_steps": 2000,
           "seed": 0, "checkpoint_every": 1}
    assert not set(old) & set(NEW_FIELDS)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(old, sort_keys=False))
    cfg = load_config(path)
    assert {name: getattr(cfg, name) for name in NEW_FIELDS} == NEW_FIELDS
    assert cfg.batch_size == 128 and cfg.network == "mlp"


def test_a_saved_config_writes_every_new_key(tmp_path):
    path = tmp_path / "config.yaml"
    cfg = TrainConfig(tau=0.01, mlp_layers=[8], network="mlp", observation="state")
    cfg.save(path)
    data = yaml.safe_load(path.read_text())
    assert set(NEW_FIELDS) <= set(data)
    assert load_config(path) == cfg


# -- layering -------------------------------------------------------------------------------


def test_layers_apply_in_order_base_preset_yaml_flags(tmp_path):
    base = TrainConfig(n_envs=16, seed=7, entropy=0.05)  # e.g. a cloned model's config
    path = tmp_path / "run.yaml"
    path.write_text("num_epochs: 7\nbatch_size: 128\nlighting: random\n")
    cfg = layered_config(base, "deepracer", path, {"batch_size": 256, "seed": 3})
    assert cfg.batch_size == 256  # flag beats YAML beats preset
    assert cfg.seed == 3  # flag beats base
    assert cfg.num_epochs == 7  # YAML beats preset (10)
    assert cfg.lighting == "random"  # YAML beats base
    assert cfg.network == "shallow"  # preset: the YAML file does not write network
    assert cfg.discount_factor == 0.99 and cfg.learning_rate == 3e-4  # preset
    assert cfg.n_envs == 16  # base: nobody else sets it
    assert cfg.entropy == 0.01  # the preset sets the console's entropy over the base's


def test_layers_are_optional_and_the_base_is_not_changed():
    base = TrainConfig(seed=5)
    assert layered_config(base, None, None, {}) == base
    assert layered_config(base) == base
    assert layered_config(base, overrides={"seed": 6}).seed == 6
    assert base.seed == 5
    assert layered_config(base, "deepracer").batch_size == 64


def test_an_empty_yaml_file_changes_nothing(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert layered_config(TrainConfig(seed=2), "deepracer", path) == \
        layered_config(TrainConfig(seed=2), "deepracer")


def test_an_unknown_preset_is_refused_with_the_known_ones():
    with pytest.raises(RacerlError, match=r"^--preset 'fast': presets: 'deepracer', 'racing'$"):
        layered_config(TrainConfig(), "fast", None, {})


def test_the_racing_preset_races_and_the_plain_default_stays_deepracers(tmp_path):
    from racerl.envs.actions import ContinuousActions, load_action_space
    from racerl.reward.function import load_reward_function

    racing = layered_config(TrainConfig(), "racing")
    space = load_action_space(racing.action_space)
    assert isinstance(space, ContinuousActions)
    assert (space.speed_low, space.speed_high) == (1.0, 4.0)  # up to DeepRacer's 4 m/s
    assert (space.steering_low, space.steering_high) == (-30.0, 30.0)
    assert racing.reward == "progress"
    load_reward_function(racing.reward)  # a shipped example, found by name
    # written into the model's config like any other field, and read back the same
    path = tmp_path / "config.yaml"
    racing.save(path)
    assert load_config(path) == racing
    plain = TrainConfig()
    assert plain.action_space is None and plain.reward == "follow_center_line"


def test_layer_errors_name_their_source(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tau: 2\n")
    with pytest.raises(ConfigError, match=f"^{bad}: tau must be"):
        layered_config(TrainConfig(), None, bad, {})
    with pytest.raises(ConfigError, match="no such config file"):
        layered_config(TrainConfig(), None, tmp_path / "missing.yaml", {})
    with pytest.raises(ConfigError, match=r"^settings: seed must be"):
        layered_config(TrainConfig(), None, None, {"seed": -1})
    with pytest.raises(ConfigError, match=r"^settings: unknown setting"):
        layered_config(TrainConfig(), None, None, {"speed": 1})


def test_relative_paths_in_a_yaml_file_are_found_beside_it(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "my_reward.py").write_text("def reward_function(params):\n    return 1.0\n")
    (folder / "actions.json").write_text(json.dumps(
        {"action_space": [{"steering_angle": 0, "speed": 1}, {"steering_angle": 9, "speed": 1}]}))
    (folder / "train.yaml").write_text("reward: my_reward.py\naction_space: actions.json\n"
                                       "track: [oval, mine.npy]\n")
    monkeypatch.chdir(tmp_path)  # not the config's folder
    for cfg in (load_config(folder / "train.yaml"),
                layered_config(TrainConfig(), yaml_path=folder / "train.yaml")):
        assert cfg.reward == str(folder / "my_reward.py")
        assert cfg.action_space == str(folder / "actions.json")
        assert cfg.track == ["oval", "mine.npy"]  # no mine.npy beside it: as written


def test_a_relative_path_with_no_file_beside_the_yaml_keeps_its_meaning(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "train.yaml").write_text("reward: rewards/r.py\n"
                                                     "action_space: racing\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config("configs/train.yaml")
    assert (cfg.reward, cfg.action_space) == ("rewards/r.py", "racing")


def test_the_config_module_imports_no_machine_learning_library():
    code = ("import racerl.model.config, sys; "
            "print([m for m in ('torch', 'stable_baselines3') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"

