"""The batched simulator a training config describes, built the same way wherever it runs:
in the trainer's own process, or as one rollout worker's share of the cars
(:mod:`racerl.train.workers`)."""

from __future__ import annotations

from collections.abc import Sequence

from racerl.envs.actions import ActionSpace
from racerl.envs.vector import RacerVectorEnv
from racerl.model.config import TrainConfig
from racerl.reward.protocol import RewardSource
from racerl.track.geometry import Track


def training_simulator(config: TrainConfig, reward: RewardSource, first_car: int = 0,
                       cars: int | None = None, tracks: Sequence[Track] | None = None,
                       action_space: ActionSpace | None = None) -> RacerVectorEnv:
    """The training cars of ``config`` driven with ``reward``: all ``n_envs`` of them, or
    ``cars`` of them from car ``first_car`` on (a worker's slice of the one batch).

    ``tracks`` and ``action_space``, already loaded, stand in for the config's names and
    paths, which a worker on another machine may not be able to resolve; loaded tracks are
    already in their direction, so ``reverse_direction`` is applied only to names.
    """
    reverse = config.reverse_direction and tracks is None
    return RacerVectorEnv(
        num_envs=config.n_envs if cars is None else cars, first_car=first_car,
        track=config.tracks if tracks is None else list(tracks), reward_function=reward,
        action_space=config.action_space if action_space is None else action_space,
        observation=config.observation, sensor=config.sensor,
        lidar_config=config.lidar_config, rgb=config.rgb, frame_stack=config.frame_stack,
        lighting=config.lighting, max_steps=config.max_episode_steps, seed=config.seed,
        reverse=reverse, alternate_direction=config.alternate_driving_direction,
        start="round_robin" if config.change_start_position else "line",
        start_offset=config.start_position_offset,
        round_robin_step=config.round_robin_advance_dist, **config.race_options())
