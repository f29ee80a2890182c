"""Batched closest-point queries on a polyline, the primitive under all track geometry.

DeepRacer measures everything with shapely's ``project``/``interpolate`` on the centre line
and the borders. We do the same computation for a whole batch of points at once in NumPy,
because the simulator asks it for every car on every step. Ties between equally close
segments go to the lowest segment index, as in shapely.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np


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
        points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 2)
        return _project(points, self.vertices, self.cumulative)

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

    def forward_pose(self, arc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points at arc lengths and the yaw (radians) from each towards the next vertex along
        the line: DeepRacer's forward-difference pose (simapp ``markov/track_geom/
        track_data.py``, ``TrackLine.interpolate_yaw`` with ``FORWARD_DIFFERENCE``), how it
        aims a car it puts on a line. The next vertex is the first one whose arc length lies
        strictly beyond the point (``bisect_right``); should it coincide with the point (a
        closing or duplicate vertex), the line's own direction there is used."""
        arc = np.atleast_1d(np.asarray(arc, dtype=np.float64))
        arc = np.mod(arc, self.length) if self.closed else np.clip(arc, 0.0, self.length)
        xy, direction = self.interpolate(arc)
        fractions = self.cumulative / self.length
        fractions[-1] = 1.0
        nxt = np.searchsorted(fractions, arc / self.length, side="right")
        nxt = np.minimum(nxt, len(self.vertices) - 1)
        delta = self.vertices[nxt] - xy
        yaw = np.where(np.hypot(delta[:, 0], delta[:, 1]) < 1e-9, direction,
                       np.arctan2(delta[:, 1], delta[:, 0]))
        return xy, yaw

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


@numba.njit(cache=True, nogil=True)
def _project(points: np.ndarray, vertices: np.ndarray,
             cumulative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest point on the polyline for every point: a full scan over the segments, compiled
    (a few hundred segments per track make a scan cheaper than any spatial index)."""
    m, n_seg = points.shape[0], vertices.shape[0] - 1
    arc = np.empty(m)
    closest = np.empty((m, 2))
    for i in range(m):
        px, py = points[i, 0], points[i, 1]
        best, best_t, best_d = 0, 0.0, np.inf
        for k in range(n_seg):
            ax, ay = vertices[k, 0], vertices[k, 1]
            dx, dy = vertices[k + 1, 0] - ax, vertices[k + 1, 1] - ay
            len2 = dx * dx + dy * dy
            t = 0.0
            if len2 > 0.0:
                t = ((px - ax) * dx + (py - ay) * dy) / len2
                t = min(max(t, 0.0), 1.0)
            ex, ey = px - ax - t * dx, py - ay - t * dy
            d = ex * ex + ey * ey
            if d < best_d:  # strict: ties go to the lowest segment index, as in shapely
                best, best_t, best_d = k, t, d
        dx = vertices[best + 1, 0] - vertices[best, 0]
        dy = vertices[best + 1, 1] - vertices[best, 1]
        arc[i] = cumulative[best] + best_t * np.sqrt(dx * dx + dy * dy)
        closest[i, 0] = vertices[best, 0] + best_t * dx
        closest[i, 1] = vertices[best, 1] + best_t * dy
    return arc, closest
