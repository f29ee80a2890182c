"""``racerl export``: a trained model as ONNX and OpenVINO IR, bundled for the car.

The exported graph is the *policy* half of the SB3 model, from the raw camera frame to the
action distribution, with everything the car must not have to know about inside it: the
cast of the ``uint8`` frame, the division by 255 and the move from the camera's channels-last
layout to torch's channels-first all come from SB3's own preprocessing, traced into the
graph. So a runtime feeds the frame exactly as the env (or the camera node) delivers it.

Outputs, per algorithm:

* discrete PPO: ``probabilities`` = softmax of the policy logits; greedy = argmax.
* continuous PPO: ``mean`` and ``std`` of the Gaussian in the normalised box, and ``action`` =
  ``mean`` (the greedy action; SB3 clips it to [-1, 1], so does the runtime).
* SAC: ``mean`` and ``std`` of the Gaussian *before* the tanh squash, and ``action`` =
  ``tanh(mean)``, SAC's greedy action in [-1, 1].

A continuous action ``a`` in [-1, 1]² maps to ``low + (a + 1) / 2 * (high - low)`` for
steering (degrees) and speed (m/s), with the ranges of model_metadata.json.

With ``car=True`` (``racerl export --car``) the export also holds the bundle the stock
DeepRacer car loads from its device console: a TensorFlow frozen graph under DeepRacer's
tensor names and the car's model_metadata.json, in ``car/`` (:mod:`racerl.edge.car`).

The weights are the model's best checkpoint (its best evaluation during training) unless
``checkpoint="last"`` asks for the latest; ``racerl_export.json`` says which (``checkpoint``).

Every export is checked before it is written: the ONNX graph (onnxruntime) and the IR
(OpenVINO) must agree with torch to :data:`PARITY_TOLERANCE` on seeded random inputs; the
figures go into ``racerl_export.json``. This module imports torch; the runtime side,
:mod:`racerl.edge.runtime`, does not.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from racerl.atomic import atomic_write
from racerl.edge.car import (
    CarResult,
    build_car_bundle,
    camera_frames,
    car_archive_name,
    check_car_model,
    remove_car_bundle,
    write_car_bundle,
)
from racerl.edge.runtime import (
    CONTRACT_FILE,
    FORMAT,
    FORMAT_VERSION,
    IR_FILES,
    METADATA_FILE,
    ONNX_FILE,
    README_FILE,
    Bundle,
    Contract,
    EdgePolicy,
    parse_contract,
    write_tar,
)
from racerl.envs.actions import parse_action_space
from racerl.errors import RacerlError
from racerl.model.config import TrainConfig
from racerl.model.folder import ModelFolder, model_folder
from racerl.train.trainer import load_model

OPSET = 18
PARITY_TOLERANCE = 1e-4


class PolicyGraph(nn.Module):
    """Frame (or state) in, action distribution out: the exported part of an SB3 policy.

    A model with a lidar takes two inputs, the camera's frames then the lidar's values
    (``sensors``: their names, the keys of SB3's dict observation)."""

    def __init__(self, model, algorithm: str, discrete: bool,
                 sensors: tuple[str, ...] | None = None):
        super().__init__()
        self.algorithm, self.discrete = algorithm, discrete
        self.policy = model.policy if algorithm == "ppo" else model.policy.actor
        self.sensors = sensors
        space = self.policy.observation_space
        image = space[sensors[0]] if sensors else space
        self.channels_last = len(image.shape) == 3

    def forward(self, obs: torch.Tensor, lidar: torch.Tensor | None = None):
        if self.channels_last:  # the camera's [n, H, W, C] to SB3's [n, C, H, W]
            obs = obs.permute(0, 3, 1, 2)
        if self.sensors:
            obs = {self.sensors[0]: obs, self.sensors[1]: lidar}
        if self.algorithm == "sac":
            mean, log_std, _ = self.policy.get_action_dist_params(obs)
            return torch.tanh(mean), mean, torch.exp(log_std)
        policy = self.policy
        # extract_features runs SB3's preprocess_obs: float cast, / 255 for images.
        features = policy.extract_features(obs, policy.pi_features_extractor)
        logits_or_mean = policy.action_net(policy.mlp_extractor.forward_actor(features))
        if self.discrete:
            return torch.softmax(logits_or_mean, dim=-1)
        std = torch.exp(policy.log_std).expand_as(logits_or_mean)
        return logits_or_mean, logits_or_mean, std


@dataclass(frozen=True)
class ExportResult:
    out: Path
    bundle: Path
    written: list[Path]
    parity: dict[str, float]  # runtime -> max |runtime - torch| over all outputs
    checkpoint: str = "last"  # which checkpoint was exported: "best" or "last"
    note: str | None = None  # why it is not the one asked for (no best checkpoint)
    car: CarResult | None = None  # the DeepRacer car's bundle, with --car


def export_model(name: str, out: str | Path | None = None, openvino: bool = True,
                 checkpoint: str = "best", car: bool = False) -> ExportResult:
    """Export model ``name`` (name or folder) to ``out`` (default: ``<model>/export/``),
    from its ``checkpoint``: ``best`` (the last, with a note, when it has none) or
    ``last``. ``car``: also the bundle the DeepRacer car's console loads, in ``out/car/``
    (:mod:`racerl.edge.car`); a model the car cannot run is refused before any work."""
    missing = [m for m in ("onnx", "onnxscript", "onnxruntime")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise RacerlError(f"export needs {', '.join(missing)}: pip install 'racerl[export]'")
    folder = model_folder(name)
    config = folder.config()
    if car:
        check_car_model(config, folder.name)
    if out is not None and Path(out).expanduser().exists() \
            and not Path(out).expanduser().is_dir():
        raise RacerlError(f"--out {out}: exists and is not a folder")
    if not folder.checkpoint_path.is_file() and not folder.best_checkpoint_path.is_file():
        raise RacerlError(f"{folder.root}: no checkpoint yet, nothing to export")
    chosen = folder.checkpoint(checkpoint)
    metadata = _metadata(folder)
    model = load_model(config.replace(action_space=str(folder.metadata_path)),
                       chosen.path, None)
    discrete = metadata.get("action_space_type", "discrete") == "discrete"
    sensors = config.sensors
    graph = PolicyGraph(model, config.algorithm, discrete,
                        tuple(sensors.names) if sensors.lidar else None).eval()
    contract = _contract(folder.name, config, model, discrete, openvino)
    contract["checkpoint"] = chosen.kind
    out = Path(out).expanduser() if out is not None else folder.export_dir
    with tempfile.TemporaryDirectory(prefix="racerl-export-") as tmp:
        files = {ONNX_FILE: _to_onnx(graph, contract, Path(tmp))}
        if openvino:
            files.update(_to_openvino(Path(tmp) / ONNX_FILE, Path(tmp)))
    files[METADATA_FILE] = (json.dumps(metadata, indent=2) + "\n").encode()
    parity = _parity(graph, files, contract, metadata)
    contract["parity_max_abs_diff"] = parity
    files[CONTRACT_FILE] = (json.dumps(contract, indent=2) + "\n").encode()
    files[README_FILE] = car_readme(folder.name, contract, metadata, "model.xml" in files)
    car_bundle = None
    if car:  # built and checked before anything is written
        frames = camera_frames(config, str(folder.metadata_path), graph, discrete)
        car_bundle = build_car_bundle(folder.name, graph, config, metadata, frames,
                                      chosen.kind)
    written = [atomic_write(out / fname, lambda f, d=data: f.write(d))
               for fname, data in files.items()]
    for stale in IR_FILES if not openvino else ():
        (out / stale).unlink(missing_ok=True)  # an older export's IR would not match
    bundle = atomic_write(out / f"{folder.name}.tar.gz", lambda f: write_tar(f, files))
    if car_bundle is None:
        remove_car_bundle(folder.name, out)  # an older one would hold other weights
        car_result = None
    else:
        car_result = write_car_bundle(car_bundle, out)
        written += [car_result.bundle, car_result.report]
    return ExportResult(out, bundle, [*written, bundle], parity, chosen.kind, chosen.note,
                        car_result)


def _metadata(folder: ModelFolder) -> dict:
    path = folder.metadata_path
    if not path.is_file():
        raise RacerlError(f"{path}: missing; a model folder needs its model_metadata.json "
                          "(action space, sensor, network) to be exported")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RacerlError(f"{path}: not valid JSON ({exc})") from None
    parse_action_space(metadata, str(path))  # an object with a usable action space, or why not
    return metadata


def _inputs(config: TrainConfig, model) -> list[dict]:
    """The graph's inputs, in order: the camera's frames (or racerl's state vector), then
    the lidar's values for a model with a lidar. A front camera alone keeps the name
    ``frames`` (every earlier export's); other sensors' inputs are named after them."""
    sensors = config.sensors
    space = model.observation_space
    if config.observation != "camera":
        size = int(space.shape[0])
        return [{"name": "state", "shape": ["batch", size], "dtype": "float32",
                 "layout": f"N, {size} state values", "scaling": "none"}]
    image = space[sensors.camera] if sensors.lidar else space
    c, h, w = (int(v) for v in image.shape)  # SB3 keeps images channels-first; cars do not
    frames = "newest frame last" if sensors.camera_channels == 1 else \
        "left then right image per frame, newest frame last"
    inputs = [{"name": "frames" if sensors.names == ["FRONT_FACING_CAMERA"] else sensors.camera,
               "sensor": sensors.camera, "shape": ["batch", h, w, c], "dtype": "uint8",
               "layout": f"NHWC, {frames}", "scaling": "inside the graph (x / 255)"}]
    if sensors.lidar:
        low, high = sensors.lidar_bounds
        inputs.append({"name": sensors.lidar, "sensor": sensors.lidar,
                       "shape": ["batch", sensors.lidar_size], "dtype": "float32",
                       "layout": f"N, {sensors.lidar_size} values in [{low:g}, {high:g}] "
                                 "(racerl.camera.sensors)", "scaling": "none"})
    return inputs


def _contract(name: str, config: TrainConfig, model, discrete: bool, openvino: bool) -> dict:
    inputs = _inputs(config, model)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "model": name,
        "algorithm": config.algorithm, "network": config.network,
        "observation": config.observation, "rgb": config.rgb,
        "frame_stack": config.frame_stack, "track": config.tracks[0],
        **({"tracks": config.tracks} if len(config.tracks) > 1 else {}),
        "max_episode_steps": config.max_episode_steps,
        "sensor": config.sensors.names if config.observation == "camera" else [],
        "input": inputs[0], "inputs": inputs,
        "outputs": ["probabilities"] if discrete else ["action", "mean", "std"],
        "greedy": "argmax(probabilities)" if discrete else "clip(action, -1, 1)",
        "files": {"onnx": ONNX_FILE, "openvino": list(IR_FILES) if openvino else []},
        "opset": OPSET,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _to_onnx(graph: PolicyGraph, contract: dict, tmp: Path) -> bytes:
    specs = contract["inputs"]
    examples = tuple(torch.zeros((2, *spec["shape"][1:]), dtype=torch.uint8
                                 if spec["dtype"] == "uint8" else torch.float32)
                     for spec in specs)
    batch = torch.export.Dim("batch")
    dynamic = {arg: {0: batch} for arg in ("obs", "lidar")[:len(specs)]}
    target = tmp / ONNX_FILE
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "torchvision is not installed, skipping ..." notes
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, examples, str(target),
                              input_names=[spec["name"] for spec in specs],
                              output_names=contract["outputs"], opset_version=OPSET,
                              dynamo=True, external_data=False, verbose=False,
                              dynamic_shapes=dynamic)
    finally:
        quiet.setLevel(level)
    return target.read_bytes()


def _to_openvino(onnx_path: Path, tmp: Path) -> dict[str, bytes]:
    """The ONNX graph as OpenVINO IR, FP32 weights (the car's own optimizer uses FP16)."""
    try:
        import openvino as ov
    except ImportError:
        raise RacerlError("the OpenVINO IR needs the openvino package "
                          "(pip install 'racerl[export]'), or export with --no-openvino") \
            from None
    xml = tmp / IR_FILES[0]
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml), compress_to_fp16=False)
    return {name: (tmp / name).read_bytes() for name in IR_FILES}


def parity_inputs(shape: tuple[int, ...], dtype: str, n: int = 8, seed: int = 0) -> np.ndarray:
    """Seeded random inputs of the graph's type: full-range frames, or state vectors."""
    rng = np.random.default_rng(seed)
    if dtype == "uint8":
        return rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    return rng.normal(0.0, 1.0, (n, *shape)).astype(np.float32)


def parity_feed(contract: Contract, n: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded random inputs for every input of the graph, by name (a lidar's values drawn
    in [0, 1], where every lidar observation lies)."""
    feed = {}
    for k, spec in enumerate(contract.inputs):
        if len(contract.inputs) > 1 and spec.dtype == "float32":
            rng = np.random.default_rng([seed, k])
            feed[spec.name] = rng.uniform(0.0, 1.0, (n, *spec.shape)).astype(np.float32)
        else:
            feed[spec.name] = parity_inputs(spec.shape, spec.dtype, n, seed + k)
    return feed


def torch_outputs(graph: PolicyGraph, batch: np.ndarray | dict[str, np.ndarray]
                  ) -> list[np.ndarray]:
    """The graph's outputs computed by torch itself, in the exported order (``batch``: the
    one input, or every input by name in the graph's order)."""
    inputs = list(batch.values()) if isinstance(batch, dict) else [batch]
    with torch.no_grad():
        out = graph(*(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs))
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def _parity(graph: PolicyGraph, files: dict[str, bytes], contract: dict,
            metadata: dict) -> dict[str, float]:
    """Max |runtime - torch| for each runtime; refuses an export beyond the tolerance."""
    path = Path(contract["model"])
    actions = parse_action_space(metadata, METADATA_FILE)
    bundle = Bundle(path, files, metadata, parse_contract(contract, path, actions), actions)
    parsed = bundle.contract
    batch = parity_feed(parsed)
    expected = torch_outputs(graph, batch)
    result = {}
    for runtime in ("onnxruntime", "openvino") if bundle.has_openvino else ("onnxruntime",):
        got = EdgePolicy(bundle, runtime).outputs(batch)
        diff = max(float(np.max(np.abs(got[name] - want)))
                   for name, want in zip(parsed.outputs, expected, strict=True))
        if not diff <= PARITY_TOLERANCE:
            raise RacerlError(f"export of {contract['model']!r}: {runtime} differs from torch "
                              f"by {diff:.2e} (> {PARITY_TOLERANCE:g}); nothing written")
        result[runtime] = diff
    return result


def car_readme(name: str, contract: dict, metadata: dict, openvino: bool) -> bytes:
    """The bundle's README: what is inside and what a DeepRacer car owner can do with it."""
    spec = contract["input"]
    shape = ", ".join(str(v) for v in spec["shape"])
    if contract["observation"] != "camera":
        feed = "Feed racerl's 17-value state vector (racerl.envs.cars.state_observation)."
    elif contract["rgb"]:
        feed = ("Feed the frame exactly as the camera pipeline makes it: the camera image "
                "resized to 160×120, RGB.")
    else:
        feed = ("Feed the frame exactly as the camera pipeline makes it: DeepRacer's car "
                "resizes the camera image\nto 160×120 and converts it to grey "
                "(Y = 0.2989 R + 0.587 G + 0.114 B, cast to uint8).")
    if contract["frame_stack"] > 1:
        feed += f" Stack the last {contract['frame_stack']} frames, newest last."
    others = contract.get("inputs", [spec])[1:]
    if spec.get("sensor") == "STEREO_CAMERAS":
        feed += (" STEREO_CAMERAS: the left and the right camera's grey images, 6 cm apart, "
                 "as two channels (left first).")
    for extra in others:
        feed += (f"\n\nInput `{extra['name']}`: {extra['dtype']} "
                 f"[{', '.join(str(v) for v in extra['shape'])}], {extra['layout']}: the "
                 "lidar's 64 ranges through DeepRacer's filter for this sensor (clipped "
                 "ranges, or sector bins).")
    if contract["outputs"] == ["probabilities"]:
        rows = "\n".join(f"| {i} | {a['steering_angle']} | {a['speed']} |"
                         for i, a in enumerate(metadata["action_space"]))
        actions = ("`probabilities` [batch, n]: the policy over the actions below; drive the "
                   "most likely one.\n\n| action | steering ° | speed m/s |\n|---|---|---|\n"
                   + rows)
    else:
        space = metadata["action_space"]
        actions = ("`action` [batch, 2]: the greedy action in [-1, 1] (clip it), "
                   "`mean`/`std` [batch, 2]: the policy's Gaussian"
                   + (" before SAC's tanh" if contract["algorithm"] == "sac" else "")
                   + ". Map `a` to `low + (a + 1) / 2 * (high - low)`: steering "
                   f"{space['steering_angle']['low']}..{space['steering_angle']['high']} °, "
                   f"speed {space['speed']['low']}..{space['speed']['high']} m/s.")
    ir = ("`model.xml` + `model.bin`: the same graph as OpenVINO IR (FP32).\n" if openvino
          else "(no OpenVINO IR: exported without the openvino package)\n")
    text = f"""# {name}: racerl export for the car

Files:
- `model.onnx`: the policy network (ONNX opset {contract['opset']}).
- {ir}- `model_metadata.json`: DeepRacer's model metadata (action space, sensor, network,
  algorithm), as the car's software reads it.
- `racerl_export.json`: input/output names, shapes, frame stacking, parity figures.

Input `{spec['name']}`: {spec['dtype']} [{shape}], {spec['layout']}; scaling
{spec['scaling']}. {feed}

Output: {actions}

Run it anywhere with Python and onnxruntime, no torch needed
(`pip install 'racerl[export]'`):

    racerl drive {name}.tar.gz --source sim          # closed loop in racerl's simulator
    racerl drive {name}.tar.gz --source frames/      # a folder of camera images
    racerl drive {name}.tar.gz --source run.mp4 --runtime openvino

On a DeepRacer car: the car's own software loads a model `.tar.gz` from the device console
(Models → Upload) and expects a TensorFlow frozen graph (`model.pb`, DeepRacer's tensor
names) beside `model_metadata.json`, which it converts itself with OpenVINO's Model
Optimizer. This bundle is not that one: `racerl export {name} --car` writes it, as
`car/{car_archive_name(name)}` beside this export, for grey single-frame camera
models. This bundle is for your own runtime: run `model.xml` (or `model.onnx` with
onnxruntime) on the camera frames with the input above and send the chosen steering and
speed to the car's servo node.
Not verified without a car: loading on the car's software, the real camera's picture (a
120° lens; the simulator's is 64.7°) and driving the real track.
"""
    return text.encode("utf-8")
