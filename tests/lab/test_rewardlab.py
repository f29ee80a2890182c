"""The reward lab: scripted behaviours with the real simulator, and the warnings they earn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from racerl.cli import app
from racerl.drive.behaviours import BEHAVIOURS
from racerl.drive.rollout import Episode
from racerl.lab.lab import rank, row_of, run_lab
from racerl.reward.function import load_reward_function
from racerl.track.catalog import load_track

SEED_ZIGZAG = "examples/rewards/centre_bonus.py"
PROGRESS = "progress"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Lab reports on the built-in loop, computed once per reward function."""
    cache = {}

    def get(source):
        if source not in cache:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("RACERL_HOME", str(tmp_path_factory.mktemp("home")))
                cache[source] = run_lab(load_track("loop"), load_reward_function(source))
        return cache[source]

    return get


def warnings_about(report, word):
    return [w for w in report.warnings if w.startswith(word)]


def test_every_behaviour_does_what_it_says(lab):
    rows = {r.key: r for r in lab(PROGRESS).rows}
    assert set(rows) == {b.key for b in BEHAVIOURS}
    for key in ("centre_slow", "centre_medium", "centre_fast", "raceline", "zigzag",
                "hug_border", "crawl"):
        assert rows[key].status == "lap_complete", key
    assert rows["stop"].status == "immobilized"
    assert rows["off_track"].status == "off_track"
    assert rows["reverse"].status == "reversed"
    assert rows["reverse"].progress < 0
    # Slower drives take more steps; the race line is the fastest lap of all.
    assert rows["crawl"].steps > rows["centre_slow"].steps > rows["centre_medium"].steps \
        > rows["centre_fast"].steps > rows["raceline"].steps
    assert rows["zigzag"].steps > rows["centre_medium"].steps  # the weave is a longer path


def test_seed_centre_reward_gets_the_zigzag_warning(lab):
    report = lab(SEED_ZIGZAG)
    [zigzag] = warnings_about(report, "zig-zag")
    rows = {r.key: r for r in report.rows}
    ratio = rows["zigzag"].per_lap / rows["centre_medium"].per_lap
    assert ratio > 1.05
    assert f"{ratio:.2f}× the centre line 1 m/s return per lap" in zigzag
    assert "the car will learn to weave" in zigzag
    [crawl] = warnings_about(report, "crawling")
    assert "the reward pays for steps, not progress" in crawl


def test_progress_reward_gets_no_warning(lab):
    report = lab(PROGRESS)
    assert report.warnings == []
    rows = {r.key: r for r in report.rows}
    for key in ("centre_slow", "centre_medium", "zigzag", "crawl", "raceline"):
        assert rows[key].per_lap == pytest.approx(100.0, abs=0.5)  # a lap pays 100, however
    assert report.best.key == "raceline"  # ties per lap: the fastest earner per second wins


def test_follow_center_line_pays_for_crawling_but_not_for_weaving(lab):
    """DeepRacer's default reward: its narrow top band makes weaving cost, but it pays per
    step, so a slower lap is worth more."""
    report = lab("follow_center_line")
    assert warnings_about(report, "zig-zag") == []
    assert warnings_about(report, "crawling")


def test_prevent_zigzag_example_does_prevent_it(lab):
    assert warnings_about(lab("prevent_zigzag"), "zig-zag") == []


def test_negative_pay_for_driving_makes_stopping_the_best_deal():
    """A reward that is negative while moving makes ending the episode the best deal."""
    def costly_driving(params):
        return -1.0 if params["speed"] > 0.2 else 0.0

    report = run_lab(load_track("loop"), load_reward_function(costly_driving))
    [stop] = warnings_about(report, "standing still ends the episode")
    assert "the car will learn to end its episodes early" in stop


def test_per_lap_is_normalised_by_progress():
    def episode(progress: float, run_steps: int) -> Episode:  # reward 1 on every RUN step
        return Episode(1, "off_track", progress, run_steps + 1, None, (run_steps + 1) / 15,
                       total_reward=float(run_steps))

    row = row_of(BEHAVIOURS[0], episode(50.0, 30))
    assert row.per_lap == pytest.approx(60.0)
    assert row.per_second == pytest.approx(15.0)
    short = row_of(BEHAVIOURS[0], episode(3.0, 5))
    assert short.per_lap is None  # a few steps are not extrapolated to a lap
    assert [r.per_lap for r in rank([short, row])] == [60.0, None]


def test_cli_json_and_picture(tmp_path):
    picture = tmp_path / "lab.png"
    result = CliRunner().invoke(app, ["reward", "lab", SEED_ZIGZAG, "--json",
                                      "--picture", str(picture)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["track"] == "loop"
    assert data["ranking"][0]["key"] == "crawl"
    assert any(w.startswith("zig-zag") for w in data["warnings"])
    image = np.asarray(Image.open(picture).convert("RGB"))
    assert image.shape[0] > 300 and image.shape[1] > 300
    # The path of the best behaviour (crawling, reward 1 on every step) is drawn in the
    # colour map's top colour, a brighter yellow than the track's centre-line dashes.
    top = (image[..., 0] > 200) & (image[..., 1] > 235) & (image[..., 2] < 100)
    assert top.sum() > 500


def test_cli_table(tmp_path):
    result = CliRunner().invoke(app, ["reward", "lab", PROGRESS, "--picture",
                                      str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    assert "race line" in result.output and "return/lap" in result.output
    assert "no unwanted behaviour earns more than driving well" in result.output


def test_cli_broken_reward_is_one_readable_error(tmp_path):
    path = tmp_path / "reward.py"
    path.write_text("def reward_function(params):\n"
                    "    return 1.0 / (params['progress'] - params['progress'])\n")
    result = CliRunner().invoke(app, ["reward", "lab", str(path), "--picture",
                                      str(tmp_path / "p.png")])
    assert result.exit_code == 2
    assert "raised ZeroDivisionError" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "p.png").exists()
