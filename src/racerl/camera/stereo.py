"""DeepRacer's stereo pair (``STEREO_CAMERAS``): two front cameras 6 cm apart, one image.

simapp ``urdf/deepracer/deepracer_stereo_cam.urdf`` mounts the left camera (``zed_camera_link``,
topic ``camera/zed``) at y = +0.03 m and the right one at y = -0.03 m, both as the single
camera is mounted otherwise; ``markov/sensors/sensors_rollout.py`` (``DualCamera``) resizes
each to 160 x 120, converts it to grey with PIL's ``L`` and stacks them, left first, into a
120 x 160 x 2 image. racerl's grey is DeepRacer's luminance (0.2989/0.5870/0.1140), PIL's
``L`` is 0.299/0.587/0.114: under one grey level apart.

The world is flat and the camera rigid on the car, so a camera shifted sideways on the car
sees exactly what the front camera sees from a car standing 3 cm to that side: each eye is
the mono renderer at a shifted pose. (A renderer that draws objects, whose heights break no
such symmetry, sees them from the shifted pose just the same.)
"""

from __future__ import annotations

import numpy as np

from racerl.camera.front import Camera, LightingBatch

STEREO_HALF_BASELINE = 0.03
"""Metres from the car's centre line to each camera (simapp deepracer_stereo_cam.urdf)."""


def render_stereo(camera: Camera, x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
                  lighting: LightingBatch, frame: np.ndarray,
                  texture: np.ndarray | None = None) -> np.ndarray:
    """(N, H, W, 2) uint8 stereo images (left, right) of cars at base_link poses; the
    arguments are those of :meth:`Camera.render`, which draws each eye."""
    x, y, yaw = (np.asarray(v, dtype=np.float64) for v in (x, y, yaw))
    left_x, left_y = -np.sin(yaw) * STEREO_HALF_BASELINE, np.cos(yaw) * STEREO_HALF_BASELINE
    left = camera.render(x + left_x, y + left_y, yaw, lighting, frame, texture=texture)
    right = camera.render(x - left_x, y - left_y, yaw, lighting, frame, texture=texture)
    return np.concatenate([left, right], axis=-1)
