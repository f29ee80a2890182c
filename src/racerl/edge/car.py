"""``racerl export --car``: a model bundle the stock DeepRacer car loads from its console.

The car's software (aws-deepracer-*-pkg, read for this module; docs/car-bundle.md names
every file) never sees rl_coach or a checkpoint: it takes an uploaded ``<name>.tar.gz``,
finds the one ``.pb`` in it and the ``model_metadata.json`` at its root, and converts the
``.pb`` with OpenVINO's Model Optimizer, telling it the input's name and shape
(``[1, 120, 160, 1]``, NHWC), ``--scale 1`` and FP16. The inference node then feeds the
grey camera frame as float pixel values 0-255, reads the IR's first output and publishes
it; the navigation node drives the argmax of it (discrete) or clips it to [-1, 1] and maps
it linearly onto the metadata's ranges (continuous). So the graph must

* take ``main_level/agent/main/online/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA``
  (``.../agent/policy/...`` for SAC): float32 ``[batch, 120, 160, 1]``, raw 0-255, the
  division by 255 inside the graph, as rl_coach's image embedder does it;
* have one output, ``main_level/agent/main/online/network_1/ppo_head_0/policy`` (PPO) or
  ``main_level/agent/policy/online/network_0/sac_policy_head_0/policy`` (SAC): the softmax
  over the discrete actions, or the two normalised continuous actions (steering, speed).

This module rebuilds the trained policy network (the modules :class:`PolicyGraph` runs) as
a TensorFlow graph with the weights as constants — a frozen graph, what DeepRacer's
training writes with ``convert_variables_to_constants`` — under those names, and checks it
before anything is written: TensorFlow, and the graph converted by OpenVINO the way the
car converts it, must agree with torch on camera frames from racerl's simulator.

Only what the car can run is exported: the grey front camera, one frame. An RGB model, a
stacked-frame model or a state-vector model is refused with the reason. TensorFlow is
imported only here, lazily (``pip install 'racerl[car]'``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from racerl.atomic import atomic_write
from racerl.edge.runtime import METADATA_FILE, write_tar
from racerl.errors import RacerlError
from racerl.model.config import METADATA_NETWORK, TrainConfig
from racerl.train.policies import CameraCNN, ScaledAvgPool2d

# Names the car's software looks up (aws-deepracer-model-optimizer-pkg constants.py:
# NETWORK_INPUT_FORMAT_MAPPING with INPUT_HEAD_NAME_MAPPING; deepracer-simapp
# markov/boto/s3/constants.py: FROZEN_HEAD_OUTPUT_GRAPH_FORMAT_MAPPING, agent "agent").
CAR_INPUT = {
    "ppo": "main_level/agent/main/online/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA",
    "sac": "main_level/agent/policy/online/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA",
}
CAR_OUTPUT = {
    "ppo": "main_level/agent/main/online/network_1/ppo_head_0/policy",
    "sac": "main_level/agent/policy/online/network_0/sac_policy_head_0/policy",
}
# The model optimizer's --input_shape for FRONT_FACING_CAMERA: 1 x height x width x 1
# (model_optimizer_pkg: INPUT_SHAPE_FORMAT_MAPPING, INPUT_CHANNEL_SIZE_MAPPING; the size is
# the webserver's MODEL_HEIGHT / MODEL_WIDTH).
CAR_FRAME_SHAPE = (120, 160, 1)
CAR_SENSOR = "FRONT_FACING_CAMERA"
PB_FILE = "model.pb"
CAR_FOLDER = "car"
CAR_REPORT_FILE = "racerl_car.json"
CAR_FORMAT = "racerl-car"
# model_metadata.json "version": the car's software never reads it (nor neural_network);
# "5" is what racerl's model folders and DeepRacer's console write for current models.
METADATA_VERSION = "5"
# The car's loader accepts these values (deepracer_systems_pkg constants.py:
# SensorInputKeys, TrainingAlgorithms; webserver_pkg constants.py: ActionSpaceTypes).
CAR_SENSORS = ("observation", "LIDAR", "SECTOR_LIDAR", "LEFT_CAMERA", "FRONT_FACING_CAMERA",
               "STEREO_CAMERAS")
CAR_ALGORITHMS = ("clipped_ppo", "sac")
CAR_ACTION_SPACE_TYPES = ("discrete", "continuous")
TF_TOLERANCE = 1e-4  # TensorFlow and OpenVINO FP32 vs torch, as export.PARITY_TOLERANCE
# The car converts with --data_type FP16: weights rounded to half precision move the outputs
# by ~1e-4..1e-3. This bound only catches a wrong conversion (which moves them by ~0.1).
FP16_TOLERANCE = 1e-2
PARITY_FRAMES = 24  # real camera frames per lighting (studio, random), plus random frames


class CarExportError(RacerlError):
    """A model the DeepRacer car cannot run, or a car graph that disagrees with torch."""


def car_refusal(config: TrainConfig) -> str | None:
    """Why the stock car cannot run a model trained with ``config``, or None."""
    if config.observation != "camera":
        return ("it reads racerl's state vector (observation: state); the car's inference "
                "node feeds only sensor data (camera frames, LIDAR), it has no state vector")
    if config.rgb:
        return ("it was trained on RGB frames (rgb: true); the car converts every camera "
                "frame to grey before inference and its model optimizer gives the "
                "FRONT_FACING_CAMERA input one channel")
    if config.frame_stack != 1:
        return (f"it stacks {config.frame_stack} frames (frame_stack: "
                f"{config.frame_stack}); the car's model optimizer fixes the "
                "FRONT_FACING_CAMERA input at one channel, one frame")
    if config.sensors.names != ["FRONT_FACING_CAMERA"]:
        return (f"its sensors are {', '.join(config.sensors.names)}; racerl's car bundle "
                "(a TensorFlow graph under DeepRacer's tensor names) is built for the front "
                "camera alone")
    return None


def check_car_model(config: TrainConfig, name: str) -> None:
    """Refuse, before any work, a model the car cannot run; and a missing TensorFlow."""
    why = car_refusal(config)
    if why is not None:
        raise CarExportError(f"model {name!r} cannot run on the DeepRacer car: {why}. "
                             "Export it without --car (ONNX/OpenVINO for your own runtime)")
    missing = [m for m in ("tensorflow", "openvino") if importlib.util.find_spec(m) is None]
    if missing:
        raise CarExportError(f"--car writes a TensorFlow frozen graph (model.pb) and checks "
                             f"it with OpenVINO; {' and '.join(missing)} missing: "
                             "pip install 'racerl[car]'")


def car_metadata(metadata: dict, config: TrainConfig) -> dict:
    """The model's model_metadata.json with every field the car reads set for the car."""
    return {
        "action_space": metadata["action_space"],
        "action_space_type": metadata.get("action_space_type", "discrete"),
        "sensor": [CAR_SENSOR],
        "neural_network": metadata.get("neural_network", METADATA_NETWORK[config.network]),
        "training_algorithm": "clipped_ppo" if config.algorithm == "ppo" else "sac",
        "version": METADATA_VERSION,
    }


def car_archive_name(model: str) -> str:
    """The tar.gz's name: the car names the model after it, up to its first dot, with
    spaces turned into underscores, and the console's upload folder is the whole name less
    ``.tar.gz``; a name without dots or spaces keeps the two the same."""
    return model.replace(".", "_").replace(" ", "_") + ".tar.gz"


# -- torch modules to a frozen TensorFlow graph ---------------------------------------------


def policy_modules(policy_graph) -> tuple[bool, list[nn.Module]]:
    """(``normalize_images``, the modules from frame to action output) of a PolicyGraph:
    what :meth:`PolicyGraph.forward` runs, minus SB3's preprocessing (the cast and, when
    ``normalize_images``, the division by 255) and the final softmax/tanh."""
    policy = policy_graph.policy
    if policy_graph.algorithm == "sac":  # the actor: features, latent_pi, mu
        extractor, latent, head = policy.features_extractor, policy.latent_pi, policy.mu
    else:
        extractor = policy.pi_features_extractor
        latent, head = policy.mlp_extractor.policy_net, policy.action_net
    if not isinstance(extractor, CameraCNN):
        raise CarExportError(f"the car graph is built from racerl's camera networks; this "
                             f"policy's feature extractor is {type(extractor).__name__}")
    return bool(policy.normalize_images), [extractor.net, latent, head]


def _flat(modules: list[nn.Module]) -> list[nn.Module]:
    out: list[nn.Module] = []
    for module in modules:
        if isinstance(module, nn.Sequential):
            out += _flat(list(module))
        else:
            out.append(module)
    return out


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _tf_layers(tf, x, modules: list[nn.Module]):
    """The torch layers on the NHWC tensor ``x``. Convolution kernels go from torch's
    OIHW to TensorFlow's HWIO; at a flatten the next dense layer's inputs are permuted from
    torch's (C, H, W) order to the (H, W, C) order of the NHWC tensor, so no transpose
    is needed in the graph."""
    flattened: tuple[int, int, int] | None = None
    for i, m in enumerate(_flat(modules)):
        scope = f"layer_{i}_{type(m).__name__}"
        if isinstance(m, nn.AvgPool2d):
            kernel, stride = _pair(m.kernel_size), _pair(m.stride or m.kernel_size)
            if _pair(m.padding) != (0, 0) or m.ceil_mode:
                raise CarExportError(f"{m}: only unpadded, floor-mode pooling is translated")
            x = tf.nn.avg_pool2d(x, kernel, stride, "VALID", name=scope)
            if isinstance(m, ScaledAvgPool2d):  # the light network's / 255, after pooling
                x = tf.multiply(x, np.float32(m.scale), name=f"{scope}_scale")
        elif isinstance(m, nn.Conv2d):
            if _pair(m.padding) != (0, 0) or _pair(m.dilation) != (1, 1) or m.groups != 1:
                raise CarExportError(f"{m}: only valid, undilated, ungrouped convolutions "
                                     "are translated")
            kernel = m.weight.detach().cpu().numpy().transpose(2, 3, 1, 0)  # OIHW -> HWIO
            x = tf.nn.conv2d(x, tf.constant(np.ascontiguousarray(kernel), name=f"{scope}_w"),
                             (1, *_pair(m.stride), 1), "VALID", name=scope)
            if m.bias is not None:
                x = tf.nn.bias_add(x, m.bias.detach().cpu().numpy(), name=f"{scope}_b")
        elif isinstance(m, nn.Flatten):
            height, width, channels = (int(v) for v in x.shape[1:])
            flattened = (channels, height, width)
            x = tf.reshape(x, (-1, height * width * channels), name=scope)
        elif isinstance(m, nn.Linear):
            weight = m.weight.detach().cpu().numpy()  # (out, in), in torch's input order
            if flattened is not None:  # (out, C, H, W) -> (out, H, W, C)
                weight = weight.reshape(weight.shape[0], *flattened).transpose(0, 2, 3, 1)
                weight = weight.reshape(weight.shape[0], -1)
                flattened = None
            x = tf.matmul(x, tf.constant(np.ascontiguousarray(weight.T), name=f"{scope}_w"),
                          name=scope)
            if m.bias is not None:
                x = tf.nn.bias_add(x, m.bias.detach().cpu().numpy(), name=f"{scope}_b")
        elif isinstance(m, nn.ReLU):
            x = tf.nn.relu(x, name=scope)
        elif isinstance(m, nn.Tanh):
            x = tf.tanh(x, name=scope)
        elif isinstance(m, nn.Identity):
            continue
        else:
            raise CarExportError(f"no TensorFlow translation for the layer {m}")
    return x


def car_graph_def(policy_graph, discrete: bool):
    """The policy as a frozen TensorFlow GraphDef with the car's input and output names.

    The weights are constants from the start, so the graph is frozen as built: there are
    no variables for ``convert_variables_to_constants`` to fold. ``extract_sub_graph`` then
    keeps exactly the nodes the output needs, so the output is the graph's only one (the
    car's inference node reads the IR's first output).
    """
    tf = _tensorflow()
    algorithm = policy_graph.algorithm
    normalize, modules = policy_modules(policy_graph)
    graph = tf.Graph()
    with graph.as_default():
        frames = tf.compat.v1.placeholder(tf.float32, (None, *CAR_FRAME_SHAPE),
                                          name=CAR_INPUT[algorithm])
        scope = CAR_INPUT[algorithm].rsplit("/", 2)[0] + "/racerl/"
        with tf.compat.v1.name_scope(scope):
            # SB3's preprocess_obs divides by 255.0 unless the network scales itself.
            x = tf.divide(frames, np.float32(255.0), name="scale") if normalize else frames
            out = _tf_layers(tf, x, modules)
        if algorithm == "sac":  # SAC's greedy action: tanh of the Gaussian's mean
            tf.tanh(out, name=CAR_OUTPUT[algorithm])
        elif discrete:
            tf.nn.softmax(out, name=CAR_OUTPUT[algorithm])
        else:  # PPO's continuous greedy action: the mean (the car clips it to [-1, 1])
            tf.identity(out, name=CAR_OUTPUT[algorithm])
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph.as_graph_def(),
                                                          [CAR_OUTPUT[algorithm]])
    return _strip_default_attrs(graph_def)


def _strip_default_attrs(graph_def):
    """Drop every attribute that holds its op's default value, as TensorFlow's own
    ``strip_default_attrs`` export option does: newer TensorFlow adds attributes with
    defaults to old ops (``grad_a``/``grad_b`` on MatMul, ``explicit_paddings`` on Conv2D),
    and an older TensorFlow, such as the one beside the car's model optimizer, refuses a
    node with an attribute it does not know. Without them the graph means the same."""
    from tensorflow.python.framework import op_def_registry

    for node in graph_def.node:
        op_def = op_def_registry.get(node.op)
        for attr in op_def.attr if op_def is not None else ():
            if attr.HasField("default_value") and attr.name in node.attr \
                    and node.attr[attr.name] == attr.default_value:
                del node.attr[attr.name]
    return graph_def


def _tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # its start-up notes are not ours
    try:
        import tensorflow as tf
    except ImportError:
        raise CarExportError("--car writes a TensorFlow frozen graph (model.pb); tensorflow "
                             "missing: pip install 'racerl[car]'") from None
    tf.get_logger().setLevel("ERROR")  # deprecation notes on the tf.compat.v1 graph API
    return tf


# -- running the frozen graph as the car would ------------------------------------------


def run_tensorflow(pb: bytes, algorithm: str, frames: np.ndarray) -> np.ndarray:
    """The frozen graph run by TensorFlow, fed and read by the car's tensor names."""
    tf = _tensorflow()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1,
                                      inter_op_parallelism_threads=1)
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        return session.run(f"{CAR_OUTPUT[algorithm]}:0",
                           {f"{CAR_INPUT[algorithm]}:0": _car_float(frames)})


def openvino_model(pb_path: Path, algorithm: str):
    """The frozen graph converted by OpenVINO as the car's model optimizer converts it:
    the input named, shape fixed at ``[1, 120, 160, 1]``, no scale or mean (``--scale 1``),
    no output named (the graph's own)."""
    import openvino as ov

    return ov.convert_model(str(pb_path), input=[(f"{CAR_INPUT[algorithm]}:0",
                                                  [1, *CAR_FRAME_SHAPE])])


def run_openvino(model, frames: np.ndarray, fp16: bool = False) -> np.ndarray:
    """The converted graph on OpenVINO's CPU plugin, one frame per request as on the car,
    reading the first output as the car's inference node does. ``fp16``: the weights
    rounded to half precision first (the car's ``--data_type FP16``)."""
    import openvino as ov

    if len(model.outputs) != 1:
        raise CarExportError(f"the converted car graph has {len(model.outputs)} outputs; the "
                             "car reads the first, so it must have exactly one")
    core = ov.Core()
    if fp16:
        with tempfile.TemporaryDirectory(prefix="racerl-car-") as tmp:
            xml = Path(tmp) / "model.xml"
            ov.save_model(model, str(xml), compress_to_fp16=True)
            model = core.read_model(str(xml))
            compiled = core.compile_model(model, "CPU", _OV_CONFIG)
    else:
        compiled = core.compile_model(model, "CPU", _OV_CONFIG)
    request = compiled.create_infer_request()
    rows = [np.array(request.infer([frame[None]])[compiled.outputs[0]])[0]
            for frame in _car_float(frames)]
    return np.stack(rows)


# FP32 arithmetic (a CPU with bfloat16 would otherwise default to bf16), one thread.
_OV_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1}


def _car_float(frames: np.ndarray) -> np.ndarray:
    """Grey uint8 frames [n, 120, 160, 1] as the car feeds them: float32 pixel values."""
    frames = np.asarray(frames)
    if frames.shape[1:] != CAR_FRAME_SHAPE:
        raise CarExportError(f"car frames are [n, {', '.join(map(str, CAR_FRAME_SHAPE))}], "
                             f"not {list(frames.shape)}")
    return frames.astype(np.float32)


def torch_reference(policy_graph, frames: np.ndarray) -> np.ndarray:
    """What the car's output should be, from torch: the PolicyGraph's first output
    (probabilities; PPO's mean; SAC's tanh of the mean) on the uint8 frames."""
    with torch.no_grad():
        out = policy_graph(torch.from_numpy(np.ascontiguousarray(frames, dtype=np.uint8)))
    return (out[0] if isinstance(out, tuple) else out).numpy()


def camera_frames(config: TrainConfig, action_space: str, policy_graph, discrete: bool,
                  per_lighting: int = PARITY_FRAMES, seed: int = 0) -> np.ndarray:
    """Grey camera frames [n, 120, 160, 1] the model really sees: racerl's simulator on the
    model's first track, the car driven by the model's own greedy actions, in studio then
    random lighting; then a few seeded full-range random frames (values a track never
    shows)."""
    from racerl.envs.single import make_env

    frames = []
    for lighting in ("studio", "random"):
        env = make_env(track=config.tracks[0], observation="camera", action_space=action_space,
                       lighting=lighting, seed=seed)
        obs, _ = env.reset()
        for _ in range(per_lighting):
            frames.append(obs)
            action = greedy(torch_reference(policy_graph, obs[None]), discrete)[0]
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                obs, _ = env.reset()
    noise = np.random.default_rng(seed).integers(0, 256, (per_lighting // 3, *CAR_FRAME_SHAPE),
                                                  dtype=np.uint8)
    return np.concatenate([np.stack(frames), noise])


def greedy(outputs: np.ndarray, discrete: bool) -> np.ndarray:
    """The action the car drives for each output row: the argmax, or the clipped pair."""
    return outputs.argmax(axis=1) if discrete else np.clip(outputs, -1.0, 1.0)


# -- the loader's checks, as the car makes them ---------------------------------------------


def car_loader_problems(archive: bytes) -> list[str]:
    """What the car's software would reject in an uploaded tar.gz (empty: nothing).

    Mirrors deepracer_systems_pkg's model_loader_node (the archive holds exactly one model
    file, anywhere; ``model_metadata.json`` at its root) and webserver_pkg's load checks
    (known sensors, training algorithm and action space type; an action space of that type
    with steering_angle and speed, low below high). The loader's test for a model file is
    ``extension in ".pb"``, a substring test on a string, so a file with no extension counts
    as a second model too.
    """
    problems: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            models = [n for n in members if os.path.splitext(n)[1] in ".pb"]
            if len(models) != 1:
                problems.append(f"{len(models)} model files ({', '.join(models) or 'none'}); "
                                "the car takes exactly one .pb")
            member = members.get(METADATA_FILE)
            metadata = json.loads(tar.extractfile(member).read()) if member else None
    except (tarfile.TarError, OSError, json.JSONDecodeError) as exc:
        return [f"not a readable tar.gz with JSON metadata ({exc})"]
    if metadata is None:
        return [*problems, f"no {METADATA_FILE} at the archive's root"]
    sensors = metadata.get("sensor", ["observation"])
    if not isinstance(sensors, list) or not all(s in CAR_SENSORS for s in sensors):
        problems.append(f"sensor {sensors!r}: the car knows {', '.join(CAR_SENSORS)}")
    if metadata.get("training_algorithm", "clipped_ppo") not in CAR_ALGORITHMS:
        problems.append(f"training_algorithm {metadata.get('training_algorithm')!r}")
    kind = metadata.get("action_space_type", "discrete")
    if kind not in CAR_ACTION_SPACE_TYPES:
        problems.append(f"action_space_type {kind!r}")
    space = metadata.get("action_space")
    if kind == "discrete" and not (isinstance(space, list) and space and all(
            isinstance(a, dict) and {"steering_angle", "speed"} <= a.keys() for a in space)):
        problems.append("a discrete action_space is a list of {steering_angle, speed}")
    if kind == "continuous":
        try:
            if not all(space[k]["low"] < space[k]["high"] for k in ("steering_angle", "speed")):
                problems.append("continuous action_space: low must be below high")
        except (TypeError, KeyError):
            problems.append("a continuous action_space has steering_angle and speed, "
                            "each with low and high")
    return problems


# -- the export ------------------------------------------------------------------------


@dataclass(frozen=True)
class CarBundle:
    """A checked car bundle in memory: the archive's bytes and its report."""

    name: str
    archive: bytes  # the tar.gz: model.pb + model_metadata.json at its root
    report: dict  # racerl_car.json: names, conversion, parity figures

    @property
    def parity(self) -> dict[str, float]:
        return self.report["parity_max_abs_diff"]


@dataclass(frozen=True)
class CarResult:
    bundle: Path  # <out>/car/<name>.tar.gz
    report: Path  # <out>/car/racerl_car.json
    parity: dict[str, float]  # runtime -> max |runtime - torch|
    frames: int  # frames the parity was measured on


def build_car_bundle(name: str, policy_graph, config: TrainConfig, metadata: dict,
                     frames: np.ndarray, checkpoint: str) -> CarBundle:
    """Build and check the car bundle of model ``name``, in memory.

    ``frames``: grey uint8 camera frames [n, 120, 160, 1] to measure the parity on. The
    bundle is refused unless TensorFlow and OpenVINO (FP32) agree with torch to
    :data:`TF_TOLERANCE`, the FP16 conversion to :data:`FP16_TOLERANCE`, and the archive
    passes the car loader's checks.
    """
    tf = _tensorflow()
    import openvino as ov

    algorithm = policy_graph.algorithm
    discrete = metadata.get("action_space_type", "discrete") == "discrete"
    pb = car_graph_def(policy_graph, discrete).SerializeToString()
    expected = torch_reference(policy_graph, frames)
    results = {"tensorflow": run_tensorflow(pb, algorithm, frames)}
    with tempfile.TemporaryDirectory(prefix="racerl-car-") as tmp:
        pb_path = Path(tmp) / PB_FILE
        pb_path.write_bytes(pb)
        model = openvino_model(pb_path, algorithm)
        results["openvino"] = run_openvino(model, frames)
        results["openvino_fp16"] = run_openvino(model, frames, fp16=True)
    parity = {runtime: float(np.max(np.abs(got - expected))) for runtime, got in results.items()}
    for runtime, diff in parity.items():
        limit = FP16_TOLERANCE if runtime.endswith("fp16") else TF_TOLERANCE
        if not diff <= limit:
            raise CarExportError(f"car export of {name!r}: {runtime} differs from torch by "
                                 f"{diff:.2e} (> {limit:g}); nothing written")
    files = {PB_FILE: pb,
             METADATA_FILE: (json.dumps(car_metadata(metadata, config), indent=2) + "\n")
             .encode()}
    buffer = io.BytesIO()
    write_tar(buffer, files)
    problems = car_loader_problems(buffer.getvalue())
    if problems:  # our own bundle: a bug, but say so rather than ship it
        raise CarExportError(f"car bundle of {name!r} fails the car's checks: "
                             + "; ".join(problems))
    same = {runtime: float(np.mean(greedy(got, True) == greedy(expected, True)))
            for runtime, got in results.items()} if discrete else None
    report = {
        "format": CAR_FORMAT, "format_version": 1, "model": name, "checkpoint": checkpoint,
        "algorithm": config.algorithm, "network": config.network,
        "archive": car_archive_name(name), "files": list(files),
        "input": {"name": CAR_INPUT[algorithm], "shape": [None, *CAR_FRAME_SHAPE],
                  "dtype": "float32", "values": "grey pixel values 0-255, NHWC; the "
                  "division by 255 is inside the graph"},
        "output": {"name": CAR_OUTPUT[algorithm], "shape": [None, int(expected.shape[1])],
                   "meaning": _meaning(algorithm, discrete)},
        "model_optimizer": {"input": CAR_INPUT[algorithm], "input_shape": "[1,120,160,1]",
                            "scale": 1, "data_type": "FP16"},
        "parity_frames": len(frames),
        "parity_max_abs_diff": parity,
        "parity_tolerance": {"tensorflow": TF_TOLERANCE, "openvino": TF_TOLERANCE,
                             "openvino_fp16": FP16_TOLERANCE},
        **({"same_greedy_action": same} if same is not None else {}),
        "versions": {"tensorflow": tf.__version__, "openvino": ov.get_version(),
                     "torch": torch.__version__},
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return CarBundle(name, buffer.getvalue(), report)


def write_car_bundle(bundle: CarBundle, out: Path) -> CarResult:
    """The archive and its report into ``out/car/``, each written atomically."""
    folder = out / CAR_FOLDER
    archive = atomic_write(folder / car_archive_name(bundle.name),
                           lambda f: f.write(bundle.archive))
    report = atomic_write(folder / CAR_REPORT_FILE,
                          lambda f: f.write((json.dumps(bundle.report, indent=2) + "\n")
                                            .encode()))
    return CarResult(archive, report, bundle.parity, bundle.report["parity_frames"])


def remove_car_bundle(name: str, out: Path) -> None:
    """An export without --car drops an older car bundle: it would hold other weights."""
    folder = out / CAR_FOLDER
    for stale in (car_archive_name(name), CAR_REPORT_FILE):
        (folder / stale).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _meaning(algorithm: str, discrete: bool) -> str:
    if discrete:
        return "softmax over model_metadata.json's action_space; the car drives the argmax"
    what = "tanh of the policy's mean (SAC's greedy action)" if algorithm == "sac" \
        else "the policy's mean (PPO's greedy action)"
    return (f"(steering, speed) in [-1, 1]: {what}; the car clips it to [-1, 1] and maps "
            "it linearly onto the action_space's low..high")
