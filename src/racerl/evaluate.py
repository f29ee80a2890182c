"""Evaluation trials: drive a policy from the start line, DeepRacer-style, and time its laps.

A trial is one episode from the start line with greedy actions (the most likely action, or
the mean for continuous policies) under fixed lighting, ending like a training episode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from racerl.env import RacerEnv


@dataclass(frozen=True)
class TrialResult:
    status: str
    progress: float
    steps: int
    lap_time: float | None  # seconds, when the lap was completed

    @property
    def completed(self) -> bool:
        return self.status == "lap_complete"


def run_trials(policy: Callable[[np.ndarray], object], env: RacerEnv, trials: int = 3,
               seed: int = 0) -> list[TrialResult]:
    """Drive ``trials`` episodes of ``env`` (use ``start="line"``) with ``policy(obs)``."""
    results = []
    for k in range(trials):
        obs, _ = env.reset(seed=seed + k)
        while True:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            if terminated or truncated:
                break
        results.append(TrialResult(info["status"], float(info["progress"]),
                                   int(info["steps"]), info.get("lap_time")))
    return results
