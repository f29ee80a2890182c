"""The model folder ("garage"): everything about one trained car, in DeepRacer's layout.

``$RACERL_HOME/models/<name>/`` holds::

    config.yaml                    the TrainConfig of the run
    reward_function.py             a copy of the user's reward function, as trained
    model/model_metadata.json      action space, sensor, network, algorithm (DeepRacer layout)
    model/deepracer_checkpoints.json   last and best checkpoint (DeepRacer's bookkeeping file)
    ip/hyperparameters.json        DeepRacer's hyperparameter keys
    checkpoints/latest.zip         stable-baselines3 weights + optimiser state, atomic
    checkpoints/state.json         iteration, steps, episodes, elapsed time of that checkpoint
    checkpoints/best.zip           the weights of the best evaluation during training so far
    checkpoints/best.json          that evaluation (the best-so-far record a resume goes on from)
    training_metrics.json          one entry per training episode and per evaluation lap
    sim-trace/training/training-simtrace/<i>-iteration.csv   one per DeepRacer iteration
                                   (num_episodes_between_training whole episodes)
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
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from racerl.atomic import atomic_write, atomic_write_json
from racerl.envs.actions import ActionSpace, load_action_space
from racerl.errors import RacerlError
from racerl.home import NAME_PATTERN, NAME_RULE, InvalidNameError, check_name, racerl_home
from racerl.model.config import (
    METADATA_NETWORK,
    TrainConfig,
    hyperparameters_json,
    load_config,
)

EXPORT_DIR = "export"  # where ``racerl export NAME`` writes the car's bundle by default
CHECKPOINTS = ("best", "last")


class GarageError(RacerlError):
    """A model folder is missing or incomplete, or something else is in its place."""


class ModelBusyError(GarageError):
    """Another process is training this model right now."""


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

    config_path = property(lambda self: self.root / "config.yaml")
    reward_path = property(lambda self: self.root / "reward_function.py")
    metadata_path = property(lambda self: self.root / "model" / "model_metadata.json")
    checkpoint_path = property(lambda self: self.root / "checkpoints" / "latest.zip")
    normalizer_path = property(lambda self: self.root / "checkpoints" / "vecnormalize.pkl")
    state_path = property(lambda self: self.root / "checkpoints" / "state.json")
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
        return load_config(self.config_path)

    def action_space(self) -> ActionSpace:
        return load_action_space(self.metadata_path)

    def state(self) -> dict:
        """The bookkeeping of the last checkpoint, or an empty dict before the first one."""
        if not self.state_path.is_file():
            return {}
        return json.loads(self.state_path.read_text(encoding="utf-8"))

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
        if not self.metrics_path.is_file():
            return []
        return json.loads(self.metrics_path.read_text(encoding="utf-8"))["metrics"]


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
    """Write the folder's static files: config, reward copy, metadata, hyperparameters."""
    folder.root.mkdir(parents=True, exist_ok=True)
    config.save(folder.config_path)
    atomic_write(folder.reward_path, lambda f: f.write(Path(reward_source).read_bytes()))
    atomic_write_json(folder.metadata_path, model_metadata(config, actions))
    atomic_write_json(folder.root / "ip" / "hyperparameters.json", hyperparameters_json(config))


def model_metadata(config: TrainConfig, actions: ActionSpace) -> dict:
    """DeepRacer's model_metadata.json for this config (reference section 5)."""
    meta = actions.to_metadata()
    sensor = "FRONT_FACING_CAMERA" if config.observation == "camera" else "RACERL_STATE"
    return {
        "action_space": meta["action_space"],
        "action_space_type": meta["action_space_type"],
        "sensor": [sensor],
        "neural_network": METADATA_NETWORK[config.network],
        "training_algorithm": "clipped_ppo" if config.algorithm == "ppo" else "sac",
        "version": "5",
    }


def save_checkpoint(folder: ModelFolder, model, state: dict, normalizer=None) -> None:
    """Weights (and reward normaliser) first, then the state that points at them."""
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


def write_metrics(folder: ModelFolder, metrics: list[dict],
                  best_model_metric: str = "progress") -> None:
    """training_metrics.json, with the header DeepRacer writes (its metric spelled its way:
    ``laptime``)."""
    atomic_write_json(folder.metrics_path, {
        "metrics": metrics, "version": 2.0,
        "best_model_metric": {"lap_time": "laptime"}.get(best_model_metric, best_model_metric)})
