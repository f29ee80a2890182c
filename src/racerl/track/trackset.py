"""Several tracks under one batch of cars, each car on one of them.

A batch that trains on several tracks, or drives one track both ways, asks the questions a
batch on one track asks (where is each car along its centre line, are its wheels on the
road, where does an episode start), but each car of its own track. :class:`TrackSet`
answers them with one batched call per track over the cars on it: a step costs one call
per track, never one per car, and a set of one track is exactly that track.

``which`` arguments are one track index per query point (per car), into :attr:`tracks`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from racerl.track.geometry import Track, TrackGeometry

Group = tuple[int, "slice | np.ndarray"]
"""A track index and the positions (of ``which``) of the points on it."""


class TrackSet:
    """An ordered set of tracks; per-point track indices pick the one each point is on."""

    def __init__(self, tracks: Sequence[Track]):
        if not tracks:
            raise ValueError("a track set needs at least one track")
        self.tracks: tuple[Track, ...] = tuple(tracks)
        self.length = np.array([t.length for t in self.tracks])
        """Centre-line length of each track, metres."""
        self.reversed = np.array([t.reversed for t in self.tracks], dtype=bool)
        """Whether each track is driven against its file's row order."""

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, index: int) -> Track:
        return self.tracks[index]

    def groups(self, which: np.ndarray) -> list[Group]:
        """(track, positions) for every track that ``which`` names, positions as an index
        array (a whole-array slice when every point is on the one track of a set of one)."""
        if len(self.tracks) == 1:
            return [(0, slice(None))]
        which = np.asarray(which)
        return [(int(t), np.flatnonzero(which == t)) for t in np.unique(which)]

    def measure(self, points: np.ndarray, which: np.ndarray) -> TrackGeometry:
        """:meth:`Track.measure` of each point (M, 2) on its own track."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        parts = [(idx, self.tracks[t].measure(points[idx])) for t, idx in self.groups(which)]
        if isinstance(parts[0][0], slice):
            return parts[0][1]
        return TrackGeometry(**{
            f.name: _scatter(len(points), [(idx, getattr(geo, f.name)) for idx, geo in parts])
            for f in dataclasses.fields(TrackGeometry)})

    def on_track(self, points: np.ndarray, which: np.ndarray) -> np.ndarray:
        """:meth:`Track.on_track` of points (M, ..., 2), row m on track ``which[m]``."""
        points = np.asarray(points, dtype=np.float64)
        (inside,) = self._each(lambda track, idx: (track.on_track(points[idx]),), which,
                               len(points))
        return inside

    def pose_at(self, ndist: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`Track.pose_at` of lap fractions (M,): (M, 2) points and (M,) yaws."""
        ndist = np.atleast_1d(np.asarray(ndist, dtype=np.float64))

        def pose(track: Track, idx: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            xy, yaw = track.pose_at(ndist[idx])
            return np.atleast_2d(xy), np.atleast_1d(yaw)

        xy, yaw = self._each(pose, which, len(ndist))
        return xy, yaw

    def interpolate(self, arc: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centre-line points (M, ..., 2) and headings (M, ...) at arc lengths (M, ...),
        row m along track ``which[m]``."""
        arc = np.asarray(arc, dtype=np.float64)
        xy, heading = self._each(lambda track, idx: track.center.interpolate(arc[idx]), which,
                                 len(arc))
        return xy, heading

    def _each(self, query: Callable[[Track, slice | np.ndarray], tuple[np.ndarray, ...]],
              which: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
        """The arrays ``query(track, positions)`` gives per group, each put together in
        point order."""
        parts = [(idx, query(self.tracks[t], idx)) for t, idx in self.groups(which)]
        if isinstance(parts[0][0], slice):
            return parts[0][1]
        return tuple(_scatter(n, [(idx, values[k]) for idx, values in parts])
                     for k in range(len(parts[0][1])))


def _scatter(n: int, parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """One array of ``n`` rows from row subsets: ``out[idx] = values`` for each part."""
    first = np.asarray(parts[0][1])
    out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
    for idx, values in parts:
        out[idx] = values
    return out
