"""The web console (``racerl serve``): a thin shell over the library, like the CLI."""
