"""The ``racerl`` command line: a thin typer shell over the library, one module per group
of commands.

Every user mistake (a bad track, action space or reward function) arrives here as a
:class:`~racerl.errors.RacerlError` and is printed as one line, with exit code 2.
"""

# isort: skip_file
# Importing the command modules registers their commands, in the order `racerl --help`
# lists them: the order of the work (tracks, reward, import, train, sweep, evaluate, race,
# league, export, serve).
from racerl.cli.common import app
from racerl.cli import tracks, rewards, importers, training, sweep  # noqa: F401
from racerl.cli import evaluation, races, league, car, serve  # noqa: F401

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console-script entry
    app()
