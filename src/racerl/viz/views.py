"""Pictures for people: what the camera sees beside the top-down view, the lighting presets
side by side, and obstacles and bot cars in the camera and the stereo pair
(``racerl view --camera [--objects]``, ``--lighting-grid`` and ``--objects-grid``)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from racerl.camera.front import Camera, LightingBatch
from racerl.camera.lighting import PRESETS, sample_lighting
from racerl.camera.stereo import StereoCamera
from racerl.camera.topdown import TopDownRenderer, caption_font
from racerl.sim.objects import (
    BOX_HEIGHT,
    BOX_LENGTH,
    BOX_WIDTH,
    CAR_HEIGHT,
    CAR_LENGTH,
    CAR_WIDTH,
    Kind,
    Objects,
)
from racerl.track.geometry import Track

ZOOM = 3  # camera frames are 160 x 120: show them larger


def car_pose(track: Track, at: float) -> tuple[float, float, float]:
    """(x, y, yaw) of a car on the centre line at fraction ``at`` of the lap."""
    xy, yaw = track.pose_at(at % 1.0)
    return float(xy[0]), float(xy[1]), float(yaw)


def _frames(track: Track, pose: tuple[float, float, float], lighting: LightingBatch,
            objects: Objects | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The RGB frame and the grey frame (what the network sees) at one pose."""
    args = (np.array([pose[0]]), np.array([pose[1]]), np.array([pose[2]]), lighting,
            np.zeros(1, dtype=np.uint64))
    rgb = Camera(track, rgb=True).render(*args, objects=objects)[0]
    grey = Camera(track).render(*args, objects=objects)[0, :, :, 0]
    return rgb, grey


def objects_ahead(track: Track, at: float,
                  placements: list[tuple[Kind, float, float, float]]) -> Objects:
    """Objects for one car on the centre line at fraction ``at`` of the lap: each placement
    is (kind, metres further along the centre line, metres left of it, yaw relative to the
    track there), sized as DeepRacer's obstacle box or car for its kind."""
    objs = Objects.empty(1, len(placements))
    for j, (kind, ahead, left, turn) in enumerate(placements):
        x, y, yaw = car_pose(track, at + ahead / track.length)
        size = ((BOX_LENGTH, BOX_WIDTH, BOX_HEIGHT) if kind == Kind.BOX
                else (CAR_LENGTH, CAR_WIDTH, CAR_HEIGHT))
        objs.x[0, j] = x - left * np.sin(yaw)
        objs.y[0, j] = y + left * np.cos(yaw)
        objs.yaw[0, j] = yaw + turn
        objs.length[0, j], objs.width[0, j], objs.height[0, j] = size
        objs.kind[0, j], objs.present[0, j] = kind, True
    return objs


DEMO_OBJECTS = [(Kind.BOX, 0.7, 0.25, 0.0), (Kind.BOT_CAR, 1.2, -0.3, 0.0)]
"""``racerl view --camera --objects``: a box ahead in the left of the lane, a bot car
further on in the right."""
OBJECT_COLORS = {Kind.BOX: (235, 235, 228), Kind.BOT_CAR: (70, 110, 200),
                 Kind.RACER: (200, 60, 50)}


def _draw_footprints(renderer: TopDownRenderer, picture: np.ndarray, objects: Objects
                     ) -> np.ndarray:
    """The objects' footprints drawn onto a top-down picture."""
    img = Image.fromarray(picture)
    draw = ImageDraw.Draw(img)
    corners = objects.corners()
    for i, j in zip(*np.nonzero(objects.present), strict=True):
        draw.polygon([tuple(p) for p in renderer.to_pixels(corners[i, j])],
                     fill=OBJECT_COLORS[Kind(int(objects.kind[i, j]))], outline=(0, 0, 0))
    return np.asarray(img)


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
                      seed: int = 0, objects: Objects | None = None) -> np.ndarray:
    """Top-down view with the car at fraction ``at`` of the lap, beside its camera frames;
    ``objects`` (one car's) are drawn in both."""
    pose = car_pose(track, at)
    rgb, grey = _frames(track, pose, lighting_for(track, preset, seed), objects)
    renderer = TopDownRenderer(track, size=2 * 120 * ZOOM)
    top = renderer.draw(
        np.array([pose]), caption=f"{track.name}: car at {100 * (at % 1.0):.0f} % of the lap")
    if objects is not None:
        top = _draw_footprints(renderer, top, objects)
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
    pose = car_pose(track, at)
    zoom = 2
    cam_w, cam_h = 160 * zoom, 120 * zoom
    canvas = Image.new("RGB", (cam_w * len(PRESETS), cam_h * 2), (0, 0, 0))
    for k, preset in enumerate(PRESETS):
        rgb, grey = _frames(track, pose, lighting_for(track, preset, seed))
        canvas.paste(_label(_zoom(rgb, zoom), f"{preset} (RGB)"), (k * cam_w, 0))
        canvas.paste(_label(_zoom(grey, zoom).convert("RGB"), f"{preset} (network input)"),
                     (k * cam_w, cam_h))
    return np.asarray(canvas)


def camera_objects_image(track: Track, at: float = 0.0, preset: str = "studio",
                         seed: int = 0) -> np.ndarray:
    """What the network sees of obstacles: grey frames with a box near and far, a box partly
    hidden behind another, a bot car, and the stereo pair (left, right) of a near box."""
    pose = car_pose(track, at)
    lighting = lighting_for(track, preset, seed)
    scenes = [("box 0.8 m ahead", [(Kind.BOX, 0.8, 0.0, 0.0)]),
              ("box 2.5 m ahead", [(Kind.BOX, 2.5, 0.0, 0.0)]),
              ("box partly hidden by a nearer one",
               [(Kind.BOX, 1.0, 0.12, 0.0), (Kind.BOX, 2.0, -0.2, 0.0)]),
              ("bot car 1.2 m ahead, turned 20°", [(Kind.BOT_CAR, 1.2, 0.0, np.radians(20))])]
    tiles = [(label, _frames(track, pose, lighting, objects_ahead(track, at, items))[1])
             for label, items in scenes]
    args = (np.array([pose[0]]), np.array([pose[1]]), np.array([pose[2]]), lighting,
            np.zeros(1, dtype=np.uint64))
    pair = StereoCamera(track).render(
        *args, objects=objects_ahead(track, at, [(Kind.BOX, 0.8, 0.0, 0.0)]))[0]
    tiles += [("stereo: left camera (+3 cm)", pair[..., 0]),
              ("stereo: right camera (-3 cm)", pair[..., 1])]
    cam_w, cam_h = 160 * ZOOM, 120 * ZOOM
    canvas = Image.new("RGB", (cam_w * 3, cam_h * 2), (0, 0, 0))
    for k, (label, grey) in enumerate(tiles):
        canvas.paste(_label(_zoom(grey).convert("RGB"), label), ((k % 3) * cam_w,
                                                                 (k // 3) * cam_h))
    return np.asarray(canvas)
