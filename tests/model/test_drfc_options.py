"""DeepRacer-for-Cloud's training options in TrainConfig: DRfC's names and defaults, a YAML
round trip, and bad values refused by name."""

from __future__ import annotations

import pytest
import yaml

from racerl.model.config import ConfigError, TrainConfig, load_config, load_config_dict

DRFC_DEFAULTS = {  # deepracer-for-cloud defaults/template-run.env, DR_TRAIN_*
    "change_start_position": True,  # DR_TRAIN_CHANGE_START_POSITION=True
    "reverse_direction": False,  # DR_TRAIN_REVERSE_DIRECTION=False
    "alternate_driving_direction": False,  # DR_TRAIN_ALTERNATE_DRIVING_DIRECTION=False
    "start_position_offset": 0.0,  # DR_TRAIN_START_POSITION_OFFSET=0.0
    "round_robin_advance_dist": 0.05,  # DR_TRAIN_ROUND_ROBIN_ADVANCE_DIST=0.05
}
CHANGED = {"change_start_position": False, "reverse_direction": True,
           "alternate_driving_direction": True, "start_position_offset": 0.3,
           "round_robin_advance_dist": 0.1}


def test_the_options_have_drfcs_defaults():
    cfg = TrainConfig().validate()
    assert {name: getattr(cfg, name) for name in DRFC_DEFAULTS} == DRFC_DEFAULTS


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_each_option_round_trips_through_yaml(tmp_path, name):
    cfg = TrainConfig().replace(**{name: CHANGED[name]})
    path = tmp_path / "train.yaml"
    cfg.save(path)
    assert yaml.safe_load(path.read_text())[name] == CHANGED[name]
    again = load_config(path)
    assert getattr(again, name) == CHANGED[name] and again == cfg
    # A file that leaves it out gets DRfC's default.
    (tmp_path / "short.yaml").write_text("seed: 4\n")
    assert getattr(load_config(tmp_path / "short.yaml"), name) == DRFC_DEFAULTS[name]


def test_a_list_of_tracks_and_a_direction_name_round_trip(tmp_path):
    cfg = TrainConfig().replace(track=["reInvent2019_track_cw", "loop", "oval_ccw"])
    assert cfg.tracks == ["reInvent2019_track_cw", "loop", "oval_ccw"]
    cfg.save(tmp_path / "train.yaml")
    assert load_config(tmp_path / "train.yaml") == cfg
    assert TrainConfig().tracks == ["loop"]


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"round_robin_advance_dist": 1.5}, "round_robin_advance_dist must be a number in [0, 1]"),
    ({"start_position_offset": -0.1}, "start_position_offset must be a number in [0, 1]"),
    ({"change_start_position": "yes"}, "change_start_position must be true or false"),
    ({"reverse_direction": 1}, "reverse_direction must be true or false"),
    ({"alternate_driving_direction": None}, "alternate_driving_direction must be true or"),
    ({"track": []}, "track must be a track name or path, or a list of them"),
    ({"track": ["oval", "oval"]}, "track lists oval more than once"),
    ({"track": ["oval", 3]}, "track lists 3, which is no track name or path"),
    ({"track": ["oval", "loop", "circuit"], "n_envs": 2},
     "track lists 3 tracks but n_envs is 2: every track needs at least one car"),
])
def test_bad_values_are_one_line_naming_the_setting(changes, fragment):
    with pytest.raises(ConfigError) as caught:
        load_config_dict(changes, "train.yaml")
    message = str(caught.value)
    assert message.startswith("train.yaml: ") and fragment in message and "\n" not in message
