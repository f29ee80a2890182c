"""Track loading, validation and the section-2.2 geometry (reference sections 1, 2.2, 2.6)."""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest
import shapely

from racerl.errors import TrackError
from racerl.reward.function import load_reward_function
from racerl.sim.batch import BatchSim
from racerl.track.geometry import Track
from tests.helpers import circle_track, straight_track

R, W, N = 2.0, 0.8, 201  # the default circle of helpers.circle_track
ALPHA = 2.0 * math.pi / (N - 1)  # angle between two waypoints
CHORD_RADIUS = R * math.cos(ALPHA / 2.0)  # distance of a segment's midpoint from the origin


@pytest.fixture(scope="module")
def circle() -> Track:
    return Track(circle_track(), name="circle")


def polar(radius: float, angle: float) -> list[float]:
    return [radius * math.cos(angle), radius * math.sin(angle)]


def mid_angle(k: int) -> float:
    """Angle of the midpoint of segment k (waypoint k to k + 1) of the default circle."""
    return (k + 0.5) * ALPHA


# -- construction ----------------------------------------------------------------------------


def test_circle_helper_layout():
    rows = circle_track()
    assert rows.shape == (N, 6)
    assert np.array_equal(rows[0], rows[-1])
    assert rows[0].tolist() == pytest.approx([R, 0.0, R - W / 2, 0.0, R + W / 2, 0.0])
    assert rows[1, 1] > 0  # counter-clockwise
    assert circle_track(clockwise=True)[1, 1] < 0


def test_loop_length_and_direction(circle):
    assert circle.is_loop
    assert circle.is_ccw
    assert len(circle.waypoints) == N
    assert circle.length == pytest.approx((N - 1) * 2 * R * math.sin(ALPHA / 2), rel=1e-12)
    cw = Track(circle_track(clockwise=True))
    assert not cw.is_ccw
    assert circle.reverse().is_ccw is False
    assert cw.reverse().is_ccw is True


def test_reverse_flips_row_order_and_keeps_inner_inner(circle):
    rev = circle.reverse()
    assert rev.reversed and not circle.reversed
    assert np.array_equal(rev.waypoints, circle.waypoints[::-1])
    assert np.array_equal(rev.rows[:, 2:4], circle.rows[::-1, 2:4])  # inner stays inner
    assert rev.reverse().reversed is False
    assert rev.length == pytest.approx(circle.length, rel=1e-12)


# -- measure: ndist, centre point, distance -----------------------------------------------


@pytest.mark.parametrize("k", [0, 3, 57, 100, 199])
@pytest.mark.parametrize("offset", [-0.3, -0.1, 0.0, 0.05, 0.35])
def test_measure_at_segment_midpoints(circle, k, offset):
    phi = mid_angle(k)
    geo = circle.measure(np.array([polar(CHORD_RADIUS + offset, phi)]))
    assert geo.ndist[0] == pytest.approx((k + 0.5) / (N - 1), abs=1e-12)
    assert geo.distance_from_center[0] == pytest.approx(abs(offset), abs=1e-12)
    assert geo.center[0].tolist() == pytest.approx(polar(CHORD_RADIUS, phi), abs=1e-12)
    assert geo.track_heading[0] == pytest.approx(
        math.remainder(phi + math.pi / 2, 2 * math.pi), abs=1e-12)


def test_measure_is_batched_and_order_preserving(circle):
    angles = [mid_angle(k) for k in (150, 10, 80)]
    geo = circle.measure(np.array([polar(2.1, a) for a in angles]))
    assert geo.ndist.tolist() == pytest.approx([150.5 / 200, 10.5 / 200, 80.5 / 200], abs=1e-9)
    assert geo.ndist.shape == geo.distance_from_center.shape == (3,)
    assert geo.center.shape == (3, 2)


def test_measure_on_reversed_run_counts_the_other_way(circle):
    rev = circle.reverse()
    phi = mid_angle(10)  # 10.5 segments after the line counter-clockwise
    geo = rev.measure(np.array([polar(R, phi)]))
    assert geo.ndist[0] == pytest.approx(1 - 10.5 / 200, abs=1e-9)


# -- track width ---------------------------------------------------------------------------


def test_track_width_on_uniform_circle(circle):
    points = np.array([polar(R + d, a) for a in (0.0, 1.0, 4.0) for d in (-0.3, 0.0, 0.3)])
    assert circle.measure(points).track_width == pytest.approx(np.full(len(points), W), abs=1e-3)


def varying_width_circle(n: int = 401) -> np.ndarray:
    """A circle of radius 2 whose width is 0.8 at angle 0 and 0.2 at angle pi."""
    phi = np.linspace(0.0, 2 * np.pi, n)
    half = 0.25 + 0.15 * np.cos(phi)
    rows = np.stack([R * np.cos(phi), R * np.sin(phi),
                     (R - half) * np.cos(phi), (R - half) * np.sin(phi),
                     (R + half) * np.cos(phi), (R + half) * np.sin(phi)], axis=1)
    rows[-1] = rows[0]
    return rows


@pytest.mark.parametrize(("angle", "width"), [(0.0, 0.8), (math.pi / 2, 0.5), (math.pi, 0.2)])
def test_track_width_is_local(angle, width):
    track = Track(varying_width_circle())
    point = np.array([polar(R + 0.05, angle)])
    assert track.measure(point).track_width[0] == pytest.approx(width, abs=5e-3)


def test_track_width_is_the_distance_between_closest_border_points():
    """I and O are the border points closest to C, not the border rows of the same index."""
    rows = circle_track()
    rows[:, 2:] = np.roll(rows[:, 2:], 7, axis=0)  # shift the borders' rows against the centre
    rows[-1] = rows[0]
    track = Track(rows)
    geo = track.measure(np.array([polar(R + 0.1, mid_angle(40))]))
    assert geo.track_width[0] == pytest.approx(W, abs=1e-3)


# -- is_left_of_center -----------------------------------------------------------------------


@pytest.mark.parametrize(("clockwise", "reverse", "inner_is_left"), [
    (False, False, True),   # CCW file, driven as stored: the inner side is on the left
    (False, True, False),   # CCW file reversed: clockwise run
    (True, False, False),   # CW file
    (True, True, True),     # CW file reversed: counter-clockwise run
])
def test_is_left_of_center(clockwise, reverse, inner_is_left):
    track = Track(circle_track(clockwise=clockwise), reverse=reverse)
    angles = [0.3, 2.0, 4.5]
    inside = np.array([polar(R - 0.15, a) for a in angles])
    outside = np.array([polar(R + 0.15, a) for a in angles])
    assert track.measure(inside).is_left_of_center.tolist() == [inner_is_left] * 3
    assert track.measure(outside).is_left_of_center.tolist() == [not inner_is_left] * 3
    assert track.measure(inside).is_left_of_center.dtype == bool


def test_is_left_of_center_on_open_track():
    track = Track(straight_track())  # driven along +x, so +y is on the left
    geo = track.measure(np.array([[2.0, 0.1], [2.0, -0.1]]))
    assert geo.is_left_of_center.tolist() == [True, False]


def test_exactly_on_the_centre_is_right_on_ccw_and_left_on_cw_runs():
    """Reference 2.2 step 6: |P - I| < |P - O| is False on the centre; the XOR flips it."""
    track = Track(straight_track(length=5.0, width=0.6))  # borders at y = +-0.3 exactly
    point = np.array([[2.0, 0.0]])
    assert track.measure(point).is_left_of_center.tolist() == [False]
    assert track.reverse().measure(point).is_left_of_center.tolist() == [True]


# -- closest_waypoints -----------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 42, 150, 198])
def test_closest_waypoints_bracket_the_projection(circle, k):
    for d in (-0.2, 0.0, 0.3):
        geo = circle.measure(np.array([polar(CHORD_RADIUS + d, mid_angle(k))]))
        assert [int(geo.prev_waypoint[0]), int(geo.next_waypoint[0])] == [k, k + 1]


def test_closest_waypoints_just_before_the_line(circle):
    geo = circle.measure(np.array([polar(R, -0.5 * ALPHA), polar(R - 0.3, -0.01 * ALPHA)]))
    assert geo.prev_waypoint.tolist() == [N - 2, N - 2]
    assert geo.next_waypoint.tolist() == [N - 1, N - 1]


def test_closest_waypoints_at_and_after_the_line(circle):
    geo = circle.measure(np.array([polar(R, 0.0), polar(R, 0.01 * ALPHA)]))
    assert geo.prev_waypoint.tolist() == [0, 0]
    assert geo.next_waypoint.tolist() == [1, 1]


def test_closest_waypoints_on_reversed_run(circle):
    rev = circle.reverse()
    # reversed waypoint j sits at angle -j * ALPHA
    geo = rev.measure(np.array([polar(R, -0.5 * ALPHA), polar(R, 0.5 * ALPHA),
                                polar(R, -10.5 * ALPHA)]))
    assert geo.prev_waypoint.tolist() == [0, N - 2, 10]
    assert geo.next_waypoint.tolist() == [1, N - 1, 11]


def test_closest_waypoints_are_not_the_euclidean_nearest():
    deg = math.radians
    angles = [0.0, deg(0.5), deg(30), deg(31), deg(32)] + [deg(a) for a in range(40, 360, 10)]
    track = Track(circle_track(angles=np.array(angles)))
    geo = track.measure(np.array([polar(R, deg(29.0))]))
    # Euclidean nearest are waypoints 2 (30 deg) and 3 (31 deg); along the line P lies between
    # waypoint 1 (0.5 deg) and waypoint 2.
    assert [int(geo.prev_waypoint[0]), int(geo.next_waypoint[0])] == [1, 2]


def test_closest_waypoints_with_duplicate_row():
    rows = circle_track()
    rows = np.insert(rows, 6, rows[5], axis=0)  # waypoint 6 repeats waypoint 5
    track = Track(rows)
    assert len(track.waypoints) == N + 1  # duplicates are kept (reference section 1)
    geo = track.measure(np.array([polar(R, mid_angle(5)), polar(R, mid_angle(4))]))
    assert geo.prev_waypoint.tolist() == [6, 4]
    assert geo.next_waypoint.tolist() == [7, 5]


# -- on_track ---------------------------------------------------------------------------------


def test_on_track_inside_and_outside(circle):
    points = np.array([
        polar(R, 1.0),          # centre line
        polar(R - 0.35, 2.0),   # near the inner border, on the road
        polar(R + 0.35, 3.0),   # near the outer border, on the road
        polar(R - 0.5, 1.0),    # in the hole
        [0.0, 0.0],             # the middle of the hole
        polar(R + 0.5, 4.0),    # outside
        [R + W / 2, 0.0],       # exactly on the outer border (a vertex): not strictly inside
        [R - W / 2, 0.0],       # exactly on the inner border
    ])
    assert circle.on_track(points).tolist() == [True, True, True, False, False, False, False,
                                                False]


def test_on_track_keeps_the_batch_shape(circle):
    points = np.array([[polar(R, 0.5), polar(0.1, 0.5)], [polar(3.0, 1.0), polar(R, 1.0)],
                       [polar(R, 2.0), polar(R, 2.5)]])
    result = circle.on_track(points)
    assert result.shape == (3, 2)
    assert result.tolist() == [[True, False], [False, True], [True, True]]


def test_on_track_open_line():
    track = Track(straight_track(length=5.0, width=0.6))
    points = np.array([[2.0, 0.0], [2.0, 0.29], [2.0, 0.31], [-0.1, 0.0], [5.1, 0.0]])
    assert track.on_track(points).tolist() == [True, True, False, False, False]


# -- pose_at ----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 17, 120, 199])
def test_pose_at_points_at_next_waypoint(circle, k):
    ndist = (k + 0.3) / (N - 1)
    xy, yaw = circle.pose_at(ndist)
    assert isinstance(yaw, float)
    assert np.shape(xy) == (2,)
    # xy on segment k, 30 % along it
    a, b = circle.waypoints[k], circle.waypoints[k + 1]
    assert np.asarray(xy).tolist() == pytest.approx((a + 0.3 * (b - a)).tolist(), abs=1e-9)
    assert yaw == pytest.approx(math.remainder(mid_angle(k) + math.pi / 2, 2 * math.pi),
                                abs=1e-9)


def test_pose_at_start_line(circle):
    xy, yaw = circle.pose_at(0.0)
    assert np.asarray(xy).tolist() == pytest.approx([R, 0.0], abs=1e-12)
    assert yaw == pytest.approx(math.pi / 2 + ALPHA / 2, abs=1e-12)


def test_pose_at_batch_and_reversed(circle):
    rev = circle.reverse()
    xy, yaw = rev.pose_at(np.array([0.0, 0.5]))
    assert xy.shape == (2, 2) and yaw.shape == (2,)
    assert xy[0].tolist() == pytest.approx([R, 0.0], abs=1e-12)
    assert xy[1].tolist() == pytest.approx([-R, 0.0], abs=1e-9)
    # clockwise: heading -90 deg (minus half a segment) at the start, +90 deg at the far side
    assert yaw[0] == pytest.approx(-math.pi / 2 - ALPHA / 2, abs=1e-9)
    assert yaw[1] == pytest.approx(math.pi / 2 - ALPHA / 2, abs=1e-9)


def test_pose_at_duplicate_row_looks_past_it():
    rows = np.insert(circle_track(), 6, circle_track()[5], axis=0)
    track = Track(rows)
    frac = track.center.cumulative[5] / track.length
    xy, yaw = track.pose_at(frac)
    assert np.asarray(xy).tolist() == pytest.approx(polar(R, 5 * ALPHA), abs=1e-9)
    assert yaw == pytest.approx(math.pi / 2 + 5.5 * ALPHA, abs=1e-9)


# -- malformed files -------------------------------------------------------------------------


def save(tmp_path, name, data):
    path = tmp_path / name
    np.save(path, data)
    return path


@pytest.mark.parametrize(("data", "problem"), [
    (np.zeros((30, 5)), "(30, 5)"),
    (np.zeros(60), "(60,)"),
    (np.zeros((3, 10, 6)), "(3, 10, 6)"),
    (circle_track(n=9), "at least 10"),
])
def test_bad_shape_is_reported(tmp_path, data, problem):
    path = save(tmp_path, "bad.npy", data)
    with pytest.raises(TrackError) as err:
        Track.load(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_reported(tmp_path, bad):
    data = circle_track()
    data[17, 3] = bad
    path = save(tmp_path, "nan.npy", data)
    with pytest.raises(TrackError, match="row 17") as err:
        Track.load(path)
    assert str(path) in str(err.value)
    assert "NaN" in str(err.value)


@pytest.mark.parametrize("rows", [slice(None), slice(40, 60)])
def test_zero_width_is_reported(tmp_path, rows):
    data = circle_track()
    data[rows, 2:4] = data[rows, 0:2]  # both borders on the centre line: no road there
    data[rows, 4:6] = data[rows, 0:2]
    path = save(tmp_path, "thin.npy", data)
    with pytest.raises(TrackError, match="zero width") as err:
        Track.load(path)
    assert str(path) in str(err.value)


def test_not_an_npy_file(tmp_path):
    path = tmp_path / "notes.npy"
    path.write_text("centre, inner, outer\n1, 2, 3\n")
    with pytest.raises(TrackError, match=r"not a NumPy \.npy track file") as err:
        Track.load(path)
    assert str(path) in str(err.value)


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(TrackError) as err:
        Track.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("data", "problem"), [
    (circle_track().astype(np.complex128) + 1j, "holds complex numbers (complex128)"),
    (circle_track().astype(str), "holds text"),
    (circle_track().astype(bool), "holds true/false values"),
])
def test_values_that_are_not_real_numbers_are_refused(tmp_path, data, problem):
    # Converting would silently drop the imaginary parts, or parse the strings.
    path = save(tmp_path, "odd.npy", data)
    with pytest.raises(TrackError) as err:
        Track.load(path)
    assert str(path) in str(err.value) and problem in str(err.value)


@pytest.mark.parametrize(("scale", "problem"), [
    (1e300, "has the coordinate 1.2e+300; racerl takes tracks within 10000 m of the origin"),
    (-1e6, "racerl takes tracks within 10000 m of the origin"),
    (100.0, "the track spans 320 m; racerl takes tracks up to 100 m across"),
])
def test_absurd_coordinates_are_refused(tmp_path, scale, problem):
    # Beyond these, rendering overflows (1e300) or the camera's floor picture cannot be
    # made (hundreds of metres at 1 cm per pixel).
    path = save(tmp_path, "huge.npy", circle_track(radius=1.2, width=0.8) * scale)
    with pytest.raises(TrackError) as err:
        Track.load(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_a_track_well_past_the_real_ones_still_loads():
    track = Track(circle_track(radius=45.0, width=1.0, n=4001))  # 91 m across, 4001 rows
    assert track.length == pytest.approx(2 * math.pi * 45.0, rel=1e-3)


def test_millions_of_points_are_refused_before_they_are_read(tmp_path):
    path = tmp_path / "endless.npy"
    rows = 2_000_000
    # Only the header is real: a file that claims two million rows is refused from its shape
    # (reading or measuring them would take hours).
    header = np.lib.format.header_data_from_array_1_0(np.zeros((rows, 6)))
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.truncate(f.tell() + rows * 6 * 8)  # sparse: no disk used
    with pytest.raises(TrackError) as err:
        Track.load(path)
    assert str(path) in str(err.value)
    assert "2,000,000 waypoints; racerl takes at most 10,000" in str(err.value)


def test_an_npz_archive_is_refused(tmp_path):
    path = tmp_path / "several.npy"
    with open(path, "wb") as f:
        np.savez(f, a=circle_track(), b=circle_track())
    with pytest.raises(TrackError, match="holds several arrays") as err:
        Track.load(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.npy"
    with pytest.raises(TrackError, match="no such track file") as err:
        Track.load(path)
    assert str(path) in str(err.value)


def test_extra_columns_are_ignored(tmp_path):
    data = np.concatenate([circle_track(), np.ones((N, 2))], axis=1)
    track = Track.load(save(tmp_path, "wide.npy", data))
    assert track.rows.shape == (N, 6)
    assert track.name == "wide"
    assert track.length == pytest.approx(Track(circle_track()).length, rel=1e-12)


def test_open_line_is_not_a_loop():
    track = Track(straight_track(length=5.0, n=21))
    assert not track.is_loop
    assert track.is_ccw  # open tracks count as counter-clockwise (reference section 1)
    assert track.length == pytest.approx(5.0, rel=1e-12)
    geo = track.measure(np.array([[1.25, 0.1]]))
    assert geo.ndist[0] == pytest.approx(0.25, abs=1e-12)
    assert geo.distance_from_center[0] == pytest.approx(0.1, abs=1e-12)
    assert geo.track_width[0] == pytest.approx(0.6, abs=1e-12)


def test_a_nearly_closed_line_is_open():
    data = circle_track()
    data[-1, 0] += 1e-9  # not exactly equal to the first row: an open line
    assert not Track(data).is_loop


# -- real DeepRacer track files --------------------------------------------------------------


def test_all_deepracer_tracks_load(deepracer_tracks):
    files = sorted(deepracer_tracks.glob("*.npy"))
    assert len(files) >= 100
    for path in files:
        track = Track.load(path)
        data = np.load(path)
        assert len(track.waypoints) == len(data)  # duplicate rows are kept
        if track.is_loop:
            ring = shapely.LinearRing(data[:, 0:2])
            assert track.is_ccw == ring.is_ccw, path.name
            assert track.length == pytest.approx(ring.length, rel=1e-12), path.name
        else:
            assert path.stem == "Straight_track"


def test_straight_track_file_is_open(deepracer_tracks):
    track = Track.load(deepracer_tracks / "Straight_track.npy")
    assert not track.is_loop
    assert len(track.waypoints) == 22
    assert track.length == pytest.approx(5.71, abs=0.01)


def test_reinvent_base_vectors(deepracer_tracks):
    track = Track.load(deepracer_tracks / "reinvent_base.npy")
    assert len(track.waypoints) == 119
    assert track.length == pytest.approx(17.709159380834848, rel=1e-12)
    assert track.summary_width() == pytest.approx(0.762, abs=0.005)
    assert track.name == "reinvent_base"
    assert track.is_ccw


@pytest.mark.parametrize(("name", "low", "high"), [
    ("reinvent_base", 0.75, 0.775),
    ("Tokyo_Training_track", 0.6, 0.85),     # row-wise border distance would be up to 1.2 m
    ("reInvent2019_track", 1.05, 1.08),
])
def test_local_width_on_real_tracks(deepracer_tracks, name, low, high):
    track = Track.load(deepracer_tracks / f"{name}.npy")
    widths = track.measure(track.waypoints).track_width
    assert low <= np.median(widths) <= high
    assert np.max(widths) <= high + 0.01


def test_reinvent_base_start(deepracer_tracks):
    """Section 2.6: the car spawned on waypoint 0 of reinvent_base."""
    track = Track.load(deepracer_tracks / "reinvent_base.npy")
    calls = []
    sim = BatchSim(track, 1, reward=load_reward_function(lambda p: calls.append(p) or 1.0),
                   start="line")
    assert [sim.car.x[0], sim.car.y[0]] == pytest.approx([3.05973, 0.68266], abs=1e-5)
    first = sim.step([0.0], [1.0]).params[0]
    assert first["steps"] == 1.0 and calls == []
    assert [first["x"], first["y"]] == pytest.approx([3.19973, 0.68310], abs=1e-5)
    assert first["closest_waypoints"] == [0, 1]
    assert first["distance_from_center"] == pytest.approx(0.0, abs=1e-9)
    assert first["progress"] == pytest.approx(100 * 0.14 / 17.709159380834848, abs=1e-9)
    assert first["progress"] == pytest.approx(0.7906, abs=1e-4)
    assert first["track_width"] == pytest.approx(0.762, abs=0.005)
    sim.step([0.0], [1.0])
    assert calls[0]["steps"] == 2.0
    assert calls[0]["closest_waypoints"] == [0, 1]


def test_reinvent2019_wide_cw_starts_on_second_segment(deepracer_tracks):
    track = Track.load(deepracer_tracks / "reInvent2019_wide_cw.npy")
    assert not track.is_ccw
    sim = BatchSim(track, 1, start="line")
    params = sim.step([0.0], [1.0]).params[0]
    assert params["closest_waypoints"] == [1, 2]
    assert params["is_reversed"] is False  # a _cw file is not a reversed run


def test_inner_side_is_left_on_ccw_and_right_reversed(deepracer_tracks):
    """Section 2.6, last vector: a point displaced towards the inner border."""
    fwd = Track.load(deepracer_tracks / "reinvent_base.npy")
    for track, expected in ((fwd, True), (fwd.reverse(), False)):
        for row in (10, 50, 90):
            c, inner = track.rows[row, 0:2], track.rows[row, 2:4]
            p = c + 0.2 * (inner - c) / np.linalg.norm(inner - c)
            assert bool(track.measure(p[None]).is_left_of_center[0]) is expected


# -- agreement with shapely, section 2.2 computed literally ----------------------------------


def shapely_reference(rows: np.ndarray, reverse: bool, point: np.ndarray) -> dict:
    """Section 2.2 steps 2-7 with shapely, as the simulator computes them."""
    is_loop = bool(np.all(rows[0] == rows[-1]))
    file_ccw = shapely.LinearRing(rows[:, 0:2]).is_ccw if is_loop else True
    rows = rows[::-1] if reverse else rows
    line_type = shapely.LinearRing if is_loop else shapely.LineString
    centre, inner, outer = (line_type(rows[:, i:i + 2]) for i in (0, 2, 4))
    p = shapely.Point(point)
    ndist = shapely.line_locate_point(centre, p, normalized=True)
    c = shapely.line_interpolate_point(centre, ndist, normalized=True)
    i = inner.interpolate(inner.project(c))
    o = outer.interpolate(outer.project(c))
    ccw = file_ccw != reverse
    fractions = [centre.project(shapely.Point(w), normalized=True) for w in rows[:-1, 0:2]]
    fractions.append(1.0)
    nxt = bisect.bisect_right(fractions, ndist)
    prev = nxt - 1
    n = len(rows)
    return {
        "ndist": ndist,
        "distance_from_center": p.distance(c),
        "track_width": i.distance(o),
        "is_left_of_center": (p.distance(i) < p.distance(o)) != (not ccw),
        "closest_waypoints": [n - 1 if prev < 0 else prev, 0 if nxt >= n else nxt],
    }


def random_points_near(track: Track, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = track.waypoints[rng.integers(0, len(track.waypoints), count)]
    radius = 0.6 * np.sqrt(rng.random(count))
    angle = rng.random(count) * 2 * np.pi
    return base + np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


@pytest.mark.parametrize(("name", "reverse"), [
    ("reinvent_base", False),
    ("reinvent_base", True),
    ("Tokyo_Training_track", False),   # borders not aligned with the centre rows
    ("reInvent2019_wide_cw", False),
    ("reInvent2019_track", False),     # has a duplicate row
    ("2022_reinvent_champ_ccw", True),
    ("Austin", False),
    ("Straight_track", False),         # open line
])
def test_measure_agrees_with_shapely(deepracer_tracks, name, reverse):
    rows = np.load(deepracer_tracks / f"{name}.npy")
    track = Track(rows, name=name, reverse=reverse)
    points = random_points_near(track, 60, seed=len(name) + reverse)
    geo = track.measure(points)
    expected_ndist = shapely.line_locate_point(
        (shapely.LinearRing if track.is_loop else shapely.LineString)(track.waypoints),
        shapely.points(points), normalized=True)
    gap = np.abs(geo.ndist - expected_ndist)
    if track.is_loop:
        gap = np.minimum(gap, 1.0 - gap)  # 0 and 1 are the same place on a loop
    assert np.max(gap) < 1e-9
    for j, point in enumerate(points):
        ref = shapely_reference(rows, reverse, point)
        assert geo.distance_from_center[j] == pytest.approx(ref["distance_from_center"],
                                                            abs=1e-9)
        assert geo.track_width[j] == pytest.approx(ref["track_width"], abs=1e-9)
        if abs(ref["distance_from_center"]) > 1e-6:
            assert bool(geo.is_left_of_center[j]) is bool(ref["is_left_of_center"])
        if 1e-9 < ref["ndist"] < 1 - 1e-9:
            got = [int(geo.prev_waypoint[j]), int(geo.next_waypoint[j])]
            assert got == ref["closest_waypoints"], (name, j, point)
