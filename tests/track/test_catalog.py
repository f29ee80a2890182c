"""Finding tracks on the search path, the index, and adding track files."""

from __future__ import annotations

import numpy as np
import pytest

from racerl.errors import TrackError
from racerl.home import builtin_tracks_dir
from racerl.track.catalog import DEFAULT_TRACK, add_tracks, find_track, load_track, track_index
from tests.helpers import circle_track


def test_builtins_are_found_without_any_deepracer_files(monkeypatch):
    monkeypatch.delenv("RACERL_TRACK_PATH", raising=False)
    rows, broken = track_index()
    names = {r.name: r for r in rows}
    assert {"oval", "loop", "circuit"} <= names.keys()
    assert not broken
    assert all(r.source == "built-in" for r in rows)
    default = load_track(DEFAULT_TRACK)
    assert default.length == pytest.approx(17.7, abs=0.5)
    assert default.summary_width() == pytest.approx(0.762, abs=0.01)


def test_index_labels_deepracer_tracks_and_reports_reference_width(deepracer_tracks):
    rows, _ = track_index()
    info = {r.name: r for r in rows}
    assert len([r for r in rows if r.source == "DeepRacer"]) == 127
    assert info["reinvent_base"].length == pytest.approx(17.709159380834848)
    assert info["reinvent_base"].width == pytest.approx(0.762, abs=0.002)
    # An unaligned older track: local width, not the row-wise border distance (reference 1).
    assert info["Tokyo_Training_track"].width < 0.85
    assert info["Straight_track"].direction == "open"
    assert info["reInvent2019_track_cw"].direction == "cw"


def test_user_folder_shadows_and_add_copies(tmp_path, isolated_home):
    src = tmp_path / "mine.npy"
    np.save(src, circle_track())
    written = add_tracks([src])
    assert written == [isolated_home / "tracks" / "mine.npy"]
    assert find_track("mine") == written[0]
    rows, _ = track_index()
    assert {r.name: r.source for r in rows}["mine"] == "user"


def test_add_validates_everything_before_copying(tmp_path, isolated_home):
    good, bad = tmp_path / "good.npy", tmp_path / "bad.npy"
    np.save(good, circle_track())
    np.save(bad, np.zeros((5, 6)))
    with pytest.raises(TrackError, match=r"bad\.npy"):
        add_tracks([tmp_path])
    assert not (isolated_home / "tracks" / "good.npy").exists()


def test_explicit_path_and_missing_names(tmp_path):
    path = tmp_path / "ring.npy"
    np.save(path, circle_track())
    assert load_track(str(path)).name == "ring"
    with pytest.raises(TrackError, match="no such track file"):
        find_track(tmp_path / "missing.npy")
    with pytest.raises(TrackError, match="racerl tracks"):
        find_track("definitely_not_a_track")


def test_deepracer_name_without_files_explains_how_to_add(monkeypatch, tmp_path):
    monkeypatch.setenv("RACERL_TRACK_PATH", str(tmp_path))
    with pytest.raises(TrackError, match="racerl tracks add"):
        find_track("reinvent_base")


def test_builtin_folder_holds_only_our_generated_tracks():
    """DeepRacer's files are not ours to ship: the package holds exactly our three."""
    assert sorted(p.name for p in builtin_tracks_dir().glob("*.npy")) == [
        "circuit.npy", "loop.npy", "oval.npy"]
