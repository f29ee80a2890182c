"""The racerl command line: main job, views, tracks, and one-line errors for user mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from racerl.cli import app
from tests.helpers import circle_track

runner = CliRunner()


def test_view_writes_png(tmp_path):
    out = tmp_path / "view.png"
    result = runner.invoke(app, ["view", "--track", "circuit", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size[0] > 200


def test_tracks_lists_builtins():
    result = runner.invoke(app, ["tracks"])
    assert result.exit_code == 0, result.output
    assert "loop (default)" in result.output and "built-in" in result.output


def test_tracks_create_and_add(tmp_path, isolated_home):
    result = runner.invoke(app, ["tracks", "create", "mytrack", "--seed", "4",
                                 "--picture", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.output
    assert (isolated_home / "tracks" / "mytrack.npy").is_file()
    assert (tmp_path / "t.png").is_file()
    listing = runner.invoke(app, ["tracks"])
    assert "mytrack" in listing.output


def test_user_mistakes_are_one_line_errors(tmp_path):
    bad = tmp_path / "broken.npy"
    np.save(bad, np.full((20, 6), np.nan))
    for args, fragment in (
        (["view", "--track", str(bad)], "NaN"),
        (["view", "--track", "nope"], "no track named"),
        (["drive", str(tmp_path / "missing.tar.gz")], "no such bundle"),
        (["tracks", "create", "x"], "exactly one of --seed"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize(("how", "fragment"), [
    ("huge", "racerl takes tracks within 10000 m of the origin"),  # rendering would overflow
    ("complex", "holds complex numbers"),
    ("text", "holds text"),
    ("millions", "2,000,000 waypoints; racerl takes at most 10,000"),
])
def test_absurd_track_files_are_refused_at_load(tmp_path, how, fragment):
    path = tmp_path / f"{how}.npy"
    track = circle_track()
    if how == "millions":
        track = np.resize(track, (2_000_000, 6))
    np.save(path, {"huge": track * 1e300, "complex": track + 1j, "text": track.astype(str),
                   "millions": track}[how])
    for args in (["view", "--track", str(path), "--out", str(tmp_path / "v.png")],
                 ["tracks", "add", str(path)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and fragment in lines[0], lines
    assert not (tmp_path / "v.png").exists()


def test_readme_control_point_example(isolated_home):
    result = runner.invoke(app, ["tracks", "create", "notch", "--points",
                                 "0,0 12,0 12,6 6,3 0,6"])
    assert result.exit_code == 0, result.output
    assert (isolated_home / "tracks" / "notch.npy").is_file()


def test_view_camera_and_lighting_grid(tmp_path):
    for flag, name in (("--camera", "cam.png"), ("--lighting-grid", "grid.png")):
        out = tmp_path / name
        result = runner.invoke(app, ["view", flag, "--out", str(out)])
        assert result.exit_code == 0, result.output
        image = np.asarray(Image.open(out))
        assert image.shape[1] > 600 and image.std() > 10  # real pictures, not blank


def test_view_camera_with_objects_and_objects_grid(tmp_path):
    plain, with_objects, grid = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    for args, out in ((["--camera"], plain), (["--camera", "--objects"], with_objects),
                      (["--objects-grid"], grid)):
        result = runner.invoke(app, ["view", *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
    a, b = np.asarray(Image.open(plain)), np.asarray(Image.open(with_objects))
    camera_panel = (a != b).any(axis=-1)[:, 720:]  # right of the 720 px top-down view
    assert camera_panel.mean() > 0.1  # the box and the bot car fill part of the frame
    assert np.asarray(Image.open(grid)).shape == (720, 1440, 3)


def test_view_camera_shows_the_race_layout_the_simulator_places(tmp_path):
    plain, bots = tmp_path / "a.png", tmp_path / "b.png"
    for args, out in ((["--camera"], plain),
                      (["--camera", "--race-type", "head_to_bot", "--number-of-bot-cars", "1"],
                       bots)):
        result = runner.invoke(app, ["view", "--at", "0", *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
    a, b = np.asarray(Image.open(plain)), np.asarray(Image.open(bots))
    blue = (b[..., 2] > 150) & (b[..., 0] < 120)  # the bot car's paint
    assert blue[:, 720:].sum() > 200 and not ((a[..., 2] > 150) & (a[..., 0] < 120)).any()
    bad = runner.invoke(app, ["view", "--camera", "--race-type", "drag"])
    assert bad.exit_code != 0 and "race_type" in bad.output


def test_view_camera_shows_the_other_racer_on_the_grid(tmp_path):
    out = tmp_path / "racer.png"
    result = runner.invoke(app, ["view", "--at", "0", "--camera", "--race-type",
                                 "head_to_model", "--out", str(out)])
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(out))
    red = (image[..., 0] > 150) & (image[..., 1] < 90) & (image[..., 2] < 90)  # racer paint
    assert red[:360, 720:].sum() > 500  # in the RGB camera panel


def test_view_rejects_unknown_lighting():
    result = runner.invoke(app, ["view", "--camera", "--lighting", "disco"])
    assert result.exit_code == 2 and "presets are" in result.output


def test_evaluate_with_limits_prints_laps_beside_the_race_line():
    result = runner.invoke(app, ["evaluate", "--driver", "centerline", "--speed", "2",
                                 "--track", "oval", "--trials", "1", "--limits"])
    assert result.exit_code == 0, result.output
    assert "beside the track's limits" in result.output
    rows = [line for line in result.output.splitlines() if "│" in line and "raceline" in line]
    assert rows and rows[-1].split("│")[-2].strip() == "1.00"
