"""The model folder ("garage"): everything about one trained car, in DeepRacer's layout.

``$RACERL_HOME/models/<name>/`` holds::

    config.yaml                    the TrainConfig of the run
    reward_function.py             a copy of the user's reward function, as trained
    model/model_metadata.json      action space, sensor, network, algorithm (DeepRacer layout)
    model/deepracer_checkpoints.json   last and best checkpoint (DeepRacer's bookkeeping file)
    ip/hyperparameters.json        DeepRacer's hyperparameter keys
    checkpoints/latest.zip         stable-baselines3 weights + optimiser state, atomic
    checkpoints/state.json         iteration, steps, episodes, elapsed time of that checkpoint
    checkpoints/previous/          the checkpoint before it (the same files), kept so that
                                   a damaged latest one is not the end of the run
    checkpoints/replaced-<time>/   a latest checkpoint that ``--from-previous`` replaced
    checkpoints/best.zip           the weights of the best evaluation during training so far
    checkpoints/best.json          that evaluation (the best-so-far record a resume goes on from)
    training_metrics.json          one entry per training episode and per evaluation lap
    metrics/training/training-<time>-<name>.json   the same episodes in DeepRacer's metrics
                                   format (deepracer-utils' ``TrainingMetrics``)
    sim-trace/training/training-simtrace/<i>-iteration.csv   one per DeepRacer iteration
                                   (num_episodes_between_training whole episodes)
    logs/training/training-<time>-<name>-robomaker.log   DeepRacer's simulation log: the
                                   same steps as SIM_TRACE_LOG lines, and the header
                                   log analysis reads (:mod:`racerl.model.robomaker_log`)
    logs/                          TensorBoard event files

Every file is written atomically (temp file, then rename), so a crash or ``kill -9`` at any
moment leaves the previous checkpoint and metadata intact and loadable.

Commands that drive a model take the best checkpoint unless told ``last``
(:meth:`ModelFolder.checkpoint`); a model trained before racerl kept a best checkpoint, or
never evaluated, has only the last, and says so.

A model is created, trained and replaced only by name (:func:`named_model_folder`), so only
ever under the home; reading commands also take a model folder's path
(:func:`model_folder`). A training run holds ``$RACERL_HOME/models/.<name>.lock``
(:func:`training_lock`) through its checks, the replacement and every write, and ``--force``
deletes only a folder that is a model (:func:`remove_model_folder`).

Files can still be damaged from outside: a copy cut short, a full disk during a sync, an
editor. Every reader here checks what it reads and raises :class:`DamagedFileError` naming
the file and what is wrong with it, so a command says so in one line; a resume whose latest
checkpoint is damaged says whether the previous one is usable
(:func:`previous_checkpoint_note`), and ``--from-previous`` continues from it
(:func:`restore_previous_checkpoint`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from racerl.atomic import atomic_write, atomic_write_json
from racerl.camera.sensors import SensorError, Sensors, metadata_sensors
from racerl.envs.actions import ActionSpace, load_action_space
from racerl.errors import RacerlError
from racerl.home import NAME_PATTERN, NAME_RULE, InvalidNameError, check_name, racerl_home
from racerl.model.config import (
    METADATA_NETWORK,
    TrainConfig,
    hyperparameters_json,
    load_saved_config,
)
from racerl.model.deepracer_metrics import (
    METRICS_VERSION,
    best_model_metric_name,
    write_training_metrics,
)
from racerl.model.robomaker_log import start_training_log, world_name
from racerl.model.simtrace import training_trace_path

EXPORT_DIR = "export"  # where ``racerl export NAME`` writes the car's bundle by default
CHECKPOINTS = ("best", "last")


STATE_KEYS = ("iteration", "num_timesteps", "episodes", "metrics_count")
"""What every checkpoint's state.json has recorded since the first racerl version."""
METRIC_KEYS = ("episode", "iteration", "reward", "progress", "completed_lap")
"""What every training_metrics.json entry has held since the first version (and the
training chart reads)."""
SB3_MEMBERS = ("data", "policy.pth")
"""Members of every stable-baselines3 checkpoint zip: the settings and the weights."""


class GarageError(RacerlError):
    """A model folder is missing or incomplete, or something else is in its place."""


class ModelBusyError(GarageError):
    """Another process is training this model right now."""


class DamagedFileError(GarageError):
    """A file of a model folder is there but not what racerl wrote: empty, cut short,
    overwritten, or missing beside the files that need it."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class CheckpointFiles:
    """One checkpoint's files: the weights, the state that says where training was when
    they were saved, and the reward normaliser's statistics (runs that normalise rewards)."""

    directory: Path

    weights = property(lambda self: self.directory / "latest.zip")
    state_path = property(lambda self: self.directory / "state.json")
    normalizer_path = property(lambda self: self.directory / "vecnormalize.pkl")

    def files(self) -> tuple[Path, Path, Path]:
        return self.weights, self.state_path, self.normalizer_path

    def check(self) -> dict:
        """The checkpoint's state once its weights and state are checked whole; a
        :class:`DamagedFileError` names the first file that is not, or is missing."""
        if not self.weights.is_file():
            raise DamagedFileError(self.weights, "missing")
        problem = weights_problem(self.weights)
        if problem is not None:
            raise DamagedFileError(self.weights, problem)
        if not self.state_path.is_file():
            raise DamagedFileError(self.state_path, "missing (it records the iteration and "
                                                    "episodes of the weights beside it)")
        return read_state(self.state_path)


def models_dir() -> Path:
    return racerl_home() / "models"


@dataclass(frozen=True)
class Checkpoint:
    """The weights a command drives with, and which of the model's checkpoints they are."""

    path: Path
    kind: str
    """Which file it is, "best" or "last" (the one actually used)."""
    note: str | None = None
    """Why it is not the one asked for (the best was asked for and there is none)."""


@dataclass(frozen=True)
class ModelFolder:
    """Paths inside one model folder."""

    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    latest = property(lambda self: CheckpointFiles(self.root / "checkpoints"))
    previous = property(lambda self: CheckpointFiles(self.root / "checkpoints" / "previous"))
    config_path = property(lambda self: self.root / "config.yaml")
    reward_path = property(lambda self: self.root / "reward_function.py")
    metadata_path = property(lambda self: self.root / "model" / "model_metadata.json")
    checkpoint_path = property(lambda self: self.latest.weights)
    normalizer_path = property(lambda self: self.latest.normalizer_path)
    state_path = property(lambda self: self.latest.state_path)
    best_checkpoint_path = property(lambda self: self.root / "checkpoints" / "best.zip")
    best_record_path = property(lambda self: self.root / "checkpoints" / "best.json")
    metrics_path = property(lambda self: self.root / "training_metrics.json")
    logs_dir = property(lambda self: self.root / "logs")
    export_dir = property(lambda self: self.root / EXPORT_DIR)
    lock_path = property(lambda self: self.root.parent / f".{self.root.name}.lock")

    def exists(self) -> bool:
        """Whether this is a model: racerl writes config.yaml first, and lists, reads and
        replaces only folders that have it."""
        return self.config_path.is_file()

    def config(self) -> TrainConfig:
        if not self.exists():
            raise GarageError(f"{self.root}: no model here (config.yaml missing); "
                              f"models: {', '.join(list_models()) or 'none yet'}")
        return load_saved_config(self.config_path)

    def action_space(self) -> ActionSpace:
        return load_action_space(self.metadata_path)

    def state(self) -> dict:
        """The bookkeeping of the last checkpoint, or an empty dict before the first one."""
        if not self.state_path.is_file():
            return {}
        return read_state(self.state_path)

    def best_record(self) -> dict | None:
        """The evaluation that made checkpoints/best.zip, or None when there is none."""
        if not self.best_record_path.is_file():
            return None
        return json.loads(self.best_record_path.read_text(encoding="utf-8"))

    def checkpoint(self, which: str = "best") -> Checkpoint:
        """The weights to drive with: ``best`` (the best evaluation during training; the
        last, with a note, when there is none yet) or ``last`` (the latest weights)."""
        if which not in CHECKPOINTS:
            raise GarageError(f"checkpoint {which!r}: choose best or last")
        if not self.exists():
            self.config()  # raises the error that says there is no model here
        if which == "best" and self.best_checkpoint_path.is_file():
            return Checkpoint(self.best_checkpoint_path, "best")
        if not self.checkpoint_path.is_file():
            raise GarageError(f"{self.root}: no checkpoint yet")
        if which == "best":
            return Checkpoint(self.checkpoint_path, "last", note=(
                f"model {self.name!r} has no best checkpoint (no evaluation during training: "
                "trained before racerl kept one, with eval_every 0, or stopped before its "
                "first evaluation); using its last checkpoint"))
        return Checkpoint(self.checkpoint_path, "last")

    def metrics(self) -> list[dict]:
        """One entry per training episode so far, checked; empty before the first one."""
        if not self.metrics_path.is_file():
            return []
        return read_metrics(self.metrics_path)


def named_model_folder(name: str) -> ModelFolder:
    """The folder of model ``name`` under the racerl home; ``name`` must be a name
    (:func:`racerl.home.check_name`). Everything that creates or replaces a model goes
    through here, so no name can reach outside the home."""
    return ModelFolder(models_dir() / check_name(name, "model"))


def model_folder(name: str | Path) -> ModelFolder:
    """A model to read, by name (under the racerl home) or by the path of its folder.

    Reading commands (evaluate, plot, export, clone's source) accept a model folder kept
    anywhere; anything with a '/' or a leading '~' is such a path, a bare word is a name.
    """
    text = str(name)
    if "/" in text or text.startswith("~"):
        return ModelFolder(Path(text).expanduser())
    if not NAME_PATTERN.fullmatch(text):
        raise InvalidNameError(f"model {text!r}: neither a model name ({NAME_RULE}) nor a "
                               f"folder path (write one with a '/', e.g. ./{text})")
    return named_model_folder(text)


def list_models() -> list[str]:
    root = models_dir()
    return sorted(p.name for p in root.iterdir() if (p / "config.yaml").is_file()) \
        if root.is_dir() else []


@contextlib.contextmanager
def training_lock(folder: ModelFolder) -> Iterator[None]:
    """Hold the model's training lock for the block, or refuse at once if another process
    holds it: two runs of one model would interleave their checkpoints and traces, and a
    ``--force`` run would delete a folder another run is writing.

    An exclusive ``flock``, which the kernel releases when the process ends, however it ends,
    so a killed run never leaves a stale lock. The lock file sits beside the folder, not in
    it: ``--force`` empties the folder and a failed start removes it, and neither may unlink
    a lock file another process has open (it would then lock a file nobody else can see).
    """
    folder.lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.lock_path, "a") as lock:  # "a": create it, never truncate it
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ModelBusyError(f"model {folder.name!r} is being trained by another racerl "
                                 f"process (it holds {folder.lock_path}); wait for that run "
                                 "to end, or choose another --name") from None
        yield  # closing the file releases the lock


def is_training(folder: ModelFolder) -> bool:
    """Whether a process holds the model's training lock right now (a run is going).

    It tries the lock without waiting and lets go at once; a run starting in that instant
    is refused as if another run held the lock, so callers (the web console's garage) ask
    only to show a status, never in a loop."""
    if not folder.lock_path.is_file():
        return False
    with open(folder.lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def check_can_create(folder: ModelFolder, force: bool) -> None:
    """Refuse to create a model where something is in the way: a model unless ``force``
    (it is then replaced), and always anything that is not a model, which racerl neither
    writes into nor deletes. A missing or empty folder is free."""
    root = folder.root
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise GarageError(f"{root} exists and is not a folder; racerl will not replace it: "
                          "move it away, or choose another --name")
    if folder.exists():
        if not force:
            state = "" if folder.checkpoint_path.is_file() else " (no checkpoint yet)"
            raise GarageError(f"model {folder.name!r} already exists at {root}{state}; use "
                              "--resume to continue it, --force to replace it, or another "
                              "--name")
    elif root.is_dir() and any(root.iterdir()):
        raise GarageError(f"{root} holds files but no racerl model (no config.yaml); racerl "
                          "will neither write into it nor delete it: move the files away, "
                          "or choose another --name")


def remove_model_folder(folder: ModelFolder) -> None:
    """Delete a model's folder (or an empty one) to replace it; anything else is refused,
    checked again here, at the moment of deleting."""
    check_can_create(folder, force=True)
    if folder.root.exists():
        shutil.rmtree(folder.root)


def create_model_folder(folder: ModelFolder, config: TrainConfig, reward_source: Path,
                        actions: ActionSpace) -> None:
    """Write the folder's static files: config, reward copy, metadata, hyperparameters,
    and the training log's header (which repeats the last two). The sim-trace folder is
    there from the start, so log analysis sees DeepRacer's console layout before the
    first iteration ends."""
    folder.root.mkdir(parents=True, exist_ok=True)
    config.save(folder.config_path)
    atomic_write(folder.reward_path, lambda f: f.write(Path(reward_source).read_bytes()))
    atomic_write_json(folder.metadata_path, model_metadata(config, actions))
    atomic_write_json(folder.root / "ip" / "hyperparameters.json", hyperparameters_json(config))
    training_trace_path(folder.root, 0).parent.mkdir(parents=True, exist_ok=True)
    start_training_log(folder.root, world_name(config.track))


def model_metadata(config: TrainConfig, actions: ActionSpace) -> dict:
    """DeepRacer's model_metadata.json for this config (reference section 5)."""
    meta = actions.to_metadata()
    sensors = config.sensors.metadata() if config.observation == "camera" \
        else {"sensor": ["RACERL_STATE"]}
    return {
        "action_space": meta["action_space"],
        "action_space_type": meta["action_space_type"],
        **sensors,
        "neural_network": METADATA_NETWORK[config.network],
        "training_algorithm": "clipped_ppo" if config.algorithm == "ppo" else "sac",
        "version": "5",
    }


def read_sensors(path: Path) -> Sensors:
    """The sensors a model_metadata.json lists (``sensor``, ``lidar_config``), checked as
    DeepRacer checks them; a file without ``sensor`` has DeepRacer's single camera."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DamagedFileError(path, f"damaged: expected a JSON object, found {_kind(data)}")
    try:
        return metadata_sensors(data, str(path))
    except SensorError as exc:
        raise GarageError(str(exc)) from None


def save_checkpoint(folder: ModelFolder, model, state: dict, normalizer=None) -> None:
    """Weights (and reward normaliser) first, then the state that points at them; the
    checkpoint they replace becomes the previous one."""
    keep_previous(folder)
    atomic_write(folder.checkpoint_path, lambda f: model.save(f))
    if normalizer is not None:
        atomic_write(folder.normalizer_path, lambda f: f.write(_pickle(normalizer)))
    stamped = {**state, "saved_at": time.time()}
    atomic_write_json(folder.state_path, stamped)
    _write_checkpoint_index(folder)


def save_best_checkpoint(folder: ModelFolder, model, record: dict) -> None:
    """The weights of a new best evaluation, then its record (``record``: the evaluation's
    summary plus ``metric`` and ``avg_eval_metric``). Weights first, as for the last
    checkpoint: a crash between the two leaves the previous record, never a record without
    its weights."""
    atomic_write(folder.best_checkpoint_path, lambda f: model.save(f))
    atomic_write_json(folder.best_record_path, {**record, "saved_at": time.time()})
    _write_checkpoint_index(folder)


def _write_checkpoint_index(folder: ModelFolder) -> None:
    """DeepRacer's model/deepracer_checkpoints.json: the last checkpoint (with the recent
    training episodes' mean progress) and the best one (with its evaluation's metric; the
    last when no evaluation has run)."""
    state = folder.state()
    last = {"name": "checkpoints/latest.zip", "time_stamp": state.get("saved_at", 0.0),
            "avg_eval_metric": state.get("mean_progress", 0.0)}
    best = folder.best_record()
    atomic_write_json(folder.root / "model" / "deepracer_checkpoints.json", {
        "last_checkpoint": last,
        "best_checkpoint": last if best is None else {
            "name": "checkpoints/best.zip", "time_stamp": best["saved_at"],
            "avg_eval_metric": best["avg_eval_metric"]},
    })


def _pickle(obj) -> bytes:
    import pickle

    return pickle.dumps(obj)


def write_metrics(folder: ModelFolder, metrics: list[dict], per_iteration: int,
                  best_model_metric: str = "progress") -> None:
    """training_metrics.json, with the header DeepRacer writes (its metric spelled its way:
    ``laptime``), and DeepRacer's own training metrics file derived from it, which the
    community's Metrics notebook reads (:mod:`racerl.model.deepracer_metrics`)."""
    atomic_write_json(folder.metrics_path, {
        "metrics": metrics, "version": METRICS_VERSION,
        "best_model_metric": best_model_metric_name(best_model_metric)})
    write_training_metrics(folder.root, metrics, per_iteration, best_model_metric)


# -- reading what training wrote, checked ------------------------------------------------


def weights_problem(path: Path) -> str | None:
    """What is wrong with a stable-baselines3 checkpoint zip, or None when it is whole: it
    opens, holds SB3's members and every member matches its checksum. Reads the file once;
    imports no torch (loading it is :func:`racerl.train.trainer.load_model`'s job)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if size == 0:
        return "damaged: empty (0 bytes)"
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [m for m in SB3_MEMBERS if m not in archive.namelist()]
            if missing:
                return (f"damaged: not a whole stable-baselines3 checkpoint (no "
                        f"{', '.join(missing)} inside; cut short?)")
            bad = archive.testzip()
    except zipfile.BadZipFile:
        return f"damaged: not a zip archive ({size} bytes; cut short or overwritten?)"
    except Exception as exc:  # zipfile raises zlib, EOF, OS and value errors for bad data
        return f"damaged: unreadable zip archive ({type(exc).__name__}: {_one_line(exc)})"
    if bad is not None:
        return f"damaged: {bad} inside fails its checksum"
    return None


def read_state(path: Path) -> dict:
    """A checkpoint's state.json, checked: an object with the whole-number counters
    (:data:`STATE_KEYS`) a resume continues from."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DamagedFileError(path, f"damaged: expected a JSON object, found {_kind(data)}")
    bad = [key for key in STATE_KEYS if not _whole(data.get(key))]
    if bad:
        raise DamagedFileError(path, f"damaged: {', '.join(bad)} missing or not a whole "
                                     "number >= 0")
    elapsed = data.get("elapsed_seconds", 0.0)
    if not _number(elapsed) or elapsed < 0:
        raise DamagedFileError(path, f"damaged: elapsed_seconds is {elapsed!r}, not a number "
                                     "of seconds")
    return data


def read_metrics(path: Path) -> list[dict]:
    """training_metrics.json's episodes, checked: each an object with the fields every
    version of racerl has written (:data:`METRIC_KEYS`), of the right types."""
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
        raise DamagedFileError(path, "damaged: expected a JSON object with a 'metrics' list, "
                                     f"found {_kind(data)}")
    for i, entry in enumerate(data["metrics"]):
        where = f"damaged: episode entry {i + 1}"
        if not isinstance(entry, dict):
            raise DamagedFileError(path, f"{where} is {_kind(entry)}, not an object")
        missing = [key for key in METRIC_KEYS if key not in entry]
        if missing:
            raise DamagedFileError(path, f"{where} has no {', '.join(missing)}")
        if not (_whole(entry["episode"]) and _whole(entry["iteration"])
                and _number(entry["reward"]) and _number(entry["progress"])
                and isinstance(entry["completed_lap"], bool)):
            raise DamagedFileError(path, f"{where} has a value of the wrong type (episode, "
                                         "iteration: whole numbers; reward, progress: "
                                         "numbers; completed_lap: true or false)")
    return data["metrics"]


def _read_json(path: Path) -> object:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DamagedFileError(path, f"cannot be read ({exc.strerror})") from None
    if not data.strip():
        raise DamagedFileError(path, f"damaged: empty ({len(data)} bytes)")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedFileError(path, f"damaged: not valid JSON ({_one_line(exc)})") from None


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: object) -> str:
    """A JSON value's kind in words: 'a list', 'a string'..."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true or false",
             type(None): "null", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


# -- the previous checkpoint ---------------------------------------------------------------


def keep_previous(folder: ModelFolder) -> None:
    """Make the latest checkpoint the previous one, before a new latest is written.

    The files are hard-linked (no copy, no extra space until the latest is replaced)
    into a staging folder that then replaces ``previous/`` by renames, so a crash at any
    point leaves the latest checkpoint untouched and ``previous/`` either whole or absent.
    """
    latest = folder.latest
    if not (latest.weights.is_file() and latest.state_path.is_file()):
        return  # nothing saved yet
    staging = latest.directory / ".previous.tmp"
    retired = latest.directory / ".previous.old"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for path in latest.files():
        if path.is_file():
            _link_or_copy(path, staging / path.name)
    shutil.rmtree(retired, ignore_errors=True)
    if folder.previous.directory.exists():
        os.replace(folder.previous.directory, retired)
    os.replace(staging, folder.previous.directory)
    shutil.rmtree(retired, ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


def previous_checkpoint_note(folder: ModelFolder) -> str:
    """Where a resume can go when the latest checkpoint is damaged, for its error message:
    the previous checkpoint and how to continue from it, or why there is none."""
    previous = folder.previous
    if not previous.directory.is_dir():
        return ("there is no older checkpoint to continue from; start the model again "
                "with --force")
    try:
        state = previous.check()
    except DamagedFileError as exc:
        return (f"the previous checkpoint is not usable either ({exc}); start the model "
                "again with --force")
    return (f"the newest usable checkpoint is the previous one, {previous.directory} "
            f"(iteration {state['iteration']}, {state['num_timesteps']} steps): add "
            "--from-previous to continue from it")


def restore_previous_checkpoint(folder: ModelFolder) -> Path:
    """Make the previous checkpoint the latest again, to resume from it; returns the folder
    the replaced latest checkpoint's files were moved to (kept, never deleted: they may be
    worth a look, or damaged only in part)."""
    try:
        folder.previous.check()
    except DamagedFileError as exc:
        hint = "" if folder.previous.directory.is_dir() else " (there is no previous one)"
        raise GarageError(f"cannot continue from the previous checkpoint{hint}: {exc}") \
            from None
    latest = folder.latest
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = latest.directory / f"replaced-{stamp}"
    for n in range(2, 1000):
        if not aside.exists():
            break
        aside = latest.directory / f"replaced-{stamp}-{n}"
    aside.mkdir()
    for path in latest.files():
        if path.exists():
            os.replace(path, aside / path.name)
    for source, target in zip(folder.previous.files(), latest.files(), strict=True):
        if source.is_file():
            atomic_write(target, lambda f, source=source: f.write(source.read_bytes()))
    return aside
