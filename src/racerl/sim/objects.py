"""Objects on the track (obstacles, bot cars, other racers) as one struct of arrays.

Every car of a :class:`~racerl.sim.batch.BatchSim` drives in its own world, so each car has
its own M objects: every field is an (N, M) array, object j of car i at ``[i, j]``. A batch
with fewer objects for some cars marks the missing ones ``present = False``; a time trial
has M = 0. Geometry is the object's footprint rectangle centred on (x, y), ``length`` along
its heading ``yaw`` and ``width`` across it, standing ``height`` tall on the ground: the
camera ray-casts these boxes, the LIDAR measures to them and the crash rule intersects the
car's footprint with them, all batched over cars and objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

# Obstacle box (reference section 12: footprint 0.4 m across x 0.5 m along its lane; simapp
# markov/track_geom/constants.py ObstacleDimensions.BOX_OBSTACLE_DIMENSION).
BOX_LENGTH = 0.5
BOX_WIDTH = 0.4
BOX_HEIGHT = 0.2
# A bot car or another racer: the crash footprint of reference section 3
# (ObstacleDimensions.BOT_CAR_DIMENSION) and the body mesh's height.
CAR_LENGTH = 0.32352
CAR_WIDTH = 0.1961
CAR_HEIGHT = 0.194


class Kind(IntEnum):
    """What an object is: the camera paints each kind its own way."""

    BOX = 0
    BOT_CAR = 1
    RACER = 2


@dataclass
class Objects:
    """The objects around every car, (N, M) arrays (see the module docstring)."""

    x: np.ndarray
    """Footprint centre, metres."""
    y: np.ndarray
    yaw: np.ndarray
    """Heading, radians (CCW from +x)."""
    speed: np.ndarray
    """m/s along the heading (0 for boxes)."""
    length: np.ndarray
    width: np.ndarray
    height: np.ndarray
    kind: np.ndarray
    """A :class:`Kind` per object (int8)."""
    present: np.ndarray
    """False for padding: an object a car's world does not have."""

    @classmethod
    def empty(cls, n: int, m: int = 0) -> Objects:
        """N cars with room for M objects each, none present."""
        def floats() -> np.ndarray:
            return np.zeros((n, m))

        return cls(x=floats(), y=floats(), yaw=floats(), speed=floats(), length=floats(),
                   width=floats(), height=floats(), kind=np.zeros((n, m), dtype=np.int8),
                   present=np.zeros((n, m), dtype=bool))

    @property
    def count(self) -> int:
        """M, the objects per car (present or not)."""
        return int(self.x.shape[1])

    def subset(self, cars: np.ndarray) -> Objects:
        """The objects of the given cars only (copies)."""
        return Objects(**{name: value[cars] for name, value in vars(self).items()})

    def corners(self) -> np.ndarray:
        """(N, M, 4, 2) footprint corners, counter-clockwise from front-left."""
        c, s = np.cos(self.yaw)[..., None], np.sin(self.yaw)[..., None]
        along = np.array([1.0, -1.0, -1.0, 1.0]) * (self.length[..., None] / 2)
        across = np.array([1.0, 1.0, -1.0, -1.0]) * (self.width[..., None] / 2)
        x = self.x[..., None] + along * c - across * s
        y = self.y[..., None] + along * s + across * c
        return np.stack([x, y], axis=-1)
