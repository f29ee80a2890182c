"""An uploaded bundle, checked before anything in it runs, and the entrant it drives as.

A bundle from another machine is data: ``model.onnx`` (a graph, run by onnxruntime, never
Python) and JSON. Still, every check that can be made without running it is made first,
on the bytes in memory (nothing is extracted to disk):

1. size: the upload (:data:`MAX_BUNDLE_BYTES`) and every member as its header declares it,
   before it is read (a gzip bomb stops at the header);
2. layout: a flat tar of regular files named as ``racerl export`` names them, each once; a
   link, a folder, an absolute path, ``..``, or any other member is refused;
3. ``model_metadata.json`` parses as a DeepRacer action space, ``racerl_export.json`` as a
   racerl export contract that agrees with it;
4. ``model.onnx`` loads and passes ``onnx.checker``, uses only the standard ONNX domain at
   an opset in :data:`OPSETS`, only the operators of :data:`ALLOWED_OPS` (plain network
   layers: no control flow, no random numbers, no custom or external code), no external
   data; its one input is the frame or state vector the race's simulator feeds for the
   sensor the bundle declares.

Only then is the bundle queued; its evaluation (onnxruntime on one CPU thread, the race's
own track, laps, lighting, penalties and seed) runs in a process of its own.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from pathlib import Path

import numpy as np

from racerl.camera.pixels import FRAME_HEIGHT, FRAME_WIDTH
from racerl.drive.policy import PolicyDriver
from racerl.edge.runtime import (
    BUNDLE_FILES,
    CONTRACT_FILE,
    METADATA_FILE,
    ONNX_FILE,
    REQUIRED_FILES,
    Bundle,
    BundleError,
    EdgePolicy,
    member_json,
    parse_contract,
)
from racerl.envs.actions import parse_action_space
from racerl.envs.cars import STATE_SIZE
from racerl.errors import ActionSpaceError
from racerl.evaluate.evaluation import Entrant

MAX_BUNDLE_BYTES = 32 * 2**20
"""An upload's cap: the camera networks racerl exports are a few MB; DeepRacer's own are
under 20 MB."""
MAX_UNPACKED_BYTES = 4 * MAX_BUNDLE_BYTES
MAX_FRAME_STACK = 8
OPSETS = range(13, 22)
"""ONNX opsets accepted: racerl exports at 18; 13 to 21 covers what torch and tf2onnx
write and what onnxruntime 1.20+ runs."""
ALLOWED_OPS = frozenset({
    # layers
    "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Dropout",
    # activations
    "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "Tanh", "Softmax",
    "LogSoftmax", "Softplus", "Gelu", "HardSwish", "Mish", "PRelu", "Clip",
    # arithmetic
    "Add", "Sub", "Mul", "Div", "Neg", "Abs", "Exp", "Log", "Sqrt", "Pow", "Reciprocal",
    "Max", "Min", "Sum", "Mean", "Floor", "Ceil", "Round", "Erf", "ReduceMean", "ReduceSum",
    "ReduceMax", "ReduceMin", "ArgMax", "ArgMin",
    # shapes and types
    "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice",
    "Gather", "Shape", "Cast", "Constant", "ConstantOfShape", "Identity", "Expand", "Tile",
    "Pad", "Resize", "Where", "Equal", "Greater", "Less", "Not",
})


def check_upload(data: bytes, source: str = "upload") -> Bundle:
    """The bundle in ``data`` (a ``racerl export`` .tar.gz), checked as the module says;
    every problem is one :class:`BundleError` naming the file and what is wrong."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{source}: {len(data)} bytes, over the {MAX_BUNDLE_BYTES} byte "
                          "limit for a bundle")
    files = _members(data, source)
    path = Path(source)
    metadata = member_json(files[METADATA_FILE], source, METADATA_FILE)
    try:
        actions = parse_action_space(metadata, f"{source}: {METADATA_FILE}")
    except ActionSpaceError as exc:
        raise BundleError(str(exc)) from None
    contract = parse_contract(member_json(files[CONTRACT_FILE], source, CONTRACT_FILE), path,
                              actions)
    bundle = Bundle(path, files, metadata, contract, actions)
    _check_graph(bundle, source)
    return bundle


def _members(data: bytes, source: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                name = member.name
                if name.startswith("/") or ".." in name.split("/") or "/" in name:
                    raise BundleError(f"{source}: member {name!r} is not a plain file name "
                                      "(no folders, absolute paths or '..')")
                if not member.isreg():
                    raise BundleError(f"{source}: member {name!r} is not a regular file "
                                      "(no links, folders or devices)")
                if name not in BUNDLE_FILES:
                    raise BundleError(f"{source}: unexpected member {name!r} (a bundle holds "
                                      f"only {', '.join(BUNDLE_FILES)})")
                if name in files:
                    raise BundleError(f"{source}: member {name!r} appears twice")
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise BundleError(f"{source}: unpacks to over {MAX_UNPACKED_BYTES} bytes")
                files[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BundleError(f"{source}: not a readable .tar.gz bundle "
                          f"({' '.join(str(exc).split()) or type(exc).__name__})") from None
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise BundleError(f"{source}: {', '.join(missing)} missing (make the bundle with "
                          "`racerl export MODEL`)")
    return files




def expected_input(observation: str, rgb: bool, frame_stack: int) -> tuple[tuple[int, ...], str]:
    """The shape of one observation and its type, as the simulator feeds the sensor."""
    if observation == "camera":
        return (FRAME_HEIGHT, FRAME_WIDTH, (3 if rgb else 1) * frame_stack), "uint8"
    if observation == "state":
        return (STATE_SIZE,), "float32"
    raise BundleError(f"observation {observation!r}: a race feeds 'camera' or 'state'")


def _check_graph(bundle: Bundle, source: str) -> None:
    import onnx

    where = f"{source}: {ONNX_FILE}"
    try:
        model = onnx.load_model_from_string(bundle.files[ONNX_FILE])
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ...
        raise BundleError(f"{where} is not a valid ONNX model "
                          f"({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})"
                          ) from None
    for opset in model.opset_import:
        if opset.domain not in ("", "ai.onnx") or opset.version not in OPSETS:
            raise BundleError(f"{where}: opset {opset.domain or 'ai.onnx'} "
                              f"{opset.version} is not accepted (ai.onnx {OPSETS.start} to "
                              f"{OPSETS.stop - 1})")
    if len(model.functions):
        raise BundleError(f"{where}: local functions are not accepted, only plain operators")
    used = {node.op_type for node in model.graph.node}
    refused = sorted(used - ALLOWED_OPS)
    if refused:
        raise BundleError(f"{where}: operators {', '.join(refused)} are not accepted (a policy "
                          "network needs only plain layers)")
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise BundleError(f"{where}: weights in external files are not accepted")
    c = bundle.contract
    if not 1 <= c.frame_stack <= MAX_FRAME_STACK:
        raise BundleError(f"{source}: {CONTRACT_FILE}: frame_stack {c.frame_stack}, "
                          f"use 1 to {MAX_FRAME_STACK}")
    shape, dtype = expected_input(c.observation, c.rgb, c.frame_stack)
    initialised = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initialised]
    if len(inputs) != 1 or inputs[0].name != c.input_name:
        raise BundleError(f"{where}: inputs {[i.name for i in inputs]}, expected one, "
                          f"{c.input_name!r} as {CONTRACT_FILE} says")
    tensor = inputs[0].type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
    elem = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type) if tensor.elem_type else None
    if dims[1:] != shape or c.input_shape != shape or elem != np.dtype(dtype):
        raise BundleError(f"{where}: input {c.input_name!r} is {list(dims[1:])} {elem}, but "
                          f"the race feeds the {c.observation} sensor as {list(shape)} {dtype}")


def bundle_entrant(bundle: Bundle, racer: str, folder: Path) -> Entrant:
    """The racer's bundle as an entrant: onnxruntime on one thread, greedy actions."""
    policy = EdgePolicy(bundle, runtime="onnxruntime", threads=1)
    c = bundle.contract

    def drive(batch: np.ndarray) -> np.ndarray:
        return policy.greedy(policy.outputs(batch))

    driver = PolicyDriver(drive, bundle.actions, f"{racer} ({c.model} on onnxruntime)",
                          observation=c.observation, rgb=c.rgb, frame_stack=c.frame_stack)
    digest = hashlib.sha256(bundle.files[ONNX_FILE]).hexdigest()
    identity = {"racer": racer, "model": c.model, "model_hash": digest,
                "algorithm": c.algorithm, "trained_on": c.track, "runtime": "onnxruntime"}
    return Entrant(racer, driver, folder, identity, c.track)
