"""Evaluation during training: greedy laps of the policy being trained, between iterations.

DeepRacer evaluates the policy after every training iteration and keeps the checkpoint
that evaluated best. Here the trainer does so every ``eval_every`` iterations with the
policy it holds in memory: ``eval_trials`` laps from the start line under DeepRacer's
evaluation rules (off track and reversed reset the car with a 2 s penalty, a trial may take
180 s: :data:`TIME_LIMIT`), greedy actions, each trial with its own lighting seed
(``seed + trial``) in the config's lighting preset. They start at ``start_position_offset``
and run in the ``reverse_direction`` the run trains in (a DeepRacer worker evaluates on its
own track, where its training episodes start); a run on several tracks drives
``eval_trials`` laps on each of its tracks, all at once, and the records name each lap's
track. The laps are driven by cars of their own, built once and reused, through
:func:`racerl.drive.rollout.rollout`: the training cars' episodes, traces and random draws
are untouched, so a run trains exactly as it would without evaluations. As in DeepRacer's
evaluation, the laps log the built-in centre-line reward, not the user's.

The policy runs on one torch thread while it drives: a batch of a few observations gains
nothing from more, and on a busy 2-core machine the trainer's two threads made a 565-step
evaluation take 21-27 s instead of 1.6-1.8 s (measured; the threads wait on each other).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from racerl.drive.policy import PolicyDriver
from racerl.drive.rollout import Episode, rollout
from racerl.envs.cars import Racers
from racerl.model.best_checkpoint import EVALUATION_PHASE
from racerl.model.config import TrainConfig
from racerl.reward.function import DEFAULT_EXAMPLE
from racerl.sim.rules import EvaluationRules

TIME_LIMIT = 180.0
"""Seconds a trial of an evaluation during training may take, then it ends as ``time_up``.
racerl's own bound: DeepRacer's evaluation episodes between iterations run under training
rules (no resets: simapp rollout_worker.py, NUMBER_OF_RESETS 0), so they end at the first
mistake, while racerl's reset the car and would otherwise run to the 100,000-step cap."""


class TrainingEvaluator:
    """Drives the evaluation laps of one training run (see the module docstring)."""

    def __init__(self, config: TrainConfig, rules: EvaluationRules | None = None):
        self.config = config
        self.rules = rules or EvaluationRules(race_duration=TIME_LIMIT)
        self._cars: Racers | None = None

    def cars(self) -> Racers:
        """The evaluation's own cars, one per trial and track (car i on track
        i % tracks, its trial i // tracks), built at the first evaluation."""
        if self._cars is None:
            cfg, rules = self.config, self.rules
            self._cars = Racers(cfg.eval_trials * len(cfg.tracks), track=cfg.tracks,
                                reward_function=DEFAULT_EXAMPLE,
                                action_space=cfg.action_space, observation=cfg.observation,
                                rgb=cfg.rgb, frame_stack=cfg.frame_stack,
                                lighting=cfg.lighting, start="line",
                                start_offset=cfg.start_position_offset,
                                reverse=cfg.reverse_direction, rules=rules,
                                race=cfg.race_setup())
        return self._cars

    def track_names(self) -> list[str] | None:
        """The track of each evaluation car (by car index) of a run on several tracks;
        None for a run on one."""
        if len(self.config.tracks) == 1:
            return None
        return list(self.cars().track_name)

    def drive(self, model) -> list[Episode]:
        """One lap per trial with ``model``'s greedy actions (an SB3 PPO or SAC model)."""
        cars = self.cars()

        def greedy(obs: np.ndarray) -> np.ndarray:
            action, _ = model.predict(obs, deterministic=True)
            return action

        driver = PolicyDriver(greedy, cars.actions, "training policy",
                              observation=self.config.observation, rgb=self.config.rgb,
                              frame_stack=self.config.frame_stack)
        tracks = len(self.config.tracks)  # each track's trial k in the light of seed + k
        seeds = [self.config.seed + car // tracks for car in range(cars.n)]
        with one_torch_thread():
            return rollout(cars, driver, seeds=seeds).episodes


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block with torch on one thread, then give back the trainer's threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def evaluation_records(episodes: Sequence[Episode], *, evaluation: int, episode: int,
                       iteration: int, num_timesteps: int, seconds: float,
                       wall_time: float, tracks: Sequence[str] | None = None) -> list[dict]:
    """training_metrics.json records of one evaluation, one per trial.

    Keys as a training episode's, plus ``evaluation``, ``trial``, ``num_timesteps``,
    ``off_track``, ``penalty`` and ``evaluation_seconds``; ``episode`` repeats the count of
    training episodes so far, as DeepRacer's evaluation entries do. ``reward`` is the
    centre-line reward DeepRacer's evaluation logs with, not the user's. ``tracks`` (the
    track of each car, a run on several tracks) adds the ``track`` key.
    """
    return [{
        "episode": episode,
        "iteration": iteration,
        "reward_score": round(e.total_reward),
        "reward": e.total_reward,
        "progress": e.progress,
        "steps": e.steps,
        "elapsed_time_in_milliseconds": round(e.elapsed * 1000),
        "completed_lap": e.completed,
        "lap_time": e.lap_time,
        "episode_status": str(e.status),
        "phase": EVALUATION_PHASE,
        "wall_time": wall_time,
        "evaluation": evaluation,
        "trial": e.trial,
        "num_timesteps": num_timesteps,
        "off_track": e.off_track,
        "penalty": e.penalty,
        "evaluation_seconds": seconds,
        **({"track": tracks[e.car]} if tracks is not None else {}),
    } for e in episodes]
