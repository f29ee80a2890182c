"""Edge inference: load an exported model (``racerl export``) and drive with it, torch-free.

This is the part of racerl that runs where the car runs. It reads an export — a
``<name>.tar.gz`` bundle, an export folder, or a model folder's ``export/`` — and runs its
ONNX graph with onnxruntime (or its OpenVINO IR with OpenVINO's runtime), one frame at a time
on one CPU thread, as DeepRacer's car does. Neither torch nor stable-baselines3 is imported
here, directly or through another racerl module (a test checks ``sys.modules``): the car has
no room for them, and a model that only runs next to its training code is not exported.

An export holds (file names in :data:`BUNDLE_FILES`):

* ``model.onnx``: the policy network from the camera frame to the action distribution. Its
  input is the frame exactly as the camera delivers it (``uint8``, ``[batch, 120, 160, C]``,
  channels last); the scaling to [0, 1] and the move to channels-first happen inside the graph.
  A stereo model's input is named ``STEREO_CAMERAS`` (C = 2, left and right); a model with a
  lidar has a second input named after it (``LIDAR``, ``SECTOR_LIDAR`` or
  ``DISCRETIZED_SECTOR_LIDAR``: ``float32 [batch, values]``), listed in ``inputs``.
  Outputs: ``probabilities`` over the discrete actions, or for continuous actions ``mean`` and
  ``std`` of the policy in the normalised box plus ``action``, its greedy action in [-1, 1].
* ``model.xml`` + ``model.bin``: the same graph as OpenVINO IR (when openvino was installed).
* ``model_metadata.json``: DeepRacer's metadata (action space, sensor, network, algorithm).
* ``racerl_export.json``: what a runtime needs beyond DeepRacer's metadata (the input's name,
  shape and type, the outputs, frame stacking, the track and step cap it was trained with).
* ``README.md``: what a car owner does with it.

Everything is read into memory once; nothing is extracted to disk, so a bundle that lies
(absolute paths, ``..``, links) cannot write anywhere.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from racerl.envs.actions import ActionSpace, DiscreteActions, parse_action_space
from racerl.errors import ActionSpaceError, RacerlError
from racerl.home import InvalidNameError
from racerl.model.folder import CHECKPOINTS, ModelFolder, model_folder

ONNX_FILE = "model.onnx"
IR_FILES = ("model.xml", "model.bin")
METADATA_FILE = "model_metadata.json"
CONTRACT_FILE = "racerl_export.json"
README_FILE = "README.md"
BUNDLE_FILES = (ONNX_FILE, *IR_FILES, METADATA_FILE, CONTRACT_FILE, README_FILE)
REQUIRED_FILES = (ONNX_FILE, METADATA_FILE, CONTRACT_FILE)
FORMAT = "racerl-edge"
FORMAT_VERSION = 1
RUNTIMES = ("onnxruntime", "openvino")
MAX_MEMBER_BYTES = 512 * 2**20  # no policy network of ours comes near this


class BundleError(RacerlError):
    """An export bundle or folder is missing, malformed or incomplete."""


class InputShapeError(RacerlError):
    """A frame does not fit the exported model's input (shape or type)."""


@dataclass(frozen=True)
class InputSpec:
    """One input of the graph: a sensor's observation (or racerl's state vector)."""

    name: str
    shape: tuple[int, ...]  # one observation, without the batch dimension
    dtype: str  # "uint8" (camera) or "float32" (state, lidar)


@dataclass(frozen=True)
class Contract:
    """The runtime's half of ``racerl_export.json``: how to feed the graph and read it.

    ``inputs`` lists the graph's inputs in order: one for a camera (or state) model, the
    camera's then the lidar's for a model with a lidar; ``input_*`` describe the first."""

    model: str
    algorithm: str  # "ppo" or "sac"
    observation: str  # "camera" or "state"
    input_name: str
    input_shape: tuple[int, ...]  # one observation, without the batch dimension
    input_dtype: str  # "uint8" (camera) or "float32" (state)
    outputs: tuple[str, ...]
    rgb: bool
    frame_stack: int
    track: str
    max_episode_steps: int
    raw: dict = field(repr=False, compare=False)
    inputs: tuple[InputSpec, ...] = ()


@dataclass
class Bundle:
    """An export read into memory: its files' bytes, metadata, contract and action space."""

    source: Path
    files: dict[str, bytes]
    metadata: dict
    contract: Contract
    actions: ActionSpace

    @property
    def has_openvino(self) -> bool:
        return all(name in self.files for name in IR_FILES)

    @property
    def checkpoint(self) -> str:
        """Which of the model's checkpoints was exported, "best" or "last" (an export made
        before racerl kept a best checkpoint says nothing: it was of the last)."""
        return str(self.contract.raw.get("checkpoint", "last"))


def check_export_checkpoint(bundle: Bundle, wanted: str) -> str | None:
    """Refuse a model folder's export made from another checkpoint than the ``wanted`` one
    (``best`` or ``last``, as :meth:`ModelFolder.checkpoint` resolves it for that model);
    return the note to show when the model has no best checkpoint. A bundle or export
    folder outside a model folder is taken as it is."""
    if wanted not in CHECKPOINTS:
        raise RacerlError(f"checkpoint {wanted!r}: choose best or last")
    folder = ModelFolder(bundle.source.parent)
    if not (folder.exists() and folder.export_dir == bundle.source):
        return None
    chosen = folder.checkpoint(wanted)
    if bundle.checkpoint != chosen.kind:
        raise BundleError(f"{bundle.source}: made from the {bundle.checkpoint} checkpoint of "
                          f"model {folder.name!r}, not its {chosen.kind} one; run 'racerl "
                          f"export {folder.name} --checkpoint {chosen.kind}', or drive it with "
                          f"--checkpoint {bundle.checkpoint}")
    return chosen.note


def load_bundle(target: str | Path) -> Bundle:
    """A ``.tar.gz`` bundle, an export folder, a model folder (its ``export/``) or a model
    name, read and checked; every problem is a :class:`BundleError` naming the file."""
    path = _resolve(target)
    files = _read_tar(path) if path.is_file() else _read_folder(path)
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise BundleError(f"{path}: not a racerl export, {', '.join(missing)} missing "
                          f"(an export holds {', '.join(BUNDLE_FILES)}; make one with "
                          "'racerl export MODEL')")
    metadata = member_json(files[METADATA_FILE], path, METADATA_FILE)
    try:
        actions = parse_action_space(metadata, f"{path}: {METADATA_FILE}")
    except ActionSpaceError as exc:
        raise BundleError(str(exc)) from None
    contract = parse_contract(member_json(files[CONTRACT_FILE], path, CONTRACT_FILE), path, actions)
    return Bundle(path, files, metadata, contract, actions)


def _resolve(target: str | Path) -> Path:
    text = str(target)
    path = Path(text).expanduser()
    if not path.exists() and "/" not in text and not text.endswith((".gz", ".tgz")):
        try:
            path = model_folder(text).root  # a model name
        except InvalidNameError:  # not even a usable model name
            raise BundleError(f"{text!r} is neither a bundle, an export folder nor a "
                              "model") from None
        if not path.exists():
            raise BundleError(f"{text!r} is neither a bundle, an export folder nor a model "
                              f"(no {path})")
    if not path.exists():
        raise BundleError(f"{path}: no such bundle or folder")
    folder = ModelFolder(path)
    if path.is_dir() and not (path / CONTRACT_FILE).exists() and folder.exists():
        export = folder.export_dir
        if not (export / CONTRACT_FILE).is_file():
            raise BundleError(f"model folder {path} has no export yet ({export} missing); "
                              f"run 'racerl export {path.name}' first")
        return export
    return path


def _read_tar(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("./")
                if member.isdir():
                    continue
                if not member.isfile() or "/" in name or name.startswith("."):
                    raise BundleError(f"{path}: unexpected member {member.name!r} (a bundle "
                                      f"holds only plain files: {', '.join(BUNDLE_FILES)})")
                if name not in BUNDLE_FILES:
                    continue  # a newer racerl may add files; this one ignores them
                if member.size > MAX_MEMBER_BYTES:
                    raise BundleError(f"{path}: {name} is {member.size} bytes, too large")
                files[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        what = " ".join(str(exc).split())
        if path.stat().st_size == 0:
            what = "an empty file"
        elif isinstance(exc, tarfile.ReadError) and "could not be opened" in what:
            what = "not a .tar.gz archive"  # rather than every compression tarfile tried
        raise BundleError(f"{path}: not a readable .tar.gz bundle ({what})") from None
    return files


def _read_folder(path: Path) -> dict[str, bytes]:
    try:
        return {name: (path / name).read_bytes() for name in BUNDLE_FILES
                if (path / name).is_file()}
    except OSError as exc:
        raise BundleError(f"{exc.filename}: cannot be read ({exc.strerror})") from None


def member_json(data: bytes, path: Path | str, name: str) -> dict:
    """A bundle member's JSON object, or one error naming the bundle and the member."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: {name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BundleError(f"{path}: {name} must hold a JSON object")
    return value


def parse_contract(raw: dict, path: Path, actions: ActionSpace) -> Contract:
    """Check ``racerl_export.json`` against itself and the metadata's action space."""
    where = f"{path}: {CONTRACT_FILE}"
    if raw.get("format") != FORMAT or raw.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{where}: expected format {FORMAT!r} version {FORMAT_VERSION}, "
                          f"found {raw.get('format')!r} version {raw.get('format_version')!r}")
    try:
        specs = raw["inputs"] if "inputs" in raw else [raw["input"]]  # older exports: one
        inputs = tuple(InputSpec(str(spec["name"]), tuple(int(v) for v in spec["shape"][1:]),
                                 str(spec["dtype"])) for spec in specs)
        contract = Contract(
            model=str(raw["model"]), algorithm=str(raw["algorithm"]),
            observation=str(raw["observation"]), input_name=inputs[0].name,
            input_shape=inputs[0].shape, input_dtype=inputs[0].dtype,
            outputs=tuple(str(o) for o in raw["outputs"]),
            rgb=bool(raw["rgb"]), frame_stack=int(raw["frame_stack"]), track=str(raw["track"]),
            max_episode_steps=int(raw["max_episode_steps"]), raw=raw, inputs=inputs)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise BundleError(f"{where}: malformed ({type(exc).__name__}: {exc})") from None
    expected = ("probabilities",) if isinstance(actions, DiscreteActions) else \
        ("action", "mean", "std")
    if contract.outputs != expected:
        raise BundleError(f"{where}: outputs {list(contract.outputs)} do not match the "
                          f"{METADATA_FILE} action space (expected {list(expected)})")
    for spec in contract.inputs:
        if spec.dtype not in ("uint8", "float32"):
            raise BundleError(f"{where}: input {spec.name!r} dtype must be uint8 or float32, "
                              f"not {spec.dtype!r}")
    return contract


Feed = dict[str, np.ndarray]
"""The graph's inputs by name, each a batch ``[n, *shape]``."""


class EdgePolicy:
    """The exported network on one runtime: frames in, action out, greedy like training's
    evaluation (argmax of the probabilities, or the ``action`` output).

    ``policy(obs)`` takes one observation, as the env returns it (an image, or for a model
    with a lidar a dict with one entry per sensor), so it plugs straight into
    :func:`racerl.evaluate.evaluation.run_trials`; :attr:`latencies_ms` collects the time of
    every call to the runtime.
    """

    def __init__(self, bundle: Bundle, runtime: str = "onnxruntime", threads: int = 1):
        if runtime not in RUNTIMES:
            raise RacerlError(f"runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")
        self.bundle, self.contract, self.runtime = bundle, bundle.contract, runtime
        self.dtype = np.dtype(self.contract.input_dtype)
        self._run = _onnxruntime(bundle, threads) if runtime == "onnxruntime" \
            else _openvino(bundle, threads)
        # The first call of either runtime allocates and plans; a car does that before it
        # drives, so it is not counted as a frame's latency.
        self._run({spec.name: np.zeros((1, *spec.shape), spec.dtype)
                   for spec in self.contract.inputs})
        self.latencies_ms: list[float] = []

    def check(self, batch: np.ndarray | Feed) -> Feed:
        """``batch`` as the graph's inputs (an array for a one-input graph, a dict by input
        name otherwise), or an :class:`InputShapeError` saying why not."""
        specs = self.contract.inputs
        if not isinstance(batch, dict):
            if len(specs) > 1:
                raise InputShapeError(
                    f"model {self.contract.model!r} takes {len(specs)} inputs, one per "
                    f"sensor ({', '.join(s.name for s in specs)}), given as a dict")
            batch = {specs[0].name: batch}
        missing = [s.name for s in specs if s.name not in batch]
        if missing:
            raise InputShapeError(f"model {self.contract.model!r} needs input(s) "
                                  f"{', '.join(missing)}, got {', '.join(batch) or 'none'}")
        return {spec.name: self._checked(spec, np.asarray(batch[spec.name])) for spec in specs}

    def _checked(self, spec: InputSpec, batch: np.ndarray) -> np.ndarray:
        what = self.contract.observation if len(self.contract.inputs) == 1 else spec.name
        if batch.ndim != len(spec.shape) + 1 or batch.shape[1:] != spec.shape:
            raise InputShapeError(
                f"model {self.contract.model!r} takes {what} input of "
                f"shape {spec.shape} ({spec.dtype}), got shape {batch.shape[1:]}")
        if spec.dtype == "uint8" and batch.dtype != np.uint8:
            raise InputShapeError(
                f"model {self.contract.model!r} takes raw uint8 camera frames (0-255, "
                f"scaled inside the graph), got {batch.dtype}")
        return np.ascontiguousarray(batch, dtype=spec.dtype)

    def outputs(self, batch: np.ndarray | Feed) -> dict[str, np.ndarray]:
        """All graph outputs for a batch ``[n, *input_shape]`` (a dict of them by input
        name for a graph of several inputs)."""
        feed = self.check(batch)
        start = time.perf_counter()
        values = self._run(feed)
        self.latencies_ms.append((time.perf_counter() - start) * 1e3)
        return dict(zip(self.contract.outputs, values, strict=True))

    def greedy(self, out: dict[str, np.ndarray]) -> np.ndarray:
        """Greedy actions of a batch of outputs: action ids, or actions in [-1, 1]²."""
        if "probabilities" in out:
            return np.argmax(out["probabilities"], axis=-1)
        return np.clip(out["action"], -1.0, 1.0).astype(np.float32)

    def __call__(self, obs: np.ndarray | Feed):
        one = {k: np.asarray(v)[None] for k, v in obs.items()} if isinstance(obs, dict) \
            else np.asarray(obs)[None]
        action = self.greedy(self.outputs(one))[0]
        return int(action) if action.ndim == 0 else action

    def physical(self, action) -> tuple[float, float]:
        """An action as (steering degrees, speed m/s), through the bundle's action space."""
        steer, speed = self.bundle.actions.to_physical(np.asarray(action))
        return float(steer), float(speed)


def _onnxruntime(bundle: Bundle, threads: int) -> Callable[[Feed], list[np.ndarray]]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise RacerlError("racerl drive needs onnxruntime: pip install 'racerl[export]'") \
            from None

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(bundle.files[ONNX_FILE], options,
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for every kind of bad file
        raise BundleError(f"{bundle.source}: {ONNX_FILE} does not load in onnxruntime "
                          f"({str(exc).splitlines()[0][:200]})") from None
    _check_io(bundle, [i.name for i in session.get_inputs()],
              [o.name for o in session.get_outputs()], ONNX_FILE)
    names = list(bundle.contract.outputs)
    return lambda feed: session.run(names, feed)


def _openvino(bundle: Bundle, threads: int) -> Callable[[Feed], list[np.ndarray]]:
    if not bundle.has_openvino:
        raise BundleError(f"{bundle.source}: no OpenVINO IR ({' and '.join(IR_FILES)}) in this "
                          "export; export again with the openvino package installed")
    try:
        import openvino as ov
    except ImportError:
        raise RacerlError("--runtime openvino needs openvino: pip install 'racerl[export]'") \
            from None

    core = ov.Core()
    try:
        model = core.read_model(bundle.files[IR_FILES[0]].decode("utf-8"),
                                ov.Tensor(np.frombuffer(bundle.files[IR_FILES[1]], np.uint8)))
        compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                     "PERFORMANCE_HINT": "LATENCY",
                                                     "INFERENCE_PRECISION_HINT": "f32"})
    except Exception as exc:  # OpenVINO reports every bad file as a RuntimeError of its own
        # Its text starts with where in OpenVINO's C++ it failed; the last line says what.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise BundleError(f"{bundle.source}: the OpenVINO IR ({' and '.join(IR_FILES)}) does "
                          f"not load ({(lines[-1] if lines else type(exc).__name__)[:200]})") \
            from None
    _check_io(bundle, [p.get_any_name() for p in compiled.inputs],
              [p.get_any_name() for p in compiled.outputs], IR_FILES[0])
    request = compiled.create_infer_request()
    outputs = [compiled.output(name) for name in bundle.contract.outputs]

    order = [spec.name for spec in bundle.contract.inputs]

    def run(feed: Feed) -> list[np.ndarray]:
        result = request.infer({k: feed[name] for k, name in enumerate(order)})
        return [np.array(result[port]) for port in outputs]

    return run


def _check_io(bundle: Bundle, inputs: list[str], outputs: list[str], name: str) -> None:
    contract = bundle.contract
    names = [spec.name for spec in contract.inputs]
    if inputs != names or set(outputs) != set(contract.outputs):
        said = repr(names[0]) if len(names) == 1 else str(names)
        raise BundleError(f"{bundle.source}: {name} has inputs {inputs} and outputs {outputs}, "
                          f"but {CONTRACT_FILE} says {said} and "
                          f"{list(contract.outputs)}")


def write_tar(target, files: dict[str, bytes]) -> None:
    """Write ``files`` as a flat gzip tar to the binary file object ``target``."""
    now = time.time()
    with tarfile.open(fileobj=target, mode="w:gz") as tar:
        for name in sorted(files, key=lambda n: BUNDLE_FILES.index(n)
                           if n in BUNDLE_FILES else len(BUNDLE_FILES)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), int(now), 0o644
            tar.addfile(info, io.BytesIO(files[name]))
