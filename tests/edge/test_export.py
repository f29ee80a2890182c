"""Export for the car: ONNX / OpenVINO parity with torch, the bundle, and clear errors.

Small models are trained for real (a few thousand steps): a camera model with discrete
actions (the default network) and two state-vector models with continuous actions (PPO, SAC).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tarfile

import imageio.v3 as iio
import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from racerl.cli import app
from racerl.cli.common import seconds
from racerl.edge.export import PARITY_TOLERANCE, export_model
from racerl.edge.frames import FrameSourceError, camera_frame, model_frames
from racerl.edge.runtime import (
    BUNDLE_FILES,
    BundleError,
    EdgePolicy,
    InputShapeError,
    load_bundle,
)
from racerl.envs.single import make_env
from racerl.errors import RacerlError
from racerl.evaluate.evaluation import EvalSettings, evaluate, model_entrant, run_trials
from racerl.model.folder import model_folder
from racerl.train.trainer import load_policy, train
from tests.edge.driven import greedy_observations, sb3_model
from tests.helpers import racerl_home
from tests.train.test_train import quick_config

runner = CliRunner()
CAMERA = {"observation": "camera", "network": "light", "num_epochs": 2}
CONTINUOUS = {"action_space_type": "continuous", "action_space": {
    "steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1.5}}}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A racerl home with three small trained and exported models."""
    home = tmp_path_factory.mktemp("export_home")
    with racerl_home(home):
        train("cam", quick_config(**CAMERA), steps=8 * 64 * 4)
        space = home / "continuous.json"
        space.write_text(json.dumps(CONTINUOUS))
        for algorithm in ("ppo", "sac"):
            train(f"cont-{algorithm}", quick_config(algorithm=algorithm, batch_size=64,
                                                     action_space=str(space)), steps=8 * 64)
        exports = {name: export_model(name) for name in ("cam", "cont-ppo", "cont-sac")}
    return home, exports


@pytest.fixture
def home(models, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(models[0]))
    return models[0]






def _sb3_reference(model, batch: np.ndarray) -> dict[str, np.ndarray]:
    """The action distribution as SB3 itself computes it, independent of the export code."""
    with torch.no_grad():
        obs, _ = model.policy.obs_to_tensor(batch)
        if hasattr(model.policy, "actor"):  # SAC
            mean, log_std, _ = model.policy.actor.get_action_dist_params(obs)
            action = model.policy.actor(obs, deterministic=True)
            return {"action": action.numpy(), "mean": mean.numpy(),
                    "std": log_std.exp().numpy()}
        dist = model.policy.get_distribution(obs).distribution
        if hasattr(dist, "probs"):
            return {"probabilities": dist.probs.numpy()}
        return {"action": dist.mean.numpy(), "mean": dist.mean.numpy(),
                "std": dist.stddev.numpy()}


def _max_diff(policy: EdgePolicy, model, batch: np.ndarray) -> float:
    got = policy.outputs(batch)
    want = _sb3_reference(model, batch)
    assert set(got) == set(want)
    return max(float(np.max(np.abs(got[k] - want[k]))) for k in want)


@pytest.mark.parametrize("name", ["cam", "cont-ppo", "cont-sac"])
@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_runtime_matches_torch_on_random_and_real_inputs(home, name, runtime):
    model = sb3_model(name)
    policy = EdgePolicy(load_bundle(name), runtime)
    shape = policy.contract.input_shape
    rng = np.random.default_rng(42)
    random = rng.integers(0, 256, (16, *shape), dtype=np.uint8) if name == "cam" \
        else rng.normal(0, 2, (16, *shape)).astype(np.float32)
    real = greedy_observations(name, count=40, seed=1)
    assert _max_diff(policy, model, random) <= PARITY_TOLERANCE
    assert _max_diff(policy, model, real) <= PARITY_TOLERANCE
    # The greedy action of the export is the one torch's model.predict picks.
    for obs in [*real, *random]:
        expected, _ = model.predict(obs, deterministic=True)
        np.testing.assert_allclose(policy(obs), expected, atol=1e-5)


def test_graph_input_is_the_raw_camera_frame(home):
    graph = onnx.load(str(model_folder("cam").root / "export" / "model.onnx"))
    (inp,) = graph.graph.input
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert inp.name == "frames" and dims == ["batch", 120, 160, 1]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [o.name for o in graph.graph.output] == ["probabilities"]
    policy = EdgePolicy(load_bundle("cam"))
    frames = np.random.default_rng(0).integers(0, 256, (5, 120, 160, 1), dtype=np.uint8)
    probabilities = policy.outputs(frames)["probabilities"]
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


class _Recorded:
    """A policy that remembers every action it took."""

    def __init__(self, policy):
        self.policy, self.actions = policy, []

    def __call__(self, obs):
        action = self.policy(obs)
        self.actions.append(np.asarray(action, dtype=np.float64).copy())
        return action


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cam", "cont-ppo", "cont-sac"])
def test_exported_lap_matches_the_torch_lap(home, name):
    config = model_folder(name).config()
    bundle = load_bundle(model_folder(name).root / "export" / f"{name}.tar.gz")

    def laps(policy):
        env = make_env(track=config.track, observation=config.observation,
                       action_space=bundle.metadata, start="line",
                       max_steps=config.max_episode_steps)
        recorded = _Recorded(policy)
        return run_trials(recorded, env, 2), recorded.actions

    torch_results, torch_actions = laps(load_policy(name)[0])
    assert len(torch_actions) > 20
    for runtime in ("onnxruntime", "openvino"):
        results, actions = laps(EdgePolicy(bundle, runtime))
        assert [r.status for r in results] == [r.status for r in torch_results]
        assert [r.steps for r in results] == [r.steps for r in torch_results]
        for a, b in zip(results, torch_results, strict=True):
            assert a.progress == pytest.approx(b.progress, abs=1e-3)
            assert (a.lap_time is None) == (b.lap_time is None)
        np.testing.assert_allclose(np.array(actions), np.array(torch_actions), atol=1e-5)


def test_bundle_holds_the_export_and_deepracer_metadata(home, models):
    result = models[1]["cam"]
    with tarfile.open(result.bundle) as tar:
        names = tar.getnames()
        meta = json.load(tar.extractfile("model_metadata.json"))
        readme = tar.extractfile("README.md").read().decode()
        contract = json.load(tar.extractfile("racerl_export.json"))
    assert sorted(names) == sorted(BUNDLE_FILES)
    assert meta == json.loads(model_folder("cam").metadata_path.read_text())
    assert meta["sensor"] == ["FRONT_FACING_CAMERA"] and len(meta["action_space"]) == 10
    assert "Not verified without a car" in readme and "model.pb" in readme
    assert contract["input"]["shape"] == ["batch", 120, 160, 1]
    assert set(contract["parity_max_abs_diff"]) == {"onnxruntime", "openvino"}
    assert max(contract["parity_max_abs_diff"].values()) <= PARITY_TOLERANCE
    # The tar, the export folder and the model folder name are the same export.
    for target in (result.bundle, result.out, "cam"):
        assert load_bundle(target).files["model.onnx"] == (result.out / "model.onnx").read_bytes()


def test_export_without_openvino_drops_the_ir(home, tmp_path):
    result = export_model("cont-ppo", tmp_path / "plain", openvino=False)
    bundle = load_bundle(result.bundle)
    assert not bundle.has_openvino and set(result.parity) == {"onnxruntime"}
    with pytest.raises(BundleError, match="no OpenVINO IR"):
        EdgePolicy(bundle, "openvino")


# -- clear errors -------------------------------------------------------------------------


def _tar(path, files: dict[str, bytes]):
    import io

    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_malformed_bundles_are_named_errors(home, tmp_path, models):
    good = load_bundle(models[1]["cam"].bundle).files
    cases = {
        "garbage.tar.gz": (None, "not a readable .tar.gz bundle"),
        "nometa.tar.gz": ({k: v for k, v in good.items() if k != "model_metadata.json"},
                          "model_metadata.json missing"),
        "evil.tar.gz": ({**good, "../evil.sh": b"rm -rf /"}, "unexpected member"),
        "badjson.tar.gz": ({**good, "model_metadata.json": b"{oops"}, "not valid JSON"),
        "badspace.tar.gz": ({**good, "model_metadata.json": b'{"action_space": [1]}'},
                            "model_metadata.json"),
        "badonnx.tar.gz": ({**good, "model.onnx": b"not a network"}, "does not load"),
        "badformat.tar.gz": ({**good, "racerl_export.json": b'{"format": "x"}'},
                             "expected format 'racerl-edge'"),
    }
    for name, (files, message) in cases.items():
        path = tmp_path / name
        if files is None:
            path.write_bytes(b"\x1f\x8b not really gzip")
        else:
            _tar(path, files)
        with pytest.raises(BundleError, match=message) as info:
            EdgePolicy(load_bundle(path))
        assert str(path) in str(info.value)


def test_missing_exports_and_non_models_are_named_errors(home, tmp_path):
    with pytest.raises(BundleError, match="neither a bundle"):
        load_bundle("no-such-model")
    with pytest.raises(BundleError, match="not a racerl export"):
        load_bundle(tmp_path)  # an empty folder
    folder = model_folder("cam").root
    fresh = tmp_path / "unexported"
    fresh.mkdir()
    (fresh / "config.yaml").write_text((folder / "config.yaml").read_text())
    with pytest.raises(BundleError, match="run 'racerl export unexported' first"):
        load_bundle(fresh)
    with pytest.raises(RacerlError, match="no model here"):
        export_model(str(tmp_path / "nothing"))
    (fresh / "checkpoints").mkdir()
    (fresh / "checkpoints" / "latest.zip").write_bytes(
        (folder / "checkpoints" / "latest.zip").read_bytes())
    with pytest.raises(RacerlError, match=r"model_metadata\.json: missing"):
        export_model(str(fresh))


def test_wrong_inputs_are_refused(home):
    policy = EdgePolicy(load_bundle("cam"))
    with pytest.raises(InputShapeError, match=r"shape \(120, 160, 1\).*got shape \(120, 160, 3\)"):
        policy(np.zeros((120, 160, 3), np.uint8))
    with pytest.raises(InputShapeError, match="raw uint8 camera frames"):
        policy(np.zeros((120, 160, 1), np.float32))
    with pytest.raises(RacerlError, match="runtime 'tensorflow'"):
        EdgePolicy(load_bundle("cam"), "tensorflow")


# -- the command line ---------------------------------------------------------------------


def _cli(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def test_cli_export_then_drive_in_the_simulator(home, tmp_path):
    out = tmp_path / "car"
    result = _cli("export", "cam", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "parity onnxruntime vs torch" in result.output and (out / "cam.tar.gz").is_file()
    result = _cli("drive", str(out / "cam.tar.gz"), "--source", "sim", "--trials", "2")
    assert result.exit_code == 0, result.output
    torch_run = evaluate(model_entrant("cam").driver, EvalSettings(track="oval", trials=2))
    for lap in torch_run.trials:  # the same laps as torch, under the evaluation rules
        row = (f"{lap.trial} │ {lap.status} │ {seconds(lap.lap_time)} │ {lap.off_track} │ "
               f"{lap.penalty:.1f} │ {lap.progress:.1f}")
        assert row in " ".join(result.output.split()), (row, result.output)
    assert "p50 ms" in result.output and "p99 ms" in result.output


def _camera_pictures(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """RGB camera pictures of the car driving straight on the oval, at ``size`` (w, h)."""
    env = make_env(track="oval", rgb=True)
    obs, _ = env.reset(seed=0)
    pictures = []
    for _ in range(count):
        obs, *_ = env.step(4)
        pictures.append(np.asarray(Image.fromarray(obs).resize(size)))
    return pictures


def test_cli_drive_on_an_image_folder_writes_the_chosen_actions(home, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    pictures = _camera_pictures(6, (160, 120))
    for i, picture in enumerate(pictures):
        Image.fromarray(picture).save(folder / f"{i:03d}.png")
    out = tmp_path / "actions.csv"
    result = _cli("drive", "cam", "--source", str(folder), "--csv", str(out))
    assert result.exit_code == 0, result.output
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["frame"] for r in rows] == [f"{i:03d}.png" for i in range(6)]
    # The same frames through torch: the grey conversion of racerl.edge.frames, then predict.
    model = sb3_model("cam")
    space = model_folder("cam").action_space()
    for row, picture in zip(rows, pictures, strict=True):
        grey = camera_frame(picture, rgb=False, where="test")
        expected = int(model.predict(grey, deterministic=True)[0])
        assert int(row["action"]) == expected
        assert float(row["steering_angle"]) == pytest.approx(space.steering[expected])
        assert float(row["latency_ms"]) > 0


def test_cli_drive_on_a_video(home, tmp_path):
    video = tmp_path / "run.mp4"
    iio.imwrite(video, np.stack(_camera_pictures(8, (640, 480))), fps=15)
    result = _cli("drive", "cam", "--source", str(video), "--runtime", "openvino")
    assert result.exit_code == 0, result.output
    assert "frame 7" in result.output and "(8 frames)" in result.output


def test_camera_frames_are_resized_only_from_4_3(tmp_path):
    picture = np.full((480, 640, 3), 200, np.uint8)
    frame = camera_frame(picture, rgb=False, where="x")
    assert frame.shape == (120, 160, 1) and frame.dtype == np.uint8
    assert int(frame[0, 0, 0]) == int(200 * (0.2989 + 0.5870 + 0.1140))
    with pytest.raises(FrameSourceError, match=r"100×100.*4:3"):
        camera_frame(np.zeros((100, 100, 3), np.uint8), rgb=False, where="x")


def test_cli_mistakes_are_one_line_errors(home, tmp_path):
    square = tmp_path / "square"
    square.mkdir()
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(square / "a.png")
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"nope")
    cases = [
        (["drive", str(broken)], "not a readable .tar.gz bundle"),
        (["drive", "nobody"], "neither a bundle"),
        (["drive", "cam", "--source", str(square)], "4:3"),
        (["drive", "cam", "--source", str(tmp_path / "none.mp4")], "no such video"),
        (["drive", "cam", "--source", str(tmp_path)], "no .png/.jpg images"),
        (["drive", "cont-ppo", "--source", str(square)], "use --source sim"),
        (["drive", "cam", "--runtime", "tf"], "runtime 'tf'"),
        (["export", "nobody"], "no model here"),
        (["export", "cam", "--out", str(broken)], "is not a folder"),
        (["drive", "cam", "--csv", str(tmp_path / "x.csv")], "--csv writes per-frame"),
    ]
    for args, fragment in cases:
        result = _cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.output, (args, result.output)


@pytest.mark.parametrize(("target", "how", "runtime", "fragment"), [
    ("cam.tar.gz", "empty", "onnxruntime", "not a readable .tar.gz bundle (an empty file)"),
    ("cam.tar.gz", "half", "onnxruntime", "not a readable .tar.gz bundle (Compressed file"),
    ("cam.tar.gz", "garbage", "onnxruntime", "not a readable .tar.gz bundle (not a .tar.gz"),
    ("model.onnx", "half", "onnxruntime", "model.onnx does not load in onnxruntime"),
    ("model.xml", "half", "openvino", "the OpenVINO IR (model.xml and model.bin) does not "
                                      "load (Error parsing"),
    ("model.bin", "half", "openvino", "the OpenVINO IR (model.xml and model.bin) does not "
                                      "load (Incorrect weights in bin file!)"),
    ("model_metadata.json", "half", "onnxruntime", "model_metadata.json is not valid JSON"),
    ("model_metadata.json", "list", "onnxruntime", "model_metadata.json must hold a JSON obj"),
    ("racerl_export.json", "empty", "onnxruntime", "racerl_export.json is not valid JSON"),
])
def test_cli_drive_names_a_damaged_export_on_one_line(home, tmp_path, target, how, runtime,
                                                      fragment):
    export = tmp_path / "export"
    shutil.copytree(model_folder("cam").export_dir, export)
    path = export / target
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "half": data[: len(data) // 2], "list": b"[1, 2]",
                      "garbage": b"\x89\xfe racerl" * 40}[how])
    source = path if target.endswith(".tar.gz") else export
    result = _cli("drive", str(source), "--runtime", runtime)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"{source}: {fragment}" in lines[0], result.output


def test_missing_runtime_packages_are_named(home, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    result = _cli("drive", "cam")
    assert result.exit_code == 2 and "pip install 'racerl[export]'" in result.output


def test_drive_never_imports_torch(home, tmp_path):
    """The edge path (bundle, onnxruntime, OpenVINO, frames, simulator) runs without torch."""
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.zeros((120, 160, 3), np.uint8)).save(folder / "a.png")
    bundle = model_folder("cam").root / "export" / "cam.tar.gz"
    script = f"""
import sys
from typer.testing import CliRunner
from racerl.cli import app
for args in (["drive", {str(bundle)!r}, "--source", "sim"],
             ["drive", {str(bundle)!r}, "--source", {str(folder)!r}, "--runtime", "openvino"]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "stable_baselines3"))
print("HEAVY", heavy)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "RACERL_HOME": str(home)}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout


def test_driving_on_frames_loads_no_simulator_or_trainer(home, tmp_path):
    """`racerl drive` on camera frames, through the real command line in a fresh process,
    loads neither torch, stable-baselines3, Numba, Gymnasium nor shapely: `import racerl`
    is lazy and the car runtime reads the model folder without the trainer."""
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.zeros((120, 160, 3), np.uint8)).save(folder / "a.png")
    script = f"""
import sys
from typer.testing import CliRunner
from racerl.cli import app
for args in (["drive", "cam", "--source", {str(folder)!r}],
             ["drive", "cam", "--source", {str(folder)!r}, "--runtime", "openvino"]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
loaded = sorted({{m.split(".")[0] for m in sys.modules}}
                & {{"torch", "stable_baselines3", "numba", "gymnasium", "shapely"}})
print("LOADED", loaded)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "RACERL_HOME": str(home)}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout


@pytest.mark.slow
def test_colour_and_stacked_frames_keep_their_channel_order(tmp_path, monkeypatch):
    """RGB x 2 stacked frames: 6 channels, newest last, in the same order as SB3 sees them."""
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    train("stack", quick_config(**CAMERA, rgb=True, frame_stack=2), steps=8 * 64)
    result = export_model("stack")
    policy = EdgePolicy(load_bundle(result.bundle))
    assert policy.contract.input_shape == (120, 160, 6)
    model = sb3_model("stack")
    env = make_env(track="oval", rgb=True, frame_stack=2, seed=0)
    obs, _ = env.reset()
    real = []
    for k in range(12):
        obs, *_ = env.step(3 + k % 4)
        real.append(obs)
    real = np.stack(real)
    assert _max_diff(policy, model, real) <= PARITY_TOLERANCE
    # A picture folder is stacked the same way: the first frame fills the stack.
    folder = tmp_path / "frames"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(real[k][..., 3:]).save(folder / f"{k}.png")
    stacked = [obs for _, obs in model_frames(folder, rgb=True, frame_stack=2)]
    np.testing.assert_array_equal(stacked[0], np.concatenate([real[0][..., 3:]] * 2, axis=2))
    np.testing.assert_array_equal(stacked[2], np.concatenate([real[1][..., 3:],
                                                             real[2][..., 3:]], axis=2))
