"""Models with DeepRacer's other sensors, end to end: trained for real (a few thousand
steps), evaluated, exported with one ONNX input per sensor, and driven by the edge runtime.

Two models: the front camera with a LIDAR (a dict observation, SB3's MultiInputPolicy) and
the stereo pair (a 2-channel image). The LIDAR model is checked on observations that hold
real returns: a box placed behind the car, as the simulator's objects.
"""

from __future__ import annotations

import json
import tarfile

import numpy as np
import onnx
import pytest
import torch
from typer.testing import CliRunner

from racerl.cli import app
from racerl.edge.car import CarExportError
from racerl.edge.export import PARITY_TOLERANCE, export_model
from racerl.edge.runtime import EdgePolicy, InputShapeError, load_bundle
from racerl.envs.single import make_env
from racerl.evaluate.evaluation import EvalSettings, evaluate, model_entrant, run_trials
from racerl.model.folder import model_folder
from racerl.sim.rules import EvaluationRules
from racerl.train.trainer import load_policy, train
from tests.edge.driven import sb3_model
from tests.envs.test_sensor_env import box_behind
from tests.helpers import racerl_home
from tests.train.test_train import quick_config

pytestmark = pytest.mark.slow
runner = CliRunner()
SENSORS = {"lidar": ["FRONT_FACING_CAMERA", "LIDAR"], "stereo": ["STEREO_CAMERAS"]}
STEPS = 8 * 64 * 4  # 2,048 steps, 4 policy updates


@pytest.fixture(scope="module")
def sensor_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("sensor_home")
    with racerl_home(home):
        for name, sensor in SENSORS.items():
            train(name, quick_config(observation="camera", network="light", num_epochs=2,
                                     sensor=sensor), steps=STEPS)
    return home


@pytest.fixture
def home(sensor_home, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(sensor_home))
    return sensor_home


def real_observations(name: str, count: int = 24) -> list:
    """Observations of the model's own greedy drive; for the lidar model with a box 0.5 m
    behind the car, so that its scan holds returns."""
    config = model_folder(name).config()
    policy, _ = load_policy(name)
    env = make_env(track=config.track, action_space=str(model_folder(name).metadata_path),
                   sensor=config.sensor, seed=3)
    obs, _ = env.reset()
    seen = []
    for _ in range(count):
        if config.sensors.lidar:
            traffic = env.racers.sim.traffic
            own, traffic.objects = traffic.objects, box_behind(env.racers)  # a hand-made world
            obs = env.racers.observe(np.array([0]), fresh=False)
            obs = {key: value[0] for key, value in obs.items()}
            traffic.objects = own  # the step goes on in the simulator's own (empty) world
        seen.append(obs)
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        if terminated or truncated:
            obs, _ = env.reset()
    return seen


@pytest.mark.parametrize("name", list(SENSORS))
def test_model_folder_is_complete_with_its_sensors(home, name):
    folder = model_folder(name)
    metadata = json.loads(folder.metadata_path.read_text())
    assert metadata["sensor"] == SENSORS[name]
    assert folder.config().sensor == SENSORS[name]
    assert folder.checkpoint_path.is_file() and folder.best_checkpoint_path.is_file()
    assert folder.state()["num_timesteps"] >= STEPS and folder.metrics()
    assert any((folder.root / "sim-trace" / "training" / "training-simtrace").iterdir())


def test_the_lidar_model_sees_both_sensors(home):
    extractor = sb3_model("lidar").policy.features_extractor
    assert type(extractor).__name__ == "SensorsExtractor"
    layers = [m for m in extractor.lidar if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(64, 256), (256, 256)]


@pytest.mark.parametrize("name", list(SENSORS))
def test_evaluate_drives_the_model_with_its_sensors(home, name):
    # A race time limit: a model this young may circle without ever finishing a lap.
    settings = EvalSettings(track="oval", trials=2, rules=EvaluationRules(race_duration=20))
    run = evaluate(model_entrant(name).driver, settings)
    assert len(run.trials) == 2 and run.rows
    result = runner.invoke(app, ["evaluate", name, "--trials", "1", "--race-duration", "20"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", list(SENSORS))
def test_export_has_one_input_per_sensor_and_matches_torch(home, name):
    result = runner.invoke(app, ["export", name])
    assert result.exit_code == 0, result.output
    out = model_folder(name).root / "export"
    graph = onnx.load(str(out / "model.onnx"))
    inputs = [i.name for i in graph.graph.input]
    assert inputs == SENSORS[name]
    contract = json.loads((out / "racerl_export.json").read_text())
    assert [spec["name"] for spec in contract["inputs"]] == SENSORS[name]
    assert contract["sensor"] == SENSORS[name]
    assert all(v <= PARITY_TOLERANCE for v in contract["parity_max_abs_diff"].values())
    with tarfile.open(out / f"{name}.tar.gz") as tar:
        metadata = json.load(tar.extractfile("model_metadata.json"))
    assert metadata["sensor"] == SENSORS[name]
    # The runtimes against SB3's own forward pass, on what the car really sees.
    model = sb3_model(name)
    for runtime in ("onnxruntime", "openvino"):
        policy = EdgePolicy(load_bundle(name), runtime)
        for obs in real_observations(name):
            expected, _ = model.predict(obs, deterministic=True)
            assert policy(obs) == int(expected)
            batch = {k: v[None] for k, v in obs.items()} if isinstance(obs, dict) \
                else obs[None]
            with torch.no_grad():
                tensor, _ = model.policy.obs_to_tensor(batch)
                want = model.policy.get_distribution(tensor).distribution.probs.numpy()
            got = policy.outputs(batch if isinstance(batch, dict)
                                 else {inputs[0]: batch})["probabilities"]
            assert np.max(np.abs(got - want)) <= PARITY_TOLERANCE


def test_edge_runtime_drives_the_lidar_model(home):
    export_model("lidar")
    policy = EdgePolicy(load_bundle("lidar"))
    env = make_env(track="oval", action_space=policy.bundle.metadata,
                   sensor=SENSORS["lidar"], seed=0)
    episodes = run_trials(policy, env, trials=1)
    assert episodes[0].steps > 0
    with pytest.raises(InputShapeError, match="2 inputs, one per sensor"):
        policy.outputs(np.zeros((1, 120, 160, 1), np.uint8))
    frames = home / "frames"
    frames.mkdir(exist_ok=True)
    result = runner.invoke(app, ["drive", "lidar", "--source", str(frames)])
    assert result.exit_code != 0 and "also reads LIDAR" in result.output


def test_car_bundle_refuses_other_sensors(home):
    with pytest.raises(CarExportError, match="its sensors are STEREO_CAMERAS"):
        export_model("stereo", car=True)
