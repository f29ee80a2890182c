"""A race track: loading, validation and batched geometry, as DeepRacer measures it.

A track file is DeepRacer's route layout: a float array of shape (N, 6) in metres with the
centre line (columns 0-1), the inner border (2-3) and the outer border (4-5); row 0 is the
start line and the row order is the driving direction. A loop repeats its first row at the
end; an open line (DeepRacer's ``Straight_track``) does not.

Every query takes a batch of points and follows shared/reference/deepracer-reference.md
section 2.2: project the model point on the centre line, take the closest border points to
that centre point, and derive distance, local width, side and bracketing waypoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely

from racerl.errors import TrackError
from racerl.track.polyline import Polyline, signed_area

MIN_ROWS = 10
MAX_ROWS = 10_000
"""DeepRacer's longest route file has 401 rows. Every geometry query compares each point
with every segment, so a track of 10,000 rows already takes seconds to load and slows every
simulator step 25-fold; millions of rows would never finish."""
MAX_COORDINATE = 1e4
"""Metres from the origin: DeepRacer's tracks lie within 20 m of it. Beyond this, values
are not a track in metres (a file in millimetres, or garbage) and only overflow later."""
MAX_EXTENT = 100.0
"""Metres across, in x or y: DeepRacer's largest track spans 24 m. The front camera paints
the floor at 1 cm per pixel, so a 100 m track is already a 10,000-pixel-square picture
(about 3 GB while it is painted); much larger ones cannot be drawn at all."""
MIN_WIDTH = 1e-3  # metres: a narrower road anywhere is a zero-width track


@dataclass(frozen=True)
class TrackGeometry:
    """Per-point answers of :meth:`Track.measure`, one array entry per query point."""

    ndist: np.ndarray  # normalised arc length of the projection on the centre line, [0, 1]
    center: np.ndarray  # (M, 2) closest centre-line point C
    distance_from_center: np.ndarray  # |P - C|
    track_width: np.ndarray  # |I - O|, the local width
    is_left_of_center: np.ndarray  # bool, relative to the driving direction
    prev_waypoint: np.ndarray  # int, closest_waypoints[0]
    next_waypoint: np.ndarray  # int, closest_waypoints[1]
    track_heading: np.ndarray  # radians, direction of the centre line at C


class Track:
    """One track in one driving direction. Cheap to query for many points at once."""

    def __init__(self, waypoints: np.ndarray, name: str = "track", source: str = "user",
                 path: Path | None = None, reverse: bool = False):
        self.path = path
        self.name = name
        self.source = source
        self.file_rows = validate_waypoints(waypoints, str(path) if path else name)
        rows = self.file_rows[::-1].copy() if reverse else self.file_rows
        self.reversed = reverse
        self.rows = rows
        self.is_loop = bool(np.all(self.file_rows[0] == self.file_rows[-1]))
        self.center = Polyline(rows[:, 0:2], closed=self.is_loop)
        self.inner = Polyline(rows[:, 2:4], closed=self.is_loop)
        self.outer = Polyline(rows[:, 4:6], closed=self.is_loop)
        file_ccw = signed_area(self.file_rows[:, 0:2]) > 0 if self.is_loop else True
        self.is_ccw = bool(file_ccw != reverse)  # effective direction, section 1
        self.length = self.center.length
        if not self.length > 1e-6:
            raise TrackError(f"{path or name}: the centre line has zero length")
        n = len(rows)
        fractions = self.center.cumulative / self.length
        fractions[n - 1] = 1.0
        self._waypoint_fractions = fractions
        if min(self.local_width(self.center.vertices)) < MIN_WIDTH:
            raise TrackError(f"{path or name}: the track has zero width somewhere "
                             "(its two borders touch)")

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, name: str | None = None, source: str = "user",
             reverse: bool = False) -> Track:
        """Read and validate a ``.npy`` track file; any problem raises :class:`TrackError`."""
        path = Path(path)
        if not path.is_file():
            raise TrackError(f"{path}: no such track file")
        try:
            # Mapped, not read: validation sees the shape and type before any row is read,
            # so a file of a billion rows is refused as fast as one of twenty.
            data = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception:  # numpy raises several types for a bad file
            raise TrackError(f"{path}: not a NumPy .npy track file (or the file is damaged)"
                             ) from None
        if not isinstance(data, np.ndarray):  # an .npz archive of several arrays
            data.close()
            raise TrackError(f"{path}: holds several arrays (an .npz archive?); a track file "
                             "is one .npy array of shape (N, 6)")
        return cls(data, name=name or path.stem, source=source, path=path, reverse=reverse)

    def reverse(self) -> Track:
        """The same track driven the other way (DeepRacer's ``REVERSE_DIR``)."""
        return Track(self.file_rows, self.name, self.source, self.path, not self.reversed)

    # -- geometry ---------------------------------------------------------------------------

    @property
    def waypoints(self) -> np.ndarray:
        """Centre-line points in driving order, closing point included (params' waypoints)."""
        return self.center.vertices

    @cached_property
    def road(self) -> shapely.Polygon:
        """The drivable area: outer ring as shell, inner ring as hole (section 1)."""
        inner, outer = self.rows[:, 2:4], self.rows[:, 4:6]
        if self.is_loop:
            if abs(signed_area(inner)) > abs(signed_area(outer)):
                inner, outer = outer, inner  # a user file with the border columns swapped
            poly = shapely.Polygon(outer, [inner])
        else:
            poly = shapely.Polygon(np.concatenate([outer, inner[::-1]]))
        shapely.prepare(poly)
        return poly

    def on_track(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies strictly inside the road polygon (DeepRacer's wheel test)."""
        points = np.asarray(points, dtype=np.float64)
        flat = points.reshape(-1, 2)
        inside = shapely.contains_xy(self.road, flat[:, 0], flat[:, 1])
        return inside.reshape(points.shape[:-1])

    def local_width(self, center_points: np.ndarray) -> np.ndarray:
        """|I - O| for centre-line points C: the width DeepRacer reports at that point."""
        _, inner = self.inner.project(center_points)
        _, outer = self.outer.project(center_points)
        return np.hypot(*(inner - outer).T)

    def measure(self, points: np.ndarray) -> TrackGeometry:
        """All section-2.2 quantities for model points P, shape (M, 2)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        arc, center = self.center.project(points)
        ndist = self.center.normalized(arc)
        _, inner = self.inner.project(center)
        _, outer = self.outer.project(center)
        d_inner = np.hypot(*(points - inner).T)
        d_outer = np.hypot(*(points - outer).T)
        is_left = (d_inner < d_outer) ^ (not self.is_ccw)
        nxt = np.searchsorted(self._waypoint_fractions, ndist, side="right")
        prev = nxt - 1
        n = len(self.rows)
        prev = np.where(prev < 0, n - 1, prev)
        nxt = np.where(nxt >= n, 0, nxt)
        _, heading = self.center.interpolate(arc)
        return TrackGeometry(
            ndist=ndist,
            center=center,
            distance_from_center=np.hypot(*(points - center).T),
            track_width=np.hypot(*(inner - outer).T),
            is_left_of_center=is_left,
            prev_waypoint=prev,
            next_waypoint=nxt,
            track_heading=heading,
        )

    def pose_at(self, ndist: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Spawn pose at fractions of the lap: centre-line point, yaw towards the next waypoint."""
        xy, yaw = self.center.forward_pose(np.asarray(ndist, dtype=np.float64) * self.length)
        if np.ndim(ndist) == 0:
            return xy[0], float(yaw[0])
        return xy, yaw

    @cached_property
    def inner_lane(self) -> Polyline:
        """DeepRacer's inner lane: the row-by-row midpoint of the centre and inner-border
        points (simapp ``markov/track_geom/track_data.py``), where a car is put back after
        a mistake (and where multi-car races start)."""
        return Polyline((self.rows[:, 0:2] + self.rows[:, 2:4]) / 2.0, closed=self.is_loop)

    @cached_property
    def outer_lane(self) -> Polyline:
        """DeepRacer's outer lane: the row-by-row midpoint of the centre and outer-border
        points."""
        return Polyline((self.rows[:, 0:2] + self.rows[:, 4:6]) / 2.0, closed=self.is_loop)

    def summary_width(self) -> float:
        """Median local width along the centre line, the figure the track index shows."""
        return float(np.median(self.local_width(self.center.vertices)))

    def __repr__(self) -> str:
        direction = "ccw" if self.is_ccw else "cw"
        return f"Track({self.name!r}, {len(self.rows)} rows, {self.length:.2f} m, {direction})"


def validate_waypoints(data: object, label: str) -> np.ndarray:
    """Return the (N, 6) float64 array of a track, or raise a TrackError naming the problem.

    Checked in the order that keeps the checks cheap: the type and shape first (no value
    read), then the values; every limit is far beyond any real track, and each message says
    which one.
    """
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError):
        raise TrackError(f"{label}: track data is not a numeric array") from None
    if arr.dtype.kind not in "iuf":  # converting would drop imaginary parts, parse strings
        raise TrackError(f"{label}: holds {_dtype_words(arr.dtype)}; a track file holds real "
                         "numbers (metres)")
    if arr.ndim != 2 or arr.shape[1] < 6:
        raise TrackError(f"{label}: expected an array of shape (N, 6) "
                         f"(centre x,y, inner x,y, outer x,y), got shape {arr.shape}")
    if arr.shape[0] < MIN_ROWS:
        raise TrackError(f"{label}: a track needs at least {MIN_ROWS} waypoints, "
                         f"this one has {arr.shape[0]}")
    if arr.shape[0] > MAX_ROWS:
        raise TrackError(f"{label}: {arr.shape[0]:,} waypoints; racerl takes at most "
                         f"{MAX_ROWS:,} (DeepRacer's longest track has 401)")
    arr = np.array(arr[:, :6], dtype=np.float64)  # a copy: never a view of a mapped file
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise TrackError(f"{label}: waypoint row {bad} contains NaN or infinity")
    far = np.abs(arr) > MAX_COORDINATE
    if far.any():
        row, col = np.argwhere(far)[0]
        raise TrackError(f"{label}: waypoint row {row} has the coordinate {arr[row, col]:.3g}; "
                         f"racerl takes tracks within {MAX_COORDINATE:g} m of the origin "
                         "(coordinates in metres; DeepRacer's lie within 20 m)")
    points = arr.reshape(-1, 2)
    extent = float(np.max(points.max(axis=0) - points.min(axis=0)))
    if extent > MAX_EXTENT:
        raise TrackError(f"{label}: the track spans {extent:.0f} m; racerl takes tracks up to "
                         f"{MAX_EXTENT:g} m across (DeepRacer's largest spans 24 m; the camera "
                         "paints the floor at 1 cm per pixel)")
    return np.ascontiguousarray(arr)


def _dtype_words(dtype: np.dtype) -> str:
    """What kind of values an array holds, in words."""
    kinds = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects",
             "b": "true/false values", "M": "dates", "m": "time spans", "V": "records"}
    return f"{kinds.get(dtype.kind, 'values')} ({dtype})"
