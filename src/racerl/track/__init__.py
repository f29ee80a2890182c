"""Tracks: the N×6 track file and its validation, batched geometry over a batch of poses,
the catalog and search path, and the generator of racerl's own tracks.
"""

DEFAULT_TRACK = "loop"
"""The track a new user trains on: shipped with racerl, so it needs no download. Defined
here, not in the catalog, so that the command line can name it without loading geometry."""
