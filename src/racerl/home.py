"""Where racerl keeps a user's things: the racerl home and the track search path.

The home is ``$RACERL_HOME`` or ``~/.racerl``. Tracks are looked up, in order, in the home's
``tracks/`` folder, in each folder of ``$RACERL_TRACK_PATH`` (colon-separated, like ``PATH``)
and finally among the tracks shipped inside the package. DeepRacer's own track files are not
ours to ship, so a DeepRacer user points ``RACERL_TRACK_PATH`` at them or copies them into the
home with ``racerl tracks add``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


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
