"""Camera frames from files, shaped as an exported model's input (``racerl drive --source``).

A video (anything imageio reads: GIF, or MP4 with imageio-ffmpeg) or a folder of PNG/JPEG
images is turned into the frames the car's network sees: 160×120, grey by DeepRacer's
luminance (Y = 0.2989 R + 0.587 G + 0.114 B, cast to uint8) or RGB, and stacked when the
model was trained with ``frame_stack`` > 1 (the first frame fills the stack, as in the env).

Sizes: 160×120 is used as is. Any other 4:3 picture (the car's camera delivers 640×480) is
resized to 160×120 with PIL's bilinear filter, as DeepRacer does; a picture of another
aspect ratio is refused, because squeezing it would show the network a track it never saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from racerl.camera.pixels import FRAME_HEIGHT as HEIGHT
from racerl.camera.pixels import FRAME_WIDTH as WIDTH
from racerl.camera.pixels import LUMA_ARRAY
from racerl.errors import RacerlError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class FrameSourceError(RacerlError):
    """A video or image folder cannot be read, or its pictures do not fit the model."""


def camera_frame(picture: np.ndarray, rgb: bool, where: str) -> np.ndarray:
    """One picture (H×W, H×W×3 or H×W×4, uint8) as a 120×160×C camera frame."""
    picture = np.asarray(picture)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    if picture.ndim != 3 or picture.shape[2] not in (3, 4) or picture.dtype != np.uint8:
        raise FrameSourceError(f"{where}: expected an 8-bit grey, RGB or RGBA picture, got "
                               f"shape {picture.shape} {picture.dtype}")
    picture = picture[..., :3]
    height, width = picture.shape[:2]
    if (height, width) != (HEIGHT, WIDTH):
        if width * 3 != height * 4:
            raise FrameSourceError(f"{where}: picture is {width}×{height}; the model takes "
                                   f"{WIDTH}×{HEIGHT} camera frames (any 4:3 size is resized)")
        picture = np.asarray(Image.fromarray(picture).resize((WIDTH, HEIGHT),
                                                             Image.Resampling.BILINEAR))
    if rgb:
        return picture.copy()
    luma = picture.astype(np.float64) @ LUMA_ARRAY
    return np.minimum(luma, 255.0).astype(np.uint8)[..., None]


def pictures(source: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(label, picture) pairs from an image folder (sorted by name) or a video file."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FrameSourceError(f"{source}: no .png/.jpg images in this folder")
        for path in files:
            try:
                with Image.open(path) as image:
                    picture = np.asarray(image.convert("RGB"))
            except OSError as exc:
                raise FrameSourceError(f"{path}: not a readable image ({exc})") from None
            yield path.name, picture
        return
    if not source.is_file():
        raise FrameSourceError(f"{source}: no such video or image folder")
    try:
        import imageio.v3 as iio
    except ImportError:
        raise FrameSourceError(f"{source}: reading videos needs imageio (and imageio-ffmpeg "
                               "for MP4): pip install 'racerl[export]'") from None

    count = 0
    try:
        for count, picture in enumerate(iio.imiter(source), start=1):
            yield f"frame {count - 1}", picture
    except (OSError, ValueError, RuntimeError) as exc:
        raise FrameSourceError(f"{source}: not a readable video ({exc})") from None
    if count == 0:
        raise FrameSourceError(f"{source}: the video has no frames")


def model_frames(source: Path, rgb: bool, frame_stack: int) -> Iterator[tuple[str, np.ndarray]]:
    """(label, observation) pairs for a camera model: converted and stacked frames."""
    stack: np.ndarray | None = None
    for label, picture in pictures(source):
        frame = camera_frame(picture, rgb, f"{source}: {label}")
        if stack is None:
            stack = np.tile(frame, (1, 1, frame_stack))
        else:
            c = frame.shape[2]
            stack = np.concatenate([stack[..., c:], frame], axis=2)
        yield label, stack.copy()
