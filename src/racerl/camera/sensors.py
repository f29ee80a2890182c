"""Which sensors a model has: model_metadata.json's ``sensor`` list and ``lidar_config``.

DeepRacer's rule (simapp ``markov/boto/s3/files/model_metadata.py``,
``parse_model_metadata``): exactly one camera, ``FRONT_FACING_CAMERA`` or
``STEREO_CAMERAS``, and at most one lidar, ``LIDAR``, ``SECTOR_LIDAR`` or
``DISCRETIZED_SECTOR_LIDAR``; ``lidar_config`` sets the last one's binning (missing keys keep
the defaults 8 sectors, 8 values per sector, 2.0 m; ``num_sectors`` must divide 64,
``num_values_per_sector`` be at least 1). DeepRacer's range check of ``clipping_dist``
(``0.15 > d > 12``) can never fire, and its filter clamps the distance to [0.15, 12]
instead; racerl refuses a distance outside [0.15, 12] so that what is written is what is
used. The legacy names ``observation`` and ``LEFT_CAMERA`` (the same single camera) are
read as ``FRONT_FACING_CAMERA`` by the DeepRacer-for-Cloud import, not here.

Each sensor is one input of the network, named after the sensor (:func:`observation_keys`):
the camera image (grey 120 x 160 x 1, or x 2 for the stereo pair, left then right) and the
lidar vector (64 ranges, 8 sector flags, or sectors x values bins; :mod:`racerl.camera.lidar`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from racerl.camera.lidar import (
    LIDAR_MAX_RANGE,
    LIDAR_MIN_RANGE,
    LIDAR_RAYS,
    SECTOR_LIDAR_SECTORS,
    LidarConfig,
    discretized_sector_observation,
    lidar_observation,
    sector_lidar_observation,
)
from racerl.errors import RacerlError

FRONT_FACING_CAMERA = "FRONT_FACING_CAMERA"
STEREO_CAMERAS = "STEREO_CAMERAS"
LIDAR = "LIDAR"
SECTOR_LIDAR = "SECTOR_LIDAR"
DISCRETIZED_SECTOR_LIDAR = "DISCRETIZED_SECTOR_LIDAR"
CAMERAS = (FRONT_FACING_CAMERA, STEREO_CAMERAS)
LIDARS = (LIDAR, SECTOR_LIDAR, DISCRETIZED_SECTOR_LIDAR)
SENSORS = CAMERAS + LIDARS
DEFAULT_SENSORS = (FRONT_FACING_CAMERA,)


class SensorError(RacerlError):
    """A ``sensor`` list or ``lidar_config`` is not one DeepRacer accepts."""


@dataclass(frozen=True)
class Sensors:
    """A model's sensors: its camera, its lidar (or None) and the lidar's binning."""

    camera: str = FRONT_FACING_CAMERA
    lidar: str | None = None
    lidar_config: LidarConfig = field(default_factory=LidarConfig)

    @property
    def names(self) -> list[str]:
        """model_metadata.json's ``sensor`` list."""
        return [self.camera] + ([self.lidar] if self.lidar else [])

    @property
    def camera_channels(self) -> int:
        """Grey channels of one camera frame: 1, or 2 for the stereo pair."""
        return 2 if self.camera == STEREO_CAMERAS else 1

    @property
    def lidar_size(self) -> int:
        """Values of the lidar observation (0 without a lidar)."""
        return {None: 0, LIDAR: LIDAR_RAYS, SECTOR_LIDAR: SECTOR_LIDAR_SECTORS,
                DISCRETIZED_SECTOR_LIDAR: self.lidar_config.size}[self.lidar]

    @property
    def lidar_bounds(self) -> tuple[float, float]:
        """The lidar observation's low and high (simapp ``get_observation_space``)."""
        return (0.15, 1.0) if self.lidar == LIDAR else (0.0, 1.0)

    def lidar_features(self, ranges: np.ndarray) -> np.ndarray:
        """(N, lidar_size) float32 observation of (N, 64) scans."""
        if self.lidar == LIDAR:
            return lidar_observation(ranges)
        if self.lidar == SECTOR_LIDAR:
            return sector_lidar_observation(ranges)
        if self.lidar == DISCRETIZED_SECTOR_LIDAR:
            return discretized_sector_observation(ranges, self.lidar_config)
        raise ValueError("this model has no lidar")

    def metadata(self) -> dict:
        """model_metadata.json's ``sensor`` (and, for DISCRETIZED_SECTOR_LIDAR,
        ``lidar_config``) entries."""
        out: dict = {"sensor": self.names}
        if self.lidar == DISCRETIZED_SECTOR_LIDAR:
            out["lidar_config"] = self.lidar_config.to_json()
        return out


def observation_keys(sensors: Sensors) -> list[str]:
    """The network's inputs in order, named after DeepRacer's sensors."""
    return sensors.names


def check_sensors(sensor: object, lidar_config: object = None,
                  source: str = "config") -> Sensors:
    """The :class:`Sensors` of a ``sensor`` list and ``lidar_config`` mapping; one
    :class:`SensorError` naming ``source`` and the problem otherwise."""
    if isinstance(sensor, str) or not isinstance(sensor, Sequence) or \
            not all(isinstance(s, str) for s in sensor):
        raise SensorError(f"{source}: sensor must be a list of sensor names such as "
                          f"[{FRONT_FACING_CAMERA}, LIDAR], not {sensor!r}")
    unknown = [s for s in sensor if s not in SENSORS]
    if unknown:
        raise SensorError(f"{source}: sensor {unknown[0]!r} is none of {', '.join(SENSORS)}")
    cameras = [s for s in sensor if s in CAMERAS]
    lidars = [s for s in sensor if s in LIDARS]
    if len(cameras) != 1:
        raise SensorError(f"{source}: sensor must list exactly one camera ("
                          f"{' or '.join(CAMERAS)}), not {len(cameras)} in {list(sensor)}")
    if len(lidars) > 1:
        raise SensorError(f"{source}: sensor lists {len(lidars)} lidars ({', '.join(lidars)});"
                          " a model has at most one")
    config = check_lidar_config(lidar_config, source)
    if lidar_config is not None and lidars != [DISCRETIZED_SECTOR_LIDAR]:
        raise SensorError(f"{source}: lidar_config sets DISCRETIZED_SECTOR_LIDAR's bins, but "
                          f"sensor {list(sensor)} has no DISCRETIZED_SECTOR_LIDAR")
    return Sensors(cameras[0], lidars[0] if lidars else None, config)


def metadata_sensors(metadata: dict, source: str = "model_metadata.json") -> Sensors:
    """The sensors a model_metadata.json's content lists (``sensor``, ``lidar_config``); a
    file without ``sensor`` (DeepRacer's v1) and racerl's state models have the front
    camera. ``lidar_config`` counts only beside DISCRETIZED_SECTOR_LIDAR, as in DeepRacer."""
    sensor = metadata.get("sensor", list(DEFAULT_SENSORS))
    if sensor == ["RACERL_STATE"]:
        return Sensors()
    config = metadata.get("lidar_config") if isinstance(sensor, list) and \
        DISCRETIZED_SECTOR_LIDAR in sensor else None
    return check_sensors(sensor, config, source)


def check_lidar_config(data: object, source: str = "config") -> LidarConfig:
    """A ``lidar_config`` mapping (None: the defaults) as a checked :class:`LidarConfig`."""
    if data is None:
        return LidarConfig()
    if not isinstance(data, dict):
        raise SensorError(f"{source}: lidar_config must be a mapping with num_sectors, "
                          f"num_values_per_sector, clipping_dist, not {data!r}")
    known = ("num_sectors", "num_values_per_sector", "clipping_dist")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SensorError(f"{source}: lidar_config has unknown key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(known)}")
    default = LidarConfig()
    sectors = data.get("num_sectors", default.num_sectors)
    values = data.get("num_values_per_sector", default.num_values_per_sector)
    clipping = data.get("clipping_dist", default.clipping_dist)
    if not _whole(sectors) or sectors < 1 or LIDAR_RAYS % sectors:
        raise SensorError(f"{source}: lidar_config num_sectors must divide the "
                          f"{LIDAR_RAYS} rays (1, 2, 4, 8, 16, 32 or 64), not {sectors!r}")
    if not _whole(values) or not 1 <= values <= 64:
        raise SensorError(f"{source}: lidar_config num_values_per_sector must be a whole "
                          f"number in [1, 64], not {values!r}")
    if isinstance(clipping, bool) or not isinstance(clipping, int | float) \
            or not LIDAR_MIN_RANGE <= clipping <= LIDAR_MAX_RANGE:
        raise SensorError(f"{source}: lidar_config clipping_dist must be metres in "
                          f"[{LIDAR_MIN_RANGE}, {LIDAR_MAX_RANGE}], not {clipping!r}")
    return LidarConfig(int(sectors), int(values), float(clipping))


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
