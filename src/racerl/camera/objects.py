"""Boxes and bot cars in the front camera: every object is a solid box ray-cast per pixel.

An object of :class:`~racerl.sim.objects.Objects` is an oriented box standing on the floor
(footprint ``length`` x ``width`` around (x, y), turned by ``yaw``, ``height`` tall). After
the floor pass, each pixel's ray from the camera mount is intersected with every object of
its car (the slab test in the object's own frame); the nearest hit in front of the camera
repaints the pixel. Objects stand on the floor inside the room, so a hit is always nearer
than the floor, wall or sky the ray would otherwise meet: no depth of those is needed.

What a face looks like: a colour per :class:`~racerl.sim.objects.Kind` and part (a box is
white with a dark band round its middle, like the printed DeepRacer obstacle box; a car has a
dark chassis under a coloured shell), times a shade that makes the box read as 3-D: the top
is lit fully, each side by how much its outward normal faces a fixed light from above one
side of the room. The camera's colour cast (gain) and tone curve then apply as on the floor;
the floor's light patches do not (they are pools of light on the ground).

Work is kept small: the per-object constants (the camera in the object's frame, the shades,
the rectangle of pixels the box can cover, from its eight projected corners) are computed
once per frame with NumPy and shared by both backends, so the compiled kernel only visits
pixels inside those rectangles. The NumPy backend tests every pixel; both evaluate the same
expressions in the same order and agree to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from racerl.camera.pixels import LUMA_ARRAY
from racerl.sim.objects import Kind, Objects

LIGHT_DIRECTION = np.array([-0.55, -0.35])
"""Horizontal direction the light comes *from* (world frame), for the sides' shades."""
SIDE_AMBIENT, SIDE_DIFFUSE = 0.55, 0.38
"""A side facing away from the light keeps SIDE_AMBIENT of its colour; one facing it gets
SIDE_AMBIENT + SIDE_DIFFUSE. Tops are lit fully (1.0)."""

# Colours per kind and part (RGB): [side, band, top]. The band is the box's printed stripe
# (heights BAND_LOW..BAND_HIGH of the side) and a car's chassis (below CHASSIS).
PALETTE = np.zeros((len(Kind), 3, 3))
PALETTE[Kind.BOX] = [(232, 230, 222), (52, 54, 60), (244, 242, 236)]
PALETTE[Kind.BOT_CAR] = [(70, 110, 200), (22, 22, 26), (120, 150, 222)]
PALETTE[Kind.RACER] = [(200, 60, 50), (22, 22, 26), (226, 110, 96)]
BAND_LOW, BAND_HIGH = 0.38, 0.62
CHASSIS = 0.35
NEAR_DEPTH = 1e-3
"""Corners nearer than this to the camera plane make the box's pixel rectangle the whole
frame (a projection through the camera is unbounded)."""


@dataclass(frozen=True)
class ObjectPass:
    """Per (car, object) constants of one frame, in the form both backends take."""

    origin: np.ndarray  # (N, M, 3) the camera in the object's frame (z from the floor)
    turn: np.ndarray  # (N, M, 2) cos, sin of (object yaw - car yaw)
    half: np.ndarray  # (N, M, 3) half length, half width, height
    shade: np.ndarray  # (N, M, 5) faces +x, -x, +y, -y, top
    kind: np.ndarray  # (N, M) int64
    rect: np.ndarray  # (N, M, 4) int64 row0, row1, col0, col1 (empty for absent objects)


def prepare(objects: Objects, x: np.ndarray, y: np.ndarray, cos_yaw: np.ndarray,
            sin_yaw: np.ndarray, yaw: np.ndarray, mount: tuple[float, float, float],
            pitch: float, focal: float, width: int, height: int) -> ObjectPass:
    """The constants of :class:`ObjectPass` for cars at (x, y, yaw) and their objects."""
    fwd, left, up = mount
    cam_x = x + cos_yaw * fwd - sin_yaw * left
    cam_y = y + sin_yaw * fwd + cos_yaw * left
    oc, os_ = np.cos(objects.yaw), np.sin(objects.yaw)
    rx, ry = cam_x[:, None] - objects.x, cam_y[:, None] - objects.y
    origin = np.stack([oc * rx + os_ * ry, -os_ * rx + oc * ry,
                       np.full(rx.shape, up)], axis=-1)
    rel = objects.yaw - yaw[:, None]
    turn = np.stack([np.cos(rel), np.sin(rel)], axis=-1)
    half = np.stack([objects.length / 2, objects.width / 2, objects.height], axis=-1)
    light = LIGHT_DIRECTION / np.linalg.norm(LIGHT_DIRECTION)
    facing = oc * light[0] + os_ * light[1]  # +x normal against the light
    across = -os_ * light[0] + oc * light[1]  # +y normal
    sides = np.stack([facing, -facing, across, -across], axis=-1)
    shade = np.concatenate([SIDE_AMBIENT + SIDE_DIFFUSE * np.maximum(sides, 0.0),
                            np.ones((*rx.shape, 1))], axis=-1)
    visible = objects.present & (half > 0).all(axis=-1)
    rect = _pixel_rects(objects, cam_x, cam_y, cos_yaw, sin_yaw, up, pitch, focal, width,
                        height, visible)
    return ObjectPass(np.ascontiguousarray(origin), np.ascontiguousarray(turn),
                      np.ascontiguousarray(half), np.ascontiguousarray(shade),
                      objects.kind.astype(np.int64), rect)


def _pixel_rects(objects, cam_x, cam_y, cos_yaw, sin_yaw, up, pitch, focal, width, height,
                 visible) -> np.ndarray:
    """(N, M, 4) pixel rectangles holding each box's image, one pixel of margin round the
    projected corners; the whole frame where a corner is at or behind the camera plane (and
    some in front), nothing where every corner is behind (no pixel ray looks backwards)."""
    foot = objects.corners()  # (N, M, 4, 2)
    dx = foot[..., 0] - cam_x[:, None, None]
    dy = foot[..., 1] - cam_y[:, None, None]
    ahead = cos_yaw[:, None, None] * dx + sin_yaw[:, None, None] * dy  # car frame
    side = -sin_yaw[:, None, None] * dx + cos_yaw[:, None, None] * dy
    ahead, side = np.concatenate([ahead, ahead], -1), np.concatenate([side, side], -1)
    z = np.concatenate([np.zeros(foot.shape[:-1]),
                        np.broadcast_to(objects.height[..., None], foot.shape[:-1])], -1) - up
    depth = ahead * np.cos(pitch) - z * np.sin(pitch)
    rise = ahead * np.sin(pitch) + z * np.cos(pitch)
    safe = np.where(depth > NEAR_DEPTH, depth, 1.0)
    col = 0.5 * width - focal * side / safe
    row = 0.5 * height - focal * rise / safe
    rect = np.stack([np.floor(row.min(-1)) - 1, np.ceil(row.max(-1)) + 2,
                     np.floor(col.min(-1)) - 1, np.ceil(col.max(-1)) + 2], axis=-1)
    rect = np.clip(rect, 0, [height, height, width, width])
    straddles = (depth <= NEAR_DEPTH).any(-1) & (depth > 0).any(-1)
    rect = np.where(straddles[..., None], [0, height, 0, width], rect)
    behind = (depth <= 0).all(-1) | ~visible
    return np.where(behind[..., None], 0, rect).astype(np.int64)


def draw(p: ObjectPass, rays: np.ndarray, gain: np.ndarray, tone: np.ndarray, rgb: bool,
         backend: str, out: np.ndarray) -> None:
    """Repaint the pixels of ``out`` (N, H, W, C) whose ray meets an object first."""
    args = (p.origin, p.turn, p.half, p.shade, p.kind, p.rect, rays, PALETTE, gain, tone,
            rgb, out)
    if backend == "numba":
        _draw_numba(*args)
    else:
        _draw_numpy(*args)


# -- NumPy: every pixel of every car against one object at a time ------------------------------


def _slab_numpy(o, d, lo, hi):
    """Ray parameters (entry, exit) of the slab lo <= o + t d <= hi, elementwise."""
    flat = d == 0.0
    safe = np.where(flat, 1.0, d)
    t1, t2 = (lo - o) / safe, (hi - o) / safe
    inside = (lo <= o) & (o <= hi)
    t_in = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    t_out = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    return t_in, t_out


def _draw_numpy(origin, turn, half, shade, kind, rect, rays, palette, gain, tone, rgb, out):
    n, h, w, _ = out.shape
    m = origin.shape[1]
    dx, dy, dz = rays[:, 0][None], rays[:, 1][None], rays[:, 2][None]  # (1, P)
    best = np.full((n, h * w), np.inf)
    color = np.zeros((n, h * w, 3))
    light = np.ones((n, h * w))
    for j in range(m):  # a handful of objects; every car and pixel at once
        c, s = turn[:, j, 0][:, None], turn[:, j, 1][:, None]
        ox, oy, oz = (origin[:, j, k][:, None] for k in range(3))
        hx, hy, hz = (half[:, j, k][:, None] for k in range(3))
        ldx = c * dx + s * dy
        ldy = -s * dx + c * dy
        ldz = np.broadcast_to(dz, ldx.shape)
        x_in, x_out = _slab_numpy(ox, ldx, -hx, hx)
        y_in, y_out = _slab_numpy(oy, ldy, -hy, hy)
        z_in, z_out = _slab_numpy(oz, ldz, 0.0, hz)
        t_in = np.maximum(np.maximum(x_in, y_in), z_in)
        t_out = np.minimum(np.minimum(x_out, y_out), z_out)
        present = (rect[:, j, 1] > rect[:, j, 0])[:, None]
        hit = present & (t_in <= t_out) & (t_in > 0.0) & (t_in < best)
        face = np.where(t_in == x_in, np.where(ldx > 0.0, 1, 0),
                        np.where(t_in == y_in, np.where(ldy > 0.0, 3, 2), 4))
        zf = (oz + t_in * ldz) / hz
        part = _part(kind[:, j][:, None], face, zf)
        best = np.where(hit, t_in, best)
        color = np.where(hit[..., None], palette[kind[:, j][:, None], part], color)
        light = np.where(hit, np.take_along_axis(shade[:, j], face, axis=1), light)
    hit = best < np.inf
    cars = np.broadcast_to(np.arange(n)[:, None], hit.shape)
    flat = out.reshape(n, h * w, out.shape[3])
    if rgb:
        for ch in range(3):
            value = color[..., ch] * gain[:, None, ch] * light
            flat[..., ch] = np.where(hit, tone[cars, np.minimum(value, 255.0).astype(np.int64)],
                                     flat[..., ch])
    else:
        a = LUMA_ARRAY * gain
        luma = (a[:, None, 0] * color[..., 0] + a[:, None, 1] * color[..., 1]
                + a[:, None, 2] * color[..., 2]) * light
        flat[..., 0] = np.where(hit, tone[cars, np.minimum(luma, 255.0).astype(np.int64)],
                                flat[..., 0])


def _part(kind, face, zf):
    """Palette slot of a hit: 2 the top, 1 the band (box stripe, car chassis), else 0."""
    band = np.where(kind == Kind.BOX, (zf >= BAND_LOW) & (zf <= BAND_HIGH), zf < CHASSIS)
    return np.where(face == 4, 2, np.where(band, 1, 0))


# -- Numba: per car, only the pixels inside some object's rectangle ----------------------------


@numba.njit(cache=True, nogil=True)
def _slab(o, d, lo, hi):
    if d == 0.0:
        if lo <= o and o <= hi:
            return -np.inf, np.inf
        return np.inf, -np.inf
    t1, t2 = (lo - o) / d, (hi - o) / d
    return min(t1, t2), max(t1, t2)


@numba.njit(parallel=True, cache=True, nogil=True)
def _draw_numba(origin, turn, half, shade, kind, rect, rays, palette, gain, tone, rgb, out):
    n, h, w = out.shape[0], out.shape[1], out.shape[2]
    m = origin.shape[1]
    for i in numba.prange(n):
        r0, r1, c0, c1 = h, 0, w, 0  # the union of this car's rectangles
        for j in range(m):
            if rect[i, j, 1] > rect[i, j, 0] and rect[i, j, 3] > rect[i, j, 2]:
                r0, r1 = min(r0, rect[i, j, 0]), max(r1, rect[i, j, 1])
                c0, c1 = min(c0, rect[i, j, 2]), max(c1, rect[i, j, 3])
        a0, a1, a2 = LUMA_ARRAY[0] * gain[i, 0], LUMA_ARRAY[1] * gain[i, 1], \
            LUMA_ARRAY[2] * gain[i, 2]
        for r in range(r0, r1):
            for col in range(c0, c1):
                p = r * w + col
                dx, dy, dz = rays[p, 0], rays[p, 1], rays[p, 2]
                best, best_j, best_face, best_z = np.inf, -1, 0, 0.0
                for j in range(m):
                    if not (rect[i, j, 0] <= r < rect[i, j, 1]
                            and rect[i, j, 2] <= col < rect[i, j, 3]):
                        continue
                    c, s = turn[i, j, 0], turn[i, j, 1]
                    ldx = c * dx + s * dy
                    ldy = -s * dx + c * dy
                    ox, oy, oz = origin[i, j, 0], origin[i, j, 1], origin[i, j, 2]
                    x_in, x_out = _slab(ox, ldx, -half[i, j, 0], half[i, j, 0])
                    y_in, y_out = _slab(oy, ldy, -half[i, j, 1], half[i, j, 1])
                    z_in, z_out = _slab(oz, dz, 0.0, half[i, j, 2])
                    t_in = max(max(x_in, y_in), z_in)
                    t_out = min(min(x_out, y_out), z_out)
                    if t_in <= t_out and t_in > 0.0 and t_in < best:
                        best, best_j = t_in, j
                        if t_in == x_in:
                            best_face = 1 if ldx > 0.0 else 0
                        elif t_in == y_in:
                            best_face = 3 if ldy > 0.0 else 2
                        else:
                            best_face = 4
                        best_z = (oz + t_in * dz) / half[i, j, 2]
                if best_j < 0:
                    continue
                k = kind[i, best_j]
                if best_face == 4:
                    part = 2
                elif k == 0:
                    part = 1 if BAND_LOW <= best_z <= BAND_HIGH else 0
                else:
                    part = 1 if best_z < CHASSIS else 0
                red, green, blue = palette[k, part, 0], palette[k, part, 1], palette[k, part, 2]
                lt = shade[i, best_j, best_face]
                if rgb:
                    out[i, r, col, 0] = tone[i, int(min(red * gain[i, 0] * lt, 255.0))]
                    out[i, r, col, 1] = tone[i, int(min(green * gain[i, 1] * lt, 255.0))]
                    out[i, r, col, 2] = tone[i, int(min(blue * gain[i, 2] * lt, 255.0))]
                else:
                    luma = (a0 * red + a1 * green + a2 * blue) * lt
                    out[i, r, col, 0] = tone[i, int(min(luma, 255.0))]
