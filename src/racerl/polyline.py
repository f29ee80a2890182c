"""Batched closest-point queries on a polyline, the primitive under all track geometry.

DeepRacer measures everything with shapely's ``project``/``interpolate`` on the centre line
and the borders. We do the same computation for a whole batch of points at once in NumPy,
because the simulator asks it for every car on every step. Ties between equally close
segments go to the lowest segment index, as in shapely.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_CHUNK = 4096  # points per block: keeps the (points x segments) scratch arrays small


@dataclass(frozen=True)
class Polyline:
    """An ordered chain of 2-D vertices; ``closed`` when the last vertex repeats the first."""

    vertices: np.ndarray
    closed: bool
    cumulative: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        v = np.ascontiguousarray(self.vertices, dtype=np.float64)
        object.__setattr__(self, "vertices", v)
        seg = np.diff(v, axis=0)
        lengths = np.hypot(seg[:, 0], seg[:, 1])
        object.__setattr__(self, "cumulative", np.concatenate([[0.0], np.cumsum(lengths)]))
        object.__setattr__(self, "_start", v[:-1])
        object.__setattr__(self, "_delta", seg)
        object.__setattr__(self, "_len2", lengths**2)

    @property
    def length(self) -> float:
        return float(self.cumulative[-1])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Arc length of the closest point on the line for each of ``points`` (M, 2).

        Returns ``(arc_length, closest_xy)``; arc lengths lie in [0, length].
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        arc = np.empty(len(points))
        closest = np.empty((len(points), 2))
        for lo in range(0, len(points), _CHUNK):
            p = points[lo : lo + _CHUNK]
            rel_x = p[:, None, 0] - self._start[None, :, 0]
            rel_y = p[:, None, 1] - self._start[None, :, 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                t = (rel_x * self._delta[:, 0] + rel_y * self._delta[:, 1]) / self._len2
            t = np.where(self._len2 > 0, np.clip(t, 0.0, 1.0), 0.0)
            dx = rel_x - t * self._delta[:, 0]
            dy = rel_y - t * self._delta[:, 1]
            best = np.argmin(dx * dx + dy * dy, axis=1)
            rows = np.arange(len(p))
            tb = t[rows, best]
            arc[lo : lo + _CHUNK] = self.cumulative[best] + tb * np.sqrt(self._len2[best])
            closest[lo : lo + _CHUNK] = self._start[best] + tb[:, None] * self._delta[best]
        return arc, closest

    def interpolate(self, arc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Point and direction (radians) at arc lengths; wraps around on closed lines."""
        arc = np.asarray(arc, dtype=np.float64)
        arc = np.mod(arc, self.length) if self.closed else np.clip(arc, 0.0, self.length)
        seg = np.searchsorted(self.cumulative, arc, side="right") - 1
        seg = np.clip(seg, 0, len(self._start) - 1)
        # Skip zero-length segments (duplicate rows) so the direction is always defined.
        seg_len = np.sqrt(self._len2)
        seg = self._nonzero_segment(seg)
        t = np.clip((arc - self.cumulative[seg]) / seg_len[seg], 0.0, 1.0)
        xy = self._start[seg] + t[..., None] * self._delta[seg]
        direction = np.arctan2(self._delta[seg, 1], self._delta[seg, 0])
        return xy, direction

    def _nonzero_segment(self, seg: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_next_nonzero"):
            n = len(self._start)
            nxt = np.empty(n, dtype=np.int64)
            following = None
            for i in range(2 * n - 1, -1, -1):  # built once per polyline
                j = i % n
                if self._len2[j] > 0:
                    following = j
                if i < n:
                    nxt[j] = following if following is not None else j
            object.__setattr__(self, "_next_nonzero", nxt)
        return self._next_nonzero[seg]

    def normalized(self, arc: np.ndarray) -> np.ndarray:
        """Arc length as a fraction of the whole line, like shapely's ``normalized=True``."""
        return np.asarray(arc) / self.length


def signed_area(vertices: np.ndarray) -> float:
    """Shoelace area: positive when the ring runs counter-clockwise."""
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
