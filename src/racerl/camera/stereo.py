"""DeepRacer's ``STEREO_CAMERAS`` sensor: two front cameras side by side, one grey frame each.

Reference section 4: two identical cameras 0.03 m left and right of the centre line (a 6 cm
baseline), same height and pitch as the single front camera, each frame 160 x 120 grey,
stacked on the last axis into (120, 160, 2). The order is the simulator's: channel 0 is the
left camera and channel 1 the right one (deepracer-simapp bundle/markov/sensors/
sensors_rollout.py, ``DualCamera.get_state`` stacks ``(left_img, right_img)``; the left camera
publishes on ``camera/zed``, the right on ``camera/zed_right``).

A near object therefore sits further right in the left frame than in the right frame (its
disparity, left column minus right column, is positive and grows as it nears), which is the
depth cue a stereo policy learns from.

Use it like :class:`~racerl.camera.front.Camera`::

    stereo = StereoCamera(track)
    frames = stereo.render(x, y, yaw, lighting, frame, objects=objects)  # (N, 120, 160, 2)

Each camera has its own sensor noise: the right camera's noise seed is the lighting seed
mixed with a constant, so the two frames' noise patterns differ as two real sensors' do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from racerl.camera.front import Camera, CameraSpec, LightingBatch
from racerl.sim.objects import Objects
from racerl.track.geometry import Track

STEREO_OFFSET = 0.03
"""Metres from the centre line to each camera (reference section 4: y = +0.03 / -0.03)."""
RIGHT_NOISE_SEED = np.uint64(0x5BD1E995)
"""Mixed into the lighting seed for the right camera's sensor noise."""


class StereoCamera:
    """Renders DeepRacer's stereo pair for a batch of cars: (N, H, W, 2) uint8 grey frames,
    channel 0 the left camera, channel 1 the right."""

    def __init__(self, track: Track | Sequence[Track], spec: CameraSpec | None = None,
                 backend: str = "numba"):
        base = spec or CameraSpec()
        self.left = Camera(track, dataclasses.replace(base, mount_left=STEREO_OFFSET),
                           backend=backend)
        self.right = Camera(track, dataclasses.replace(base, mount_left=-STEREO_OFFSET),
                            backend=backend)
        self.spec = self.left.spec
        self.channels = 2

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, 2) of one stereo frame."""
        return self.spec.height, self.spec.width, 2

    def render(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, lighting: LightingBatch,
               frame: np.ndarray, out: np.ndarray | None = None,
               texture: np.ndarray | None = None, objects: Objects | None = None
               ) -> np.ndarray:
        """(N, H, W, 2) stereo frames; arguments as :meth:`Camera.render`."""
        n = len(x)
        if out is None:
            out = np.empty((n, *self.shape), dtype=np.uint8)
        left = self.left.render(x, y, yaw, lighting, frame, texture=texture, objects=objects)
        right_light = dataclasses.replace(lighting, seed=np.asarray(lighting.seed, np.uint64)
                                          ^ RIGHT_NOISE_SEED)
        right = self.right.render(x, y, yaw, right_light, frame, texture=texture,
                                  objects=objects)
        out[..., 0] = left[..., 0]
        out[..., 1] = right[..., 0]
        return out
