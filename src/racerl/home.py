"""Where racerl keeps a user's things: the racerl home and the track search path.

The home is ``$RACERL_HOME`` or ``~/.racerl``. Tracks are looked up, in order, in the home's
``tracks/`` folder, in each folder of ``$RACERL_TRACK_PATH`` (colon-separated, like ``PATH``)
and finally among the tracks shipped inside the package. DeepRacer's own track files are not
ours to ship, so a DeepRacer user points ``RACERL_TRACK_PATH`` at them or copies them into the
home with ``racerl tracks add``.

Models and races are kept under the home by name, and a name is only ever a name: one plain
folder name (:func:`check_name`), never a path, so that nothing racerl creates by name can
land outside the home or on top of a folder the user keeps elsewhere.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

from racerl.errors import RacerlError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit"


class InvalidNameError(RacerlError):
    """A model or race name that is not one plain folder name."""


def check_name(name: str, kind: str) -> str:
    """``name`` when it is a usable name for a ``kind`` ("model", "race") kept in the home.

    One path component of safe characters: no '/', no leading '~' or '.', so neither '..'
    nor a hidden file, and a length cap well inside every file system's limit. The whole
    string must match (``fullmatch``): a trailing newline is not forgiven.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidNameError(f"{kind} name {name!r}: use {NAME_RULE} (a name, not a path)")
    return name


def racerl_home() -> Path:
    """The folder holding a user's tracks, models and races (not created here)."""
    env = os.environ.get("RACERL_HOME")
    return Path(env).expanduser() if env else Path.home() / ".racerl"


def user_tracks_dir() -> Path:
    """The home's track folder, the target of ``racerl tracks add``."""
    return racerl_home() / "tracks"


def builtin_tracks_dir() -> Path:
    """The folder of tracks shipped as package data."""
    return Path(str(resources.files("racerl") / "track" / "builtin"))


def track_search_path() -> list[Path]:
    """Folders searched for ``<name>.npy``, first match wins; built-ins come last."""
    folders = [user_tracks_dir()]
    for entry in os.environ.get("RACERL_TRACK_PATH", "").split(os.pathsep):
        if entry.strip():
            folders.append(Path(entry.strip()).expanduser())
    folders.append(builtin_tracks_dir())
    return folders
