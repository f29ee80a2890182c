"""The live camera view of a training run (racerl.train.live_camera): car 0's newest frame,
at most once per interval, as a PNG the web console shows."""

from __future__ import annotations

import numpy as np
from PIL import Image

from racerl.train.live_camera import LIVE_CAMERA_FILE, LiveCamera, newest_frame


def stacked(frames: int, rgb: bool) -> np.ndarray:
    """One car's observation, height x width x (channels * frames); frame k is all k."""
    c = 3 if rgb else 1
    return np.concatenate([np.full((120, 160, c), k, np.uint8) for k in range(frames)],
                          axis=-1)


def test_the_newest_frame_of_a_stack_channels_last_or_first():
    grey = stacked(3, rgb=False)
    assert newest_frame(grey, 1).shape == (120, 160) and (newest_frame(grey, 1) == 2).all()
    first = np.moveaxis(grey, -1, 0)  # as SB3's VecTransposeImage hands it to a CNN
    assert (newest_frame(first, 1) == 2).all() and newest_frame(first, 1).shape == (120, 160)
    rgb = stacked(2, rgb=True)
    assert newest_frame(rgb, 3).shape == (120, 160, 3) and (newest_frame(rgb, 3) == 1).all()


def test_frames_are_saved_at_most_once_per_interval(tmp_path):
    batch = np.stack([stacked(1, rgb=False) + 7, stacked(1, rgb=False)])  # car 0 is all 7
    camera = LiveCamera(tmp_path, rgb=False, interval=3600)
    assert camera.offer(batch) is True
    image = Image.open(tmp_path / LIVE_CAMERA_FILE)
    assert image.size == (160, 120) and image.mode == "L"
    assert (np.asarray(image) == 7).all()
    assert camera.offer(batch + 1) is False  # too soon: the file keeps the first frame
    assert (np.asarray(Image.open(tmp_path / LIVE_CAMERA_FILE)) == 7).all()
    assert LiveCamera(tmp_path, rgb=False, interval=0).offer(batch + 1) is True
    assert (np.asarray(Image.open(tmp_path / LIVE_CAMERA_FILE)) == 8).all()
    assert [p.name for p in tmp_path.iterdir()] == [LIVE_CAMERA_FILE]  # no temporary left


def test_a_stereo_camera_beside_a_lidar_shows_both_eyes(tmp_path):
    left, right = np.full((120, 160, 1), 10, np.uint8), np.full((120, 160, 1), 20, np.uint8)
    pair = np.concatenate([left, right], axis=-1)
    batch = {"STEREO_CAMERAS": np.stack([pair, pair]), "LIDAR": np.ones((2, 64), np.float32)}
    camera = LiveCamera(tmp_path, rgb=False, interval=0, camera="STEREO_CAMERAS", stereo=True)
    assert camera.offer(batch) is True
    image = np.asarray(Image.open(tmp_path / LIVE_CAMERA_FILE))
    assert image.shape == (120, 320)  # the left eye, then the right
    assert (image[:, :160] == 10).all() and (image[:, 160:] == 20).all()
