"""The training configuration: one dataclass, saved as YAML in the model folder.

Field names follow DeepRacer's console where it has one (gradient descent batch size,
number of epochs, learning rate, entropy, discount factor, SAC alpha). The defaults are
tuned for a first lap in minutes on a 2-core CPU, not copied from the console: the console's
defaults (batch 64, 10 epochs, discount 0.99, the 3-layer CNN) are the ``deepracer`` preset
(:func:`console_defaults`; it keeps racerl's batched rollouts). Any value can be set in a YAML file
(``racerl train --config train.yaml``); unknown or out-of-range fields are refused with a
message listing the valid ones. :func:`layered_config` stacks a base config, a preset, a YAML
file and command-line flags the way ``racerl train`` does. A relative path in a YAML file
(``reward``, ``action_space``, a ``.npy`` track) is looked up beside the file first, so a
config and the files it names can move together and be used from any working directory;
a path with no such file there keeps its old meaning, relative to the working directory.

DeepRacer-for-Cloud's training options (``DR_TRAIN_*`` in its ``run.env``) are fields with
their names, meaning and defaults: ``change_start_position``, ``start_position_offset``,
``round_robin_advance_dist``, ``reverse_direction`` and ``alternate_driving_direction``
(reference section 8.1); ``track`` takes DRfC's ``_cw``/``_ccw`` names and, for DRfC's
multi-track training (a different ``DR_WORLD_NAME`` per worker), a list of tracks.

Every PPO and SAC setting the trainer hands stable-baselines3 is a field here (SB3's own
defaults where DeepRacer's console has no such setting), so a saved ``config.yaml`` tells the
whole story of a run. Older files without the newer fields still load: missing keys keep the
defaults, which are the values the trainer used before they were fields.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from racerl.atomic import atomic_write_text
from racerl.camera.sensors import (
    DEFAULT_SENSORS,
    FRONT_FACING_CAMERA,
    STEREO_CAMERAS,
    SensorError,
    Sensors,
    check_sensors,
)
from racerl.errors import RacerlError
from racerl.reward.function import DEFAULT_EXAMPLE

ALGORITHMS = ("ppo", "sac")
NETWORKS = ("light", "shallow", "standard", "mlp")
OBSERVATIONS = ("camera", "state")
DEVICES = ("cpu", "cuda", "auto")
BEST_MODEL_METRICS = ("progress", "lap_time")
# The model_metadata.json "neural_network" value of each network name (reference 6).
METADATA_NETWORK = {"light": "RACERL_LIGHT_CNN",
                    "shallow": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
                    "standard": "DEEP_CONVOLUTIONAL_NETWORK", "mlp": "RACERL_MLP"}


class ConfigError(RacerlError):
    """A training configuration file or value is invalid."""


@dataclass
class TrainConfig:
    """Everything a training run needs, with a short reason for each default."""

    track: str | list[str] = "loop"
    """Track name or .npy path (the built-in default loop needs no download); a DRfC name
    ending in _cw or _ccw drives the track clockwise or counter-clockwise. A list of tracks
    spreads the cars over them (car i on track i % len, each track with its own geometry and
    texture; DRfC: one track per worker), so the model learns to drive tracks it has not
    seen; the traces and metrics name each episode's track."""
    reverse_direction: bool = False
    """Drive the track(s) the other way round (DRfC DR_TRAIN_REVERSE_DIRECTION, default
    false; DeepRacer's REVERSE_DIR)."""
    alternate_driving_direction: bool = False
    """Turn round after every episode: each car's episodes alternate between the two
    directions (DRfC DR_TRAIN_ALTERNATE_DRIVING_DIRECTION, default false)."""
    race_type: str = "time_trial"
    """time_trial (empty track), object_avoidance (static boxes) or head_to_bot (bot cars
    driving the lanes) (DRfC DR_RACE_TYPE)."""
    number_of_obstacles: int = 6
    """Boxes on the track in object_avoidance (DRfC DR_OA_NUMBER_OF_OBSTACLES)."""
    min_distance_between_obstacles: float = 2.0
    """Percent of the lap: where the first obstacle stands and the least gap between
    randomised ones (DR_OA_MIN_DISTANCE_BETWEEN_OBSTACLES)."""
    randomize_obstacle_locations: bool = False
    """New obstacle places and lanes every episode (DR_OA_RANDOMIZE_OBSTACLE_LOCATIONS)."""
    is_obstacle_bot_car: bool = False
    """Parked cars instead of boxes (DR_OA_IS_OBSTACLE_BOT_CAR)."""
    object_positions: str = ""
    """Fixed obstacles, "progress,lane;progress,lane" (lap fraction; lane 1 inner, -1
    outer), overriding number_of_obstacles (DR_OA_OBJECT_POSITIONS)."""
    number_of_bot_cars: int = 3
    """Bot cars in head_to_bot (DR_H2B_NUMBER_OF_BOT_CARS)."""
    bot_car_speed: float = 0.2
    """m/s the bot cars drive (DR_H2B_BOT_CAR_SPEED)."""
    min_distance_between_bot_cars: float = 2.0
    """Metres: where the first bot starts and the least gap between randomised ones
    (DR_H2B_MIN_DISTANCE_BETWEEN_BOT_CARS)."""
    randomize_bot_car_locations: bool = False
    """New bot starts and lanes every episode (DR_H2B_RANDOMIZE_BOT_CAR_LOCATIONS)."""
    is_lane_change: bool = False
    """Bots change lanes at random times (DR_H2B_IS_LANE_CHANGE)."""
    lower_lane_change_time: float = 3.0
    """Shortest wait between lane changes, seconds (DR_H2B_LOWER_LANE_CHANGE_TIME)."""
    upper_lane_change_time: float = 5.0
    """Longest wait between lane changes, seconds (DR_H2B_UPPER_LANE_CHANGE_TIME)."""
    lane_change_distance: float = 1.0
    """Metres one lane change takes (DR_H2B_LANE_CHANGE_DISTANCE)."""
    bot_car_penalty: float = 5.0
    """Seconds the bots stop after one runs into the car (DR_H2B_BOT_CAR_PENALTY)."""
    collision_penalty: float = 5.0
    """Seconds a crash costs in evaluations during and after training
    (DR_EVAL_COLLISION_PENALTY); in training a crash ends the episode."""
    change_start_position: bool = True
    """Round-robin start positions: each car's next episode starts round_robin_advance_dist
    of a lap further on, the batch spread over the start points (DRfC
    DR_TRAIN_CHANGE_START_POSITION, default true); false starts every episode at
    start_position_offset."""
    start_position_offset: float = 0.0
    """Where the first episode starts, as a fraction of the lap from the start line (DRfC
    DR_TRAIN_START_POSITION_OFFSET, default 0); evaluations during training start here too."""
    round_robin_advance_dist: float = 0.05
    """How far each episode's start lies beyond the previous one's, as a fraction of the lap
    (DRfC DR_TRAIN_ROUND_ROBIN_ADVANCE_DIST, default 0.05: 20 start points)."""
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
    gae_lambda: float = 0.95
    """PPO's GAE lambda, the bias/variance trade-off of advantage estimates (SB3 gae_lambda,
    default 0.95; DeepRacer's hyperparameters.json has no such key)."""
    clip_range: float = 0.2
    """PPO's clipping of the probability ratio (SB3 clip_range, default 0.2; DeepRacer's
    clipped PPO clips at 0.2 too)."""
    value_coef: float = 0.5
    """PPO's weight of the value loss in the total loss (SB3 vf_coef, default 0.5)."""
    max_grad_norm: float = 0.5
    """PPO's gradient clipping: the largest gradient norm of an update (SB3 max_grad_norm,
    default 0.5)."""
    buffer_size: int = 100_000
    """SAC's replay buffer, in transitions over all cars (SB3 buffer_size, default 1000000;
    racerl's 100000 keeps camera frames within a laptop's memory)."""
    learning_starts: int | None = None
    """SAC: transitions collected before the first update (SB3 learning_starts, default 100);
    None means batch_size, so the first update has one full batch of experience."""
    tau: float = 0.005
    """SAC's soft update coefficient of the target networks (SB3 tau, default 0.005)."""
    train_freq: int = 1
    """SAC: update every this many steps of the batched simulator, i.e. every
    n_envs x train_freq transitions (SB3 train_freq, default 1)."""
    gradient_steps: int = 1
    """SAC: gradient steps per update; -1 does as many as steps were just collected (SB3
    gradient_steps, default 1)."""
    network: str = "light"
    """'light': 2x2 average pooling inside the net, then two convolutions (fast on a CPU);
    'shallow': DeepRacer's 3-layer CNN; 'standard': DeepRacer's 5-layer CNN; 'mlp' for
    observation='state'. Every CNN takes the full 160x120 camera frame."""
    mlp_layers: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden layer widths of network 'mlp', for the policy and the value (or Q) networks alike
    (SB3's PPO default [64, 64]; a CNN ignores it, so only 'mlp' may change it)."""
    observation: str = "camera"
    """'camera' (DeepRacer's sensors, see sensor) or 'state' (a small vector; quick
    experiments)."""
    sensor: list[str] = field(default_factory=lambda: list(DEFAULT_SENSORS))
    """DeepRacer's sensors, as model_metadata.json lists them: exactly one camera,
    FRONT_FACING_CAMERA (one grey 160x120 image) or STEREO_CAMERAS (two, 6 cm apart:
    a 2-channel image), and optionally one lidar: LIDAR (64 ranges, 0.15-1 m),
    SECTOR_LIDAR (8 sectors: something within 0.5 m) or DISCRETIZED_SECTOR_LIDAR
    (lidar_config's bins). With a lidar the observation is a dict, one entry per sensor."""
    lidar_config: dict | None = None
    """DISCRETIZED_SECTOR_LIDAR's binning (model_metadata.json lidar_config): num_sectors
    (divides 64, default 8), num_values_per_sector (default 8) and clipping_dist (metres,
    default 2.0); None: the defaults."""
    rgb: bool = False
    """Colour frames instead of DeepRacer's grey."""
    frame_stack: int = 1
    """Camera frames stacked per observation (DeepRacer: 1)."""
    action_space: str | None = None
    """model_metadata.json with the action space, or a named space ('racing': continuous,
    ±30°, 1-4 m/s); None: the console's 10 default actions."""
    lighting: str = "studio"
    """Lighting preset per episode; 'random' trains a model that copes with real rooms."""
    n_envs: int = 32
    """Cars driving at once in the batched simulator."""
    workers: int = 1
    """Rollout workers the n_envs cars are shared among: 1 drives them all in this process;
    K > 1 spreads them over K Ray actors (racerl[ray]), each a batched simulator in a
    process of its own, on this machine or a cluster's (racerl train --address), feeding
    the one learner here. The cars, seeds and start points are those of one batch either
    way, so the experience is the same; only where it is simulated changes."""
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
    eval_every: int = 10
    """Evaluate the policy every this many iterations (policy updates), as DeepRacer does
    between iterations: greedy laps from the start line under evaluation rules, in cars of
    their own; 0 turns evaluation during training off. With the default settings 10
    iterations are 20,480 steps, about 18 s on a 2-core CPU: three evaluations a minute,
    costing 2-5 % of the training time once the car laps, about 13 % while every trial
    still runs to the 180 s time-up (measured; README, Training)."""
    eval_trials: int = 3
    """Laps per evaluation during training, driven at once, one car each, each with its own
    seeded lighting (DeepRacer runs 5; under studio light the greedy laps are identical).
    Batched, 3 cost about 1.2 times one (measured), and give `racerl evaluate`'s 3 laps."""
    best_model_metric: str = "progress"
    """Which evaluation keeps checkpoints/best.zip: 'progress' (DRfC's default: highest mean
    completion %, then the faster mean lap) or 'lap_time' (DeepRacer's: lowest mean lap time
    counting 999999 ms per unfinished lap, i.e. most laps finished, then the fastest; progress
    while no lap is finished). The rule in full: racerl.model.best_checkpoint."""
    device: str = "cpu"
    """Where the networks train: 'cpu' (the small networks here run fastest there), 'cuda' or
    'auto' (cuda when available; SB3 device, default 'auto'). Evaluation always drives on CPU."""

    def race_options(self) -> dict:
        """The race type and its object settings, as the envs take them (``Racers(...,
        **options)``, :class:`racerl.sim.race_setup.RaceSetup`'s fields; the car reads this
        config too, so the config itself does not import the simulator)."""
        return {name: getattr(self, name) for name in RACE_FIELDS}

    def validate(self, source: str = "config") -> TrainConfig:
        """Check every value; raise ConfigError naming ``source`` and the field."""
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"{source}: {name} {why}")

        from racerl.camera.lighting import PRESETS

        choices = {"algorithm": ALGORITHMS, "network": NETWORKS,
                   "observation": OBSERVATIONS, "lighting": PRESETS, "device": DEVICES,
                   "best_model_metric": BEST_MODEL_METRICS, "race_type": RACE_TYPES}
        if self.race_type == "head_to_model":
            raise bad("race_type", "head_to_model is raced, not trained (DeepRacer trains no "
                      "multi-agent runs): train with head_to_bot, then race with racerl race "
                      "create --type head-to-model")
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise bad(name, f"must be one of {', '.join(allowed)}, "
                                f"not {getattr(self, name)!r}")
        ranges = {"batch_size": (8, 65536), "num_epochs": (1, 100),
                  "learning_rate": (1e-8, 1e-2), "entropy": (0.0, 1.0),
                  "discount_factor": (0.0, 1.0), "sac_alpha": (0.0, 1.0),
                  "frame_stack": (1, 8), "n_envs": (1, 4096), "rollout_steps": (2, 100000),
                  "workers": (1, 1024),
                  "num_episodes_between_training": (1, 10000),
                  "max_episode_steps": (10, 100000), "checkpoint_every": (1, 100000),
                  "eval_every": (0, 100000), "eval_trials": (1, 64),
                  # PPO: lambda is a weight in [0, 1]; a clip of 0 would forbid any policy change.
                  "gae_lambda": (0.0, 1.0), "clip_range": (1e-3, 1.0), "value_coef": (0.0, 10.0),
                  "max_grad_norm": (1e-3, 1e6),
                  # SAC: tau 0 would freeze the target networks.
                  "buffer_size": (1, 100_000_000), "tau": (1e-6, 1.0),
                  "train_freq": (1, 100000),
                  # Lap fractions: 1 is a whole lap, the same start as 0.
                  "start_position_offset": (0.0, 1.0), "round_robin_advance_dist": (0.0, 1.0),
                  # Objects: the console offers 1-6; each costs every camera ray a test.
                  "number_of_obstacles": (0, MAX_OBJECTS), "number_of_bot_cars": (0, MAX_OBJECTS),
                  "min_distance_between_obstacles": (0.0, 100.0),  # percent of the lap
                  "min_distance_between_bot_cars": (0.0, 1000.0),  # metres
                  "bot_car_speed": (0.01, 4.0),  # the car's own speed range tops out at 4 m/s
                  "lower_lane_change_time": (0.0, 3600.0),
                  "upper_lane_change_time": (0.0, 3600.0),
                  "lane_change_distance": (0.01, 100.0), "bot_car_penalty": (0.0, 60.0),
                  "collision_penalty": (0.0, 60.0)}
        for name, (lo, hi) in ranges.items():
            value = getattr(self, name)
            kind = int if isinstance(getattr(TrainConfig, name), int) else int | float
            _check_number(bad, name, value, kind, lo, hi)
        if self.learning_starts is not None:
            _check_number(bad, "learning_starts", self.learning_starts, int, 0, 1_000_000_000)
        if self.gradient_steps != -1:
            _check_number(bad, "gradient_steps", self.gradient_steps, int, 1, 10000,
                          " (or -1)")
        for name in ("rgb", "normalize_reward", "sandbox_reward", "reverse_direction",
                     "alternate_driving_direction", "change_start_position",
                     "randomize_obstacle_locations", "is_obstacle_bot_car",
                     "randomize_bot_car_locations", "is_lane_change"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, f"must be true or false, not {getattr(self, name)!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed < 2**32:
            raise bad("seed", f"must be a whole number in [0, 2**32), not {self.seed!r}")
        if not isinstance(self.reward, str) or not self.reward:
            raise bad("reward", f"must be a name or a path, not {self.reward!r}")
        _check_tracks(bad, self.track, self.n_envs)
        _check_workers(bad, self.workers, self.n_envs, len(self.tracks))
        if self.lower_lane_change_time > self.upper_lane_change_time:
            raise bad("lower_lane_change_time", f"({self.lower_lane_change_time}) is above "
                      f"upper_lane_change_time ({self.upper_lane_change_time})")
        if not isinstance(self.object_positions, str) \
                or not OBJECT_POSITIONS.fullmatch(self.object_positions.strip()):
            raise bad("object_positions", f"must be 'progress,lane;progress,lane' (a lap "
                      f"fraction from 0 to 1, lane 1 inner or -1 outer), not "
                      f"{self.object_positions!r}")
        if self.network == "mlp" and self.observation != "state":
            raise bad("network", "'mlp' needs observation: state (a CNN reads the camera)")
        if self.observation == "state" and self.network != "mlp":
            raise bad("network", f"{self.network!r} is a CNN; use 'mlp' with observation: state")
        self._check_sensors(bad, source)
        layers = self.mlp_layers
        if not isinstance(layers, list) or len(layers) > 8 or not all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4096
                for n in layers):
            raise bad("mlp_layers", f"must be a list of at most 8 whole numbers in [1, 4096] "
                                    f"(layer widths, e.g. [64, 64]), not {layers!r}")
        if self.network != "mlp" and layers != _default("mlp_layers"):
            raise bad("mlp_layers", f"sets the widths of network 'mlp' only; network "
                                    f"{self.network!r} is a CNN")
        if self.n_envs * self.rollout_steps < self.batch_size:
            raise bad("batch_size", f"{self.batch_size} exceeds one iteration's experience "
                                    f"(n_envs x rollout_steps = "
                                    f"{self.n_envs * self.rollout_steps})")
        if self.algorithm == "sac" and self.buffer_size < self.batch_size:
            raise bad("buffer_size", f"{self.buffer_size} cannot hold one batch "
                                     f"(batch_size {self.batch_size})")
        return self

    def _check_sensors(self, bad: Callable[[str, str], ConfigError], source: str) -> None:
        """``sensor`` and ``lidar_config`` as DeepRacer checks them, and as racerl can use
        them: other sensors than the front camera need observation 'camera', and the
        stereo pair is grey, as DeepRacer's is."""
        try:
            sensors = check_sensors(self.sensor, self.lidar_config, source)
        except SensorError as exc:
            raise ConfigError(str(exc)) from None
        if self.observation == "state" and sensors.names != [FRONT_FACING_CAMERA]:
            raise bad("sensor", f"{sensors.names} needs observation: camera (observation "
                                "'state' is racerl's vector, no DeepRacer sensor)")
        if self.rgb and sensors.camera == STEREO_CAMERAS:
            raise bad("rgb", "must be false with STEREO_CAMERAS: DeepRacer's stereo pair is "
                             "two grey images")

    @property
    def sensors(self) -> Sensors:
        """The checked sensors of ``sensor`` and ``lidar_config``."""
        return check_sensors(self.sensor, self.lidar_config)

    @property
    def tracks(self) -> list[str]:
        """``track`` as a list: the one track, or the tracks of a multi-track run."""
        return [self.track] if isinstance(self.track, str) else list(self.track)

    def to_yaml(self) -> str:
        return yaml.safe_dump(dataclasses.asdict(self), sort_keys=False)

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, self.to_yaml())

    def replace(self, **changes) -> TrainConfig:
        return load_config_dict({**dataclasses.asdict(self), **changes}, "settings")


def _check_number(bad: Callable[[str, str], ConfigError], name: str, value: object,
                  kind: type, lo: float, hi: float, also: str = "") -> None:
    """Refuse a value that is not a number of ``kind`` in [lo, hi] (a bool is no number)."""
    if isinstance(value, bool) or not isinstance(value, kind) or not lo <= value <= hi:
        what = "a whole number" if kind is int else "a number"
        raise bad(name, f"must be {what} in [{lo:g}, {hi:g}]{also}, not {value!r}")


def _check_tracks(bad: Callable[[str, str], ConfigError], track: object, n_envs: int) -> None:
    """Refuse a track that is no name or path, and a list of tracks that is empty, repeats
    a track or has more tracks than cars (every track needs a car)."""
    if isinstance(track, str):
        if not track:
            raise bad("track", "must be a name or a path, not ''")
        return
    if not isinstance(track, list) or not track:
        raise bad("track", f"must be a track name or path, or a list of them, not {track!r}")
    for entry in track:
        if not isinstance(entry, str) or not entry:
            raise bad("track", f"lists {entry!r}, which is no track name or path")
    repeated = sorted({t for t in track if track.count(t) > 1})
    if repeated:
        raise bad("track", f"lists {', '.join(repeated)} more than once")
    if len(track) > n_envs:
        raise bad("track", f"lists {len(track)} tracks but n_envs is {n_envs}: every track "
                           "needs at least one car")


def _check_workers(bad: Callable[[str, str], ConfigError], workers: int, n_envs: int,
                   tracks: int) -> None:
    """Refuse more rollout workers than there are cars to share among them, and, on several
    tracks, workers too many for each to drive every track (a worker's batch, like any
    batch, needs a car on each of its tracks)."""
    if workers > n_envs:
        raise bad("workers", f"{workers} exceeds n_envs {n_envs}: each rollout worker drives "
                             "at least one car")
    if tracks > 1 and n_envs // workers < tracks:
        raise bad("workers", f"{workers} workers share {n_envs} cars, {n_envs // workers} "
                             f"each at the least, but each needs one on each of the {tracks} "
                             "tracks: use fewer workers or more cars (n_envs)")
RACE_TYPES = ("time_trial", "object_avoidance", "head_to_bot")
RACE_FIELDS = ("race_type", "number_of_obstacles", "min_distance_between_obstacles",
               "randomize_obstacle_locations", "is_obstacle_bot_car", "object_positions",
               "number_of_bot_cars", "bot_car_speed", "min_distance_between_bot_cars",
               "randomize_bot_car_locations", "is_lane_change", "lower_lane_change_time",
               "upper_lane_change_time", "lane_change_distance", "bot_car_penalty")
"""The TrainConfig fields that make a :class:`racerl.sim.race_setup.RaceSetup` (a test
checks that they are its fields)."""
MAX_OBJECTS = 32
"""Objects of one kind at most (racerl.sim.race_setup.MAX_OBJECTS, checked by a test)."""
OBJECT_POSITIONS = re.compile(r"(|(0(\.\d*)?|1(\.0*)?|\.\d+)\s*,\s*-?1"
                              r"(\s*;\s*(0(\.\d*)?|1(\.0*)?|\.\d+)\s*,\s*-?1)*\s*;?)")
"""DRfC's OBJECT_POSITIONS text: lap fractions in [0, 1] and lanes 1 or -1."""


def _default(name: str) -> object:
    """A field's default value (built afresh for list fields)."""
    f = TrainConfig.__dataclass_fields__[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


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


def _read_yaml(path: Path) -> object:
    """The parsed content of a YAML file, or a ConfigError naming it (on one line)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.MarkedYAMLError as exc:  # its text spans lines, with a picture of the spot
        where = f" on line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise ConfigError(f"{path}: not a readable YAML file ({exc.problem or exc.context}"
                          f"{where})") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not a readable YAML file "
                          f"({' '.join(str(exc).split())})") from None


def load_config(path: str | Path) -> TrainConfig:
    """Read a YAML config file (a partial one is fine: missing fields keep defaults)."""
    path = Path(path)
    return load_config_dict(paths_beside(_read_yaml(path), path.parent), str(path))


def paths_beside(data: object, folder: Path) -> object:
    """``data`` (a config file's mapping) with each relative file path that names a file in
    ``folder`` (the file's own folder) made absolute.

    A config written next to its reward function and action space (``racerl import drfc``
    does so) then works from any working directory. A path that names no file beside the
    config is left as written, relative to the working directory as it always was; names
    (a shipped reward example, a named action space, a track name) are no files and stay.
    """
    if not isinstance(data, dict):
        return data

    def beside(entry: object, track: bool = False) -> object:
        if not isinstance(entry, str) or not entry or Path(entry).expanduser().is_absolute():
            return entry
        if track and not entry.endswith(".npy"):
            return entry  # a track name, never a file path
        candidate = folder / entry
        return str(candidate.resolve()) if candidate.is_file() else entry

    data = dict(data)
    for key in ("reward", "action_space"):
        if key in data:
            data[key] = beside(data[key])
    if isinstance(data.get("track"), list):
        data["track"] = [beside(t, track=True) for t in data["track"]]
    elif "track" in data:
        data["track"] = beside(data["track"], track=True)
    return data


SAVED_FIELDS = ("track", "reward", "algorithm", "batch_size", "num_epochs", "learning_rate",
                "entropy", "discount_factor", "sac_alpha", "network", "observation", "rgb",
                "frame_stack", "action_space", "lighting", "n_envs", "rollout_steps",
                "num_episodes_between_training", "normalize_reward", "max_episode_steps",
                "seed", "checkpoint_every")
"""The fields every racerl version has written to a model folder's config.yaml (the first
version's; later fields may be absent from older folders and keep their defaults)."""


def load_saved_config(path: str | Path) -> TrainConfig:
    """A model folder's config.yaml, which training wrote in full: one that is empty or
    lacks a field every version writes was cut short or emptied, and its defaults would
    not match the trained network, so it is refused rather than filled in."""
    path = Path(path)
    data = _read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: damaged: empty (training writes every setting here)")
    if isinstance(data, dict):
        missing = [name for name in SAVED_FIELDS if name not in data]
        if missing:
            raise ConfigError(f"{path}: damaged: {', '.join(missing)} missing (training "
                              "writes every setting here; was the file cut short?)")
    return load_config_dict(data, str(path))


def console_defaults() -> dict:
    """DeepRacer console's PPO defaults, for ``racerl train --preset deepracer``."""
    return {"batch_size": 64, "num_epochs": 10, "learning_rate": 3e-4, "entropy": 0.01,
            "discount_factor": 0.99, "network": "shallow"}


def racing_settings() -> dict:
    """``racerl train --preset racing``: a setup that learns to race, chosen by measurement.

    A sweep of 14 setups on ``loop`` (README, "Racing"), each trained for about 200,000 env
    steps, ranked them by their evaluation laps against the race line (6.3 s):

    * reward ``progress`` (each step earns the percent of the lap it gained: 100 a lap
      however it is driven, so with discounting the faster lap is worth more) beat the
      race-line-following reward (1.04x against 1.4x and worse) and DeepRacer's default
      centre-line reward (5.7x: it pays per step, so it teaches crawling);
    * the continuous ``racing`` action space (±30°, 1-4 m/s) beat a 15-action discrete menu
      up to 4 m/s (1.04x against 1.26x);
    * one camera frame: three stacked frames learned in fewer env steps but ran at half the
      env steps per second, so they lost on wall time; the car's camera-only model runs
      either;
    * PPO's defaults: a lower learning rate, a higher discount or fewer parallel cars per
      step were all slower.
    """
    return {"reward": "progress", "action_space": "racing", "frame_stack": 1}


TRAIN_PRESETS: dict[str, Callable[[], dict]] = {"deepracer": console_defaults,
                                                 "racing": racing_settings}
"""Named sets of settings for ``racerl train --preset NAME`` (name -> function giving them)."""


def preset_settings(name: str) -> dict:
    """The settings of preset ``name``; an unknown name is refused, listing the known ones."""
    if name not in TRAIN_PRESETS:
        known = ", ".join(repr(p) for p in TRAIN_PRESETS)
        what = f"the only preset is {known}" if len(TRAIN_PRESETS) == 1 else f"presets: {known}"
        raise ConfigError(f"--preset {name!r}: {what}")
    return TRAIN_PRESETS[name]()


def layered_config(base: TrainConfig, preset: str | None = None,
                   yaml_path: str | Path | None = None,
                   overrides: dict | None = None) -> TrainConfig:
    """The settings of a run, each layer replacing what the one before set:
    ``base`` (defaults, or a cloned model's config) -> ``preset`` -> the keys the YAML file
    at ``yaml_path`` actually writes (its relative paths found beside it first:
    :func:`paths_beside`) -> ``overrides`` (command-line flags).

    Only the keys the YAML file writes count, so a short file on top of a preset changes
    just those settings rather than resetting the rest to racerl's defaults. The file is
    still checked on its own first (errors name the file), and the result as a whole
    (errors name "settings").
    """
    settings = dataclasses.asdict(base)
    if preset is not None:
        settings.update(preset_settings(preset))
    if yaml_path is not None:
        path = Path(yaml_path)
        data = paths_beside(_read_yaml(path), path.parent)
        from_file = load_config_dict(data, str(path))
        written = set(data) if isinstance(data, dict) else set()
        settings.update({k: v for k, v in dataclasses.asdict(from_file).items() if k in written})
    settings.update(overrides or {})
    return load_config_dict(settings, "settings")


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




def field_help() -> dict[str, str]:
    """Each TrainConfig field's documentation (the docstring under it), in field order, with
    its lines joined: what ``racerl serve``'s create page shows beside each setting."""
    import ast
    import inspect
    from itertools import pairwise

    tree = ast.parse(inspect.getsource(TrainConfig))
    body = tree.body[0].body
    found: dict[str, str] = {}
    for node, after in pairwise(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                and isinstance(after.value.value, str):
            found[node.target.id] = " ".join(after.value.value.split())
    return found
