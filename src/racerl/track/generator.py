"""Make race tracks: our own built-in tracks and random ones from a seed.

DeepRacer's track files are not ours to ship, so racerl needs tracks of its own in the same
layout (shared/reference/deepracer-reference.md section 1): an (N, 6) float64 array of centre,
inner and outer border points, row 0 the start line, the row order the driving direction and
the last row a copy of the first.

How: the centre line is a periodic cubic spline through a few control points (parameterised by
chord length), resampled at equal arc-length steps and optionally scaled to a wanted length;
the borders are the centre line moved half the width along its normal. The start line goes in
the middle of the straightest stretch. A track is rejected (``TrackError``) when the centre line
or a border crosses itself or another, when a corner is so tight that the inner border would
fold, or when two parts of the road come too close. ``python -m racerl.track.generator``
rebuilds the shipped tracks from ``BUILTIN_RECIPES``; the output is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from scipy.interpolate import CubicSpline
from scipy.ndimage import uniform_filter1d
from scipy.spatial import cKDTree

from racerl.atomic import atomic_write
from racerl.errors import TrackError
from racerl.track.polyline import signed_area

RADIUS_MARGIN = 0.15  # m: the centre line's tightest radius must exceed width/2 by this much
ROAD_GAP = 0.25  # m: least grass between two parts of the road that are not neighbours
SEEDED_MIN_RADIUS = 1.0  # m: random tracks keep corners at least this open
MIN_ROWS = 10
_DENSE = 64  # spline samples per control segment for arc length and curvature
_MAX_TRIES = 5000  # about 1 in 80 random shapes qualifies; a try that fails costs ~2 ms

BUILTIN_RECIPES: dict[str, dict] = {
    "oval": {
        "control_points": [(0.0, 0.0), (2.0, 0.0), (3.6, 0.25), (4.3, 1.45), (3.6, 2.65),
                           (2.0, 2.9), (0.0, 2.9), (-1.6, 2.65), (-2.3, 1.45), (-1.6, 0.25)],
        "width": 1.0668, "length": 13.0, "spacing": 0.2,
    },
    "loop": {
        "control_points": [(0.3, 0.0), (2.3, 0.0), (4.3, 0.0), (5.3, 0.5), (5.5, 1.5),
                           (4.9, 2.2), (3.7, 2.3), (2.8, 2.7), (2.4, 3.6), (1.5, 4.3),
                           (0.3, 4.4), (-0.7, 3.8), (-1.0, 2.6), (-0.8, 1.2), (-0.3, 0.3)],
        "width": 0.762, "length": 17.7, "spacing": 0.15,
    },
    "circuit": {
        "control_points": [(0.0, 0.0), (4.0, 0.0), (8.0, 0.0), (10.2, 0.6), (10.6, 2.2),
                           (9.4, 3.2), (7.6, 3.0), (6.2, 3.4), (6.0, 4.8), (7.4, 5.8),
                           (9.6, 6.2), (10.4, 7.6), (9.4, 8.8), (6.6, 8.8), (4.2, 8.7),
                           (2.3, 7.0), (2.9, 5.0), (2.6, 3.7), (1.0, 3.2), (-0.6, 3.4),
                           (-1.8, 2.4), (-1.6, 0.8)],
        "width": 1.0668, "length": 40.0, "spacing": 0.2,
    },
}


def generate_track(control_points: np.ndarray | None = None, seed: int | None = None,
                   length: float | None = None, width: float = 0.76, spacing: float = 0.2,
                   clockwise: bool = False) -> np.ndarray:
    """A closed track through ``control_points``, or a random valid one from ``seed``.

    Returns a float64 (N, 6) array in DeepRacer layout (centre, inner, outer), driven
    counter-clockwise unless ``clockwise``; ``length`` scales the centre line to that length.
    Rows are ``spacing`` apart along the centre line. Without control points the shape (and,
    when ``length`` is None, a length of 18-40 m) comes from ``seed``; ``seed=None`` gives a
    different track each call. Raises :class:`TrackError` for control points that make no
    valid track.
    """
    if not width > 0 or not spacing > 0 or (length is not None and not length > 0):
        raise TrackError(f"width, spacing and length must be positive "
                         f"(got width={width}, spacing={spacing}, length={length})")
    if control_points is not None:
        if seed is not None:
            raise TrackError("give control points or a seed, not both")
        return _build(np.asarray(control_points, dtype=np.float64), length, width, spacing,
                      clockwise, width / 2 + RADIUS_MARGIN)
    rng = np.random.default_rng(seed)
    for _ in range(_MAX_TRIES):
        points = _random_control_points(rng)
        wanted = float(rng.uniform(18.0, 40.0)) if length is None else length
        try:
            track = _build(points, wanted, width, spacing, clockwise,
                           max(width / 2 + RADIUS_MARGIN, SEEDED_MIN_RADIUS))
        except TrackError:
            continue
        if _has_left_and_right_corners(track[:, 0:2]):
            return track
    raise TrackError(f"no valid track found for seed {seed} (length={length}, width={width})")


def _random_control_points(rng: np.random.Generator) -> np.ndarray:
    """A star-shaped polygon: 8-14 points at jittered angles and random radii."""
    k = int(rng.integers(8, 15))
    angles = (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * 2 * np.pi / k
    radii = rng.uniform(0.35, 1.0, k)
    stretch = rng.uniform(1.0, 1.8)
    return np.stack([stretch * radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _has_left_and_right_corners(center: np.ndarray, threshold: float = 0.3) -> bool:
    kappa = signed_curvature(center)
    return bool(kappa.max() > threshold and kappa.min() < -threshold)


def signed_curvature(center: np.ndarray) -> np.ndarray:
    """Curvature (1/m) at each vertex of a closed polyline, positive where it turns left."""
    pts = center[:-1] if np.all(center[0] == center[-1]) else center
    before, after = np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0)
    a, b = pts - before, after - pts
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    chord = np.hypot(*(after - before).T)
    return 2 * cross / (np.hypot(*a.T) * np.hypot(*b.T) * chord)


def _build(points: np.ndarray, length: float | None, width: float, spacing: float,
           clockwise: bool, min_radius: float) -> np.ndarray:
    if points.ndim != 2 or points.shape[1] != 2 or not np.all(np.isfinite(points)):
        raise TrackError(f"control points must be finite (x, y) pairs, got shape {points.shape}")
    if len(points) > 1 and np.all(points[0] == points[-1]):
        points = points[:-1]  # the caller closed the loop already
    if len(points) < 3:
        raise TrackError(f"a track needs at least 3 control points, got {len(points)}")
    ring = np.vstack([points, points[:1]])
    chords = np.hypot(*np.diff(ring, axis=0).T)
    if np.any(chords < 1e-9):
        raise TrackError(f"control points {int(np.argmin(chords))} and the next one coincide")
    knots = np.concatenate([[0.0], np.cumsum(chords)])
    spline = CubicSpline(knots, ring, bc_type="periodic")

    t_dense = np.linspace(0.0, knots[-1], _DENSE * len(points) + 1)
    s_dense = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(spline(t_dense), axis=0).T))])
    total = s_dense[-1]
    n = max(MIN_ROWS, round((length or total) / spacing))
    kappa_rows = _curvature(spline, np.interp(np.arange(n) * total / n, s_dense, t_dense))
    # Start line: the middle of the stretch with the least average turning.
    window = max(3, n // 10) | 1
    start = int(np.argmin(uniform_filter1d(np.abs(kappa_rows), window, mode="wrap")))
    t_rows = np.interp(np.mod((start + np.arange(n)) * total / n, total), s_dense, t_dense)

    center = spline(t_rows)
    closed = np.vstack([center, center[:1]])
    scale = 1.0 if length is None else length / np.hypot(*np.diff(closed, axis=0).T).sum()
    center = center * scale
    sign = 1.0 if signed_area(center) > 0 else -1.0  # +1: the control points run counter-clockwise
    tangent = spline(t_rows, 1)
    tangent /= np.hypot(*tangent.T)[:, None]
    inward = sign * np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    rows = np.hstack([center, center + width / 2 * inward, center - width / 2 * inward])
    if (sign > 0) == clockwise:
        rows = np.vstack([rows[:1], rows[:0:-1]])  # reverse, keeping the start row first
    rows = np.vstack([rows, rows[:1]])

    if not shapely.LinearRing(rows[:, 0:2]).is_simple:
        raise TrackError("control points give a self-intersecting track")
    tightest = 1.0 / (np.abs(_curvature(spline, t_dense)).max() / scale)
    if tightest < min_radius:
        raise TrackError(f"a corner has radius {tightest:.2f} m; with width {width} m it must "
                         f"be at least {min_radius:.2f} m or the inner border folds")
    _check_borders(rows, width)
    return rows


def _curvature(spline: CubicSpline, t: np.ndarray) -> np.ndarray:
    d1, d2 = spline(t, 1), spline(t, 2)
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    return cross / np.hypot(*d1.T) ** 3


def _check_borders(rows: np.ndarray, width: float) -> None:
    rings = {name: shapely.LinearRing(rows[:, i:i + 2])
             for name, i in (("centre line", 0), ("inner border", 2), ("outer border", 4))}
    for name, ring in rings.items():
        if not ring.is_simple:
            raise TrackError(f"control points give a self-intersecting track ({name})")
    names = list(rings)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if rings[a].intersects(rings[b]):
                raise TrackError(f"control points give a track whose {a} crosses its {b}")
    # Two stretches of road that are far apart along the lap must also be apart on the ground.
    center = rows[:-1, 0:2]
    n = len(center)
    step = np.hypot(*np.diff(rows[:, 0:2], axis=0).T).mean()
    reach = width + ROAD_GAP
    pairs = cKDTree(center).query_pairs(reach, output_type="ndarray")
    apart = np.abs(pairs[:, 0] - pairs[:, 1])
    apart = np.minimum(apart, n - apart) * step
    if np.any(apart > np.pi * reach / 2):
        raise TrackError(f"two parts of the track come closer than {ROAD_GAP} m to each other")


def write_track(array: np.ndarray, path: str | Path) -> Path:
    """Save a track as ``.npy`` atomically: a temp file in the same folder, then a rename."""
    data = np.asarray(array, dtype=np.float64)
    return atomic_write(path, lambda f: np.save(f, data, allow_pickle=False))


def build_builtin_tracks(out_dir: Path | None = None) -> list[Path]:
    """Write ``<name>.npy`` for every recipe (default: the package's tracks folder)."""
    if out_dir is None:
        from racerl.home import builtin_tracks_dir

        out_dir = builtin_tracks_dir()
    return [write_track(generate_track(**recipe), Path(out_dir) / f"{name}.npy")
            for name, recipe in BUILTIN_RECIPES.items()]


if __name__ == "__main__":
    for written in build_builtin_tracks():
        print(written)
