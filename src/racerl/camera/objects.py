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

Work is kept small: per car and object, the compiled kernel first finds the rectangle of
pixels the box can cover (its eight corners projected) and then visits only those pixels.
The NumPy backend tests every pixel. The sines and cosines are taken once with NumPy for
both; the rest is the same expressions in the same order, so the two agree to the bit.
"""

from __future__ import annotations

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


def draw(objects: Objects, x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
         cos_yaw: np.ndarray, sin_yaw: np.ndarray, mount: tuple[float, float, float],
         pitch: float, focal: float, rays: np.ndarray, gain: np.ndarray, tone: np.ndarray,
         rgb: bool, backend: str, out: np.ndarray) -> None:
    """Repaint the pixels of ``out`` (N, H, W, C) whose ray from the camera at ``mount``
    (forward, left, up of base_link) meets one of the cars' objects first."""
    def f64(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float64)

    # The trigonometry is done once, here, for both backends (their sines may differ by an
    # ulp); the rest is + - * / in the same order in both.
    rel = objects.yaw - yaw[:, None]
    trig = np.ascontiguousarray(np.stack([np.cos(objects.yaw), np.sin(objects.yaw),
                                          np.cos(rel), np.sin(rel)], axis=-1))
    size = np.ascontiguousarray(np.stack([objects.length, objects.width, objects.height],
                                         axis=-1), dtype=np.float64)
    visible = objects.present & (size > 0).all(axis=-1)
    light = LIGHT_DIRECTION / np.linalg.norm(LIGHT_DIRECTION)
    args = (x, y, cos_yaw, sin_yaw, f64(objects.x), f64(objects.y), trig, size, visible,
            objects.kind.astype(np.int64), np.array(mount, dtype=np.float64), light,
            rays, PALETTE, gain, tone, rgb, out)
    if backend == "numba":
        _draw_numba(*args, pitch, focal)
    else:
        _draw_numpy(*args)


# -- NumPy: every pixel of every car against one object at a time ------------------------------


def _slab_numpy(o, d, lo, hi):
    """Ray parameters (entry, exit) of the slab lo <= o + t d <= hi, elementwise."""
    flat = d == 0.0
    inv = 1.0 / np.where(flat, 1.0, d)
    t1, t2 = (lo - o) * inv, (hi - o) * inv
    inside = (lo <= o) & (o <= hi)
    t_in = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    t_out = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    return t_in, t_out


def _side_shade(cos_normal):
    return SIDE_AMBIENT + SIDE_DIFFUSE * np.maximum(cos_normal, 0.0)


def _draw_numpy(x, y, cos_yaw, sin_yaw, ox, oy, trig, size, visible, kind, mount, light, rays,
                palette, gain, tone, rgb, out):
    n, h, w, _ = out.shape
    m = ox.shape[1]
    # The camera in each object's frame, and each face's shade.
    cam_x = x + cos_yaw * mount[0] - sin_yaw * mount[1]
    cam_y = y + sin_yaw * mount[0] + cos_yaw * mount[1]
    rx, ry = cam_x[:, None] - ox, cam_y[:, None] - oy
    oc, os_ = trig[..., 0], trig[..., 1]
    loc_x, loc_y = oc * rx + os_ * ry, -os_ * rx + oc * ry
    facing = oc * light[0] + os_ * light[1]  # the +x face's normal against the light
    across = -os_ * light[0] + oc * light[1]  # the +y face's
    shade = np.stack([_side_shade(facing), _side_shade(-facing), _side_shade(across),
                      _side_shade(-across), np.ones(facing.shape)], axis=-1)
    dx, dy, dz = rays[:, 0][None], rays[:, 1][None], rays[:, 2][None]  # (1, P)
    best = np.full((n, h * w), np.inf)
    color = np.zeros((n, h * w, 3))
    lit = np.ones((n, h * w))
    for j in range(m):  # a handful of objects; every car and pixel at once
        c, s = trig[:, j, 2][:, None], trig[:, j, 3][:, None]
        px, py, pz = loc_x[:, j][:, None], loc_y[:, j][:, None], mount[2]
        hx, hy, hz = size[:, j, 0][:, None] / 2, size[:, j, 1][:, None] / 2, \
            size[:, j, 2][:, None]
        ldx = c * dx + s * dy
        ldy = -s * dx + c * dy
        ldz = np.broadcast_to(dz, ldx.shape)
        x_in, x_out = _slab_numpy(px, ldx, -hx, hx)
        y_in, y_out = _slab_numpy(py, ldy, -hy, hy)
        z_in, z_out = _slab_numpy(pz, ldz, 0.0, hz)
        t_in = np.maximum(np.maximum(x_in, y_in), z_in)
        t_out = np.minimum(np.minimum(x_out, y_out), z_out)
        hit = visible[:, j][:, None] & (t_in <= t_out) & (t_in > 0.0) & (t_in < best)
        face = np.where(t_in == x_in, np.where(ldx > 0.0, 1, 0),
                        np.where(t_in == y_in, np.where(ldy > 0.0, 3, 2), 4))
        with np.errstate(divide="ignore", invalid="ignore"):
            zf = (pz + t_in * ldz) / hz
        part = _part(kind[:, j][:, None], face, zf)
        best = np.where(hit, t_in, best)
        color = np.where(hit[..., None], palette[kind[:, j][:, None], part], color)
        lit = np.where(hit, np.take_along_axis(shade[:, j], face, axis=1), lit)
    hit = best < np.inf
    cars = np.broadcast_to(np.arange(n)[:, None], hit.shape)
    flat = out.reshape(n, h * w, out.shape[3])
    if rgb:
        for ch in range(3):
            value = color[..., ch] * gain[:, None, ch] * lit
            flat[..., ch] = np.where(hit, tone[cars, np.minimum(value, 255.0).astype(np.int64)],
                                     flat[..., ch])
    else:
        a = LUMA_ARRAY * gain
        luma = (a[:, None, 0] * color[..., 0] + a[:, None, 1] * color[..., 1]
                + a[:, None, 2] * color[..., 2]) * lit
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
    inv = 1.0 / d  # one division, two products
    t1, t2 = (lo - o) * inv, (hi - o) * inv
    return min(t1, t2), max(t1, t2)


@numba.njit(cache=True, nogil=True)
def _pixel_rect(px, py, pz, hx, hy, hz, c, s, pitch, focal, w, h, rect):
    """The pixels (row0, row1, col0, col1) that can see a box: its eight corners projected,
    one pixel of margin round them; the whole frame when a corner is at or behind the camera
    plane and some are in front; none when all are behind (no pixel ray looks backwards)."""
    cp, sp = np.cos(pitch), np.sin(pitch)
    r_lo, r_hi, c_lo, c_hi = np.inf, -np.inf, np.inf, -np.inf
    near, ahead = False, False
    for k in range(8):
        ax = (hx if k & 1 else -hx) - px  # corner minus camera, in the object's frame
        ay = (hy if k & 2 else -hy) - py
        az = (hz if k & 4 else 0.0) - pz
        fwd, side = c * ax - s * ay, s * ax + c * ay  # ... turned into the car's frame
        depth = fwd * cp - az * sp
        rise = fwd * sp + az * cp
        if depth > 0.0:
            ahead = True
        if depth <= NEAR_DEPTH:
            near = True
            continue
        col = 0.5 * w - focal * side / depth
        row = 0.5 * h - focal * rise / depth
        r_lo, r_hi = min(r_lo, row), max(r_hi, row)
        c_lo, c_hi = min(c_lo, col), max(c_hi, col)
    if not ahead:
        rect[:] = 0
    elif near:
        rect[0], rect[1], rect[2], rect[3] = 0, h, 0, w
    else:
        rect[0] = min(max(np.floor(r_lo) - 1, 0), h)
        rect[1] = min(max(np.ceil(r_hi) + 2, 0), h)
        rect[2] = min(max(np.floor(c_lo) - 1, 0), w)
        rect[3] = min(max(np.ceil(c_hi) + 2, 0), w)


@numba.njit(parallel=True, cache=True, nogil=True)
def _draw_numba(x, y, cos_yaw, sin_yaw, ox, oy, trig, size, visible, kind, mount, light, rays,
                palette, gain, tone, rgb, out, pitch, focal):
    n, h, w = out.shape[0], out.shape[1], out.shape[2]
    m = ox.shape[1]
    for i in numba.prange(n):
        # Per object: the camera in its frame, its faces' shades, its rectangle of pixels.
        cam_x = x[i] + cos_yaw[i] * mount[0] - sin_yaw[i] * mount[1]
        cam_y = y[i] + sin_yaw[i] * mount[0] + cos_yaw[i] * mount[1]
        loc = np.empty((m, 2))
        shade = np.empty((m, 5))
        rect = np.zeros((m, 4), dtype=np.int64)
        r0, r1, c0, c1 = h, 0, w, 0  # the union of the rectangles
        for j in range(m):
            if not visible[i, j]:
                continue
            rx, ry = cam_x - ox[i, j], cam_y - oy[i, j]
            oc, os_ = trig[i, j, 0], trig[i, j, 1]
            loc[j, 0], loc[j, 1] = oc * rx + os_ * ry, -os_ * rx + oc * ry
            facing = oc * light[0] + os_ * light[1]
            across = -os_ * light[0] + oc * light[1]
            shade[j, 0] = SIDE_AMBIENT + SIDE_DIFFUSE * max(facing, 0.0)
            shade[j, 1] = SIDE_AMBIENT + SIDE_DIFFUSE * max(-facing, 0.0)
            shade[j, 2] = SIDE_AMBIENT + SIDE_DIFFUSE * max(across, 0.0)
            shade[j, 3] = SIDE_AMBIENT + SIDE_DIFFUSE * max(-across, 0.0)
            shade[j, 4] = 1.0
            _pixel_rect(loc[j, 0], loc[j, 1], mount[2], size[i, j, 0] / 2, size[i, j, 1] / 2,
                        size[i, j, 2], trig[i, j, 2], trig[i, j, 3], pitch, focal, w, h,
                        rect[j])
            if rect[j, 1] > rect[j, 0] and rect[j, 3] > rect[j, 2]:
                r0, r1 = min(r0, rect[j, 0]), max(r1, rect[j, 1])
                c0, c1 = min(c0, rect[j, 2]), max(c1, rect[j, 3])
        a0, a1, a2 = LUMA_ARRAY[0] * gain[i, 0], LUMA_ARRAY[1] * gain[i, 1], \
            LUMA_ARRAY[2] * gain[i, 2]
        for r in range(r0, r1):
            for col in range(c0, c1):
                p = r * w + col
                dx, dy, dz = rays[p, 0], rays[p, 1], rays[p, 2]
                best, best_j, best_face, best_z = np.inf, -1, 0, 0.0
                for j in range(m):
                    if not (rect[j, 0] <= r < rect[j, 1] and rect[j, 2] <= col < rect[j, 3]):
                        continue
                    c, s = trig[i, j, 2], trig[i, j, 3]
                    ldx = c * dx + s * dy
                    ldy = -s * dx + c * dy
                    hx, hy, hz = size[i, j, 0] / 2, size[i, j, 1] / 2, size[i, j, 2]
                    x_in, x_out = _slab(loc[j, 0], ldx, -hx, hx)
                    y_in, y_out = _slab(loc[j, 1], ldy, -hy, hy)
                    z_in, z_out = _slab(mount[2], dz, 0.0, hz)
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
                        best_z = (mount[2] + t_in * dz) / hz
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
                lt = shade[best_j, best_face]
                if rgb:
                    out[i, r, col, 0] = tone[i, int(min(red * gain[i, 0] * lt, 255.0))]
                    out[i, r, col, 1] = tone[i, int(min(green * gain[i, 1] * lt, 255.0))]
                    out[i, r, col, 2] = tone[i, int(min(blue * gain[i, 2] * lt, 255.0))]
                else:
                    luma = (a0 * red + a1 * green + a2 * blue) * lt
                    out[i, r, col, 0] = tone[i, int(min(luma, 255.0))]
