"""The training configuration: one dataclass, saved as YAML in the model folder.

Field names follow DeepRacer's console where it has one (gradient descent batch size,
number of epochs, learning rate, entropy, discount factor, SAC alpha). The defaults are
tuned for a first lap in minutes on a 2-core CPU, not copied from the console: the console's
defaults (batch 64, 10 epochs, discount 0.99, the 3-layer CNN) are the ``deepracer`` preset
(:func:`console_defaults`; it keeps racerl's batched rollouts). Any value can be set in a YAML file
(``racerl train --config train.yaml``); unknown or out-of-range fields are refused with a
message listing the valid ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from racerl.atomic import atomic_write_text
from racerl.errors import RacerlError
from racerl.reward.function import DEFAULT_EXAMPLE

ALGORITHMS = ("ppo", "sac")
NETWORKS = ("light", "shallow", "standard", "mlp")
OBSERVATIONS = ("camera", "state")


class ConfigError(RacerlError):
    """A training configuration file or value is invalid."""


@dataclass
class TrainConfig:
    """Everything a training run needs, with a short reason for each default."""

    track: str = "loop"
    """Track name or .npy path (the built-in default loop needs no download)."""
    reward: str = DEFAULT_EXAMPLE
    """Reward function file, or the name of a shipped example."""
    algorithm: str = "ppo"
    """'ppo' (discrete or continuous actions, DeepRacer's clipped PPO) or 'sac' (continuous)."""
    batch_size: int = 512
    """Gradient descent batch size. Large batches keep 2 CPU cores busy (console: 64)."""
    num_epochs: int = 4
    """Passes over each batch of experience (console: 10; 4 learns as fast per minute)."""
    learning_rate: float = 3e-4
    """Adam learning rate (console default)."""
    entropy: float = 0.01
    """Entropy bonus, PPO's exploration pressure (console default)."""
    discount_factor: float = 0.99
    """Discount of future rewards (droa console default; the simulator's own is 0.999)."""
    sac_alpha: float = 0.2
    """SAC entropy temperature, fixed (console default)."""
    network: str = "light"
    """'light': 2x2 average pooling inside the net, then two convolutions (fast on a CPU);
    'shallow': DeepRacer's 3-layer CNN; 'standard': DeepRacer's 5-layer CNN; 'mlp' for
    observation='state'. Every CNN takes the full 160x120 camera frame."""
    observation: str = "camera"
    """'camera' (DeepRacer's front camera) or 'state' (a small vector; quick experiments)."""
    rgb: bool = False
    """Colour frames instead of DeepRacer's grey."""
    frame_stack: int = 1
    """Camera frames stacked per observation (DeepRacer: 1)."""
    action_space: str | None = None
    """model_metadata.json with the action space; None: the console's 10 default actions."""
    lighting: str = "studio"
    """Lighting preset per episode; 'random' trains a model that copes with real rooms."""
    n_envs: int = 32
    """Cars driving at once in the batched simulator."""
    rollout_steps: int = 64
    """Steps each car drives between policy updates (n_envs x this steps per update)."""
    num_episodes_between_training: int = 20
    """DeepRacer's iteration size: episodes per sim-trace file and per metrics iteration
    (console default 20). The policy itself updates every n_envs x rollout_steps steps."""
    normalize_reward: bool = False
    """Scale rewards for learning (SB3 VecNormalize). Traces always log the user's numbers."""
    sandbox_reward: bool = False
    """Run the reward function in a sandboxed worker process (CPU and memory limits, no
    network or file writes), for code you did not write; costs ~2 ms per step at 256 cars."""
    max_episode_steps: int = 2000
    """Step cap of a training episode (DeepRacer's is 100000; a lap takes a few hundred)."""
    seed: int = 0
    """Seeds the simulator, lighting and the network's initial weights."""
    checkpoint_every: int = 1
    """Save a checkpoint every this many iterations (policy updates)."""

    def validate(self, source: str = "config") -> TrainConfig:
        """Check every value; raise ConfigError naming ``source`` and the field."""
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"{source}: {name} {why}")

        from racerl.camera.lighting import PRESETS

        choices = {"algorithm": ALGORITHMS, "network": NETWORKS,
                   "observation": OBSERVATIONS, "lighting": PRESETS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise bad(name, f"must be one of {', '.join(allowed)}, "
                                f"not {getattr(self, name)!r}")
        ranges = {"batch_size": (8, 65536), "num_epochs": (1, 100),
                  "learning_rate": (1e-8, 1e-2), "entropy": (0.0, 1.0),
                  "discount_factor": (0.0, 1.0), "sac_alpha": (0.0, 1.0),
                  "frame_stack": (1, 8), "n_envs": (1, 4096), "rollout_steps": (2, 100000),
                  "num_episodes_between_training": (1, 10000),
                  "max_episode_steps": (10, 100000), "checkpoint_every": (1, 100000)}
        for name, (lo, hi) in ranges.items():
            value = getattr(self, name)
            kind = int if isinstance(getattr(TrainConfig, name), int) else int | float
            if isinstance(value, bool) or not isinstance(value, kind) \
                    or not lo <= value <= hi:
                what = "a whole number" if kind is int else "a number"
                raise bad(name, f"must be {what} in [{lo:g}, {hi:g}], not {value!r}")
        for name in ("rgb", "normalize_reward", "sandbox_reward"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, f"must be true or false, not {getattr(self, name)!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed < 2**32:
            raise bad("seed", f"must be a whole number in [0, 2**32), not {self.seed!r}")
        for name in ("track", "reward"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise bad(name, f"must be a name or a path, not {getattr(self, name)!r}")
        if self.network == "mlp" and self.observation != "state":
            raise bad("network", "'mlp' needs observation: state (a CNN reads the camera)")
        if self.observation == "state" and self.network != "mlp":
            raise bad("network", f"{self.network!r} is a CNN; use 'mlp' with observation: state")
        if self.n_envs * self.rollout_steps < self.batch_size:
            raise bad("batch_size", f"{self.batch_size} exceeds one iteration's experience "
                                    f"(n_envs x rollout_steps = "
                                    f"{self.n_envs * self.rollout_steps})")
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(dataclasses.asdict(self), sort_keys=False)

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, self.to_yaml())

    def replace(self, **changes) -> TrainConfig:
        return load_config_dict({**dataclasses.asdict(self), **changes}, "settings")


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def load_config_dict(data: object, source: str = "config") -> TrainConfig:
    """A validated TrainConfig from a mapping; unknown keys are refused by name."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    unknown = sorted(set(data) - set(field_names()))
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; "
                          f"valid settings: {', '.join(field_names())}")
    # YAML reads 1e-3 (no dot) as a string; accept any number a user could mean.
    floats = {f.name for f in fields(TrainConfig) if isinstance(f.default, float)}
    for key in floats & set(data):
        if isinstance(data[key], str):
            with contextlib.suppress(ValueError):  # else validate() names the bad value
                data = {**data, key: float(data[key])}
    return TrainConfig(**data).validate(source)


def load_config(path: str | Path) -> TrainConfig:
    """Read a YAML config file (a partial one is fine: missing fields keep defaults)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not a readable YAML file ({exc})") from None
    return load_config_dict(data, str(path))


def console_defaults() -> dict:
    """DeepRacer console's PPO defaults, for ``racerl train --preset deepracer``."""
    return {"batch_size": 64, "num_epochs": 10, "learning_rate": 3e-4, "entropy": 0.01,
            "discount_factor": 0.99, "network": "shallow"}


def hyperparameters_json(config: TrainConfig) -> dict:
    """DeepRacer's ``ip/hyperparameters.json`` keys for this config (reference section 7)."""
    return {
        "batch_size": config.batch_size,
        "num_epochs": config.num_epochs,
        "lr": config.learning_rate,
        "beta_entropy": config.entropy,
        "discount_factor": config.discount_factor,
        "loss_type": "mean squared error",  # SB3's value loss
        "sac_alpha": config.sac_alpha,
        "num_episodes_between_training": config.num_episodes_between_training,
        "exploration_type": "categorical",
        "stack_size": config.frame_stack,
        "e_greedy_value": 0.05,
        "epsilon_steps": 10000,
        "term_cond_max_episodes": 100000,
        "term_cond_avg_score": 100000,
    }


