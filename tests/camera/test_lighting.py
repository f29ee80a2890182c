"""Lighting randomisation: seeded presets, studio as the identity, brightness order, sun
patches fixed on the floor, frame-by-frame sensor noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

import racerl
from racerl.camera.front import Camera, CameraSpec, LightingBatch, build_ray_table, project_to_pixel
from racerl.camera.lighting import MAX_PATCHES, PRESETS, Lighting, sample_lighting
from racerl.track.catalog import load_track
from racerl.track.geometry import Track
from tests.helpers import straight_track

SPEC = CameraSpec()


@pytest.fixture(scope="module")
def loop() -> Track:
    return load_track("loop")


@pytest.fixture(scope="module")
def straight() -> Track:
    return Track(straight_track(length=10.0, width=1.0, n=101), name="straight10")


def bounds_of(track: Track) -> np.ndarray:
    pts = track.rows.reshape(-1, 2)
    return np.stack([pts.min(axis=0) - 0.5, pts.max(axis=0) + 0.5])


def same_lighting(a: Lighting, b: Lighting) -> bool:
    pa = a.patches if a.patches is not None else np.zeros((0, 7))
    pb = b.patches if b.patches is not None else np.zeros((0, 7))
    return (np.array_equal(a.gain, b.gain) and a.contrast == b.contrast and a.gamma == b.gamma
            and np.array_equal(pa, pb) and a.noise == b.noise and a.blur == b.blur)


def render(cam: Camera, poses, lights: list[Lighting] | None = None, seeds=None,
           frame=None) -> np.ndarray:
    poses = np.atleast_2d(np.asarray(poses, dtype=np.float64))
    n = len(poses)
    if lights is None:
        batch = LightingBatch.studio(n)
    else:
        seeds = np.zeros(n, dtype=np.uint64) if seeds is None else seeds
        batch = LightingBatch.from_list(lights, np.asarray(seeds, dtype=np.uint64))
    frame = np.zeros(n, dtype=np.uint64) if frame is None else np.asarray(frame, np.uint64)
    return cam.render(poses[:, 0], poses[:, 1], poses[:, 2], batch, frame)


def track_poses(track: Track, n: int = 8) -> np.ndarray:
    xy, yaw = track.pose_at(np.linspace(0.0, 0.9, n))
    return np.column_stack([xy, yaw])


# -- presets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_are_deterministic_for_a_seed(loop, preset):
    bounds = bounds_of(loop)
    a = sample_lighting(preset, np.random.default_rng(7), bounds)
    b = sample_lighting(preset, np.random.default_rng(7), bounds)
    assert same_lighting(a, b)
    if preset != "studio":
        draws = [sample_lighting(preset, np.random.default_rng(s), bounds) for s in range(8, 12)]
        assert not any(same_lighting(a, d) for d in draws)
    # ... and so are the rendered frames, noise included.
    cam = Camera(loop)
    poses = track_poses(loop, 3)
    one = render(cam, poses, [a] * 3, seeds=[1, 2, 3], frame=[0, 5, 9])
    two = render(cam, poses, [b] * 3, seeds=[1, 2, 3], frame=[0, 5, 9])
    assert np.array_equal(one, two)


@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "studio"])
def test_env_lighting_is_seeded(preset):
    def first_obs(seed):
        env = racerl.make_env(track="loop", lighting=preset, seed=seed)
        return env.reset()[0]

    assert np.array_equal(first_obs(3), first_obs(3))
    assert not np.array_equal(first_obs(3), first_obs(4))


def test_env_episode_k_draws_its_light_from_seed_and_k(loop):
    """racers: the k-th episode after a seeded reset draws from default_rng([seed, k])."""
    env = racerl.make_env(track="loop", lighting="random", seed=11)
    bounds = env.racers.room_bounds()
    for k in range(3):
        env.reset()
        expected = LightingBatch.from_list(
            [sample_lighting("random", np.random.default_rng([11, k]), bounds)],
            np.zeros(1, dtype=np.uint64))
        got = env.racers.lights
        for name in ("gain", "tone", "patches", "noise", "blur"):
            assert np.array_equal(getattr(got, name), getattr(expected, name)), (k, name)
    # Each new episode gets a new light.
    env.reset()
    gain_a = env.racers.lights.gain.copy()
    env.reset()
    assert not np.array_equal(gain_a, env.racers.lights.gain)


def test_studio_is_the_identity(loop):
    light = sample_lighting("studio", np.random.default_rng(0), bounds_of(loop))
    assert np.array_equal(light.gain, np.ones(3)) and light.noise == 0 and not light.blur
    assert np.array_equal(light.tone_table(), np.arange(256, dtype=np.uint8))
    assert np.all(light.patch_array()[:, 5] == 0.0)  # no patch has any strength
    poses = track_poses(loop, 4)
    for rgb in (False, True):
        cam = Camera(loop, rgb=rgb)
        plain = render(cam, poses)  # LightingBatch.studio
        assert np.array_equal(render(cam, poses, [light] * 4, seeds=[5, 6, 7, 8],
                                     frame=[1, 2, 3, 4]), plain)
    # The env's default light is studio: its first frame is the plain render at its pose.
    env = racerl.make_env(track="loop", seed=0)
    obs, _ = env.reset()
    car = env.sim.car
    pose = [(car.x[0], car.y[0], car.yaw[0])]
    assert np.array_equal(obs, render(Camera(loop), pose)[0])


def test_dim_is_darker_and_sunny_brighter_than_studio(loop):
    cam = Camera(loop)
    poses = track_poses(loop, 8)
    bounds = bounds_of(loop)
    studio = render(cam, poses).reshape(8, -1).mean(axis=1)
    for seed in range(3):
        lights = {p: [sample_lighting(p, np.random.default_rng([seed, i]), bounds)
                      for i in range(8)] for p in ("dim", "sunny")}
        dim = render(cam, poses, lights["dim"]).reshape(8, -1).mean(axis=1)
        sunny = render(cam, poses, lights["sunny"]).reshape(8, -1).mean(axis=1)
        # Frame by frame, not only on average (studio ≈ 101, dim ≈ 62, sunny ≈ 153).
        assert np.all(dim < studio - 15), (dim, studio)
        assert np.all(sunny > studio + 10), (sunny, studio)


def test_unknown_preset_is_a_value_error_listing_the_presets(loop):
    with pytest.raises(ValueError) as err:
        sample_lighting("foggy", np.random.default_rng(0), bounds_of(loop))
    message = str(err.value)
    assert "foggy" in message
    for preset in PRESETS:
        assert preset in message
    with pytest.raises(ValueError) as err:
        racerl.make_env(track="loop", lighting="foggy")
    for preset in PRESETS:
        assert preset in str(err.value)


def test_random_preset_stays_in_its_ranges(loop):
    bounds = bounds_of(loop)
    blur = []
    for s in range(40):
        light = sample_lighting("random", np.random.default_rng(s), bounds)
        assert light.gain.shape == (3,) and np.all(light.gain > 0.3) and np.all(light.gain < 1.7)
        assert 0.0 <= light.noise <= 6.0 and 0.6 <= light.contrast <= 1.5
        assert light.patches is not None and len(light.patches) <= MAX_PATCHES
        if len(light.patches):
            assert np.all(light.patches[:, 0] >= bounds[0, 0])
            assert np.all(light.patches[:, 0] <= bounds[1, 0])
            assert np.all(light.patches[:, 1] >= bounds[0, 1])
            assert np.all(light.patches[:, 1] <= bounds[1, 1])
        blur.append(light.blur)
    assert any(blur) and not all(blur)


# -- sun patches are painted on the floor, in world coordinates ---------------------------------

PATCH_CENTRE = np.array([3.0, 0.15])  # on the road, between the centre line and the left border
PATCH_RADIUS = 0.12


def sun_patch() -> Lighting:
    """One round patch doubling the light within half its radius, fading out at the radius."""
    patch = [*PATCH_CENTRE, PATCH_RADIUS, PATCH_RADIUS, 0.0, 1.0, 0.5]
    return Lighting(gain=np.ones(3), patches=np.array([patch]))


def floor_points(pose) -> tuple[np.ndarray, np.ndarray]:
    """World (x, y) of every pixel's floor point (NaN above the horizon), by the ray table."""
    table = build_ray_table(SPEC)
    x, y, yaw = pose
    cols = np.arange(SPEC.width)
    fx = np.broadcast_to(table.row_x[:, None], (SPEC.height, SPEC.width))
    fy = table.row_y0[:, None] + table.row_yd[:, None] * cols
    c, s = math.cos(yaw), math.sin(yaw)
    wx, wy = x + c * fx - s * fy, y + s * fx + c * fy
    ground = table.row_ground[:, None] & np.ones(SPEC.width, dtype=bool)
    return np.where(ground, wx, np.nan), np.where(ground, wy, np.nan)


def to_car(pose, world) -> np.ndarray:
    """A world floor point (x, y) in the car frame of base_link pose (x, y, yaw)."""
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    dx, dy = world[0] - x, world[1] - y
    return np.array([c * dx + s * dy, -s * dx + c * dy, 0.0])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_sun_patch_brightens_the_pixels_that_see_its_floor(straight, backend):
    cam = Camera(straight, backend=backend)
    centres = []
    for pose in [(2.0, 0.0, 0.0), (2.4, 0.0, 0.0), (2.2, 0.05, math.radians(8.0))]:
        plain = render(cam, [pose])[0, ..., 0].astype(np.int64)
        lit = render(cam, [pose], [sun_patch()])[0, ..., 0].astype(np.int64)
        wx, wy = floor_points(pose)
        with np.errstate(invalid="ignore"):
            r = np.hypot(wx - PATCH_CENTRE[0], wy - PATCH_CENTRE[1]) / PATCH_RADIUS
            core, outside = r < 0.45, ~(r < 1.02)
        assert core.sum() > 20, pose
        # Inside the patch's core the road is twice as bright; outside, nothing changed.
        ratio = lit[core] / np.maximum(plain[core], 1)
        assert np.all(ratio > 1.8) and np.all(ratio < 2.2), ratio.min()
        assert np.array_equal(lit[outside], plain[outside])
        brighter = lit > plain
        assert np.all(r[brighter] < 1.0)  # every brightened pixel sees the patch's floor
        # Independently of the ray table: floor points projected with the pinhole model are
        # brightened inside the patch (centre, 0.4 radius) and unchanged outside (1.3 radius).
        for k, (dist, lit_expected) in enumerate([(0.0, True)] + [(0.4, True)] * 4
                                                 + [(1.3, False)] * 4):
            angle = k * math.pi / 2
            world = PATCH_CENTRE + dist * PATCH_RADIUS * np.array([math.cos(angle),
                                                                   math.sin(angle)])
            col, row = project_to_pixel(SPEC, to_car(pose, world))
            if 0 <= col < SPEC.width and 0 <= row < SPEC.height:
                assert brighter[int(row), int(col)] == lit_expected, (pose, dist, angle)
        rows, cols = np.nonzero(brighter)
        centres.append((rows.mean(), cols.mean()))
    # Driving 0.4 m towards the patch brings it down the image (nearer); turning left by 8°
    # moves it to the right, as a thing fixed on the floor does.
    assert centres[1][0] > centres[0][0] + 10
    assert centres[2][1] > centres[0][1] + 5


def test_shadow_darkens_and_patches_are_per_car(straight):
    cam = Camera(straight)
    shadow = Lighting(gain=np.ones(3),
                      patches=np.array([[*PATCH_CENTRE, PATCH_RADIUS, PATCH_RADIUS, 0, -0.5, 0.5]]))
    pose = (2.0, 0.0, 0.0)
    frames = render(cam, [pose, pose, pose], [sun_patch(), Lighting.studio(), shadow])
    plain, sun, dark = frames[1], frames[0], frames[2]
    assert (sun > plain).sum() > 20 and not (sun < plain).any()
    assert (dark < plain).sum() > 20 and not (dark > plain).any()


# -- sensor noise --------------------------------------------------------------------------------


def test_noise_changes_every_frame_yet_is_reproducible(straight):
    noisy = Lighting(gain=np.ones(3), noise=4.0)
    pose = [(2.0, 0.0, 0.0)]
    for backend in ("numba", "numpy"):
        cam = Camera(straight, backend=backend)
        plain = render(cam, pose)[0].astype(np.int64)
        f0 = render(cam, pose, [noisy], seeds=[123], frame=[0])[0].astype(np.int64)
        f1 = render(cam, pose, [noisy], seeds=[123], frame=[1])[0].astype(np.int64)
        again = render(cam, pose, [noisy], seeds=[123], frame=[1])[0].astype(np.int64)
        other = render(cam, pose, [noisy], seeds=[124], frame=[1])[0].astype(np.int64)
        assert np.array_equal(f1, again)
        assert (f0 != f1).mean() > 0.5 and (other != f1).mean() > 0.5
        inside = (plain > 20) & (plain < 235)  # away from clipping
        delta = (f1 - plain)[inside]
        assert abs(delta.mean()) < 0.3 and 3.0 < delta.std() < 5.0


def test_env_noise_differs_between_frames_of_a_standing_car():
    """The PREPARE step does not move the car: its frame equals the reset frame in studio
    light, and differs from it only by sensor noise under 'dim'."""
    studio = racerl.make_env(track="loop", seed=2)
    first, _ = studio.reset()
    again, *_ = studio.step(5)
    assert np.array_equal(first, again)

    def frames(seed):
        env = racerl.make_env(track="loop", lighting="dim", seed=seed)
        out = [env.reset()[0]]
        out += [env.step(5)[0] for _ in range(3)]
        return out

    a, b = frames(2), frames(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], a[1])
    diff = a[0].astype(np.int64) - a[1].astype(np.int64)
    assert np.abs(diff).max() < 60 and (diff != 0).mean() > 0.5
