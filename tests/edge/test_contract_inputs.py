"""racerl_export.json's inputs: one per sensor, and exports from before there was a list."""

from __future__ import annotations

from pathlib import Path

import pytest

from racerl.edge.runtime import BundleError, InputSpec, parse_contract
from racerl.envs.actions import load_action_space

CAMERA = {"name": "frames", "shape": ["batch", 120, 160, 1], "dtype": "uint8"}
LIDAR = {"name": "LIDAR", "shape": ["batch", 64], "dtype": "float32"}


def contract(**changes) -> dict:
    return {"format": "racerl-edge", "format_version": 1, "model": "m", "algorithm": "ppo",
            "observation": "camera", "input": CAMERA, "outputs": ["probabilities"],
            "rgb": False, "frame_stack": 1, "track": "oval", "max_episode_steps": 100,
            **changes}


def test_an_export_without_an_inputs_list_has_its_one_input():
    parsed = parse_contract(contract(), Path("m"), load_action_space(None))
    assert parsed.inputs == (InputSpec("frames", (120, 160, 1), "uint8"),)
    assert (parsed.input_name, parsed.input_shape) == ("frames", (120, 160, 1))


def test_inputs_list_every_sensor_in_order():
    camera = {**CAMERA, "name": "FRONT_FACING_CAMERA"}
    parsed = parse_contract(contract(input=camera, inputs=[camera, LIDAR]), Path("m"),
                            load_action_space(None))
    assert [s.name for s in parsed.inputs] == ["FRONT_FACING_CAMERA", "LIDAR"]
    assert parsed.inputs[1] == InputSpec("LIDAR", (64,), "float32")
    with pytest.raises(BundleError, match="'LIDAR' dtype must be uint8 or float32"):
        parse_contract(contract(inputs=[camera, {**LIDAR, "dtype": "float64"}]), Path("m"),
                       load_action_space(None))
    with pytest.raises(BundleError, match="malformed"):
        parse_contract(contract(inputs=[]), Path("m"), load_action_space(None))
