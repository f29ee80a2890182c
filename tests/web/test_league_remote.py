"""Two machines, as near as one test gets: a league server (`racerl serve --league`) in its
own process over its own racerl home, and a racer's command line in other processes over
another home, holding the trained model. The racer joins, submits (the CLI exports the
model into a temporary folder and uploads the bundle) and sees the standings change."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import copy_trained_model

pytestmark = pytest.mark.slow
SRC = str(Path(__file__).resolve().parents[2] / "src")


def racerl(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "RACERL_HOME": str(home), "PYTHONPATH": SRC, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "racerl.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def league_server(tmp_path):
    """`racerl serve --league` on a free port, its home holding race r1 in league spring."""
    home = tmp_path / "server_home"
    for args in (("race", "create", "r1", "--track", "oval", "--laps", "1"),
                 ("league", "create", "spring", "--race", "r1")):
        done = racerl(home, *args)
        assert done.returncode == 0, done.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RACERL_HOME": str(home), "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-m", "racerl.cli", "serve", "--league",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/leagues", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(60)


def test_a_racer_elsewhere_joins_submits_and_scores(league_server, tiny_model_home, tmp_path):
    racer_home = tmp_path / "racer_home"
    copy_trained_model(tiny_model_home / "models" / "tiny", racer_home / "models" / "tiny")

    joined = racerl(racer_home, "league", "join", "--server", league_server, "--name", "bob")
    assert joined.returncode == 0, joined.stderr
    token = next(line.split()[1] for line in joined.stdout.splitlines()
                 if line.startswith("token:"))
    before = racerl(racer_home, "league", "standings", "spring", "--server", league_server)
    assert before.returncode == 0 and "bob" not in before.stdout

    wrong = racerl(racer_home, "race", "submit", "r1", "tiny", "--server", league_server,
                   "--racer", "bob", "--token", "not-it")
    assert wrong.returncode == 2
    errors = [line for line in wrong.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "do not match" in errors[0], wrong.stderr  # one line
    assert "Traceback" not in wrong.stderr

    submitted = racerl(racer_home, "race", "submit", "r1", "tiny", "--server", league_server,
                       "--racer", "bob", "--token", token)
    assert submitted.returncode == 0, submitted.stderr
    assert "bob is number 1 on the r1 leaderboard" in submitted.stdout

    after = racerl(racer_home, "league", "standings", "spring", "--server", league_server)
    assert after.returncode == 0, after.stderr
    row = next(line for line in after.stdout.splitlines() if "bob" in line)
    assert row.split("│")[3].strip() == "25", after.stdout  # points column of the overall
    # The bundle came from the racer's home; the server never saw the model folder.
    assert not (tmp_path / "server_home" / "models").exists()
    assert (tmp_path / "server_home" / "league" / "racers" / "bob").is_dir()
