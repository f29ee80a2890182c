"""The front camera: pinhole geometry, what the picture shows, output format, and the two
backends (Numba and NumPy) giving the same pixels to the bit."""

from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np
import pytest

from racerl.camera.front import (
    LUMA_ARRAY,
    SKY,
    WALL,
    Camera,
    CameraSpec,
    LightingBatch,
    build_ray_table,
    pixel_rays,
    project_to_pixel,
)
from racerl.camera.lighting import PRESETS, sample_lighting
from racerl.camera.topdown import BORDER, GROUND, ROAD
from racerl.track.catalog import load_track
from racerl.track.geometry import Track
from tests.helpers import straight_track

SPEC = CameraSpec()
H, W = 120, 160
# Independent constants (reference section 4), not read from CameraSpec.
HFOV = 1.13
FOCAL = 80.0 / math.tan(HFOV / 2.0)
MOUNT_FORWARD, MOUNT_HEIGHT = 0.145, 0.130
PITCH = math.radians(15.0)
HORIZON_ROW = 60.0 - FOCAL * math.tan(PITCH)  # ≈ 26.19: rows whose centre is above it see no floor


def grey_of(rgb) -> int:
    """DeepRacer's luminance of one colour, cast to uint8 (truncation)."""
    r, g, b = rgb
    return int(0.2989 * r + 0.5870 * g + 0.1140 * b)


@pytest.fixture(scope="module")
def straight() -> Track:
    """A 10 m straight, 1.0 m wide (DeepRacer tracks are about 1.07 m): with the 1.5 m room
    margin the room spans y in [-2, 2] exactly, symmetric about the centre line."""
    return Track(straight_track(length=10.0, width=1.0, n=101), name="straight10")


def render(cam: Camera, poses, lighting: LightingBatch | None = None, frame=None) -> np.ndarray:
    poses = np.atleast_2d(np.asarray(poses, dtype=np.float64))
    n = len(poses)
    lighting = lighting or LightingBatch.studio(n)
    frame = np.zeros(n, dtype=np.uint64) if frame is None else np.asarray(frame, np.uint64)
    return cam.render(poses[:, 0], poses[:, 1], poses[:, 2], lighting, frame)


# -- pinhole geometry ---------------------------------------------------------------------------


def hand_projection(x: float, y: float, z: float) -> tuple[float, float]:
    """(column, row) of a car-frame point, written out from the camera's axes.

    The camera sits at (0.145, 0, 0.130); its optical axis is the car's x axis pitched down
    by 15°: forward = (cos p, 0, -sin p), up = (sin p, 0, cos p), left = (0, 1, 0). Image
    columns grow to the right (towards -left), rows grow downwards.
    """
    dx, dy, dz = x - MOUNT_FORWARD, y, z - MOUNT_HEIGHT
    depth = dx * math.cos(PITCH) - dz * math.sin(PITCH)
    up = dx * math.sin(PITCH) + dz * math.cos(PITCH)
    return 80.0 - FOCAL * dy / depth, 60.0 - FOCAL * up / depth


def test_focal_length_is_the_simulators_horizontal_fov():
    assert SPEC.width == 160 and SPEC.height == 120 and SPEC.hfov == pytest.approx(1.13)
    assert SPEC.focal == pytest.approx(FOCAL, abs=1e-9)
    assert abs(FOCAL - 126.1955) < 1e-3  # 80 / tan(0.565)


@pytest.mark.parametrize("point", [(1.0, 0.2, 0.0), (0.4, -0.1, 0.0), (2.5, 0.7, 0.0),
                                   (3.0, -1.0, 0.25), (0.8, 0.0, 0.13)])
def test_project_to_pixel_matches_a_hand_computed_pinhole(point):
    col, row = project_to_pixel(SPEC, np.array(point))
    hand_col, hand_row = hand_projection(*point)
    assert col == pytest.approx(hand_col, abs=1e-9)
    assert row == pytest.approx(hand_row, abs=1e-9)


def test_known_points_land_where_the_camera_mount_says():
    # The optical axis meets the floor 0.130 / tan(15°) ahead of the lens: the image centre.
    ahead = MOUNT_FORWARD + MOUNT_HEIGHT / math.tan(PITCH)
    assert ahead == pytest.approx(0.63017, abs=1e-5)
    col, row = project_to_pixel(SPEC, np.array([ahead, 0.0, 0.0]))
    assert (col, row) == (pytest.approx(80.0, abs=1e-9), pytest.approx(60.0, abs=1e-9))
    # A point at lens height far ahead sits on the horizon row, 60 - f tan 15°.
    col, row = project_to_pixel(SPEC, np.array([1e6, 0.0, MOUNT_HEIGHT]))
    assert row == pytest.approx(HORIZON_ROW, abs=1e-4)
    assert abs(HORIZON_ROW - 26.186) < 1e-3
    # Numbers worked out by hand for the floor point 1 m ahead, 0.2 m to the left:
    # depth = 0.855 cos15 + 0.13 sin15 = 0.859513, up = 0.855 sin15 - 0.13 cos15 = 0.095720.
    col, row = project_to_pixel(SPEC, np.array([1.0, 0.2, 0.0]))
    assert col == pytest.approx(80.0 - FOCAL * 0.2 / 0.859513, abs=1e-4)  # ≈ 50.64: left half
    assert row == pytest.approx(60.0 - FOCAL * 0.095720 / 0.859513, abs=1e-4)  # ≈ 45.95
    assert col < 80.0  # the car's left is the image's left


def test_ray_table_floor_points_project_back_to_their_pixel_centres():
    table = build_ray_table(SPEC)
    rows = np.flatnonzero(table.row_ground)
    assert len(rows) > 80
    for r in rows:
        for c in range(W):
            point = np.array([table.row_x[r], table.row_y0[r] + table.row_yd[r] * c, 0.0])
            col, row = project_to_pixel(SPEC, point)
            assert abs(col - (c + 0.5)) < 1e-6 and abs(row - (r + 0.5)) < 1e-6, (r, c, col, row)


def test_pixel_rays_hit_the_floor_at_the_ray_table_points():
    table = build_ray_table(SPEC)
    rays = pixel_rays(SPEC)
    assert rays.shape == (H, W, 3)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=-1), 1.0, atol=1e-12)
    rows = np.flatnonzero(table.row_ground)
    t = MOUNT_HEIGHT / -rays[rows, :, 2]  # distance along the ray to z = 0
    hit_x = MOUNT_FORWARD + t * rays[rows, :, 0]
    hit_y = t * rays[rows, :, 1]
    cols = np.arange(W)
    np.testing.assert_allclose(hit_x, np.broadcast_to(table.row_x[rows, None], hit_x.shape),
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(hit_y, table.row_y0[rows, None] + table.row_yd[rows, None] * cols,
                               rtol=1e-9, atol=1e-9)


def test_rows_above_the_horizon_see_no_floor():
    table = build_ray_table(SPEC)
    expected = np.arange(H) + 0.5 > HORIZON_ROW
    np.testing.assert_array_equal(table.row_ground, expected)
    assert np.flatnonzero(table.row_ground)[0] == 26  # 60 - f tan 15° = 26.19
    rays = pixel_rays(SPEC)
    assert np.all(rays[:26, :, 2] > 0) and np.all(rays[26:, :, 2] < 0)
    # Floor distance grows towards the horizon, and the row's lateral step with it.
    ground = table.row_x[26:]
    assert np.all(np.diff(ground) < 0) and ground[-1] == pytest.approx(0.30, abs=0.01)


# -- what the picture shows ---------------------------------------------------------------------


def mirror_symmetric_texture(cam: Camera) -> None:
    """Make the camera's track texture exactly mirror-symmetric about y = 0 (every level)."""
    tex = cam.texture
    assert tex.origin[1] == pytest.approx(-tex.room[3], abs=1e-9)  # the room is symmetric
    texels = tex.texels.copy()
    for off, w, h in zip(tex.offsets, tex.widths, tex.heights, strict=True):
        img = texels[off:off + w * h].reshape(h, w, 3)
        img[h - h // 2:] = img[: h // 2][::-1].copy()
    cam.texture = dataclasses.replace(tex, texels=texels)


@pytest.mark.parametrize("rgb", [False, True])
def test_centred_car_sees_an_exactly_mirror_symmetric_image_of_a_symmetric_world(straight, rgb):
    """The geometry alone: with a texture made exactly symmetric, the image must equal its
    horizontal flip (a column offset, a lateral camera offset or a yaw error would break it)."""
    cam = Camera(straight, rgb=rgb)
    mirror_symmetric_texture(cam)
    imgs = render(cam, [(1.0, 0.0, 0.0), (2.0, 0.0, 0.0), (4.37, 0.0, 0.0)])
    for img in imgs:
        differ = np.any(img != img[:, ::-1], axis=-1)
        # Floating-point ties on texel edges could flip a handful of pixels at most.
        assert differ.sum() <= 4, np.argwhere(differ)[:10]


@pytest.mark.parametrize("rgb", [False, True])
def test_centred_car_sees_a_mirror_symmetric_track(straight, rgb):
    """With the real painted texture, symmetry holds up to rasterisation.

    Tolerance: the track is painted with PIL into 1 cm texels (anti-aliased, Lanczos
    downsampled) and sampled nearest-texel. PIL's pixel conventions register a painted line
    to the texel grid only to within about half a texel, differently for the 5 cm borders and
    the 2.5 cm centre line; close to the car one texel spans about 7 columns, so line edges
    on the two sides can sit up to a few columns apart and differ by anti-aliasing levels.
    That leaves ~10 % of pixels slightly different (mean |diff| ≈ 2 grey levels) but only
    ~0.1-0.2 % (grey) / ~1-2 % (any RGB channel) differing by more than 64 levels. A real
    asymmetry does much more: a 5 mm lateral camera offset already makes 2.4 % of grey
    pixels differ by more than 64 levels, a 2 cm one 5 %, and the mean |diff| triples.
    """
    cam = Camera(straight, rgb=rgb)
    poses = [(1.0, 0.0, 0.0), (2.0, 0.0, 0.0), (3.03, 0.0, 0.0), (4.5, 0.0, 0.0)]
    big_limit = 0.005 if not rgb else 0.03
    for img in render(cam, poses).astype(np.int64):
        diff = np.abs(img - img[:, ::-1]).max(axis=-1)
        assert (diff > 64).mean() <= big_limit, (diff > 64).mean()
        assert diff.mean() < 4.0, diff.mean()
    # ... and the same measure does see an off-centre camera: 2 cm to the side at the same
    # spot, many more pixels differ strongly and the mean difference is several times larger.
    centred, off = render(cam, [(2.0, 0.0, 0.0), (2.0, 0.02, 0.0)]).astype(np.int64)
    base = np.abs(centred - centred[:, ::-1]).max(axis=-1)
    diff = np.abs(off - off[:, ::-1]).max(axis=-1)
    assert (diff > 64).mean() > 0.04 and diff.mean() > 3 * base.mean()


def yellow_mask(img: np.ndarray) -> np.ndarray:
    """Centre-line paint (240, 200, 40) in an RGB frame: bright red and green, little blue."""
    r, g, b = (img[..., k].astype(np.int64) for k in range(3))
    return (r > 150) & (g > 110) & (r - b > 100)


@pytest.mark.parametrize("offset", [0.03, 0.06, 0.08])
def test_offset_car_sees_the_centre_line_on_the_opposite_side(straight, offset):
    cam = Camera(straight, rgb=True)
    table = build_ray_table(SPEC)
    left, centre, right = render(cam, [(2.0, offset, 0.0), (2.0, 0.0, 0.0), (2.0, -offset, 0.0)])
    lower = slice(70, H)
    cols = {}
    for name, img in (("left", left), ("centre", centre), ("right", right)):
        mask = yellow_mask(img)[lower]
        assert mask.sum() > 30, f"{name}: no centre line in the lower rows"
        cols[name] = np.nonzero(mask)[1].mean()
    # A car left of the line sees it right of the image centre, and the other way round.
    assert cols["left"] > 79.5 + 5 and cols["right"] < 79.5 - 5
    assert abs(cols["centre"] - 79.5) < 3  # painted within ~3 mm of y = 0
    assert cols["left"] - 79.5 == pytest.approx(79.5 - cols["right"], abs=4)
    # Row by row, the line sits where the pinhole model puts the floor line y = -offset.
    mask = yellow_mask(left)
    for r in range(70, H):
        hits = np.flatnonzero(mask[r])
        if len(hits) < 2:
            continue  # a gap between dashes
        predicted, _ = project_to_pixel(SPEC, np.array([table.row_x[r], -offset, 0.0]))
        assert abs(hits.mean() - predicted) < 4.0, (r, hits.mean(), predicted)


def test_picture_looks_like_a_track(straight):
    cam = Camera(straight)
    img = render(cam, [(2.0, 0.0, 0.0)])[0, ..., 0].astype(np.int64)
    road, sky, wall, border = grey_of(ROAD), grey_of(SKY), grey_of(WALL), grey_of(BORDER)
    # Above the horizon: only the room's wall and the sky, both in the picture.
    top = img[:26]
    assert np.isin(top, [sky, wall]).all()
    assert (top[:5] == sky).any() and (top == wall).any()
    assert (img[:5] == sky).mean() > 0.5
    # Bottom centre: the dark road (with the centre line's dashes in the middle).
    bottom = img[90:, 40:120]
    assert np.median(bottom) == pytest.approx(road, abs=3)
    assert (np.abs(bottom - road) <= 6).mean() > 0.6
    # Bright border paint below the horizon on both sides of the image.
    below = img[27:]
    assert (below[:, :80] > 200).sum() > 20 and (below[:, 80:] > 200).sum() > 20
    # ... where the pinhole model puts the borders (y = ±0.5 m), e.g. 1.5 m ahead. That far
    # the 5 cm paint is mip-mapped with the floor around it (road 53, ground 107), so it is
    # less than full white but clearly brighter than both.
    assert grey_of(GROUND) < 120 < border
    for side in (0.5, -0.5):
        col, row = project_to_pixel(SPEC, np.array([1.5, side, 0.0]))
        patch = img[int(row) - 1:int(row) + 2, int(col) - 1:int(col) + 2]
        assert patch.max() > 150, (side, col, row, patch)
        beside = img[int(row), int(col) + (12 if side > 0 else -12)]
        assert beside < 120  # road or ground, not paint
    # With this 15° camera the bottom row sees only ±0.115 m of floor 0.30 m ahead, so the
    # borders of a 1 m road never reach the lower half of the image.
    table = build_ray_table(SPEC)
    assert abs(table.row_y0[-1]) == pytest.approx(0.115, abs=0.002)


def test_yaw_turns_the_view(straight):
    """Turning the car left moves the (straight-ahead) track to the right of the image."""
    cam = Camera(straight, rgb=True)
    turned = render(cam, [(2.0, 0.0, math.radians(5.0))])[0]
    mask = yellow_mask(turned)[40:80]
    assert mask.sum() > 10 and np.nonzero(mask)[1].mean() > 85


# -- output format ------------------------------------------------------------------------------


def test_output_shapes_and_dtype():
    track = load_track("loop")
    xy, yaw = track.pose_at(np.array([0.0, 0.3, 0.6]))
    grey = render(Camera(track), np.column_stack([xy, yaw]))
    rgb = render(Camera(track, rgb=True), np.column_stack([xy, yaw]))
    assert grey.shape == (3, 120, 160, 1) and grey.dtype == np.uint8
    assert rgb.shape == (3, 120, 160, 3) and rgb.dtype == np.uint8
    assert Camera(track).shape == (120, 160, 1) and Camera(track, rgb=True).shape == (120, 160, 3)
    out = np.zeros((3, 120, 160, 1), dtype=np.uint8)
    back = Camera(track).render(xy[:, 0], xy[:, 1], yaw, LightingBatch.studio(3),
                                np.zeros(3, np.uint64), out=out)
    assert back is out and np.array_equal(out, grey)
    with pytest.raises(ValueError, match="backend"):
        Camera(track, backend="cuda")


@pytest.mark.parametrize("name", ["loop", "circuit"])
def test_grey_is_deepracers_luminance_of_the_rgb_frame(name):
    """Grey = uint8(0.2989 R + 0.5870 G + 0.1140 B) of the RGB frame, in studio light.

    In studio light the RGB frame is the texel itself (gain 1, no patches, identity tone
    table) and the grey frame is the truncated luminance of that same texel, so the two agree
    exactly; the test allows ±1 anywhere (float rounding at an integer) but requires equality
    on at least 99.9 % of pixels.
    """
    track = load_track(name)
    xy, yaw = track.pose_at(np.linspace(0.0, 0.9, 6))
    poses = np.column_stack([xy, yaw])
    poses[1, 1] += 0.2  # off the centre line
    poses[2, 2] += 0.5  # looking across the track
    grey = render(Camera(track), poses)[..., 0].astype(np.int64)
    rgb = render(Camera(track, rgb=True), poses).astype(np.float64)
    luma = (0.2989 * rgb[..., 0] + 0.5870 * rgb[..., 1] + 0.1140 * rgb[..., 2]).astype(np.uint8)
    diff = np.abs(grey - luma.astype(np.int64))
    assert diff.max() <= 1
    assert (diff == 0).mean() >= 0.999
    np.testing.assert_allclose(LUMA_ARRAY, [0.2989, 0.5870, 0.1140])


# -- the two backends ---------------------------------------------------------------------------


def poses_on(track: Track, seed: int) -> np.ndarray:
    """Poses on the track (some off-centre, some turned) and near the room's walls."""
    rng = np.random.default_rng(seed)
    xy, yaw = track.pose_at(np.linspace(0.0, 0.95, 8))
    on_track = np.column_stack([xy[:, 0] + rng.normal(0, 0.15, 8), xy[:, 1]
                                + rng.normal(0, 0.15, 8), yaw + rng.normal(0, 0.4, 8)])
    pts = track.rows.reshape(-1, 2)
    lo, hi = pts.min(axis=0) - 1.5, pts.max(axis=0) + 1.5  # about the room's walls
    near_walls = np.array([
        [lo[0] + 0.3, lo[1] + 0.3, math.radians(-135.0)],  # into a corner
        [lo[0] + 0.2, 0.5 * (lo[1] + hi[1]), math.pi],  # facing a wall
        [hi[0] - 0.4, hi[1] - 0.2, math.pi / 2],  # along/into the far wall, exact 90°
        [0.5 * (lo[0] + hi[0]), hi[1] - 0.1, 0.0],  # along a wall
        [hi[0] + 0.5, hi[1] + 0.5, math.radians(20.0)],  # outside the room altogether
    ])
    return np.vstack([on_track, near_walls])


@pytest.mark.parametrize("name", ["loop", "circuit"])
@pytest.mark.parametrize("rgb", [False, True])
def test_numba_and_numpy_backends_agree_bit_for_bit(name, rgb):
    track = load_track(name)
    fast, slow = Camera(track, rgb=rgb), Camera(track, rgb=rgb, backend="numpy")
    poses = poses_on(track, seed=1)
    n = len(poses)
    bounds = np.stack([track.rows.reshape(-1, 2).min(axis=0) - 0.5,
                       track.rows.reshape(-1, 2).max(axis=0) + 0.5])
    blurred = 0
    for p, preset in enumerate(PRESETS):
        lights = [sample_lighting(preset, np.random.default_rng([p, i]), bounds) for i in range(n)]
        blurred += sum(lt.blur for lt in lights)
        batch = LightingBatch.from_list(lights, np.arange(n, dtype=np.uint64) * 7919 + p)
        frame = np.arange(n, dtype=np.uint64) * 3
        a = render(fast, poses, batch, frame)
        b = render(slow, poses, batch, frame)
        assert np.array_equal(a, b), (preset, np.argwhere(a != b)[:5])
    assert blurred > 0  # 'dim' blurs, so the blur path is covered too
    # Walls and sky are on screen for the poses near the walls.
    studio = render(fast, poses[-5:])
    wall = grey_of(WALL) if not rgb else WALL[0]
    assert (studio[..., 0] == wall).mean() > 0.05


def test_backends_agree_under_smoothly_varying_light(straight):
    """Wide soft patches make the light differ in every pixel, so any change in the order of
    floating-point operations between the backends shows up as a flipped grey level."""
    from racerl.camera.lighting import Lighting

    patches = np.array([[3.0, 0.3, 4.0, 2.5, 0.3, 0.613, 3.9],
                        [5.5, -0.8, 3.0, 3.0, 1.1, -0.271, 5.0],
                        [1.0, 1.5, 6.0, 2.0, 2.0, 0.377, 7.0]])
    lights = [Lighting(gain=np.array([1.037, 0.981, 1.113]) * k, contrast=1.07, gamma=0.93,
                       patches=patches) for k in (0.77, 1.0, 1.19)]
    batch = LightingBatch.from_list(lights, np.zeros(3, dtype=np.uint64))
    poses = [(1.0, 0.1, 0.05), (2.5, -0.2, -0.1), (4.0, 0.0, 0.3)]
    for rgb in (False, True):
        a = render(Camera(straight, rgb=rgb), poses, batch)
        b = render(Camera(straight, rgb=rgb, backend="numpy"), poses, batch)
        assert np.array_equal(a, b), np.argwhere(a != b)[:5]


def test_backends_agree_on_one_car_and_partial_batches(straight):
    fast, slow = Camera(straight), Camera(straight, backend="numpy")
    rng = np.random.default_rng(3)
    bounds = np.array([[-0.5, -1.0], [10.5, 1.0]])
    light = sample_lighting("random", rng, bounds)
    for n in (1, 2, 5):
        poses = np.column_stack([rng.uniform(0, 9, n), rng.uniform(-0.4, 0.4, n),
                                 rng.uniform(-0.5, 0.5, n)])
        batch = LightingBatch.from_list([light] * n, np.arange(n, dtype=np.uint64))
        assert np.array_equal(render(fast, poses, batch), render(slow, poses, batch))


def test_pixels_do_not_depend_on_the_number_of_threads():
    track = load_track("loop")
    cam = Camera(track)
    poses = poses_on(track, seed=4)
    n = len(poses)
    bounds = np.stack([track.rows.reshape(-1, 2).min(axis=0) - 0.5,
                       track.rows.reshape(-1, 2).max(axis=0) + 0.5])
    lights = [sample_lighting("random", np.random.default_rng([9, i]), bounds) for i in range(n)]
    batch = LightingBatch.from_list(lights, np.arange(n, dtype=np.uint64))
    frame = np.arange(n, dtype=np.uint64)
    many = render(cam, poses, batch, frame)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = render(cam, poses, batch, frame)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(many, one)
