"""The optimal race line: a minimum-curvature path inside the borders and its speed profile.

A fast lap is mostly a matter of cornering on the widest arcs the road allows, because the
tyres hold at most ``lateral_grip`` m/s² (see :mod:`racerl.sim.vehicle`): the speed through a
corner of radius r is at most ``sqrt(grip * r)``. So the line is the path of least curvature
that keeps the car inside the borders (the classic minimum-curvature method, a cousin of the
community's K1999 smoothing), and the speed profile follows from the vehicle model's own
limits:

1. Resample the centre line every ``spacing`` metres and describe a candidate line by one
   lateral offset per point, ``p_i = c_i + t_i * n_i`` (``n_i`` the left normal).
2. Minimise the summed squared second differences of the ``p_i`` subject to
   ``-right_i + margin <= t_i <= left_i - margin``: a bounded linear least-squares problem,
   solved by :func:`scipy.optimize.lsq_linear`. With the number of points fixed, a second
   difference is curvature times spacing squared, so the objective prefers lines that are
   both less curved and shorter (on a circle: the inside circle); that is the usual
   linearised minimum-curvature method, not an exact minimum-time solution. A second
   candidate adds a length term (squared first differences); the candidate whose speed
   profile gives the shorter lap wins (the length term helps on tracks where corners are
   not the limit).
3. Speed: ``min(max_speed, sqrt(grip_share * grip / curvature))`` per point, then a forward
   pass (acceleration limit) and a backward pass (braking limit).

The margin keeps the wheels inside the road at the speed a pure-pursuit driver really holds
the line (half the car's width plus a few centimetres), and ``grip_share`` leaves the
tracking driver some grip for its corrections. :func:`compute_raceline` caches its result in
the racerl home, keyed by track name and a hash of the track's content and the vehicle
parameters, so the lab, the evaluation and reward functions (:func:`raceline_for_params`)
reuse it for free.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import lsq_linear

from racerl.atomic import atomic_write, atomic_write_text
from racerl.errors import TrackError
from racerl.home import racerl_home
from racerl.sim.vehicle import WHEEL_OFFSETS, VehicleParams
from racerl.track.geometry import Track
from racerl.track.polyline import Polyline, signed_area

SPACING = 0.1  # metres between race-line points
CAR_HALF_WIDTH = float(np.abs(WHEEL_OFFSETS[:, 1]).max()) + 0.02  # wheel centre + half tyre
SAFETY = 0.06  # metres kept free between the car's side and the border
GRIP_SHARE = 0.8  # share of the tyres' grip the speed profile plans to use
ACCEL_SHARE = 0.6  # share of the acceleration/braking limits it plans to use
LENGTH_WEIGHTS = (0.0, 0.1)  # blends of curvature and length tried; the faster plan wins
CACHE_VERSION = 2


@dataclass(frozen=True)
class LaneFrame:
    """The centre line resampled at even spacing, with the road's width on either side."""

    arc: np.ndarray  # (N,) metres along the centre line
    center: np.ndarray  # (N, 2)
    normal: np.ndarray  # (N, 2) unit left normals (left of the driving direction)
    left: np.ndarray  # (N,) metres from the centre to the left border
    right: np.ndarray  # (N,) metres from the centre to the right border

    def offset(self, t: np.ndarray) -> np.ndarray:
        """Points ``t`` metres left of the centre (negative: right)."""
        return self.center + np.asarray(t)[:, None] * self.normal


@dataclass(frozen=True)
class RaceLine:
    """A closed race line: points, the planned speed at each, and the lap time it implies."""

    track_name: str
    xy: np.ndarray  # (N, 2) metres, driving order, first point not repeated
    speed: np.ndarray  # (N,) m/s
    lap_time: float  # seconds, the estimate of the speed profile

    @property
    def length(self) -> float:
        return float(np.hypot(*np.diff(self.closed_xy, axis=0).T).sum())

    @property
    def closed_xy(self) -> np.ndarray:
        return np.concatenate([self.xy, self.xy[:1]])

    def table(self) -> np.ndarray:
        """(N, 3) columns x, y, speed: the layout of the .npy and .csv files."""
        return np.column_stack([self.xy, self.speed])


def lane_frame(track: Track, spacing: float = SPACING) -> LaneFrame:
    """Resample a loop's centre line and measure the road to its left and right."""
    if not track.is_loop:
        raise TrackError(f"{track.path or track.name}: a race line needs a closed loop; "
                         "this track is an open line")
    n = max(round(track.length / spacing), 20)
    arc = np.linspace(0.0, track.length, n, endpoint=False)
    center, _ = track.center.interpolate(arc)
    ahead, _ = track.center.interpolate(arc + spacing)
    behind, _ = track.center.interpolate(arc - spacing)
    tangent = ahead - behind
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-12)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    inner, outer = track.rows[:, 2:4], track.rows[:, 4:6]
    if abs(signed_area(inner)) > abs(signed_area(outer)):
        inner, outer = outer, inner  # a file with the border columns swapped
    left_border, right_border = (inner, outer) if track.is_ccw else (outer, inner)
    left = _distance_to(Polyline(left_border, closed=True), center)
    right = _distance_to(Polyline(right_border, closed=True), center)
    return LaneFrame(arc, center, normal, left, right)


def _distance_to(border: Polyline, points: np.ndarray) -> np.ndarray:
    _, closest = border.project(points)
    return np.hypot(*(points - closest).T)


def min_curvature_offsets(frame: LaneFrame, margin: float,
                          length_weight: float = 0.0) -> np.ndarray:
    """Lateral offsets of the minimum-curvature line that stays ``margin`` from the borders;
    ``length_weight`` adds the squared first differences (a length term) to the objective."""
    lo = -frame.right + margin
    hi = frame.left - margin
    if np.any(lo > hi):
        narrow = int(np.argmax(lo - hi))
        raise TrackError(f"the road is narrower than the car plus its margin near "
                         f"{frame.arc[narrow]:.2f} m along the centre line")
    blocks, targets = [], []
    stencils = [((-1, 1.0), (0, -2.0), (1, 1.0))]  # second differences: curvature
    if length_weight > 0:
        w = np.sqrt(length_weight)
        stencils.append(((0, -w), (1, w)))  # first differences: length
    for stencil in stencils:
        a, b = _difference_rows(frame, stencil)
        blocks.append(a)
        targets.append(b)
    a, b = sparse.vstack(blocks).tocsr(), np.concatenate(targets)
    result = lsq_linear(a, b, bounds=(lo, hi), lsq_solver="lsmr", tol=1e-10, max_iter=5000)
    return np.clip(result.x, lo, hi)


def _difference_rows(frame: LaneFrame, stencil) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Rows ``A t - b`` of one finite difference of ``p_i = c_i + t_i n_i`` (x and y rows
    stacked), for a stencil of (index shift, weight) pairs."""
    n = len(frame.arc)
    rows, cols, vals = [], [], []
    diff = np.zeros_like(frame.center)
    for shift, weight in stencil:
        j = (np.arange(n) + shift) % n
        diff += weight * frame.center[j]
        for axis in (0, 1):
            rows.append(np.arange(n) + axis * n)
            cols.append(j)
            vals.append(weight * frame.normal[j, axis])
    a = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(2 * n, n))
    return a, -np.concatenate([diff[:, 0], diff[:, 1]])


def curvature(xy: np.ndarray, stride: int = 2) -> np.ndarray:
    """Unsigned curvature (1/m) of a closed line: the circle through the points ``stride``
    before and after each point (a wider stencil than neighbours, so noise does not count)."""
    a, b, c = np.roll(xy, stride, axis=0), xy, np.roll(xy, -stride, axis=0)
    ab, bc, ca = (np.hypot(*(b - a).T), np.hypot(*(c - b).T), np.hypot(*(a - c).T))
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    return 2.0 * np.abs(cross) / np.maximum(ab * bc * ca, 1e-12)


def speed_profile(xy: np.ndarray, vehicle: VehicleParams, grip_share: float = GRIP_SHARE,
                  accel_share: float = ACCEL_SHARE) -> np.ndarray:
    """Fastest speed at each point of a closed line under the grip, speed and acceleration
    limits: the cornering limit, then forward (accelerate) and backward (brake) passes."""
    kappa = curvature(xy)
    v = np.minimum(vehicle.max_speed,
                   np.sqrt(grip_share * vehicle.lateral_grip / np.maximum(kappa, 1e-9)))
    ds = np.hypot(*(np.roll(xy, -1, axis=0) - xy).T)  # from point i to i + 1
    acc = accel_share * vehicle.max_acceleration
    dec = accel_share * vehicle.max_deceleration
    n = len(v)
    for _ in range(2):  # twice round, so the limits carry across the start line
        for i in range(n):
            j = (i + 1) % n
            v[j] = min(v[j], np.sqrt(v[i] ** 2 + 2 * acc * ds[i]))
        for i in range(n - 1, -1, -1):
            j = (i + 1) % n
            v[i] = min(v[i], np.sqrt(v[j] ** 2 + 2 * dec * ds[i]))
    return v


def lap_time_estimate(xy: np.ndarray, speed: np.ndarray) -> float:
    ds = np.hypot(*(np.roll(xy, -1, axis=0) - xy).T)
    return float(np.sum(2.0 * ds / (speed + np.roll(speed, -1))))


def optimise_raceline(track: Track, vehicle: VehicleParams | None = None,
                      margin: float = CAR_HALF_WIDTH + SAFETY) -> RaceLine:
    """Compute the race line of a loop (no cache); see the module docstring for the method."""
    vehicle = vehicle or VehicleParams()
    frame = lane_frame(track)
    best = None
    for weight in LENGTH_WEIGHTS:
        xy = frame.offset(min_curvature_offsets(frame, margin, weight))
        speed = speed_profile(xy, vehicle)
        line = RaceLine(track.name, xy, speed, lap_time_estimate(xy, speed))
        if best is None or line.lap_time < best.lap_time:
            best = line
    return best


# -- the cache ------------------------------------------------------------------------------


def raceline_dir() -> Path:
    """Where computed race lines are kept (inside the racerl home)."""
    return racerl_home() / "racelines"


def waypoint_hash(waypoints: np.ndarray | list) -> str:
    """Short hash of a track's centre waypoints in driving order: what a reward function's
    ``params['waypoints']`` holds, so a reward function can find its track's line."""
    arr = np.round(np.asarray(waypoints, dtype=np.float64), 6)
    return hashlib.sha256(arr.tobytes()).hexdigest()[:16]


def cache_key(track: Track, vehicle: VehicleParams) -> str:
    """``<waypoint hash>-<content hash>``: the centre line (for lookup from params) plus the
    borders, the vehicle and the method's version (for correctness)."""
    content = hashlib.sha256(np.round(track.rows, 6).tobytes())
    content.update(json.dumps(asdict(vehicle), sort_keys=True).encode())
    content.update(f"v{CACHE_VERSION} {SPACING} {SAFETY} {GRIP_SHARE} {ACCEL_SHARE} "
                   f"{LENGTH_WEIGHTS}".encode())
    return f"{waypoint_hash(track.waypoints)}-{content.hexdigest()[:12]}"


def compute_raceline(track: Track, vehicle: VehicleParams | None = None,
                     use_cache: bool = True) -> RaceLine:
    """The race line of ``track`` for ``vehicle``, from the cache when it was computed before.

    The cache file is ``<racerl home>/racelines/<name>-<key>.npy`` (columns x, y, speed),
    written atomically; a cache that cannot be written (a read-only home, the sandbox) only
    costs the recomputation next time.
    """
    vehicle = vehicle or VehicleParams()
    path = raceline_dir() / f"{_safe(track.name)}-{cache_key(track, vehicle)}.npy"
    if use_cache and path.is_file():
        try:
            return _from_table(track.name, np.load(path, allow_pickle=False))
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed and replaced
    line = optimise_raceline(track, vehicle)
    if use_cache:
        with contextlib.suppress(OSError):
            save_npy(line, path)
    return line


def raceline_for_params(params: dict) -> RaceLine:
    """The race line of the track a reward function is driving, found from its params.

    For use inside ``reward_function(params)``: looks the line up in the cache by the hash
    of ``params['waypoints']``; on a miss, finds the track among the known tracks (racerl
    home, ``RACERL_TRACK_PATH``, built-ins), computes the line and caches it. The result is
    memoised per process, so calling this on every step is cheap.
    """
    key = waypoint_hash(params["waypoints"])
    if key in _MEMO:
        return _MEMO[key]
    for path in sorted(raceline_dir().glob(f"*-{key}-*.npy")):
        try:
            line = _from_table(path.stem.rsplit("-", 2)[0], np.load(path, allow_pickle=False))
        except (OSError, ValueError):
            continue
        _MEMO[key] = line
        return line
    track = _track_with_waypoints(key, bool(params.get("is_reversed", False)))
    _MEMO[key] = compute_raceline(track)
    return _MEMO[key]


_MEMO: dict[str, RaceLine] = {}


def _track_with_waypoints(key: str, reversed_: bool) -> Track:
    from racerl.track.catalog import iter_track_files  # catalog is only needed on a cache miss

    for path in iter_track_files():
        try:
            track = Track.load(path, reverse=reversed_)
        except TrackError:
            continue
        if waypoint_hash(track.waypoints) == key:
            return track
    raise TrackError("no known track has these waypoints: add the track with "
                     "'racerl tracks add' or compute its line with 'racerl raceline'")


def _from_table(name: str, table: np.ndarray) -> RaceLine:
    if table.ndim != 2 or table.shape[1] != 3 or len(table) < 10:
        raise ValueError("not a race-line table")
    xy, speed = table[:, :2].copy(), table[:, 2].copy()
    return RaceLine(name, xy, speed, lap_time_estimate(xy, speed))


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_." else "_" for ch in name)


# -- files ----------------------------------------------------------------------------------


def save_npy(line: RaceLine, path: str | Path) -> Path:
    """(N, 3) float64 array: x, y, speed."""
    return atomic_write(path, lambda f: np.save(f, line.table()))


def save_csv(line: RaceLine, path: str | Path) -> Path:
    buf = io.StringIO()
    buf.write("x,y,speed\n")
    np.savetxt(buf, line.table(), delimiter=",", fmt="%.5f")
    return atomic_write_text(path, buf.getvalue())


def raceline_picture(track: Track, line: RaceLine, size: int = 720) -> np.ndarray:
    """Top-down picture: the race line coloured by planned speed, with the scale in the title."""
    from racerl.camera.topdown import TopDownRenderer, speed_colors

    renderer = TopDownRenderer(track, size=size)
    colors = speed_colors(line.speed, vmax=float(line.speed.max()))
    closed = line.closed_xy
    caption = (f"{track.name} race line: {line.length:.2f} m, est. lap {line.lap_time:.2f} s, "
               f"speed {line.speed.min():.1f} (purple) - {line.speed.max():.1f} m/s (yellow)")
    return renderer.draw(trails=[closed], trail_colors=[np.concatenate([colors, colors[:1]])],
                         caption=caption)
