"""Top-down pictures of a track with cars and their trails (the env's ``rgb_array``).

The track is drawn once per renderer, supersampled for smooth edges, in DeepRacer's look:
dark road, white borders, a dashed yellow centre line, a chequered start line. Each frame
then only pastes the cars and trails onto a copy of that background.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from racerl.atomic import atomic_write
from racerl.track.geometry import Track

GROUND = (88, 122, 80)
ROAD = (52, 54, 58)
BORDER = (245, 245, 245)
CENTER = (240, 200, 40)
CAR = (220, 40, 40)
TRAIL = (60, 160, 255)
CAR_LENGTH, CAR_WIDTH = 0.32, 0.20  # metres, the crash footprint (reference section 3)
SUPERSAMPLE = 3


class TopDownRenderer:
    """Draws one track at a fixed scale; :meth:`draw` adds cars, trails and a caption."""

    def __init__(self, track: Track, size: int = 720, margin_m: float = 0.4):
        self.track = track
        pts = track.rows.reshape(-1, 2)
        lo, hi = pts.min(axis=0) - margin_m, pts.max(axis=0) + margin_m
        extent = hi - lo
        self.scale = size / float(extent.max())  # pixels per metre
        self.origin = lo
        self.width = int(np.ceil(extent[0] * self.scale))
        self.height = int(np.ceil(extent[1] * self.scale))
        self.background = self._draw_track()

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        return world_to_pixels(xy, self.scale, self.origin, self.height)

    def _draw_track(self) -> Image.Image:
        return paint_track(self.track, self.scale, self.origin, (self.width, self.height))

    def draw(self, poses: np.ndarray | None = None, trails: list[np.ndarray] | None = None,
             trail_colors: list[np.ndarray] | None = None,
             caption: str | None = None) -> np.ndarray:
        """An RGB uint8 image: ``poses`` (M, 3) of x, y, yaw; ``trails`` lists of (K, 2) points.

        ``trail_colors`` optionally gives an (K, 3) uint8 colour per trail point.
        """
        img = self.background.copy()
        draw = ImageDraw.Draw(img)
        width = max(2, int(0.04 * self.scale))
        for k, trail in enumerate(trails or []):
            if len(trail) < 2:
                continue
            px = self.to_pixels(trail)
            if trail_colors is None:
                draw.line([tuple(p) for p in px], fill=TRAIL, width=width, joint="curve")
            else:
                colors = trail_colors[k]
                for a in range(len(px) - 1):
                    draw.line([tuple(px[a]), tuple(px[a + 1])], fill=tuple(int(c) for c in
                              colors[a]), width=width)
        for x, y, yaw in np.atleast_2d(poses) if poses is not None else []:
            c, s = np.cos(yaw), np.sin(yaw)
            fwd, left = np.array([c, s]), np.array([-s, c])
            hl, hw = CAR_LENGTH / 2, CAR_WIDTH / 2
            centre = np.array([x, y])
            body = [centre + fwd * a + left * b for a, b in ((hl, hw), (hl, -hw), (-hl, -hw),
                                                             (-hl, hw))]
            draw.polygon([tuple(p) for p in self.to_pixels(np.array(body))], fill=CAR,
                         outline=(20, 20, 20))
            nose = self.to_pixels(np.array([centre, centre + fwd * hl]))
            draw.line([tuple(p) for p in nose], fill=(255, 255, 255), width=max(1, width // 2))
        if caption:
            draw.rectangle([0, 0, self.width, 20], fill=(0, 0, 0))
            draw.text((6, 3), caption, fill=(255, 255, 255), font=caption_font())
        return np.asarray(img)


def caption_font(size: int = 13) -> ImageFont.ImageFont:
    """Pillow's bundled scalable font (its tiny bitmap default squeezes letters together)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1 has only the bitmap font
        return ImageFont.load_default()


def world_to_pixels(xy: np.ndarray, scale: float, origin: np.ndarray, height: int,
                    factor: float = 1.0) -> np.ndarray:
    """Track metres to PIL drawing coordinates of an image ``height`` pixels tall (times
    ``factor`` when supersampled); y points up in the world and down in the image. PIL puts
    integer coordinates at pixel centres, ours at pixel corners, hence the half pixel."""
    xy = np.asarray(xy, dtype=np.float64)
    px = (xy[..., 0] - origin[0]) * scale * factor - 0.5
    py = (height - (xy[..., 1] - origin[1]) * scale) * factor - 0.5
    return np.stack([px, py], axis=-1)


def paint_track(track: Track, scale: float, origin: np.ndarray, size: tuple[int, int],
                supersample: int = SUPERSAMPLE) -> Image.Image:
    """The track as DeepRacer paints it, ``scale`` pixels per metre, ``origin`` (metres) at
    the bottom-left corner of an image of ``size`` (width, height) pixels; y points up."""
    f = supersample
    width, height = size

    def px(xy: np.ndarray) -> list[tuple[float, float]]:
        return [tuple(p) for p in world_to_pixels(xy, scale, origin, height, f).tolist()]

    img = Image.new("RGB", (width * f, height * f), GROUND)
    draw = ImageDraw.Draw(img)
    inner, outer = track.rows[:, 2:4], track.rows[:, 4:6]
    if track.is_loop:
        draw.polygon(px(outer), fill=ROAD)
        draw.polygon(px(inner), fill=GROUND)
    else:
        draw.polygon(px(np.concatenate([outer, inner[::-1]])), fill=ROAD)
    line_px = max(2, int(0.05 * scale * f))
    for border in (inner, outer):
        draw.line(px(border), fill=BORDER, width=line_px, joint="curve")
    dash = 0.1  # metres of paint, then the same of gap
    for start in np.arange(0.0, track.length - dash, 2 * dash):
        seg, _ = track.center.interpolate(np.linspace(start, start + dash, 4))
        draw.line(px(seg), fill=CENTER, width=max(1, line_px // 2))
    xy, heading = track.center.interpolate(np.array([0.0]))
    normal = np.array([-np.sin(heading[0]), np.cos(heading[0])])
    along = np.array([np.cos(heading[0]), np.sin(heading[0])])
    half = 0.5 * track.local_width(xy)[0]
    cells = 8
    cell = 2 * half / cells
    for i in range(cells):  # a chequered start line
        for j in range(2):
            corner = xy[0] + normal * (-half + i * cell) + along * (j * cell)
            quad = [corner, corner + normal * cell, corner + (normal + along) * cell,
                    corner + along * cell]
            draw.polygon(px(np.array(quad)), fill=(20, 20, 20) if (i + j) % 2 else (250,) * 3)
    return img.resize((width, height), Image.LANCZOS) if f > 1 else img


def speed_colors(speeds: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Colours for trail points by speed from 0 to ``vmax`` (default: the fastest point),
    slow purple to fast yellow (matplotlib's plasma, readable on the dark road)."""
    from matplotlib import colormaps

    speeds = np.asarray(speeds, dtype=np.float64)
    top = float(speeds.max()) if vmax is None and len(speeds) else (vmax or 1.0)
    norm = np.clip(speeds / max(top, 1e-6), 0.0, 1.0)
    return (colormaps["plasma"](norm)[:, :3] * 255).astype(np.uint8)


def save_png(image: np.ndarray, path) -> None:
    """Write an image atomically, so no half-written PNG is ever left behind."""
    atomic_write(path, lambda f: Image.fromarray(image).save(f, format="PNG"))
