"""Finding tracks: by name on the search path, the index of every track, adding files.

A track is named by its file name without ``.npy``. :func:`find_track` looks in the racerl
home, then ``$RACERL_TRACK_PATH``, then the built-ins (see :mod:`racerl.home`); a path to a
``.npy`` file works too. DeepRacer's public tracks are recognised by name so the index can
say where a track comes from; their files are never shipped with racerl.

Any loop runs either way. DeepRacer-for-Cloud names a direction with a ``_cw`` or ``_ccw``
suffix (``2022_april_open_ccw``): where a file of that name exists it is the track, as in
DeepRacer; where none does (``reinvent_base_cw``, ``loop_ccw``) the name means the track
without the suffix, driven clockwise or counter-clockwise (:func:`resolve_track`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from racerl.atomic import atomic_write
from racerl.errors import TrackError
from racerl.home import builtin_tracks_dir, track_search_path, user_tracks_dir
from racerl.track import DEFAULT_TRACK
from racerl.track.geometry import Track

# Names of the 127 route files of DeepRacer's simulation application (names only, no data).
DEEPRACER_TRACK_NAMES = frozenset((
    "2022_april_open", "2022_april_open_ccw", "2022_april_open_cw", "2022_april_pro",
    "2022_april_pro_ccw", "2022_april_pro_cw", "2022_august_open", "2022_august_open_ccw",
    "2022_august_open_cw", "2022_august_pro", "2022_august_pro_ccw", "2022_august_pro_cw",
    "2022_july_open", "2022_july_pro", "2022_july_pro_ccw", "2022_july_pro_cw", "2022_june_open",
    "2022_june_open_ccw", "2022_june_open_cw", "2022_june_pro", "2022_june_pro_ccw",
    "2022_june_pro_cw", "2022_march_open", "2022_march_open_ccw", "2022_march_open_cw",
    "2022_march_pro", "2022_march_pro_ccw", "2022_march_pro_cw", "2022_may_open",
    "2022_may_open_ccw", "2022_may_open_cw", "2022_may_pro", "2022_may_pro_ccw",
    "2022_may_pro_cw", "2022_october_open", "2022_october_open_ccw", "2022_october_open_cw",
    "2022_october_pro", "2022_october_pro_ccw", "2022_october_pro_cw", "2022_reinvent_champ_ccw",
    "2022_reinvent_champ_cw", "2022_september_open", "2022_september_open_ccw",
    "2022_september_open_cw", "2022_september_pro", "2022_september_pro_ccw",
    "2022_september_pro_cw", "2022_summit_speedway", "2022_summit_speedway_ccw",
    "2022_summit_speedway_cw", "2022_summit_speedway_mini", "2024_reinvent_champ_ccw",
    "2024_reinvent_champ_cw", "AWS_track", "Albert", "AmericasGeneratedInclStart", "Aragon",
    "Austin", "Belille", "Bowtie_track", "Canada_Training", "China_track", "FS_June2020",
    "July_2020", "LGSWide", "Mexico_track", "Monaco", "Monaco_building", "New_York_Track",
    "Oval_track", "Singapore", "Singapore_building", "Singapore_f1", "Spain_track",
    "Spain_track_f1", "Straight_track", "Tokyo_Training_track", "Vegas_track",
    "Virtual_May19_Train_track", "arctic_open", "arctic_open_ccw", "arctic_open_cw", "arctic_pro",
    "arctic_pro_ccw", "arctic_pro_cw", "caecer_gp", "caecer_loop", "dubai_open", "dubai_open_ccw",
    "dubai_open_cw", "dubai_pro", "hamption_open", "hamption_pro", "jyllandsringen_open",
    "jyllandsringen_open_ccw", "jyllandsringen_open_cw", "jyllandsringen_pro",
    "jyllandsringen_pro_ccw", "jyllandsringen_pro_cw", "morgan_open", "morgan_pro", "penbay_open",
    "penbay_open_ccw", "penbay_open_cw", "penbay_pro", "penbay_pro_ccw", "penbay_pro_cw",
    "reInvent2019_track", "reInvent2019_track_ccw", "reInvent2019_track_cw", "reInvent2019_wide",
    "reInvent2019_wide_ccw", "reInvent2019_wide_cw", "reInvent2019_wide_mirrored",
    "red_star_open", "red_star_pro", "red_star_pro_ccw", "red_star_pro_cw", "reinvent_base",
    "reinvent_carpet", "reinvent_concrete", "reinvent_wood", "thunder_hill_open",
    "thunder_hill_pro", "thunder_hill_pro_ccw", "thunder_hill_pro_cw",
))


@dataclass(frozen=True)
class TrackInfo:
    """One row of the track index."""

    name: str
    source: str  # "built-in", "DeepRacer" or "user"
    path: Path
    length: float  # centre line, metres
    width: float  # median local width as DeepRacer measures it, metres
    direction: str  # "ccw", "cw" or "open"
    rows: int


def source_of(path: Path) -> str:
    """Where a track file comes from, for the index."""
    if path.parent.resolve() == builtin_tracks_dir().resolve():
        return "built-in"
    return "DeepRacer" if path.stem in DEEPRACER_TRACK_NAMES else "user"


DIRECTIONS = {"_cw": "cw", "_ccw": "ccw"}
"""DeepRacer-for-Cloud's track name suffixes and the driving direction each names."""


def _search(text: str) -> Path | None:
    """The first ``<text>.npy`` on the search path, if any."""
    for folder in track_search_path():
        path = folder / f"{text}.npy"
        if path.is_file():
            return path
    return None


def find_track(name: str | os.PathLike) -> Path:
    """The file of a track name (first match on the search path) or of an explicit path."""
    text = os.fspath(name)
    candidate = Path(text).expanduser()
    if text.endswith(".npy") or os.sep in text:
        if candidate.is_file():
            return candidate
        raise TrackError(f"{candidate}: no such track file")
    path = _search(text)
    if path is not None:
        return path
    hint = ""
    if text in DEEPRACER_TRACK_NAMES:
        hint = (" It is a DeepRacer track: add DeepRacer's track files with "
                "'racerl tracks add FOLDER' (see the README).")
    else:
        variants = [f"{text}{suffix}" for suffix in DIRECTIONS if _search(f"{text}{suffix}")]
        if variants:
            hint = f" Did you mean {' or '.join(repr(v) for v in variants)}?"
    raise TrackError(f"no track named {text!r} on the track search path "
                     f"({', '.join(str(p) for p in track_search_path())}).{hint} "
                     "'racerl tracks' lists the tracks found.")


def resolve_track(name: str | os.PathLike) -> tuple[Path, str | None]:
    """The file of a track name and the direction the name asks for (``"cw"``, ``"ccw"``,
    or None: the file's own direction).

    A file of that exact name always wins (DeepRacer's ``reInvent2019_track_cw.npy`` is a
    track of its own, sampled apart from ``reInvent2019_track``); otherwise a ``_cw`` or
    ``_ccw`` suffix names the track without it in that direction.
    """
    text = os.fspath(name)
    if text.endswith(".npy") or os.sep in text or _search(text) is not None:
        return find_track(text), None
    for suffix, direction in DIRECTIONS.items():
        base = text.removesuffix(suffix)
        if base != text and base and _search(base) is not None:
            return find_track(base), direction
    return find_track(text), None  # raises the error that names the missing track


def load_track(name: str | os.PathLike | Track = DEFAULT_TRACK, reverse: bool = False) -> Track:
    """Load a track by name or path, validated; ``reverse`` drives it the other way.

    A ``_cw``/``_ccw`` name without a file of its own is the base track in that direction
    (see :func:`resolve_track`); ``reverse`` then turns it round again, as DeepRacer's
    ``REVERSE_DIR`` turns round whatever ``WORLD_NAME`` loaded.
    """
    if isinstance(name, Track):
        return name.reverse() if reverse else name
    path, direction = resolve_track(name)
    if direction is None:
        return Track.load(path, source=source_of(path), reverse=reverse)
    track = Track.load(path, name=os.fspath(name), source=source_of(path))
    if not track.is_loop:
        raise TrackError(f"track {os.fspath(name)!r}: {path.stem} is an open line, not a "
                         f"loop, so it has no {direction} direction (drive it reversed "
                         "instead: reverse_direction)")
    wrong_way = track.is_ccw != (direction == "ccw")
    return track.reverse() if wrong_way != reverse else track


def iter_track_files() -> list[Path]:
    """Every track file on the search path, first match per name, sorted by name."""
    seen: dict[str, Path] = {}
    for folder in track_search_path():
        if folder.is_dir():
            for path in sorted(folder.glob("*.npy")):
                seen.setdefault(path.stem, path)
    return [seen[k] for k in sorted(seen, key=str.lower)]


def track_index() -> tuple[list[TrackInfo], list[tuple[Path, str]]]:
    """The index of every track found, and the files that failed validation (path, why)."""
    rows, broken = [], []
    for path in iter_track_files():
        try:
            track = Track.load(path, source=source_of(path))
        except TrackError as exc:
            broken.append((path, str(exc)))
            continue
        direction = "open" if not track.is_loop else ("ccw" if track.is_ccw else "cw")
        rows.append(TrackInfo(track.name, track.source, path, track.length,
                              track.summary_width(), direction, len(track.rows)))
    return rows, broken


def add_tracks(sources: list[str | os.PathLike]) -> list[Path]:
    """Copy validated ``.npy`` files (or every one in a folder) into the home's tracks folder.

    All files are validated before any is copied, so a bad file adds nothing; each copy is
    written to a temporary file and renamed, so a crash leaves no half-written track.
    """
    files: list[Path] = []
    for src in sources:
        path = Path(src).expanduser()
        if path.is_dir():
            found = sorted(path.glob("*.npy"))
            if not found:
                raise TrackError(f"{path}: the folder holds no .npy track files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise TrackError(f"{path}: no such file or folder")
    for path in files:
        Track.load(path)  # raises a TrackError naming the file
    target = user_tracks_dir()
    target.mkdir(parents=True, exist_ok=True)
    return [atomic_write(target / path.name, lambda f, src=path: f.write(src.read_bytes()))
            for path in files]
