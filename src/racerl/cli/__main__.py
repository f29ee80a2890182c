"""``python -m racerl.cli``."""

from racerl.cli import app

app()
