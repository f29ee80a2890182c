"""DeepRacer's LIDAR for a whole batch of cars, and the three observations made from it.

The scan (simapp ``urdf/deepracer/deepracer_single_cam_lidar.urdf``, ``racecar.gazebo`` and
``markov/sensors/constants.py``): the ``laser`` link sits 0.02913 m ahead of and 0.16145 m
above ``chassis`` (itself 0.023249 m above ``base_link``), turned 180° in yaw, so the scan
faces *backwards*; 64 rays from -2.61799 to +2.61799 rad in the laser's frame (ray 0 first:
in the car's frame it points 30° left of straight ahead, the rays sweep round the back, the
last points 30° right of ahead: the 60° cone in front of the car is blind), ranges 0.15 to
12 m, Gaussian noise of σ 0.01 m, 10 Hz.

Here each ray is a 2-D ray from the laser's floor point, cast against the footprint
rectangles of the car's :class:`~racerl.sim.objects.Objects` (N cars x 64 rays x M objects
at once, array operations only); an object lower than the laser (0.1846 m above the floor,
racerl's convention that base_link is on the floor, as the camera's mount height is) is
passed over, as Gazebo's horizontal scan passes over it. DeepRacer's tracks are flat and
racerl has no scenery in range, so a ray that meets no object reads the maximum range,
12 m (Gazebo classic's reading for no return; Gazebo Sim's is +inf, which the observations
below treat the same way). Noise is added to returns only, then ranges are clipped to
[0.15, 12]; it is drawn from a hash of (seed, frame, ray), so a car's scans are
reproducible and independent of the batch it drives in.

The observations (simapp ``markov/sagemaker_graph_manager.py``, input filters, and
``markov/filters/observation/observation_sector_discretize_filter.py``):

* ``LIDAR``: the 64 ranges clipped to [0.15, 1.0] (rl_coach ``ObservationClippingFilter``).
* ``SECTOR_LIDAR``: the sector filter with 8 sectors, 1 value per sector, clipping 0.5 m:
  1.0 where the nearest return of the sector's 8 rays is closer than 0.5 m, else 0.0.
* ``DISCRETIZED_SECTOR_LIDAR``: the same filter with ``lidar_config``'s ``num_sectors``
  (must divide 64), ``num_values_per_sector`` and ``clipping_dist`` (clamped to [0.15, 12]):
  per sector the nearest return d (inf read as ``clipping_dist``, then capped to it) falls
  in bin ``floor(d / (clipping_dist / values))``; the sector's values are the one-hot of
  that bin with the last bin ("nothing within clipping_dist") dropped, so a sector reads
  all zeros when clear and a 1 in slot k when something is k bins away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the car runtime reads the sensor settings without the simulator
    from racerl.sim.objects import Objects

# simapp markov/sensors/constants.py (LIDAR_360_DEGREE_*), also set in racecar.launch.
LIDAR_RAYS = 64
LIDAR_MIN_ANGLE = -2.61799
LIDAR_MAX_ANGLE = 2.61799
LIDAR_MIN_RANGE = 0.15
LIDAR_MAX_RANGE = 12.0
LIDAR_NOISE_STDDEV = 0.01
# simapp urdf/deepracer/deepracer_single_cam_lidar.urdf: hokuyo_joint xyz="0.02913 0 0.16145"
# rpy="0 0 3.1416" from chassis; base_link_joint puts chassis 0.023249 above base_link.
LASER_FORWARD = 0.02913
LASER_HEIGHT = 0.16145 + 0.023249
LASER_YAW = 3.1416
# Observation filters (simapp markov/sagemaker_graph_manager.py, environments/constants.py).
LIDAR_CLIP = (0.15, 1.0)
SECTOR_LIDAR_SECTORS = 8
SECTOR_LIDAR_CLIPPING = 0.5
# simapp markov/boto/s3/constants.py DiscretizedSectorLidarDefaults.
DEFAULT_SECTORS = 8
DEFAULT_VALUES_PER_SECTOR = 8
DEFAULT_CLIPPING = 2.0


@dataclass(frozen=True)
class LidarConfig:
    """model_metadata.json's ``lidar_config``: how DISCRETIZED_SECTOR_LIDAR bins the scan."""

    num_sectors: int = DEFAULT_SECTORS
    num_values_per_sector: int = DEFAULT_VALUES_PER_SECTOR
    clipping_dist: float = DEFAULT_CLIPPING

    @property
    def size(self) -> int:
        """Values in one observation."""
        return self.num_sectors * self.num_values_per_sector

    def to_json(self) -> dict:
        return {"num_sectors": self.num_sectors,
                "num_values_per_sector": self.num_values_per_sector,
                "clipping_dist": self.clipping_dist}


def ray_angles() -> np.ndarray:
    """(64,) ray directions in the car's frame (radians, CCW from straight ahead), in the
    order of the scan's ranges: the laser's angles turned by its 180° mount."""
    return LASER_YAW + np.linspace(LIDAR_MIN_ANGLE, LIDAR_MAX_ANGLE, LIDAR_RAYS)


def scan(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, objects: Objects,
         seed: np.ndarray | None = None, frame: np.ndarray | None = None) -> np.ndarray:
    """(N, 64) ranges in metres for cars at base_link poses (x, y, yaw) among ``objects``.

    ``seed`` and ``frame`` (N,) choose each car's noise (none when ``seed`` is None)."""
    x, y, yaw = (np.asarray(v, dtype=np.float64) for v in (x, y, yaw))
    ox = x + LASER_FORWARD * np.cos(yaw)
    oy = y + LASER_FORWARD * np.sin(yaw)
    angle = yaw[:, None] + ray_angles()[None, :]  # (N, R)
    dx, dy = np.cos(angle), np.sin(angle)
    # Into each object's frame (N, R, M): the footprint is then the box |u| <= L/2, |v| <= W/2.
    c, s = np.cos(objects.yaw)[:, None, :], np.sin(objects.yaw)[:, None, :]
    rx = (ox[:, None] - objects.x)[:, None, :]
    ry = (oy[:, None] - objects.y)[:, None, :]
    ou, ov = c * rx + s * ry, -s * rx + c * ry
    du = c * dx[..., None] + s * dy[..., None]
    dv = -s * dx[..., None] + c * dy[..., None]
    half_l = (objects.length / 2)[:, None, :]
    half_w = (objects.width / 2)[:, None, :]
    near_u, far_u = _slab(ou, du, half_l)
    near_v, far_v = _slab(ov, dv, half_w)
    near, far = np.maximum(near_u, near_v), np.minimum(far_u, far_v)
    seen = (objects.present & (objects.height >= LASER_HEIGHT))[:, None, :]
    hit = seen & (near <= far) & (far >= 0.0)
    distance = np.where(hit, np.maximum(near, 0.0), np.inf).min(axis=-1, initial=np.inf)
    returned = np.isfinite(distance)
    if seed is not None:
        distance = distance + LIDAR_NOISE_STDDEV * _gaussian(seed, frame, x.shape[0])
    return np.where(returned, np.clip(distance, LIDAR_MIN_RANGE, LIDAR_MAX_RANGE),
                    LIDAR_MAX_RANGE)


def _slab(origin: np.ndarray, direction: np.ndarray, half: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Where a ray enters and leaves the slab |coordinate| <= half (a ray parallel to the
    slab is inside it everywhere or nowhere)."""
    parallel = np.abs(direction) < 1e-12
    safe = np.where(parallel, 1.0, direction)
    t1, t2 = (-half - origin) / safe, (half - origin) / safe
    inside = np.abs(origin) <= half
    near = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    far = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    return near, far


def _gaussian(seed: np.ndarray, frame: np.ndarray | None, n: int) -> np.ndarray:
    """(N, 64) standard normal draws from a hash of (seed, frame, ray): Box-Muller on two
    splitmix64 streams, so each car's noise depends on its own seed and frame only."""
    seed = np.broadcast_to(np.asarray(seed, dtype=np.uint64), (n,))
    frame = np.broadcast_to(np.zeros(n, np.uint64) if frame is None
                            else np.asarray(frame, dtype=np.uint64), (n,))
    ray = np.arange(LIDAR_RAYS, dtype=np.uint64)
    key = (seed[:, None] * np.uint64(0x9E3779B97F4A7C15)
           ^ frame[:, None] * np.uint64(0xD1B54A32D192ED03)) + ray[None, :] * np.uint64(2)
    u1 = (_splitmix64(key) >> np.uint64(11)).astype(np.float64) + 1.0
    u2 = (_splitmix64(key + np.uint64(1)) >> np.uint64(11)).astype(np.float64)
    u1, u2 = u1 / 2.0**53, u2 / 2.0**53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


# -- the observations ---------------------------------------------------------------------


def lidar_observation(ranges: np.ndarray) -> np.ndarray:
    """LIDAR: (N, 64) float32 ranges clipped to [0.15, 1.0]."""
    return np.clip(ranges, *LIDAR_CLIP).astype(np.float32)


def sector_lidar_observation(ranges: np.ndarray) -> np.ndarray:
    """SECTOR_LIDAR: (N, 8) float32, 1.0 where a sector has a return closer than 0.5 m."""
    return discretized_sector_observation(
        ranges, LidarConfig(SECTOR_LIDAR_SECTORS, 1, SECTOR_LIDAR_CLIPPING))


def discretized_sector_observation(ranges: np.ndarray, config: LidarConfig) -> np.ndarray:
    """DISCRETIZED_SECTOR_LIDAR: (N, sectors x values) float32 one-hot distance bins (see
    the module docstring), the simapp sector filter applied to every car at once."""
    values = max(config.num_values_per_sector, 1)
    clipping = max(min(config.clipping_dist, LIDAR_MAX_RANGE), LIDAR_MIN_RANGE)
    ranges = np.asarray(ranges, dtype=np.float64)
    ranges = np.where(np.isinf(ranges), clipping, ranges)
    n = ranges.shape[0]
    nearest = ranges.reshape(n, config.num_sectors, -1).min(axis=-1)
    nearest = np.minimum(nearest, clipping)
    bins = np.clip(np.floor(nearest / (clipping / values)).astype(np.int64), 0, values)
    one_hot = np.arange(values + 1) == bins[..., None]  # (N, S, values + 1)
    return one_hot[..., :values].reshape(n, -1).astype(np.float32)
