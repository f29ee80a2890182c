"""Objects in the front camera (boxes, bot cars) and the stereo pair: perspective, occlusion,
shading, both backends to the bit, and frames without objects left exactly as they were."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from racerl.camera.front import Camera, CameraSpec, LightingBatch, project_to_pixel
from racerl.camera.lighting import PRESETS, sample_lighting
from racerl.camera.stereo import StereoCamera
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
from tests.helpers import straight_track

CAR = (1.0, 0.0, 0.0)  # base_link pose on the straight, looking down +x
MOUNT_FORWARD = 0.145  # reference section 4


@pytest.fixture(scope="module")
def straight() -> Track:
    return Track(straight_track(length=10.0, width=1.0, n=101), name="straight10")


@pytest.fixture(scope="module")
def cams(straight) -> dict[str, Camera]:
    return {"grey": Camera(straight), "rgb": Camera(straight, rgb=True),
            "numpy": Camera(straight, backend="numpy"),
            "numpy-rgb": Camera(straight, rgb=True, backend="numpy")}


def objects_of(*items: tuple, cars: int = 1) -> Objects:
    """Objects (kind, x, y, yaw) with their kind's size, the same for every car."""
    objs = Objects.empty(cars, len(items))
    for j, (kind, x, y, yaw) in enumerate(items):
        size = ((BOX_LENGTH, BOX_WIDTH, BOX_HEIGHT) if kind == Kind.BOX
                else (CAR_LENGTH, CAR_WIDTH, CAR_HEIGHT))
        objs.x[:, j], objs.y[:, j], objs.yaw[:, j] = x, y, yaw
        objs.length[:, j], objs.width[:, j], objs.height[:, j] = size
        objs.kind[:, j], objs.present[:, j] = kind, True
    return objs


def shot(cam: Camera, objects: Objects | None, pose=CAR, lighting=None, frame=None):
    poses = np.atleast_2d(np.asarray(pose, dtype=np.float64))
    n = len(poses)
    lighting = lighting or LightingBatch.studio(n)
    frame = np.zeros(n, dtype=np.uint64) if frame is None else frame
    return cam.render(poses[:, 0], poses[:, 1], poses[:, 2], lighting, frame, objects=objects)


def object_mask(cam: Camera, objects: Objects, pose=CAR) -> np.ndarray:
    """(H, W) pixels the objects change (RGB, so a box never blends into the floor)."""
    return (shot(cam, objects, pose) != shot(cam, None, pose)).any(axis=-1)[0]


def box_ahead(distance: float, y: float = 0.0, yaw: float = 0.0, kind=Kind.BOX) -> Objects:
    return objects_of((kind, CAR[0] + distance, y, yaw))


# -- nothing to draw: the frames are exactly the floor's ----------------------------------------


def test_no_objects_leave_frames_byte_identical(straight, cams):
    poses = [(1.0, 0.0, 0.0), (3.0, 0.2, 0.4), (6.0, -0.3, -2.0)]
    bounds = np.array([[-0.5, -1.0], [10.5, 1.0]])
    lights = [sample_lighting("random", np.random.default_rng([5, i]), bounds) for i in range(3)]
    batch = LightingBatch.from_list(lights, np.arange(3, dtype=np.uint64))
    frame = np.arange(3, dtype=np.uint64)
    behind = objects_of((Kind.BOX, -1.0, 0.0, 0.0), (Kind.BOT_CAR, 0.5, 0.0, 0.0), cars=3)
    behind.x[1], behind.x[2] = 2.0, 7.5  # behind cars 1 (heading 0.4) and 2 (heading -2.0)
    for name, cam in cams.items():
        plain = shot(cam, None, poses, batch, frame)
        for objects in (Objects.empty(3, 0), Objects.empty(3, 4), behind):
            assert np.array_equal(shot(cam, objects, poses, batch, frame), plain), name


def test_objects_must_match_the_batch(cams):
    with pytest.raises(ValueError, match="2 cars"):
        shot(cams["grey"], box_ahead(1.0).subset(np.array([0, 0])))


# -- perspective --------------------------------------------------------------------------------


def test_box_straight_ahead_is_centred_and_grows_as_the_car_nears(cams):
    counts = []
    for distance in (2.5, 1.5, 1.0, 0.6):
        mask = object_mask(cams["rgb"], box_ahead(distance))
        cols = np.nonzero(mask)[1]
        assert len(cols) > 20, distance
        assert abs(cols.mean() + 0.5 - 80.0) < 1.0, distance  # pixel centres: col + 0.5
        # Mirror symmetric about the image's vertical centre line.
        assert (mask != mask[:, ::-1]).sum() <= 2
        counts.append(len(cols))
    assert counts == sorted(counts) and counts[-1] > 8 * counts[0]


def test_box_edges_sit_where_the_pinhole_puts_them(cams):
    """The box's near face spans, on the centre column, from the projection of its bottom
    edge up to that of its top edge; its width from the projections of its side edges."""
    distance = 1.2
    mask = object_mask(cams["rgb"], box_ahead(distance))
    face = CAR[0] + distance - BOX_LENGTH / 2 - CAR[0]  # car-frame x of the near face
    _, bottom = project_to_pixel(CameraSpec(), [face, 0.0, 0.0])
    _, top = project_to_pixel(CameraSpec(), [face, 0.0, BOX_HEIGHT])
    left, _ = project_to_pixel(CameraSpec(), [face, BOX_WIDTH / 2, 0.1])
    right, _ = project_to_pixel(CameraSpec(), [face, -BOX_WIDTH / 2, 0.1])
    rows = np.nonzero(mask[:, 80])[0]
    assert rows.min() == math.ceil(top - 0.5) and rows.max() == math.floor(bottom - 0.5)
    mid_row = int(0.5 * (top + bottom))
    cols = np.nonzero(mask[mid_row])[0]
    assert cols.min() == math.ceil(left - 0.5) and cols.max() == math.floor(right - 0.5)


def test_box_to_the_left_appears_on_the_left(cams):
    cols = np.nonzero(object_mask(cams["rgb"], box_ahead(1.2, y=0.3)))[1]
    assert cols.mean() < 60


# -- occlusion ----------------------------------------------------------------------------------


def test_a_box_behind_another_is_hidden(cams):
    near = box_ahead(0.9)
    far = box_ahead(1.8)
    both = objects_of((Kind.BOX, CAR[0] + 1.8, 0.0, 0.0), (Kind.BOX, CAR[0] + 0.9, 0.0, 0.0))
    assert object_mask(cams["rgb"], far).sum() > 100  # on its own it would be seen
    for cam in cams.values():
        assert np.array_equal(shot(cam, both), shot(cam, near))


def test_a_partly_hidden_box_shows_only_what_sticks_out(cams):
    near, far = box_ahead(0.9, y=-0.15), box_ahead(1.8, y=0.25)
    both = objects_of((Kind.BOX, CAR[0] + 0.9, -0.15, 0.0), (Kind.BOX, CAR[0] + 1.8, 0.25, 0.0))
    m_near, m_far = object_mask(cams["rgb"], near), object_mask(cams["rgb"], far)
    m_both = object_mask(cams["rgb"], both)
    assert np.array_equal(m_both, m_near | m_far)
    hidden = m_near & m_far
    assert hidden.sum() > 20 and (m_far & ~m_near).sum() > 20
    seen = shot(cams["rgb"], both)[0]
    assert np.array_equal(seen[hidden], shot(cams["rgb"], near)[0][hidden])


def test_box_behind_the_car_is_invisible(cams):
    for objects in (box_ahead(-0.6), box_ahead(-0.3, y=0.4), box_ahead(0.0, y=0.6)):
        assert not object_mask(cams["rgb"], objects).any()


# -- looks --------------------------------------------------------------------------------------


def test_bot_car_renders_with_a_dark_chassis_under_a_coloured_shell(cams):
    mask = object_mask(cams["rgb"], box_ahead(1.0, kind=Kind.BOT_CAR))
    frame = shot(cams["rgb"], box_ahead(1.0, kind=Kind.BOT_CAR))[0].astype(int)
    pixels = frame[mask]
    assert mask.sum() > 300
    shell = pixels[pixels[:, 2] > pixels[:, 0] + 40]  # blue shell
    chassis = pixels[pixels.max(axis=1) < 30]
    assert len(shell) > 100 and len(chassis) > 50
    rows = np.nonzero(mask)[0]
    chassis_rows = np.nonzero((frame.max(axis=-1) < 30) & mask)[0]
    assert chassis_rows.mean() > rows.mean()  # the chassis is the lower part
    box = shot(cams["grey"], box_ahead(1.0))[0, ..., 0][mask]
    car = shot(cams["grey"], box_ahead(1.0, kind=Kind.BOT_CAR))[0, ..., 0][mask]
    assert box.mean() > car.mean() + 60  # white box, dark car: they read apart in grey


def test_turning_a_box_changes_its_silhouette_sensibly(cams):
    def width(yaw):
        mask = object_mask(cams["rgb"], box_ahead(1.2, yaw=yaw))
        return np.ptp(np.nonzero(mask.any(axis=0))[0]) + 1, mask

    end_on, m0 = width(0.0)  # the 0.4 m end faces the camera
    side_on, _ = width(math.pi / 2)  # the 0.5 m side
    diagonal, m45 = width(math.pi / 4)  # corner first: about (0.5 + 0.4) / sqrt(2) wide
    assert end_on < side_on < diagonal
    _, m180 = width(math.pi)
    assert (m0 != m180).sum() <= 2  # a box turned half round has the same outline
    _, m_45 = width(-math.pi / 4)
    assert (m45 != m_45[:, ::-1]).sum() <= 4  # and turned the other way, its mirror image
    # Corner first, two sides are seen, in two different shades (3-D).
    grey = shot(cams["grey"], box_ahead(1.2, yaw=math.pi / 4))[0, ..., 0]
    row = grey[int(np.nonzero(m45[:, 80])[0].max()) - 1]  # just above the bottom edge
    side = row[m45[int(np.nonzero(m45[:, 80])[0].max()) - 1]]
    assert len(np.unique(side)) == 2 and abs(int(side.max()) - int(side.min())) > 15


# -- the two backends ---------------------------------------------------------------------------


@pytest.mark.parametrize("rgb", [False, True])
def test_numba_and_numpy_draw_objects_bit_for_bit(straight, rgb):
    rng = np.random.default_rng(7)
    n, m = 12, 5
    poses = np.column_stack([rng.uniform(0.5, 8.0, n), rng.uniform(-0.4, 0.4, n),
                             rng.uniform(-0.6, 0.6, n)])
    objs = Objects.empty(n, m)
    ahead = rng.uniform(-0.5, 2.5, (n, m))  # some behind, some beside, some straddling
    objs.x[:] = poses[:, :1] + ahead * np.cos(poses[:, 2:3])
    objs.y[:] = poses[:, 1:2] + ahead * np.sin(poses[:, 2:3]) + rng.uniform(-0.6, 0.6, (n, m))
    objs.yaw[:] = rng.uniform(-math.pi, math.pi, (n, m))
    objs.kind[:] = rng.integers(0, 3, (n, m))
    objs.length[:] = np.where(objs.kind == Kind.BOX, BOX_LENGTH, CAR_LENGTH)
    objs.width[:] = np.where(objs.kind == Kind.BOX, BOX_WIDTH, CAR_WIDTH)
    objs.height[:] = np.where(objs.kind == Kind.BOX, BOX_HEIGHT, CAR_HEIGHT)
    objs.present[:] = rng.random((n, m)) < 0.8
    objs.x[0, 0], objs.y[0, 0] = poses[0, 0] + 0.2 * np.cos(poses[0, 2]), \
        poses[0, 1] + 0.2 * np.sin(poses[0, 2])  # around the camera itself
    bounds = np.array([[-0.5, -1.0], [10.5, 1.0]])
    fast, slow = Camera(straight, rgb=rgb), Camera(straight, rgb=rgb, backend="numpy")
    drawn = 0
    for p, preset in enumerate(PRESETS):
        lights = [sample_lighting(preset, np.random.default_rng([p, i]), bounds)
                  for i in range(n)]
        batch = LightingBatch.from_list(lights, np.arange(n, dtype=np.uint64))
        frame = np.arange(n, dtype=np.uint64)
        a = shot(fast, objs, poses, batch, frame)
        b = shot(slow, objs, poses, batch, frame)
        assert np.array_equal(a, b), (preset, np.argwhere(a != b)[:5])
        drawn += (a != shot(fast, None, poses, batch, frame)).any(axis=-1).sum()
    assert drawn > 5000  # the objects were on screen


# -- stereo -------------------------------------------------------------------------------------


def test_stereo_pair_is_two_grey_frames_from_cameras_3_cm_either_side(straight):
    stereo = StereoCamera(straight)
    objects = box_ahead(1.0, y=0.05)
    pair = shot(stereo, objects)
    assert pair.shape == (1, 120, 160, 2) and pair.dtype == np.uint8
    assert stereo.shape == (120, 160, 2)
    left = Camera(straight, dataclasses.replace(CameraSpec(), mount_left=0.03))
    right = Camera(straight, dataclasses.replace(CameraSpec(), mount_left=-0.03))
    assert np.array_equal(pair[..., 0], shot(left, objects)[..., 0])
    assert np.array_equal(pair[..., 1], shot(right, objects)[..., 0])
    assert not np.array_equal(pair[..., 0], pair[..., 1])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_near_box_shifts_between_the_views_by_its_disparity(straight, backend):
    stereo = StereoCamera(straight, backend=backend)
    plain = shot(stereo, None)[0]
    shifts = []
    for distance in (1.0, 1.5, 2.5):
        pair = shot(stereo, box_ahead(distance))[0]
        cols = [np.nonzero((pair[..., k] != plain[..., k]).any(axis=0))[0] for k in (0, 1)]
        shift = cols[0].mean() - cols[1].mean()  # left camera's column minus right's
        face = [CAR[0] + distance - BOX_LENGTH / 2 - CAR[0], 0.0, 0.1]
        expected = (project_to_pixel(stereo.left.spec, face)[0]
                    - project_to_pixel(stereo.right.spec, face)[0])
        assert shift > 0 and abs(shift - expected) < 1.0, (distance, shift, expected)
        shifts.append(shift)
    assert shifts[0] > shifts[1] > shifts[2]  # nearer, larger


def test_stereo_cameras_have_their_own_sensor_noise(straight):
    stereo = StereoCamera(straight)
    bounds = np.array([[-0.5, -1.0], [10.5, 1.0]])
    light = sample_lighting("dim", np.random.default_rng(0), bounds)
    assert light.noise > 0
    batch = LightingBatch.from_list([light], np.array([3], dtype=np.uint64))
    pair = shot(stereo, None, lighting=batch)[0].astype(int)
    quiet = dataclasses.replace(light, noise=0.0)
    clean = shot(stereo, None, lighting=LightingBatch.from_list([quiet], np.array([3])))[0]
    noise = pair - clean
    assert np.abs(noise).mean() > 0.5
    assert abs(np.corrcoef(noise[..., 0].ravel(), noise[..., 1].ravel())[0, 1]) < 0.2
