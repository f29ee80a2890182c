"""The model folder ("garage"): everything about one trained car, in DeepRacer's layout.

``$RACERL_HOME/models/<name>/`` holds::

    config.yaml                    the TrainConfig of the run
    reward_function.py             a copy of the user's reward function, as trained
    model/model_metadata.json      action space, sensor, network, algorithm (DeepRacer layout)
    model/deepracer_checkpoints.json   last checkpoint (DeepRacer's bookkeeping file)
    ip/hyperparameters.json        DeepRacer's hyperparameter keys
    checkpoints/latest.zip         stable-baselines3 weights + optimiser state, atomic
    checkpoints/state.json         iteration, steps, episodes, elapsed time of that checkpoint
    training_metrics.json          one entry per training episode
    sim-trace/training/training-simtrace/<i>-iteration.csv   one per DeepRacer iteration
                                   (num_episodes_between_training whole episodes)
    logs/                          TensorBoard event files

Every file is written atomically (temp file, then rename), so a crash or ``kill -9`` at any
moment leaves the previous checkpoint and metadata intact and loadable.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from racerl.atomic import atomic_write, atomic_write_json
from racerl.envs.actions import ActionSpace, load_action_space
from racerl.errors import RacerlError
from racerl.home import racerl_home
from racerl.model.config import (
    METADATA_NETWORK,
    TrainConfig,
    hyperparameters_json,
    load_config,
)

EXPORT_DIR = "export"  # where ``racerl export NAME`` writes the car's bundle by default
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class GarageError(RacerlError):
    """A model folder is missing, incomplete, or its name is not usable."""


def models_dir() -> Path:
    return racerl_home() / "models"


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
    metrics_path = property(lambda self: self.root / "training_metrics.json")
    logs_dir = property(lambda self: self.root / "logs")
    export_dir = property(lambda self: self.root / EXPORT_DIR)

    def exists(self) -> bool:
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

    def metrics(self) -> list[dict]:
        if not self.metrics_path.is_file():
            return []
        return json.loads(self.metrics_path.read_text(encoding="utf-8"))["metrics"]


def model_folder(name: str | Path) -> ModelFolder:
    """A model by name (under the racerl home) or by path."""
    text = str(name)
    if "/" in text or text.startswith("~"):  # a path; a bare word is always a name
        return ModelFolder(Path(text).expanduser())
    if not NAME_PATTERN.match(text):
        raise GarageError(f"model name {text!r}: use letters, digits, '_', '-' or '.' "
                          "(at most 64 characters)")
    return ModelFolder(models_dir() / text)


def list_models() -> list[str]:
    root = models_dir()
    return sorted(p.name for p in root.iterdir() if (p / "config.yaml").is_file()) \
        if root.is_dir() else []


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
    atomic_write_json(folder.root / "model" / "deepracer_checkpoints.json", {
        "last_checkpoint": {"name": "checkpoints/latest.zip", "time_stamp": stamped["saved_at"],
                            "avg_eval_metric": state.get("mean_progress", 0.0)},
        "best_checkpoint": {"name": "checkpoints/latest.zip", "time_stamp": stamped["saved_at"],
                            "avg_eval_metric": state.get("mean_progress", 0.0)},
    })


def _pickle(obj) -> bytes:
    import pickle

    return pickle.dumps(obj)


def write_metrics(folder: ModelFolder, metrics: list[dict]) -> None:
    atomic_write_json(folder.metrics_path, {"metrics": metrics, "version": 2.0,
                                            "best_model_metric": "progress"})
