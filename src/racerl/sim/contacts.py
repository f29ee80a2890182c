"""Which object a car touches, and which objects its camera sees, for N cars x M objects.

Both tests are DeepRacer's own, read in simapp ``markov/track_geom/track_data.py``:

* ``get_collided_object_name``: the car's crash footprint (``BOT_CAR_DIMENSION``, 0.32352 m
  long x 0.1961 m wide, centred on ``base_link``) hits an object when one of the car's four
  corners lies strictly inside the object's footprint rectangle (shapely ``contains``). It is
  a corner test, not a full overlap test: an object corner poking into the side of the car
  while no car corner is inside the object is no crash. The first object in registry order
  (obstacles, then bot cars) is the one reported.
* ``get_objects_in_camera_frustums``: an object is in view when any of its four footprint
  corners (at the height of its pose: 0.1 m for boxes, ``OBSTACLE_Z``; 0 for cars,
  ``BOT_CAR_Z``) or its centre lies inside the camera's frustum (``markov/cameras/
  frustum.py``: near 0.2 m, far 300 m, horizontal field of view 1.13 rad, height/width
  480/640), the camera where the front camera sits (reference section 4).
"""

from __future__ import annotations

import numpy as np

from racerl.sim.objects import CAR_LENGTH, CAR_WIDTH, Kind, Objects

NO_CONTACT = -1
BOX_Z = 0.1
"""Height of a box obstacle's pose (simapp ``agent_ctrl/constants.py`` ``OBSTACLE_Z``)."""
CAR_Z = 0.0
"""Height of a bot car's pose (``BOT_CAR_Z``)."""
FRUSTUM_NEAR = 0.2
FRUSTUM_FAR = 300.0
FRUSTUM_HFOV = 1.13
FRUSTUM_VIEW_RATIO = 480.0 / 640.0
CAMERA_FORWARD = 0.145
"""Metres ahead of ``base_link`` of the camera's optical frame (reference section 4)."""
CAMERA_HEIGHT = 0.130
CAMERA_PITCH = np.radians(15.0)
"""Radians the camera looks down (``zed_camera_link`` rpy 0, 0.2618, 0)."""


def car_corners(x: np.ndarray, y: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """(N, 4, 2) corners of the cars' crash footprints around their ``base_link``."""
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    along = np.array([1.0, -1.0, -1.0, 1.0]) * CAR_LENGTH / 2
    across = np.array([1.0, 1.0, -1.0, -1.0]) * CAR_WIDTH / 2
    return np.stack([x[:, None] + along * c - across * s,
                     y[:, None] + along * s + across * c], axis=-1)


def touching(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, objects: Objects) -> np.ndarray:
    """(N, M) whether car i's footprint has a corner strictly inside object j's."""
    corners = car_corners(x, y, yaw)[:, None, :, :]  # (N, 1, 4, 2)
    dx = corners[..., 0] - objects.x[..., None]  # (N, M, 4)
    dy = corners[..., 1] - objects.y[..., None]
    c, s = np.cos(objects.yaw)[..., None], np.sin(objects.yaw)[..., None]
    along = np.abs(dx * c + dy * s) < objects.length[..., None] / 2
    across = np.abs(-dx * s + dy * c) < objects.width[..., None] / 2
    return (along & across).any(axis=-1) & objects.present


def first_contact(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, objects: Objects
                  ) -> np.ndarray:
    """(N,) the first object (registry order) each car touches, :data:`NO_CONTACT` if none."""
    hit = touching(x, y, yaw, objects)
    if hit.shape[1] == 0:
        return np.full(len(x), NO_CONTACT)
    return np.where(hit.any(axis=1), hit.argmax(axis=1), NO_CONTACT)


def in_camera(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, objects: Objects) -> np.ndarray:
    """(N, M) whether object j is inside car i's camera frustum (module docstring)."""
    z = np.where(objects.kind == Kind.BOX, BOX_Z, CAR_Z)
    points = np.concatenate([objects.corners(), np.stack([objects.x, objects.y], -1)[..., None, :]],
                            axis=-2)  # (N, M, 5, 2)
    c, s = np.cos(yaw)[:, None, None], np.sin(yaw)[:, None, None]
    dx = points[..., 0] - (x[:, None, None] + CAMERA_FORWARD * c)
    dy = points[..., 1] - (y[:, None, None] + CAMERA_FORWARD * s)
    dz = z[..., None] - CAMERA_HEIGHT
    ahead = dx * c + dy * s
    left = -dx * s + dy * c
    cp, sp = np.cos(CAMERA_PITCH), np.sin(CAMERA_PITCH)
    forward = ahead * cp - dz * sp  # along the pitched optical axis
    up = ahead * sp + dz * cp
    half_w = np.tan(FRUSTUM_HFOV / 2) * forward
    half_h = half_w * FRUSTUM_VIEW_RATIO
    seen = ((forward >= FRUSTUM_NEAR) & (forward <= FRUSTUM_FAR)
            & (np.abs(left) <= half_w) & (np.abs(up) <= half_h))
    return seen.any(axis=-1) & objects.present
