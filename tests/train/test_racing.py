"""The racing preset races: trained with the same small budget as DeepRacer's default setup,
its evaluation laps are faster."""

from __future__ import annotations

import pytest

from racerl.evaluate.evaluation import EvalSettings, evaluate, model_entrant
from racerl.model.config import TrainConfig, layered_config
from racerl.train.trainer import train

BUDGET = 50_000  # env steps for each setup
TRIALS = 2


def _evaluate(name: str):
    """Greedy laps from the start line under DeepRacer's evaluation rules."""
    settings = EvalSettings(track="oval", trials=TRIALS, seed=0)
    return evaluate(model_entrant(name).driver, settings).summary()


@pytest.mark.slow
def test_the_racing_preset_laps_faster_than_the_default_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_HOME", str(tmp_path))
    base = TrainConfig(track="oval", seed=1, eval_every=0)  # laps judged after, below
    for name, preset in (("default", None), ("racing", "racing")):
        config = layered_config(base, preset)
        train(name, config, steps=BUDGET)
    default, racing = _evaluate("default"), _evaluate("racing")
    # The preset completes its laps, and each lap (penalties included) beats the default
    # setup's best; a default car that completes no lap has no time at all.
    assert racing.laps == TRIALS, racing
    assert default.best_lap is None or racing.mean_lap < default.best_lap, (racing, default)
