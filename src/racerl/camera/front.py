"""DeepRacer's front camera, rendered for a whole batch of cars at once.

The camera is fixed to the car and the track is flat, so every pixel that looks down at the
floor always sees the same ground point *in the car's frame*. We compute that table once
(:class:`RayTable`); a frame is then, per car, one rotation and translation of the table
and one lookup in a texture of the track painted once per track (:class:`TrackTexture`).
Rays that leave the room before reaching the floor see the room's walls or the sky.

Camera (reference section 4): 160 x 120 network image, horizontal field of view 1.13 rad
(64.7°, the simulator's; the real car's lens is wider), mounted about 0.145 m ahead of and
0.130 m above ``base_link``, pitched down 15°. Grey output is DeepRacer's luminance
Y = 0.2989 R + 0.5870 G + 0.1140 B cast to uint8. Our own choices, where the reference has
no figure: the room (floor around the track) reaches 1.5 m beyond the track's borders and
its walls are 0.5 m high; distant floor is filtered through a mip-map so dashed lines do
not shimmer, like DeepRacer's 640 x 480 render downsampled to 160 x 120.

A batch may drive several tracks (multi-track training): the camera then holds one texture
per track and each car names its own (``texture`` in :meth:`Camera.render`); the cars of
each track are rendered together, one kernel call per track.

Obstacles, bot cars and other racers (``objects`` in :meth:`Camera.render`, an
:class:`~racerl.sim.objects.Objects`) are drawn after the floor as solid boxes, ray-cast per
pixel (:mod:`racerl.camera.objects`). ``CameraSpec.mount_left`` moves the camera sideways;
:class:`racerl.camera.stereo.StereoCamera` uses it for DeepRacer's stereo pair.

Two implementations give the same pixels: a compiled one (Numba, the default, parallel
over cars) and a plain NumPy one (``backend="numpy"``), which documents the arithmetic and
checks the compiled one in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np
from PIL import Image

from racerl.camera import objects as object_pass
from racerl.camera.lighting import MAX_PATCHES, Lighting
from racerl.camera.pixels import FRAME_HEIGHT, FRAME_WIDTH, LUMA_ARRAY
from racerl.camera.topdown import paint_track
from racerl.sim.objects import Objects
from racerl.track.geometry import Track

WALL = (168, 176, 186)
SKY = (214, 226, 238)
MIP_LEVELS = 5
CARS_PER_THREAD = 4
"""Cars a render thread needs before a second one pays: a car's frame takes ~70 µs and a
parallel region costs tens of µs, more when another process holds a core. One car (a
Gymnasium env) renders on the calling thread alone."""
CHUNK = 2
"""Cars a render thread takes at a time: threads take chunks as they go, so that one
thread held up by another process on the machine does not keep the others waiting."""


@dataclass(frozen=True)
class CameraSpec:
    """Camera geometry and output format."""

    width: int = FRAME_WIDTH
    height: int = FRAME_HEIGHT
    hfov: float = 1.13  # radians, horizontal
    mount_forward: float = 0.145  # metres ahead of base_link
    mount_height: float = 0.130  # metres above the floor
    mount_left: float = 0.0  # metres left of the centre line (stereo: +-0.03)
    pitch_deg: float = 15.0  # downwards
    texel: float = 0.01  # metres per texture pixel at full resolution
    room_margin: float = 1.5  # metres of floor beyond the track before the walls
    wall_height: float = 0.5

    @property
    def focal(self) -> float:
        """Focal length in pixels (square pixels, pinhole)."""
        return 0.5 * self.width / np.tan(0.5 * self.hfov)


@dataclass(frozen=True)
class RayTable:
    """Constants of the camera in the car's frame.

    With no roll, every image row that looks down sees a line on the floor at one distance
    ahead, and its pixels are evenly spaced along that line: the floor point of pixel
    (row, col) is ``(row_x[row], row_y0[row] + row_yd[row] * col)`` relative to base_link.
    So a frame costs one affine map per row and car, and one texture lookup per pixel.
    """

    row_x: np.ndarray  # (H,) forward distance of the row's floor line
    row_y0: np.ndarray  # (H,) lateral position of column 0 (left positive)
    row_yd: np.ndarray  # (H,) lateral step per column
    row_level: np.ndarray  # (H,) int64 mip level for the row's footprint
    row_ground: np.ndarray  # (H,) bool: the row looks down at the floor
    dir_x: np.ndarray  # (H*W,) unit horizontal ray direction, for walls and sky
    dir_y: np.ndarray
    wall_reach: np.ndarray  # (H*W,) horizontal distance at which the ray passes over the
    # walls' top (+inf where it never rises that high)


def pixel_rays(spec: CameraSpec) -> np.ndarray:
    """(H, W, 3) unit ray directions in the car frame (x forward, y left, z up)."""
    f = spec.focal
    cols = np.arange(spec.width) + 0.5 - 0.5 * spec.width
    rows = np.arange(spec.height) + 0.5 - 0.5 * spec.height
    u, v = np.meshgrid(cols, rows)
    cam = np.stack([np.ones_like(u), -u / f, -v / f], axis=-1)  # before the pitch
    p = np.radians(spec.pitch_deg)
    x = cam[..., 0] * np.cos(p) + cam[..., 2] * np.sin(p)
    z = -cam[..., 0] * np.sin(p) + cam[..., 2] * np.cos(p)
    rays = np.stack([x, cam[..., 1], z], axis=-1)
    return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


def project_to_pixel(spec: CameraSpec, point_car: np.ndarray) -> tuple[float, float]:
    """Pinhole projection of a car-frame point (x, y, z) to (column, row) in pixels."""
    rel = np.asarray(point_car, dtype=np.float64) - [spec.mount_forward, spec.mount_left,
                                                     spec.mount_height]
    p = np.radians(spec.pitch_deg)
    fwd = rel[0] * np.cos(p) - rel[2] * np.sin(p)  # undo the pitch
    up = rel[0] * np.sin(p) + rel[2] * np.cos(p)
    f = spec.focal
    return 0.5 * spec.width - f * rel[1] / fwd, 0.5 * spec.height - f * up / fwd


def build_ray_table(spec: CameraSpec) -> RayTable:
    """The camera's constants; see :class:`RayTable`."""
    f, p = spec.focal, np.radians(spec.pitch_deg)
    v = np.arange(spec.height) + 0.5 - 0.5 * spec.height  # pixel centres, downwards
    forward = np.cos(p) - (v / f) * np.sin(p)  # ray components before normalising
    down = -(-np.sin(p) - (v / f) * np.cos(p))  # how fast the ray drops per unit
    ground = down > 0
    reach = np.where(ground, spec.mount_height / np.where(ground, down, 1.0), 0.0)
    row_x = np.where(ground, spec.mount_forward + reach * forward, 0.0)
    row_yd = np.where(ground, -reach / f, 0.0)
    row_y0 = row_yd * (0.5 - 0.5 * spec.width)
    if spec.mount_left:  # a camera off the centre line sees the floor shifted sideways
        row_y0 = row_y0 + spec.mount_left
    # Footprint on the floor: the larger of the step along the row and to the next row.
    along = np.abs(row_yd)
    across = np.abs(np.diff(row_x, append=row_x[-1]))
    across[-1] = across[-2]
    footprint = np.maximum(along, across)
    with np.errstate(divide="ignore"):
        level = np.floor(np.log2(np.maximum(footprint, 1e-9) / spec.texel) + 0.5)
    row_level = np.where(ground, np.clip(level, 0, MIP_LEVELS - 1), 0).astype(np.int64)
    rays = pixel_rays(spec)
    horizontal = np.hypot(rays[..., 0], rays[..., 1])
    slope = rays[..., 2] / horizontal
    rising = slope > 0
    reach = np.where(rising, (spec.wall_height - spec.mount_height)
                     / np.where(rising, slope, 1.0), np.inf)
    flat = lambda a: np.ascontiguousarray(a.reshape(-1))  # noqa: E731
    return RayTable(row_x, row_y0, row_yd, row_level, ground,
                    flat(rays[..., 0] / horizontal), flat(rays[..., 1] / horizontal),
                    flat(reach))


@dataclass(frozen=True)
class TrackTexture:
    """The track painted once, with mip levels, packed into one array for the kernels."""

    texels: np.ndarray  # all levels, each (H_l * W_l, 3) uint8, concatenated
    offsets: np.ndarray  # start row of each level in ``texels``
    widths: np.ndarray  # W_l per level
    heights: np.ndarray
    inv_scale: np.ndarray  # texels per metre at each level
    origin: np.ndarray  # world (x, y) of the bottom-left corner
    room: np.ndarray  # (4,) x0, y0, x1, y1 of the room (walls)


def track_texture(track: Track, spec: CameraSpec) -> TrackTexture:
    """Paint ``track`` at ``spec.texel`` and build its mip levels (cached per track, and
    shared by cameras that differ only in where they sit, such as a stereo pair)."""
    return _painted_track(track, spec.texel, spec.room_margin)


@lru_cache(maxsize=8)
def _painted_track(track: Track, texel: float, room_margin: float) -> TrackTexture:
    pts = track.rows.reshape(-1, 2)
    lo = pts.min(axis=0) - room_margin
    hi = pts.max(axis=0) + room_margin
    block = 2 ** (MIP_LEVELS - 1)
    size = np.ceil((hi - lo) / texel / block).astype(int) * block
    image = paint_track(track, 1.0 / texel, lo, (int(size[0]), int(size[1])), supersample=2)
    levels, widths, heights, offsets, start = [], [], [], [], 0
    for k in range(MIP_LEVELS):
        if k:
            image = image.resize((image.width // 2, image.height // 2), Image.BOX)
        arr = np.asarray(image, dtype=np.uint8).reshape(-1, 3)
        levels.append(arr)
        widths.append(image.width)
        heights.append(image.height)
        offsets.append(start)
        start += len(arr)
    room = np.array([lo[0], lo[1], lo[0] + size[0] * texel, lo[1] + size[1] * texel])
    return TrackTexture(np.ascontiguousarray(np.concatenate(levels)), np.array(offsets),
                        np.array(widths), np.array(heights),
                        1.0 / (texel * 2.0 ** np.arange(MIP_LEVELS)), lo.astype(np.float64),
                        room)


@dataclass
class LightingBatch:
    """Per-car lighting arrays in the form the kernels take."""

    gain: np.ndarray  # (N, 3)
    tone: np.ndarray  # (N, 256) uint8
    patches: np.ndarray  # (N, MAX_PATCHES, 8): cx, cy, cos, sin, 1/rx, 1/ry, strength,
    # 1/softness
    noise: np.ndarray  # (N,)
    blur: np.ndarray  # (N,) bool
    seed: np.ndarray  # (N,) uint64, for the noise

    @classmethod
    def studio(cls, n: int) -> LightingBatch:
        return cls.from_list([Lighting.studio()] * n, np.zeros(n, dtype=np.uint64))

    @classmethod
    def from_list(cls, lights: list[Lighting], seeds: np.ndarray) -> LightingBatch:
        n = len(lights)
        patches = np.zeros((n, MAX_PATCHES, 8))
        for i, light in enumerate(lights):
            raw = light.patch_array()
            patches[i, :, 0:2] = raw[:, 0:2]
            patches[i, :, 2] = np.cos(raw[:, 4])
            patches[i, :, 3] = np.sin(raw[:, 4])
            patches[i, :, 4] = 1.0 / raw[:, 2]
            patches[i, :, 5] = 1.0 / raw[:, 3]
            patches[i, :, 6] = raw[:, 5]
            patches[i, :, 7] = 1.0 / raw[:, 6]
        return cls(np.array([lt.gain for lt in lights], dtype=np.float64).reshape(n, 3),
                   np.array([lt.tone_table() for lt in lights]).reshape(n, 256),
                   patches, np.array([lt.noise for lt in lights], dtype=np.float64),
                   np.array([lt.blur for lt in lights], dtype=bool),
                   np.asarray(seeds, dtype=np.uint64))

    def subset(self, cars: np.ndarray) -> LightingBatch:
        """The lighting of some cars (a new batch, in the order of ``cars``)."""
        return LightingBatch(self.gain[cars], self.tone[cars], self.patches[cars],
                             self.noise[cars], self.blur[cars], self.seed[cars])

    def set(self, i: int, light: Lighting, seed: int) -> None:
        """Replace car ``i``'s lighting (a new episode)."""
        one = LightingBatch.from_list([light], np.array([seed], dtype=np.uint64))
        for name in ("gain", "tone", "patches", "noise", "blur", "seed"):
            getattr(self, name)[i] = getattr(one, name)[0]


class Camera:
    """Renders the front-camera frames of a batch of cars on one track, or on several
    (one texture per track; see the module docstring)."""

    def __init__(self, track: Track | Sequence[Track], spec: CameraSpec | None = None,
                 rgb: bool = False, backend: str = "numba"):
        if backend not in ("numba", "numpy"):
            raise ValueError(f"backend must be 'numba' or 'numpy', not {backend!r}")
        self.spec = spec or CameraSpec()
        self.rgb = rgb
        self.backend = backend
        self.table = build_ray_table(self.spec)
        tracks = [track] if isinstance(track, Track) else list(track)
        self.textures = [track_texture(t, self.spec) for t in tracks]
        """One painted track per track, in the order given."""
        self.channels = 3 if rgb else 1
        self._colors = np.array([WALL, SKY], dtype=np.float64)
        self._rays = np.ascontiguousarray(pixel_rays(self.spec).reshape(-1, 3))

    @property
    def texture(self) -> TrackTexture:
        """The (first) track's texture."""
        return self.textures[0]

    @texture.setter
    def texture(self, value: TrackTexture) -> None:
        self.textures[0] = value

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one frame."""
        return self.spec.height, self.spec.width, self.channels

    def render(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, lighting: LightingBatch,
               frame: np.ndarray, out: np.ndarray | None = None,
               texture: np.ndarray | None = None, objects: Objects | None = None
               ) -> np.ndarray:
        """(N, H, W, C) uint8 frames for cars at base_link poses (x, y, yaw).

        ``frame`` (N,) counts frames per car; with the lighting seed it makes the sensor
        noise of every frame different yet reproducible. ``texture`` (N,) says which
        track's texture each car sees (default: the first track's, for every car).
        ``objects`` (N cars, M objects) are drawn as solid boxes in front of the floor (see
        :mod:`racerl.camera.objects`); without any present the frames are the floor's alone.
        """
        n = len(x)
        if out is None:
            out = np.empty((n, *self.shape), dtype=np.uint8)
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        yaw, frame = np.asarray(yaw, np.float64), np.asarray(frame, dtype=np.uint64)
        which = np.zeros(n, dtype=np.int64) if texture is None else np.asarray(texture)
        kinds = np.unique(which)
        numba.set_num_threads(render_threads(n))
        with numba.parallel_chunksize(CHUNK):
            if len(kinds) == 1:  # one track in sight: straight into ``out``
                self._render_floor(out, x, y, yaw, lighting, frame,
                                   self.textures[int(kinds[0])])
            else:
                for t in kinds:
                    cars = np.flatnonzero(which == t)
                    part = np.empty((len(cars), *self.shape), dtype=np.uint8)
                    self._render_floor(part, x[cars], y[cars], yaw[cars],
                                       lighting.subset(cars), frame[cars],
                                       self.textures[int(t)])
                    out[cars] = part
            if objects is not None and objects.count and objects.present.any():
                self._draw_objects(out, x, y, yaw, lighting, objects)
            flat = out.reshape(n, -1, self.channels)
            _post_process(flat, self.spec.width, self.spec.height, lighting.noise,
                          lighting.blur, lighting.seed, frame, self.backend)
        return out

    def _draw_objects(self, out: np.ndarray, x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
                      lighting: LightingBatch, objects: Objects) -> None:
        """Repaint the pixels that see an object (before blur and sensor noise)."""
        if objects.x.shape[0] != len(x):
            raise ValueError(f"objects are for {objects.x.shape[0]} cars, the batch has {len(x)}")
        spec = self.spec
        object_pass.draw(objects, x, y, yaw, np.cos(yaw), np.sin(yaw),
                         (spec.mount_forward, spec.mount_left, spec.mount_height),
                         float(np.radians(spec.pitch_deg)), spec.focal, self._rays,
                         lighting.gain, lighting.tone, self.rgb, self.backend, out)

    def _render_floor(self, out: np.ndarray, x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
                      lighting: LightingBatch, frame: np.ndarray, texture: TrackTexture
                      ) -> None:
        """The frames of cars on one track, before blur and sensor noise."""
        cos_yaw, sin_yaw = np.cos(yaw), np.sin(yaw)  # once, outside both backends
        args = (x, y, cos_yaw, sin_yaw, *_table_args(self.table), *_texture_args(texture),
                self.spec.mount_forward, self.spec.mount_left, self._colors, lighting.gain,
                lighting.tone, lighting.patches, lighting.noise, lighting.blur, lighting.seed,
                frame, self.rgb)
        if self.backend == "numba":
            _render_numba(*args, out)
        else:
            _render_numpy(*args, out)


def render_threads(cars: int) -> int:
    """Threads for a batch of ``cars``: one per :data:`CARS_PER_THREAD` cars, at most
    Numba's pool (``NUMBA_NUM_THREADS``, by default one per core)."""
    return max(1, min(numba.config.NUMBA_NUM_THREADS, cars // CARS_PER_THREAD))


def _table_args(t: RayTable) -> tuple:
    return (t.row_x, t.row_y0, t.row_yd, t.row_level, t.row_ground, t.dir_x, t.dir_y,
            t.wall_reach)


def _texture_args(t: TrackTexture) -> tuple:
    return t.texels, t.offsets, t.widths, t.heights, t.inv_scale, t.origin, t.room


# -- the NumPy reference implementation -------------------------------------------------------
#
# Per pixel: the texel under it (rows that see the floor, inside the room), brightened or
# darkened by the light patches; else the wall or the sky. Then the colour cast and, for grey
# frames, DeepRacer's luminance; then the tone table. Both backends evaluate exactly these
# expressions in this order, so they agree to the bit.


def _render_numpy(x, y, cos_yaw, sin_yaw, row_x, row_y0, row_yd, row_level, row_ground, dir_x,
                  dir_y, reach, texels, offsets, widths, heights, inv_scale, origin, room,
                  mount_fwd, mount_left, colors, gain, tone, patches, noise, blur, seed,
                  frame, rgb, out):
    n, h, w, _ = out.shape
    c, s = cos_yaw[:, None], sin_yaw[:, None]  # (N, 1) against rows
    inv = inv_scale[row_level]
    x0 = x[:, None] + (c * row_x - s * row_y0)  # world position of column 0, per car and row
    y0 = y[:, None] + (s * row_x + c * row_y0)
    xd, yd = -s * row_yd, c * row_yd  # world step per column
    col = np.arange(w, dtype=np.float64)
    tu = ((x0 - origin[0]) * inv)[..., None] + (xd * inv)[..., None] * col  # (N, H, W)
    tv = ((y0 - origin[1]) * inv)[..., None] + (yd * inv)[..., None] * col
    wl, hl = widths[row_level][None, :, None], heights[row_level][None, :, None]
    floor = row_ground[None, :, None] & (tu > 0) & (tu < wl) & (tv > 0) & (tv < hl)
    iu = np.clip(tu.astype(np.int64), 0, wl - 1)
    iv = np.clip(hl - 1 - tv.astype(np.int64), 0, hl - 1)
    idx = np.where(floor, offsets[row_level][None, :, None] + iv * wl + iu, 0)
    texel = texels[idx].astype(np.float64)  # (N, H, W, 3)
    wx = x0[..., None] + xd[..., None] * col
    wy = y0[..., None] + yd[..., None] * col
    light = np.ones(wx.shape)
    for k in range(patches.shape[1]):
        p = patches[:, k, :][:, None, None, :]
        dx, dy = wx - p[..., 0], wy - p[..., 1]
        u = (dx * p[..., 2] + dy * p[..., 3]) * p[..., 4]
        v = (dy * p[..., 2] - dx * p[..., 3]) * p[..., 5]
        light = light + p[..., 6] * np.clip((1.0 - np.sqrt(u * u + v * v)) * p[..., 7], 0.0, 1.0)
    light = np.maximum(light, 0.0)
    # Walls and sky where the floor is not seen: the ray meets a wall if it leaves the room
    # before it has risen above the walls' top, i.e. within ``reach`` of the camera.
    cs, sn = cos_yaw[:, None], sin_yaw[:, None]  # (N, 1) against pixels
    cam_x = x[:, None] + cs * mount_fwd - sn * mount_left
    cam_y = y[:, None] + sn * mount_fwd + cs * mount_left
    wdx, wdy = cs * dir_x - sn * dir_y, sn * dir_x + cs * dir_y
    with np.errstate(invalid="ignore"):
        wall = (((wdx > 0) & (room[2] - cam_x < reach * wdx))
                | ((wdx < 0) & (room[0] - cam_x > reach * wdx))
                | ((wdy > 0) & (room[3] - cam_y < reach * wdy))
                | ((wdy < 0) & (room[1] - cam_y > reach * wdy))).reshape(n, h, w)
    backdrop = np.where(wall[..., None], colors[0], colors[1])
    base = np.where(floor[..., None], texel, backdrop)
    light = np.where(floor, light, 1.0)
    cars = np.arange(n)[:, None, None]
    if rgb:
        for ch in range(3):
            value = base[..., ch] * gain[:, None, None, ch] * light
            out[..., ch] = tone[cars, np.minimum(value, 255.0).astype(np.int64)]
    else:
        a = LUMA_ARRAY * gain  # (N, 3)
        luma = (a[:, None, None, 0] * base[..., 0] + a[:, None, None, 1] * base[..., 1]
                + a[:, None, None, 2] * base[..., 2]) * light
        out[..., 0] = tone[cars, np.minimum(luma, 255.0).astype(np.int64)]


# -- the compiled implementation: the same arithmetic, row by row ------------------------------
#
# Each floor row runs three short loops the compiler can vectorise: texel indices, then (only
# with light patches) the light, then the lookups.


@numba.njit(parallel=True, cache=True, nogil=True)
def _render_numba(x, y, cos_yaw, sin_yaw, row_x, row_y0, row_yd, row_level, row_ground, dir_x,
                  dir_y, reach, texels, offsets, widths, heights, inv_scale, origin, room,
                  mount_fwd, mount_left, colors, gain, tone, patches, noise, blur, seed,
                  frame, rgb, out):
    n, h, w = out.shape[0], out.shape[1], out.shape[2]
    n_patch = patches.shape[1]
    for i in numba.prange(n):
        c, s = cos_yaw[i], sin_yaw[i]
        cam_x = x[i] + c * mount_fwd - s * mount_left
        cam_y = y[i] + s * mount_fwd + c * mount_left
        a0, a1, a2 = LUMA_ARRAY[0] * gain[i, 0], LUMA_ARRAY[1] * gain[i, 1], \
            LUMA_ARRAY[2] * gain[i, 2]
        active = 0
        for k in range(n_patch):
            if patches[i, k, 6] != 0.0:
                active = k + 1
        idx = np.empty(w, dtype=np.int64)
        light = np.ones(w)
        selected = np.empty(n_patch, dtype=np.int64)
        for r in range(h):
            lv = row_level[r]
            inv = inv_scale[lv]
            wl, hl, off = widths[lv], heights[lv], offsets[lv]
            x0 = x[i] + (c * row_x[r] - s * row_y0[r])
            y0 = y[i] + (s * row_x[r] + c * row_y0[r])
            xd, yd = -s * row_yd[r], c * row_yd[r]
            tu0, tud = (x0 - origin[0]) * inv, xd * inv
            tv0, tvd = (y0 - origin[1]) * inv, yd * inv
            ground = row_ground[r]
            for col in range(w):
                tu = tu0 + tud * float(col)
                tv = tv0 + tvd * float(col)
                iu = min(max(int(tu), 0), wl - 1)
                iv = min(max(hl - 1 - int(tv), 0), hl - 1)
                inside = ground & (tu > 0) & (tu < wl) & (tv > 0) & (tv < hl)
                idx[col] = off + iv * wl + iu if inside else -1
            n_sel = 0
            for k in range(active):  # patches within reach of this row's strip of floor
                if patches[i, k, 6] != 0.0 and _near_segment(
                        patches[i, k, 0], patches[i, k, 1],
                        1.0001 * max(1.0 / patches[i, k, 4], 1.0 / patches[i, k, 5]),
                        x0, y0, x0 + xd * (w - 1), y0 + yd * (w - 1)):
                    selected[n_sel] = k
                    n_sel += 1
            if n_sel:  # a skipped patch would only have added an exact 0.0
                for col in range(w):
                    wx = x0 + xd * float(col)
                    wy = y0 + yd * float(col)
                    lt = 1.0
                    for j in range(n_sel):
                        k = selected[j]
                        dx, dy = wx - patches[i, k, 0], wy - patches[i, k, 1]
                        u = (dx * patches[i, k, 2] + dy * patches[i, k, 3]) * patches[i, k, 4]
                        v = (dy * patches[i, k, 2] - dx * patches[i, k, 3]) * patches[i, k, 5]
                        wt = min(max((1.0 - np.sqrt(u * u + v * v)) * patches[i, k, 7], 0.0), 1.0)
                        lt = lt + patches[i, k, 6] * wt
                    light[col] = max(lt, 0.0)
            for col in range(w):
                t = idx[col]
                if t >= 0:
                    red, green, blue = float(texels[t, 0]), float(texels[t, 1]), \
                        float(texels[t, 2])
                    lt = light[col] if n_sel else 1.0
                else:
                    p = r * w + col
                    wdx = c * dir_x[p] - s * dir_y[p]
                    wdy = s * dir_x[p] + c * dir_y[p]
                    d = reach[p]
                    wall = (((wdx > 0) & (room[2] - cam_x < d * wdx))
                            | ((wdx < 0) & (room[0] - cam_x > d * wdx))
                            | ((wdy > 0) & (room[3] - cam_y < d * wdy))
                            | ((wdy < 0) & (room[1] - cam_y > d * wdy)))
                    which = 0 if wall else 1
                    red, green, blue = colors[which, 0], colors[which, 1], colors[which, 2]
                    lt = 1.0
                if rgb:
                    out[i, r, col, 0] = tone[i, int(min(red * gain[i, 0] * lt, 255.0))]
                    out[i, r, col, 1] = tone[i, int(min(green * gain[i, 1] * lt, 255.0))]
                    out[i, r, col, 2] = tone[i, int(min(blue * gain[i, 2] * lt, 255.0))]
                else:
                    luma = (a0 * red + a1 * green + a2 * blue) * lt
                    out[i, r, col, 0] = tone[i, int(min(luma, 255.0))]


@numba.njit(cache=True, nogil=True)
def _near_segment(cx, cy, radius, ax, ay, bx, by):
    """Whether the disc (cx, cy, radius) reaches the segment from (ax, ay) to (bx, by)."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0.0 else min(max(((cx - ax) * dx + (cy - ay) * dy) / length2, 0.0),
                                       1.0)
    ex, ey = cx - ax - t * dx, cy - ay - t * dy
    return ex * ex + ey * ey <= radius * radius


# -- blur and sensor noise (integer arithmetic, identical in both backends) --------------------


def _post_process(flat, width, height, noise, blur, seed, frame, backend):
    if not (blur.any() or (noise > 0).any()):
        return
    offsets = _frame_offsets(seed, frame)
    if backend == "numba":
        _post_numba(flat, width, height, noise, blur, offsets, NOISE_TABLE)
        return
    imgs = flat.reshape(flat.shape[0], height, width, flat.shape[2]).astype(np.int64)
    for i in np.flatnonzero(blur):
        padded = np.pad(imgs[i], ((1, 1), (1, 1), (0, 0)), mode="edge")
        acc = (padded[:-2] + 2 * padded[1:-1] + padded[2:])
        acc = acc[:, :-2] + 2 * acc[:, 1:-1] + acc[:, 2:]
        imgs[i] = (acc + 8) // 16
    for i in np.flatnonzero(noise > 0):
        q = np.arange(imgs[i].size, dtype=np.int64)
        gauss = NOISE_TABLE[(offsets[i] + q * NOISE_STRIDE) & NOISE_MASK]
        delta = np.floor(gauss * noise[i] + 0.5).astype(np.int64)
        imgs[i] = np.clip(imgs[i] + delta.reshape(imgs[i].shape), 0, 255)
    flat[:] = imgs.reshape(flat.shape).astype(np.uint8)


# Sensor noise reads a fixed table of standard normal draws from a per-frame offset (a hash of
# the lighting seed and the frame number) with an odd stride, so every frame gets its own,
# reproducible pattern for the cost of one lookup per pixel instead of one hash.
NOISE_BITS = 16
NOISE_MASK = (1 << NOISE_BITS) - 1
NOISE_STRIDE = 40503  # odd: the pixels of one frame map to distinct table entries
NOISE_TABLE = np.random.default_rng(20261125).standard_normal(1 << NOISE_BITS)


def _frame_offsets(seed: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """A 32-bit hash of (seed, frame) per car: where this frame's noise starts."""
    mask = np.uint64(0xFFFFFFFF)
    h = (np.asarray(seed, np.uint64) * np.uint64(0x9E3779B1)
         + np.asarray(frame, np.uint64) * np.uint64(0x85EBCA77)) & mask
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x7FEB352D)) & mask
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x846CA68B)) & mask
    h ^= h >> np.uint64(16)
    return h.astype(np.int64)


@numba.njit(parallel=True, cache=True, nogil=True)
def _post_numba(flat, width, height, noise, blur, offsets, table):
    n, n_pix, ch = flat.shape
    mask = table.shape[0] - 1
    for i in numba.prange(n):
        if blur[i]:  # separable [1 2 1] x [1 2 1] / 16, edges repeated
            horiz = np.empty((height, width, ch), dtype=np.int64)
            for r in range(height):
                base = r * width
                for col in range(width):
                    left = base + max(col - 1, 0)
                    right = base + min(col + 1, width - 1)
                    for k in range(ch):
                        horiz[r, col, k] = (np.int64(flat[i, left, k])
                                            + 2 * np.int64(flat[i, base + col, k])
                                            + np.int64(flat[i, right, k]))
            for r in range(height):
                up, down = max(r - 1, 0), min(r + 1, height - 1)
                for col in range(width):
                    for k in range(ch):
                        acc = horiz[up, col, k] + 2 * horiz[r, col, k] + horiz[down, col, k]
                        flat[i, r * width + col, k] = (acc + 8) // 16
        if noise[i] > 0:
            sigma, start = noise[i], offsets[i]
            for p in range(n_pix):
                for k in range(ch):
                    q = p * ch + k
                    gauss = table[(start + q * NOISE_STRIDE) & mask]
                    delta = int(np.floor(gauss * sigma + 0.5))
                    flat[i, p, k] = min(max(int(flat[i, p, k]) + delta, 0), 255)
