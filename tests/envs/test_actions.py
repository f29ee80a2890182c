"""Action spaces in model_metadata.json layout: the console default, parsing, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from racerl.envs.actions import (
    ContinuousActions,
    DiscreteActions,
    default_action_space,
    load_action_space,
)
from racerl.errors import ActionSpaceError


def test_default_is_the_consoles_ten_actions():
    space = default_action_space()
    pairs = list(zip(space.steering, space.speed, strict=True))
    assert pairs[0] == (-30.0, 0.5)
    assert pairs[1] == (-30.0, 1.0)
    assert pairs[2] == (-15.0, 0.5)
    assert pairs[9] == (30.0, 1.0)
    assert space.n == 10
    assert load_action_space(None) == space


def test_discrete_from_metadata_file_ignores_index(tmp_path):
    meta = {"action_space": [{"steering_angle": 9.999999999999998, "speed": 0.6, "index": 7},
                             {"steering_angle": -10, "speed": 1.2}],
            "sensor": ["FRONT_FACING_CAMERA"], "neural_network":
            "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "version": "5"}
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps(meta))
    space = load_action_space(path)
    assert isinstance(space, DiscreteActions)
    steer, speed = space.to_physical(np.array([0, 1]))
    assert steer.tolist() == [9.999999999999998, -10.0]  # used as written
    assert speed.tolist() == [0.6, 1.2]
    assert space.to_metadata()["action_space"][1]["index"] == 1


def test_continuous_maps_unit_box_linearly():
    space = load_action_space({"action_space_type": "continuous", "action_space": {
        "steering_angle": {"low": -20, "high": 10}, "speed": {"low": 0.5, "high": 2.5}}})
    assert isinstance(space, ContinuousActions)
    steer, speed = space.to_physical(np.array([[-1, -1], [1, 1], [0, 0], [5, -5]]))
    assert steer.tolist() == [-20.0, 10.0, -5.0, 10.0]
    assert speed.tolist() == [0.5, 2.5, 1.5, 0.5]
    assert space.gym_space().shape == (2,)


@pytest.mark.parametrize("meta, fragment", [
    ({"action_space": []}, "2-30 actions"),
    ({"action_space": [{"steering_angle": 0}] * 3}, "needs 'steering_angle' and 'speed'"),
    ({"action_space": [{"steering_angle": 45, "speed": 1}] * 2}, "outside −30..30"),
    ({"action_space": [{"steering_angle": 0, "speed": 9}] * 2}, "outside 0.1..4"),
    ({"action_space": [{"steering_angle": "left", "speed": 1}] * 2}, "finite number"),
    ({"action_space_type": "continuous", "action_space": {
        "steering_angle": {"low": 10, "high": -10}, "speed": {"low": 1, "high": 2}}},
     "must be below high"),
    ({"action_space_type": "continuous", "action_space": {"speed": {"low": 1, "high": 2}}},
     "'steering_angle'"),
    ({"action_space_type": "sideways", "action_space": []}, "'discrete' or 'continuous'"),
    ({"no": "action space"}, "'action_space' key"),
])
def test_malformed_spaces_name_the_problem(tmp_path, meta, fragment):
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps(meta))
    with pytest.raises(ActionSpaceError) as err:
        load_action_space(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_unreadable_json_and_missing_file(tmp_path):
    bad = tmp_path / "model_metadata.json"
    bad.write_text("{not json")
    with pytest.raises(ActionSpaceError, match="not valid JSON"):
        load_action_space(bad)
    with pytest.raises(ActionSpaceError, match="no such file"):
        load_action_space(tmp_path / "missing.json")


def test_bare_action_space_values_as_in_the_readme():
    discrete = load_action_space([{"steering_angle": -20, "speed": 1.0},
                                  {"steering_angle": 20, "speed": 1.0}])
    assert isinstance(discrete, DiscreteActions) and discrete.n == 2
    continuous = load_action_space({"steering_angle": {"low": -30, "high": 30},
                                    "speed": {"low": 0.5, "high": 2.0}})
    assert isinstance(continuous, ContinuousActions) and continuous.speed_high == 2.0
    with pytest.raises(ActionSpaceError, match="2-30 actions"):
        load_action_space([])
