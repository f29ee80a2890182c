"""The live camera view of a training run: car 0's latest camera frame, saved about once a
second of wall time as ``live_camera.png`` in the model folder, for the web console's
training page (which shows it enlarged, nearest-neighbour, beside the chart).

It is what the network sees: the newest grey (or RGB) frame of car 0's observation, after
the step, as SB3 hands it to the callback. Reading it changes nothing in training (the
observation array is only read, and the clock never steers the run). A model that observes
the state vector has no camera frame and gets no file. The write is atomic, so the page
never reads half a PNG; at 160x120 grey it costs well under a millisecond a second.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np

from racerl.atomic import atomic_write

LIVE_CAMERA_FILE = "live_camera.png"
INTERVAL_SECONDS = 1.0  # wall time between two saved frames


def newest_frame(observation: np.ndarray, channels: int) -> np.ndarray:
    """Car 0's newest frame, (H, W) grey or (H, W, 3) RGB, from one car's observation:
    height x width x (channels * stack), or channels-first as SB3 transposes images for
    its CNNs."""
    obs = np.asarray(observation)
    if obs.shape[0] <= obs.shape[-1]:  # channels first: (C * stack, H, W)
        obs = np.moveaxis(obs, 0, -1)
    frame = obs[..., -channels:]
    if channels == 2:  # a stereo pair: the left and the right eye side by side
        return np.concatenate([frame[..., 0], frame[..., 1]], axis=1)
    return frame[..., 0] if channels == 1 else frame


class LiveCamera:
    """Saves car 0's newest camera frame into ``folder`` at most once per ``interval``."""

    def __init__(self, folder: Path, rgb: bool, interval: float = INTERVAL_SECONDS,
                 camera: str = "FRONT_FACING_CAMERA", stereo: bool = False):
        self.path = Path(folder) / LIVE_CAMERA_FILE
        self.channels = 3 if rgb else 2 if stereo else 1
        self.camera = camera
        """The camera's key when the observations are a dict (a car with a lidar too)."""
        self.interval = interval
        self.last = -float("inf")

    def offer(self, observations: np.ndarray | dict) -> bool:
        """Save car 0's frame of this step's ``observations`` if the last is old enough."""
        now = time.monotonic()
        if now - self.last < self.interval:
            return False
        self.last = now
        from PIL import Image

        if isinstance(observations, dict):
            observations = observations[self.camera]
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(
            newest_frame(observations[0], self.channels), dtype=np.uint8)).save(buffer, "PNG")
        atomic_write(self.path, lambda f: f.write(buffer.getvalue()))
        return True
