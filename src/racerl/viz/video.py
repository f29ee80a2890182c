"""Evaluation videos: what the car saw beside where it drove, at the control rate.

Each frame shows the camera frame the driver got (enlarged) on the left and the top-down
track on the right, with the trail so far, the car, and a lap timer that also shows the
off-track count and any penalty being served. Trials follow one another. ``.mp4`` is
written with imageio's ffmpeg plugin (the ``imageio-ffmpeg`` wheel carries its own ffmpeg),
``.gif`` with Pillow at half size; both go to a temporary file renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from racerl.camera.topdown import TopDownRenderer, caption_font
from racerl.drive.rollout import Trajectory
from racerl.errors import RacerlError
from racerl.sim.state import Status
from racerl.sim.vehicle import CONTROL_DT
from racerl.track.geometry import Track

FPS = round(1.0 / CONTROL_DT)  # one video frame per camera frame: 15 fps
FORMATS = (".mp4", ".gif")
PANEL = 480  # pixels: the camera frame is shown 3x (480 x 360), the track 480 tall


def video_frames(driver: str, paths: list[Trajectory], track: Track) -> Iterator[np.ndarray]:
    """RGB frames of every trial's path in turn (with their camera frames kept)."""
    if not any(p.frames for p in paths):
        raise ValueError("the evaluation kept no camera frames (evaluate(keep_frames=True))")
    renderer = TopDownRenderer(track, size=PANEL)
    height = _multiple_of_16(max(renderer.height, 40 + 360 + 28))
    width = _multiple_of_16(PANEL + renderer.width)
    font = caption_font(16)
    for trial, path in enumerate(paths):
        trail = np.array(path.poses)
        for k, frame in enumerate(path.frames):
            canvas = Image.new("RGB", (width, height), (0, 0, 0))
            cam = Image.fromarray(frame).resize((PANEL, 360), Image.NEAREST).convert("RGB")
            canvas.paste(cam, (0, 40))
            top = renderer.draw(trail[k:k + 1], [trail[:k + 1, :2]])
            canvas.paste(Image.fromarray(top), (PANEL, 0))
            clock, status, pause, off_track = _timer(path, k)
            draw = ImageDraw.Draw(canvas)
            line = (f"{driver}  trial {trial + 1}/{len(paths)}  "
                    f"lap {clock:6.2f} s  off track {off_track}")
            if status == Status.PAUSE:
                line += f"  PENALTY {pause + CONTROL_DT:.1f} s left"  # counts down to 0.1
            elif status == Status.LAP_COMPLETE:
                line += "  LAP COMPLETE"
            draw.text((8, 10), line, fill=(255, 255, 255), font=font)
            draw.text((8, 40 + 360 + 8), "camera: what the driver sees", fill=(200, 200, 200),
                      font=caption_font(13))
            yield np.asarray(canvas)


def _timer(path: Trajectory, k: int) -> tuple[float, str, float, int]:
    """Lap clock, status, penalty left and off-track count at pose ``k`` (0: the start)."""
    if k == 0:
        return 0.0, Status.PREPARE, 0.0, 0
    return path.clock[k - 1], path.status[k - 1], path.pause[k - 1], path.off_track[k - 1]


def write_video(driver: str, paths: list[Trajectory], track: Track, path: str | Path) -> Path:
    """Write the video of an evaluation's trials (``driver`` names who drove) to ``path``
    (.mp4 or .gif), atomically."""
    import imageio.v2 as imageio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise RacerlError(f"--video {path}: use a .mp4 or .gif file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(fd)
    try:
        if suffix == ".mp4":
            writer = imageio.get_writer(tmp, format="FFMPEG", fps=FPS, codec="libx264",
                                        quality=7, macro_block_size=16)
            for frame in video_frames(driver, paths, track):
                writer.append_data(frame)
        else:
            writer = imageio.get_writer(tmp, format="GIF", mode="I",
                                        duration=1000 * CONTROL_DT, loop=0)
            for frame in video_frames(driver, paths, track):
                half = Image.fromarray(frame).resize((frame.shape[1] // 2, frame.shape[0] // 2))
                writer.append_data(np.asarray(half))
        writer.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _multiple_of_16(n: int) -> int:
    return int(np.ceil(n / 16) * 16)
