"""``racerl export --car``: the bundle the stock DeepRacer car loads.

One small camera model is trained for real (one PPO iteration) and exported with ``--car``
through the command line. Its frozen graph is then loaded with TensorFlow and with
OpenVINO's converter exactly as the car does (by the car's tensor names, shape
[1, 120, 160, 1], raw 0-255 pixel values), fed camera frames from the simulator, and
compared with stable-baselines3's own computation. Two camera models with continuous
actions (PPO, SAC) are trained and exported too, and the car's steering and speed from
their graphs compared with racerl's. The network variants are checked on untrained SB3
policies (heads re-drawn so that their outputs vary), and the models the car cannot run are
refused.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import types

import gymnasium as gym
import numpy as np
import openvino as ov
import pytest
import torch
from stable_baselines3.common.policies import ActorCriticCnnPolicy
from stable_baselines3.sac.policies import CnnPolicy as SACCnnPolicy
from typer.testing import CliRunner

from racerl.cli import app
from racerl.edge import car
from racerl.edge.car import (
    CAR_FOLDER,
    CAR_INPUT,
    CAR_OUTPUT,
    CAR_REPORT_FILE,
    FP16_TOLERANCE,
    PB_FILE,
    TF_TOLERANCE,
    CarExportError,
    car_archive_name,
    car_loader_problems,
)
from racerl.edge.export import PolicyGraph, export_model
from racerl.edge.runtime import METADATA_FILE
from racerl.envs.actions import parse_action_space
from racerl.envs.single import make_env
from racerl.model.folder import model_folder
from racerl.train.policies import policy_setup
from racerl.train.trainer import train
from tests.edge.driven import greedy_observations, sb3_model
from tests.helpers import racerl_home
from tests.train.test_train import quick_config

tf = pytest.importorskip("tensorflow", reason="the car bundle needs TensorFlow: "
                                             "pip install 'racerl[car]' (make setup does)")
runner = CliRunner()
CAMERA = {"observation": "camera", "network": "light", "num_epochs": 2}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A racerl home with 'cam', trained for one iteration and exported with --car."""
    home = tmp_path_factory.mktemp("car_home")
    out = home / "export"
    with racerl_home(home):
        train("cam", quick_config(**CAMERA), steps=8 * 64)
        result = runner.invoke(app, ["export", "cam", "--car", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return home, out, result.output


@pytest.fixture
def home(exported, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(exported[0]))
    return exported[0]


def _archive(out) -> dict[str, bytes]:
    with tarfile.open(out / CAR_FOLDER / car_archive_name("cam"), "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}






def _sb3_probabilities(model, frames: np.ndarray) -> np.ndarray:
    """The discrete policy as SB3 computes it, independent of the export code."""
    with torch.no_grad():
        obs, _ = model.policy.obs_to_tensor(frames)
        return model.policy.get_distribution(obs).distribution.probs.numpy()


def _run_pb(pb: bytes, input_name: str, output_name: str, frames: np.ndarray) -> np.ndarray:
    """The frozen graph in TensorFlow, fed and read only by tensor names."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb)
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(f"{output_name}:0", {f"{input_name}:0": frames.astype(np.float32)})


# -- the trained model, exported through the command line -----------------------------------


def test_cli_prints_the_car_bundle_and_its_parity(exported):
    _, out, output = exported
    output = " ".join(output.split())  # rich wraps long lines
    bundle = out / CAR_FOLDER / "cam.tar.gz"
    assert bundle.is_file() and (out / CAR_FOLDER / CAR_REPORT_FILE).is_file()
    assert "car bundle:" in output and "cam.tar.gz" in output
    for runtime in ("tensorflow", "openvino", "openvino_fp16"):
        assert f"car parity {runtime} vs torch" in output
    assert (out / "cam.tar.gz").is_file() and (out / "model.onnx").is_file()  # the ONNX export


def test_archive_holds_what_the_car_loader_checks(home, exported):
    out = exported[1]
    archive = (out / CAR_FOLDER / "cam.tar.gz").read_bytes()
    files = _archive(out)
    assert set(files) == {METADATA_FILE, PB_FILE}  # flat: both at the archive's root
    assert car_loader_problems(archive) == []
    metadata = json.loads(files[METADATA_FILE])
    folder_metadata = json.loads(model_folder("cam").metadata_path.read_text())
    assert metadata["sensor"] == ["FRONT_FACING_CAMERA"]
    assert metadata["training_algorithm"] == "clipped_ppo"
    assert metadata["action_space_type"] == "discrete"
    assert metadata["action_space"] == folder_metadata["action_space"]
    assert metadata["neural_network"] == "RACERL_LIGHT_CNN" and metadata["version"] == "5"
    report = json.loads((out / CAR_FOLDER / CAR_REPORT_FILE).read_text())
    assert report["input"]["name"] == CAR_INPUT["ppo"]
    assert report["output"]["name"] == CAR_OUTPUT["ppo"]
    assert report["checkpoint"] in ("best", "last") and report["parity_frames"] >= 40
    assert report["parity_max_abs_diff"]["tensorflow"] <= TF_TOLERANCE
    assert report["parity_max_abs_diff"]["openvino"] <= TF_TOLERANCE
    assert report["parity_max_abs_diff"]["openvino_fp16"] <= FP16_TOLERANCE
    assert report["same_greedy_action"]["tensorflow"] == 1.0


def test_loader_check_names_what_the_car_would_reject():
    def tar_gz(files: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    good = {"sensor": ["FRONT_FACING_CAMERA"], "training_algorithm": "clipped_ppo",
            "action_space_type": "discrete",
            "action_space": [{"steering_angle": 0, "speed": 1}]}
    meta = json.dumps(good).encode()
    assert car_loader_problems(tar_gz({"model.pb": b"x", METADATA_FILE: meta})) == []
    assert car_loader_problems(tar_gz({"agent/model.pb": b"x", METADATA_FILE: meta})) == []
    assert "no model_metadata.json at the archive's root" in car_loader_problems(
        tar_gz({"model.pb": b"x", f"agent/{METADATA_FILE}": meta}))
    assert "2 model files" in car_loader_problems(
        tar_gz({"a.pb": b"x", "b.pb": b"x", METADATA_FILE: meta}))[0]
    # The loader's "extension in '.pb'" also counts a file without an extension as a model.
    assert "2 model files" in car_loader_problems(
        tar_gz({"model.pb": b"x", "checkpoint": b"x", METADATA_FILE: meta}))[0]
    bad = json.dumps({**good, "sensor": ["RACERL_STATE"]}).encode()
    assert "sensor" in car_loader_problems(tar_gz({"model.pb": b"x", METADATA_FILE: bad}))[0]


def test_frozen_graph_fed_by_the_car_names_matches_sb3(home, exported):
    pb = _archive(exported[1])[PB_FILE]
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb)
    nodes = {node.name: node for node in graph_def.node}
    placeholder = nodes[CAR_INPUT["ppo"]]
    assert placeholder.op == "Placeholder"
    assert tf.dtypes.as_dtype(placeholder.attr["dtype"].type) == tf.float32
    assert [d.size for d in placeholder.attr["shape"].shape.dim] == [-1, 120, 160, 1]
    assert nodes[CAR_OUTPUT["ppo"]].op == "Softmax"
    assert not [n for n in nodes.values() if "Variable" in n.op]  # frozen: constants only
    # Attributes newer TensorFlow adds with default values are stripped (older ones refuse).
    assert not [n.name for n in nodes.values() if {"grad_a", "explicit_paddings"} & set(n.attr)]
    assert {n.op for n in nodes.values()} <= {"Placeholder", "Const", "AvgPool", "Mul", "Conv2D",
                                             "BiasAdd", "Relu", "Reshape", "MatMul", "Softmax"}
    consumed = {i.split(":")[0].lstrip("^") for n in nodes.values() for i in n.input}
    assert [name for name in nodes if name not in consumed] == [CAR_OUTPUT["ppo"]]
    model = sb3_model("cam")
    frames = greedy_observations("cam", count=24, seed=3)
    random = np.random.default_rng(5).integers(0, 256, (8, 120, 160, 1), dtype=np.uint8)
    for batch in (frames, random):
        got = _run_pb(pb, CAR_INPUT["ppo"], CAR_OUTPUT["ppo"], batch)
        want = _sb3_probabilities(model, batch)
        assert np.max(np.abs(got - want)) <= TF_TOLERANCE
        np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))


def test_openvino_converts_it_as_the_car_does(home, exported, tmp_path):
    pb_path = tmp_path / PB_FILE
    pb_path.write_bytes(_archive(exported[1])[PB_FILE])
    model = ov.convert_model(str(pb_path), input=[(f"{CAR_INPUT['ppo']}:0", [1, 120, 160, 1])])
    assert len(model.outputs) == 1  # the car's inference node reads the first output
    assert f"{CAR_OUTPUT['ppo']}:0" in model.outputs[0].get_names()
    assert list(model.inputs[0].get_shape()) == [1, 120, 160, 1]
    frames = greedy_observations("cam", count=12, seed=3)
    want = _sb3_probabilities(sb3_model("cam"), frames)
    for fp16, tolerance in ((False, TF_TOLERANCE), (True, FP16_TOLERANCE)):
        got = car.run_openvino(model, frames, fp16=fp16)
        assert np.max(np.abs(got - want)) <= tolerance


def test_export_without_car_drops_the_old_car_bundle(home, exported):
    out = exported[1]
    assert (out / CAR_FOLDER / "cam.tar.gz").is_file()
    export_model("cam", out)
    assert not (out / CAR_FOLDER / "cam.tar.gz").exists()
    assert not (out / CAR_FOLDER).exists()


# -- continuous actions: PPO and SAC, trained ----------------------------------------------

CONTINUOUS = {"action_space_type": "continuous", "action_space": {
    "steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1.5}}}


@pytest.fixture(scope="module")
def continuous_home(tmp_path_factory):
    """Camera models with continuous actions, PPO and SAC, trained briefly, exported --car."""
    home = tmp_path_factory.mktemp("car_continuous_home")
    space = home / "continuous.json"
    space.write_text(json.dumps(CONTINUOUS))
    with racerl_home(home):
        for algorithm in ("ppo", "sac"):
            train(f"cont-{algorithm}", quick_config(**CAMERA, algorithm=algorithm, batch_size=64,
                                                     action_space=str(space)), steps=8 * 64)
            export_model(f"cont-{algorithm}", car=True)
    return home


def _navigation(value: float, low: float, high: float) -> float:
    """The car's navigation node on one continuous output: clip to [-1, 1], then
    scale_continuous_value from [-1, 1] onto [low, high]."""
    value = max(min(value, 1.0), -1.0)
    return (high - low) / 2.0 * (value + 1.0) + low


@pytest.mark.parametrize("algorithm", ["ppo", "sac"])
def test_continuous_models_drive_the_same_on_the_car(continuous_home, monkeypatch, algorithm):
    monkeypatch.setenv("RACERL_HOME", str(continuous_home))
    name = f"cont-{algorithm}"
    folder = model_folder(name)
    archive = (folder.export_dir / CAR_FOLDER / car_archive_name(name)).read_bytes()
    assert car_loader_problems(archive) == []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        pb = tar.extractfile(PB_FILE).read()
        metadata = json.loads(tar.extractfile(METADATA_FILE).read())
    assert metadata["training_algorithm"] == ("clipped_ppo" if algorithm == "ppo" else "sac")
    assert metadata["action_space_type"] == "continuous"
    frames = greedy_observations(name, count=16, seed=3)
    got = _run_pb(pb, CAR_INPUT[algorithm], CAR_OUTPUT[algorithm], frames)
    model = sb3_model(name)
    want = _sb3_greedy(model.policy, algorithm, False, frames)
    assert np.max(np.abs(got - want)) <= TF_TOLERANCE
    # The car's steering and speed are the ones racerl drives (model.predict, then the
    # action space's mapping).
    actions = parse_action_space(metadata)
    space = metadata["action_space"]
    for out, obs in zip(got, frames, strict=True):
        steer, speed = actions.to_physical(model.predict(obs, deterministic=True)[0])
        assert abs(_navigation(float(out[0]), **space["steering_angle"]) - steer) < 1e-3
        assert abs(_navigation(float(out[1]), **space["speed"]) - speed) < 1e-4


# -- what the car cannot run --------------------------------------------------------------


@pytest.mark.parametrize(("changes", "reason"), [
    ({"rgb": True}, "RGB frames"),
    ({"frame_stack": 2}, "stacks 2 frames"),
    ({"observation": "state", "network": "mlp"}, "state vector"),
])
def test_models_the_car_cannot_run_are_refused(home, changes, reason):
    folder = model_folder("cam")
    name = "cam-" + "-".join(changes)
    shutil.copytree(folder.root, folder.root.parent / name)
    copy = model_folder(name)
    copy.config().replace(**changes).save(copy.config_path)
    with pytest.raises(CarExportError, match=reason):
        export_model(name, car=True)
    assert not copy.export_dir.exists()  # refused before anything was written
    result = runner.invoke(app, ["export", name, "--car"])
    assert result.exit_code != 0
    assert "cannot run on the DeepRacer car" in " ".join(result.output.split())


def test_missing_tensorflow_names_the_extra(monkeypatch):
    real = car.importlib.util.find_spec
    monkeypatch.setattr(car.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    with pytest.raises(CarExportError, match=r"racerl\[car\]"):
        car.check_car_model(quick_config(**CAMERA), "cam")


def test_training_does_not_load_tensorflow():
    """With TensorFlow installed, torch's tensorboard writer (which stable-baselines3 loads)
    would import all of it; racerl keeps tensorboard on its stub."""
    script = ("import sys, racerl.train.trainer, racerl.edge.export; "
              "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_archive_name_is_the_model_name_the_car_shows():
    assert car_archive_name("cam") == "cam.tar.gz"
    assert car_archive_name("v1.2 final") == "v1_2_final.tar.gz"  # the car cuts at a dot


# -- network variants and algorithms, untrained ---------------------------------------------


def _untrained(network: str, algorithm: str, discrete: bool):
    """An SB3 policy as racerl builds it (policy_setup), its action head re-drawn with a
    large spread so that the outputs differ from frame to frame."""
    torch.manual_seed(0)
    _, kwargs = policy_setup(network, [])
    observation = gym.spaces.Box(0, 255, (1, 120, 160), np.uint8)
    action = gym.spaces.Discrete(7) if discrete else gym.spaces.Box(-1, 1, (2,), np.float32)
    cls = ActorCriticCnnPolicy if algorithm == "ppo" else SACCnnPolicy
    policy = cls(observation, action, lambda _: 3e-4, **kwargs).eval()
    head = policy.action_net if algorithm == "ppo" else policy.actor.mu
    torch.nn.init.normal_(head.weight, std=0.5)
    return policy


def _sb3_greedy(policy, algorithm: str, discrete: bool, frames: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        obs, _ = policy.obs_to_tensor(frames)
        if algorithm == "sac":
            return policy.actor(obs, deterministic=True).numpy()  # tanh of the mean
        dist = policy.get_distribution(obs).distribution
        return (dist.probs if discrete else dist.mean).numpy()


@pytest.fixture(scope="module")
def variant_frames() -> np.ndarray:
    env = make_env(track="oval", observation="camera", lighting="random", seed=2)
    obs, _ = env.reset()
    frames = []
    for step in range(10):
        frames.append(obs)
        obs, *_ = env.step(step % env.action_space.n)
    return np.stack(frames)


@pytest.mark.parametrize(("network", "algorithm", "discrete"), [
    ("light", "ppo", True), ("shallow", "ppo", True), ("standard", "ppo", True),
    ("light", "ppo", False), ("light", "sac", False), ("shallow", "sac", False),
])
def test_network_variants_match_sb3(network, algorithm, discrete, variant_frames, tmp_path):
    policy = _untrained(network, algorithm, discrete)
    graph = PolicyGraph(types.SimpleNamespace(policy=policy), algorithm, discrete).eval()
    pb = car.car_graph_def(graph, discrete).SerializeToString()
    want = _sb3_greedy(policy, algorithm, discrete, variant_frames)
    assert want.std(axis=0).max() > 1e-2  # the outputs do vary from frame to frame
    got = _run_pb(pb, CAR_INPUT[algorithm], CAR_OUTPUT[algorithm], variant_frames)
    assert np.max(np.abs(got - want)) <= TF_TOLERANCE
    pb_path = tmp_path / PB_FILE
    pb_path.write_bytes(pb)
    converted = car.run_openvino(car.openvino_model(pb_path, algorithm), variant_frames[:4])
    assert np.max(np.abs(converted - want[:4])) <= TF_TOLERANCE
