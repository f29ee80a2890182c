"""`race submit --parallel`: many models raced at once as Ray tasks, with exactly the laps a
sequential submission drives."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from racerl.cli import app
from racerl.evaluate.evaluation import model_entrant, scripted_entrant
from racerl.evaluate.races import RaceError, create_race, leaderboard, submit, submit_parallel

runner = CliRunner()


@pytest.fixture
def two_models(tiny_model_home, isolated_home):
    """The shared 'tiny' model and 'rookie', the same setup trained for two updates only,
    in this test's own home."""
    from racerl.model.config import load_config_dict
    from racerl.train.trainer import train

    shutil.copytree(tiny_model_home / "models" / "tiny", isolated_home / "models" / "tiny")
    config = load_config_dict({"track": "oval", "observation": "state", "network": "mlp",
                               "n_envs": 8, "rollout_steps": 64, "batch_size": 128,
                               "eval_every": 1, "seed": 1,
                               "num_episodes_between_training": 5}, "rookie")
    train("rookie", config, steps=8 * 64 * 2)
    return ["tiny", "rookie"]


@pytest.mark.slow
def test_parallel_submissions_drive_the_sequential_laps(two_models):
    from racerl.train.cluster import disconnect

    create_race("cup", "oval", laps=2, off_track_penalty=1.0, seed=3)
    sequential = [submit("cup", model_entrant(m))[0] for m in two_models]
    try:
        results = submit_parallel("cup", [model_entrant(m) for m in two_models])
        for one, (run, standing) in zip(sequential, results, strict=True):
            assert run.rows == one.rows  # every step of the sim-trace, the same
            assert [(t.status, t.lap_time, t.off_track, t.progress) for t in run.trials] == \
                [(t.status, t.lap_time, t.off_track, t.progress) for t in one.trials]
            assert standing.submissions == 2
        board = {s.entrant: s for s in leaderboard("cup")}
        assert set(board) == set(two_models)

        result = runner.invoke(app, ["race", "submit", "cup", *two_models, "--parallel"])
        assert result.exit_code == 0, result.output
        assert "on the cup leaderboard" in result.output
        assert {s.entrant: s.submissions for s in leaderboard("cup")} == \
            {"tiny": 3, "rookie": 3}
    finally:
        disconnect()


def test_parallel_submissions_are_for_models():
    create_race("cup", "oval", laps=1)
    with pytest.raises(RaceError, match="--parallel races models"):
        submit_parallel("cup", [scripted_entrant("centerline")])
    result = runner.invoke(app, ["race", "submit", "cup", "--driver", "centerline",
                                 "--parallel"])
    assert result.exit_code == 2 and "--parallel races models" in result.output
