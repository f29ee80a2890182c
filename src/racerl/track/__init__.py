"""Tracks: the N×6 track file and its validation, batched geometry over a batch of poses,
the catalog and search path, and the generator of racerl's own tracks.
"""
