"""The ``sensor`` and ``lidar_config`` settings: checked, written to model_metadata.json as
DeepRacer lays it out, read back."""

from __future__ import annotations

import json

import pytest

from racerl.envs.actions import load_action_space
from racerl.model.config import ConfigError, TrainConfig, load_config, load_config_dict
from racerl.model.folder import GarageError, model_metadata, read_sensors


def test_default_is_the_front_camera_and_old_configs_keep_it(tmp_path):
    cfg = TrainConfig().validate()
    assert cfg.sensor == ["FRONT_FACING_CAMERA"] and cfg.lidar_config is None
    assert TrainConfig().sensor is not TrainConfig().sensor
    meta = model_metadata(cfg, load_action_space(None))
    assert meta["sensor"] == ["FRONT_FACING_CAMERA"] and "lidar_config" not in meta
    state = TrainConfig(observation="state", network="mlp").validate()
    assert model_metadata(state, load_action_space(None))["sensor"] == ["RACERL_STATE"]


def test_lidar_config_round_trips_through_yaml_and_metadata(tmp_path):
    cfg = load_config_dict({"sensor": ["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
                            "lidar_config": {"num_sectors": 16, "clipping_dist": 1.0}})
    cfg.save(tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg
    meta = model_metadata(cfg, load_action_space(None))
    assert meta["sensor"] == ["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"]
    assert meta["lidar_config"] == {"num_sectors": 16, "num_values_per_sector": 8,
                                    "clipping_dist": 1.0}
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps(meta))
    sensors = read_sensors(path)
    assert sensors == cfg.sensors and sensors.lidar_size == 128


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"sensor": ["LIDAR"]}, "sensor must list exactly one camera"),
    ({"sensor": "LIDAR"}, "sensor must be a list"),
    ({"sensor": ["FRONT_FACING_CAMERA", "LIDAR", "SECTOR_LIDAR"]}, "at most one"),
    ({"sensor": ["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
      "lidar_config": {"num_sectors": 5}}, "num_sectors must divide"),
    ({"lidar_config": {"num_sectors": 8}}, "no DISCRETIZED_SECTOR_LIDAR"),
    ({"sensor": ["STEREO_CAMERAS"], "rgb": True}, "rgb must be false"),
    ({"sensor": ["FRONT_FACING_CAMERA", "LIDAR"], "observation": "state", "network": "mlp"},
     "needs observation: camera"),
])
def test_bad_sensor_settings_are_refused_by_name(changes, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        load_config_dict(changes, "train.yaml")
    assert str(info.value).startswith("train.yaml: ")


def test_a_bad_metadata_sensor_list_names_the_file(tmp_path):
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps({"sensor": ["SECTOR_LIDAR"], "action_space": []}))
    with pytest.raises(GarageError, match=r"model_metadata\.json: sensor must list exactly one"):
        read_sensors(path)
    path.write_text(json.dumps({"action_space": []}))  # DeepRacer's v1 file: one camera
    assert read_sensors(path).names == ["FRONT_FACING_CAMERA"]
