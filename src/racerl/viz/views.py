"""Pictures for people: what the camera sees beside the top-down view, and the lighting
presets side by side (``racerl view --camera`` and ``racerl view --lighting-grid``)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from racerl.camera.front import Camera, LightingBatch
from racerl.camera.lighting import PRESETS, sample_lighting
from racerl.camera.topdown import TopDownRenderer, caption_font
from racerl.track.geometry import Track

ZOOM = 3  # camera frames are 160 x 120: show them larger


def _pose(track: Track, at: float) -> tuple[float, float, float]:
    xy, yaw = track.pose_at(at % 1.0)
    return float(xy[0]), float(xy[1]), float(yaw)


def _frames(track: Track, pose: tuple[float, float, float], lighting: LightingBatch
            ) -> tuple[np.ndarray, np.ndarray]:
    """The RGB frame and the grey frame (what the network sees) at one pose."""
    args = (np.array([pose[0]]), np.array([pose[1]]), np.array([pose[2]]), lighting,
            np.zeros(1, dtype=np.uint64))
    rgb = Camera(track, rgb=True).render(*args)[0]
    grey = Camera(track).render(*args)[0, :, :, 0]
    return rgb, grey


def _zoom(frame: np.ndarray, factor: int = ZOOM) -> Image.Image:
    img = Image.fromarray(frame)
    return img.resize((img.width * factor, img.height * factor), Image.NEAREST)


def _label(img: Image.Image, text: str) -> Image.Image:
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, img.width, 17], fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255), font=caption_font(12))
    return img


def lighting_for(track: Track, preset: str, seed: int) -> LightingBatch:
    pts = track.rows.reshape(-1, 2)
    bounds = np.stack([pts.min(axis=0) - 0.5, pts.max(axis=0) + 0.5])
    light = sample_lighting(preset, np.random.default_rng([seed, 0]), bounds)
    return LightingBatch.from_list([light], np.array([seed], dtype=np.uint64))


def camera_view_image(track: Track, at: float = 0.0, preset: str = "studio",
                      seed: int = 0) -> np.ndarray:
    """Top-down view with the car at fraction ``at`` of the lap, beside its camera frames."""
    pose = _pose(track, at)
    rgb, grey = _frames(track, pose, lighting_for(track, preset, seed))
    top = TopDownRenderer(track, size=2 * 120 * ZOOM).draw(
        np.array([pose]), caption=f"{track.name}: car at {100 * (at % 1.0):.0f} % of the lap")
    top_img = Image.fromarray(top)
    cam_w, cam_h = 160 * ZOOM, 120 * ZOOM
    height = max(top_img.height, 2 * cam_h)
    canvas = Image.new("RGB", (top_img.width + cam_w, height), (0, 0, 0))
    canvas.paste(top_img, (0, 0))
    canvas.paste(_label(_zoom(rgb), f"camera (RGB), lighting '{preset}'"), (top_img.width, 0))
    canvas.paste(_label(_zoom(grey).convert("RGB"), "network input: 160x120 grey"),
                 (top_img.width, cam_h))
    return np.asarray(canvas)


def lighting_grid_image(track: Track, at: float = 0.0, seed: int = 0) -> np.ndarray:
    """Every lighting preset at one pose: RGB frames on top, the grey network input below."""
    pose = _pose(track, at)
    zoom = 2
    cam_w, cam_h = 160 * zoom, 120 * zoom
    canvas = Image.new("RGB", (cam_w * len(PRESETS), cam_h * 2), (0, 0, 0))
    for k, preset in enumerate(PRESETS):
        rgb, grey = _frames(track, pose, lighting_for(track, preset, seed))
        canvas.paste(_label(_zoom(rgb, zoom), f"{preset} (RGB)"), (k * cam_w, 0))
        canvas.paste(_label(_zoom(grey, zoom).convert("RGB"), f"{preset} (network input)"),
                     (k * cam_w, cam_h))
    return np.asarray(canvas)
