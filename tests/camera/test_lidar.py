"""The LIDAR scan and its three observations, at layouts worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from racerl.camera.lidar import (
    LASER_FORWARD,
    LASER_YAW,
    LIDAR_MAX_RANGE,
    LidarConfig,
    discretized_sector_observation,
    lidar_observation,
    scan,
    sector_lidar_observation,
)
from racerl.camera.sensors import SensorError, check_lidar_config, check_sensors
from racerl.sim.objects import BOX_HEIGHT, Kind, Objects

STEP = 2 * 2.61799 / 63  # angle between neighbouring rays
BACK = [31, 32]  # the two rays nearest straight back, STEP / 2 either side


def boxes(cars: list[list[tuple[float, float, float]]], height: float = BOX_HEIGHT) -> Objects:
    """Boxes 0.5 m long (along their yaw) and 0.4 m wide at (x, y, yaw) per car."""
    m = max(len(c) for c in cars)
    obj = Objects.empty(len(cars), m)
    for i, car in enumerate(cars):
        for j, (x, y, yaw) in enumerate(car):
            obj.x[i, j], obj.y[i, j], obj.yaw[i, j] = x, y, yaw
            obj.length[i, j], obj.width[i, j], obj.height[i, j] = 0.5, 0.4, height
            obj.kind[i, j], obj.present[i, j] = Kind.BOX, True
    return obj


def at_origin(objects: Objects, **kwargs) -> np.ndarray:
    n = objects.x.shape[0]
    return scan(np.zeros(n), np.zeros(n), np.zeros(n), objects, **kwargs)


def test_box_behind_is_seen_by_the_rays_that_face_backwards():
    # Box centred 0.5 m behind base_link: its near face is at x = -0.25, 0.4 m wide. The
    # laser (0.02913 m ahead of base_link) faces backwards: ray k points at
    # pi + (-2.61799 + k * STEP), i.e. it deviates |k * STEP - 2.61799| from straight back,
    # and meets the face when tan(deviation) <= 0.2 / (0.25 + 0.02913): rays 25 to 38.
    ranges = at_origin(boxes([[(-0.5, 0.0, 0.0)]]))[0]
    deviation = np.abs(np.arange(64) * STEP - 2.61799 + (LASER_YAW - np.pi))  # 3.1416 in the urdf
    to_face = 0.25 + LASER_FORWARD
    expected_hits = (deviation < np.pi / 2) & (np.tan(deviation) <= 0.2 / to_face)
    assert np.flatnonzero(expected_hits).tolist() == list(range(25, 39))
    np.testing.assert_allclose(ranges[25:39], to_face / np.cos(deviation[25:39]), atol=1e-9)
    assert (ranges[~expected_hits] == LIDAR_MAX_RANGE).all()
    # LIDAR: clipped to [0.15, 1]; SECTOR_LIDAR: sectors 3 (rays 24-31) and 4 (32-39) hold
    # returns nearer than 0.5 m; DISCRETIZED (8 x 8, 2 m): 0.25 m bins, nearest 0.2799 m
    # falls in bin 1 of those two sectors.
    lidar = lidar_observation(ranges[None])[0]
    np.testing.assert_allclose(lidar[25:39], ranges[25:39], rtol=1e-6)
    assert (lidar[~expected_hits] == 1.0).all() and lidar.dtype == np.float32
    assert sector_lidar_observation(ranges[None])[0].tolist() == [0, 0, 0, 1, 1, 0, 0, 0]
    bins = discretized_sector_observation(ranges[None], LidarConfig()).reshape(8, 8)
    expected = np.zeros((8, 8))
    expected[3, 1] = expected[4, 1] = 1
    np.testing.assert_array_equal(bins, expected)


def test_empty_world_reads_the_maximum_range_everywhere():
    ranges = at_origin(Objects.empty(2, 0), seed=np.array([1, 2]))
    assert ranges.shape == (2, 64) and (ranges == LIDAR_MAX_RANGE).all()
    assert (lidar_observation(ranges) == 1.0).all()
    assert not sector_lidar_observation(ranges).any()
    assert not discretized_sector_observation(ranges, LidarConfig()).any()
    # Padding objects (present False) are not there either.
    padded = boxes([[(-0.5, 0.0, 0.0)]])
    padded.present[:] = False
    assert (at_origin(padded) == LIDAR_MAX_RANGE).all()


def test_blind_cone_ahead_and_objects_below_the_laser():
    # 3 m straight ahead: inside the 60-degree cone in front that no ray covers.
    assert (at_origin(boxes([[(3.0, 0.0, 0.0)]])) == LIDAR_MAX_RANGE).all()
    # A box lower than the laser (0.185 m up) is passed over.
    assert (at_origin(boxes([[(-0.5, 0.0, 0.0)]], height=0.1)) == LIDAR_MAX_RANGE).all()


def test_pose_and_object_rotation():
    # The car at (5, 2) heading +y (yaw 90°): "behind" is -y. A box turned 90° (its 0.5 m
    # length along y) centred 1 m behind: near face 0.75 m from base_link, 0.4 m wide
    # across x; the straight-back rays 31 and 32 deviate STEP / 2 from it.
    obj = boxes([[(5.0, 1.0, np.pi / 2)]])
    ranges = scan(np.array([5.0]), np.array([2.0]), np.array([np.pi / 2]), obj)[0]
    to_face = 0.75 + LASER_FORWARD
    np.testing.assert_allclose(ranges[BACK], to_face / np.cos(STEP / 2), rtol=1e-5)


def test_a_ray_stops_at_the_nearest_of_several_objects_and_cars_are_independent():
    near, far = (-0.5, 0.0, 0.0), (-1.5, 0.0, 0.0)
    both = at_origin(boxes([[far, near], [far]]))
    alone = at_origin(boxes([[near]]))[0]
    np.testing.assert_allclose(both[0], alone)
    np.testing.assert_allclose(both[1, BACK], (1.25 + LASER_FORWARD) / np.cos(STEP / 2),
                               rtol=1e-5)


def test_noise_is_seeded_per_car_and_frame():
    obj = boxes([[(-0.5, 0.0, 0.0)]] * 3)
    clean = at_origin(obj)
    a = at_origin(obj, seed=np.array([7, 7, 8]), frame=np.array([0, 0, 0]))
    b = at_origin(obj, seed=np.array([7, 7, 8]), frame=np.array([0, 0, 0]))
    c = at_origin(obj, seed=np.array([7, 7, 8]), frame=np.array([1, 1, 1]))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], a[1])  # same seed and frame, same scan
    assert not np.array_equal(a[0], a[2]) and not np.array_equal(a[0], c[0])
    hits = clean < LIDAR_MAX_RANGE
    assert (a[~hits] == LIDAR_MAX_RANGE).all()  # no return, no noise
    many = at_origin(boxes([[(-0.5, 0.0, 0.0)]] * 400), seed=np.arange(400),
                     frame=np.zeros(400))
    errors = (many - at_origin(boxes([[(-0.5, 0.0, 0.0)]] * 400)))[:, 25:39]
    assert abs(errors.mean()) < 0.001 and 0.009 < errors.std() < 0.011


def test_discretized_bins_follow_simapp_filter():
    # One sector of 16 rays (4 sectors) per value; 4 values over 1 m: bins of 0.25 m.
    ranges = np.full((1, 64), 12.0)
    ranges[0, 0] = 0.1     # sector 0: bin 0
    ranges[0, 20] = 0.6    # sector 1: bin 2
    ranges[0, 40] = 0.99   # sector 2: bin 3
    ranges[0, 63] = np.inf  # sector 3: clear (inf reads as the clipping distance)
    out = discretized_sector_observation(ranges, LidarConfig(4, 4, 1.0)).reshape(4, 4)
    np.testing.assert_array_equal(out, [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
                                        [0, 0, 0, 0]])


def test_sensor_lists_are_checked_like_deepracer():
    s = check_sensors(["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
                      {"num_sectors": 4, "num_values_per_sector": 2, "clipping_dist": 1.5})
    assert (s.camera, s.lidar, s.lidar_size) == ("FRONT_FACING_CAMERA",
                                                 "DISCRETIZED_SECTOR_LIDAR", 8)
    assert s.metadata()["lidar_config"] == {"num_sectors": 4, "num_values_per_sector": 2,
                                            "clipping_dist": 1.5}
    assert check_sensors(["STEREO_CAMERAS"]).camera_channels == 2
    assert check_sensors(["LIDAR", "FRONT_FACING_CAMERA"]).lidar_size == 64
    bad = [(["LIDAR"], "exactly one camera"),
           (["FRONT_FACING_CAMERA", "STEREO_CAMERAS"], "exactly one camera"),
           (["FRONT_FACING_CAMERA", "LIDAR", "SECTOR_LIDAR"], "at most one"),
           (["FRONT_FACING_CAMERA", "RADAR"], "'RADAR' is none of"),
           ("FRONT_FACING_CAMERA", "must be a list")]
    for sensor, why in bad:
        with pytest.raises(SensorError, match=why):
            check_sensors(sensor, source="train.yaml")
    with pytest.raises(SensorError, match="no DISCRETIZED_SECTOR_LIDAR"):
        check_sensors(["FRONT_FACING_CAMERA", "LIDAR"], {"num_sectors": 8})
    for config, why in [({"num_sectors": 3}, "divide"), ({"num_values_per_sector": 0}, "[1, 64]"),
                        ({"clipping_dist": 20}, r"\[0.15, 12"), ({"sectors": 8}, "unknown")]:
        with pytest.raises(SensorError, match=why):
            check_lidar_config(config)
