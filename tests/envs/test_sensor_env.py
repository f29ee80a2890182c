"""DeepRacer's other sensors in the envs: the stereo image, the lidar's Dict observation,
Gymnasium's checks, the vector env's autoreset and the stable-baselines3 adapter."""

from __future__ import annotations

import gymnasium as gym
import numba
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from racerl.camera.front import Camera, LightingBatch
from racerl.camera.lidar import LASER_FORWARD
from racerl.camera.stereo import STEREO_OFFSET
from racerl.envs.cars import Racers
from racerl.envs.sb3 import to_sb3
from racerl.envs.single import RacerEnv
from racerl.envs.vector import RacerVectorEnv
from racerl.sim.objects import BOX_HEIGHT, Kind, Objects

LIDAR_MODEL = ["FRONT_FACING_CAMERA", "LIDAR"]


@pytest.fixture(autouse=True, scope="module")
def one_numba_thread():
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def box_behind(racers: Racers, distance: float = 0.5) -> Objects:
    """One box (0.5 m long, 0.4 m wide) centred ``distance`` behind each car's base_link."""
    car = racers.sim.car
    obj = Objects.empty(racers.n, 1)
    obj.x[:, 0] = car.x - distance * np.cos(car.yaw)
    obj.y[:, 0] = car.y - distance * np.sin(car.yaw)
    obj.yaw[:, 0] = car.yaw
    obj.length[:], obj.width[:], obj.height[:] = 0.5, 0.4, BOX_HEIGHT
    obj.kind[:], obj.present[:] = Kind.BOX, True
    return obj


@pytest.mark.parametrize("sensor", [LIDAR_MODEL, ["STEREO_CAMERAS"],
                                    ["STEREO_CAMERAS", "DISCRETIZED_SECTOR_LIDAR"]])
def test_gymnasium_env_checker_passes(sensor):
    env = RacerEnv(track="oval", sensor=sensor)
    check_env(env, skip_render_check=True)


def test_front_camera_alone_keeps_the_image_box():
    env = RacerEnv(track="oval")
    assert env.observation_space == gym.spaces.Box(0, 255, (120, 160, 1), np.uint8)


def test_lidar_model_sees_a_dict_named_after_deepracer_sensors():
    env = RacerEnv(track="oval", sensor=LIDAR_MODEL)
    space = env.observation_space
    assert isinstance(space, gym.spaces.Dict) and set(space) == set(LIDAR_MODEL)
    assert space["LIDAR"] == gym.spaces.Box(0.15, 1.0, (64,), np.float32)
    obs, _ = env.reset(seed=3)
    assert obs["FRONT_FACING_CAMERA"].shape == (120, 160, 1)
    np.testing.assert_array_equal(obs["LIDAR"], 1.0)  # a time trial: nothing in range
    # A box 0.5 m behind the car, as the simulator's objects: the rays facing backwards
    # (25 to 38, camera.lidar's tests) see its face 0.279 m away, with 1 cm of noise.
    env.racers.sim.traffic.objects = box_behind(env.racers)  # a hand-made world
    lidar = env.racers.observe(np.array([0]), fresh=False)["LIDAR"][0]
    near = lidar < 1.0
    assert np.flatnonzero(near).tolist() == list(range(25, 39))
    assert abs(lidar[31] - (0.25 + LASER_FORWARD)) < 0.05


def test_stereo_is_the_front_camera_three_centimetres_left_and_right():
    env = RacerEnv(track="oval", sensor=["STEREO_CAMERAS"], frame_stack=2)
    obs, _ = env.reset(seed=0, options={"start_ndist": 0.1})
    assert obs.shape == (120, 160, 4) and env.observation_space.shape == (120, 160, 4)
    car = env.sim.car
    mono = Camera(env.racers.tracks)
    side = STEREO_OFFSET * np.array([-np.sin(car.yaw[0]), np.cos(car.yaw[0])])
    for eye, sign in ((0, 1.0), (1, -1.0)):
        want = mono.render(car.x + sign * side[0], car.y + sign * side[1], car.yaw,
                           LightingBatch.studio(1), np.zeros(1, np.uint64))[0, :, :, 0]
        np.testing.assert_array_equal(obs[:, :, 2 + eye], want)
    assert not np.array_equal(obs[:, :, 2], obs[:, :, 3])


def test_vector_env_autoresets_dict_observations_and_sb3_sees_them():
    venv = RacerVectorEnv(3, track="oval", sensor=["STEREO_CAMERAS", "SECTOR_LIDAR"],
                          max_steps=4, seed=0)
    sb3 = to_sb3(venv)
    obs = sb3.reset()
    assert obs["STEREO_CAMERAS"].shape == (3, 120, 160, 2) and obs["SECTOR_LIDAR"].shape == (3, 8)
    for _ in range(4):
        obs, _rewards, dones, infos = sb3.step(np.full(3, 5))
    assert dones.all()
    last = infos[0]["terminal_observation"]
    assert set(last) == {"STEREO_CAMERAS", "SECTOR_LIDAR"}
    assert last["STEREO_CAMERAS"].shape == (120, 160, 2)
    assert venv.observation_space["SECTOR_LIDAR"].shape == (3, 8)


def test_a_car_in_a_batch_scans_like_the_single_env():
    single = RacerEnv(track="oval", sensor=LIDAR_MODEL, seed=11)
    batch = RacerVectorEnv(2, track="oval", sensor=LIDAR_MODEL, seed=10)
    single.reset()
    batch.reset()
    for _ in range(3):
        single.step(5)
        batch.step(np.full(2, 5))
    # then a hand-made world: a box behind each car, scanned where the cars now stand
    single.racers.sim.traffic.objects = box_behind(single.racers)
    batch.racers.sim.traffic.objects = box_behind(batch.racers)
    one = single.racers.observe(np.array([0]), fresh=False)["LIDAR"][0]
    both = batch.racers.observe(np.arange(2), fresh=False)["LIDAR"]
    assert (one < 1.0).any()  # the box is in the scan
    np.testing.assert_array_equal(one, both[1])
    assert not np.array_equal(both[0], both[1])  # other seed, other noise


def test_sensors_need_the_camera_observation():
    with pytest.raises(ValueError, match="needs observation 'camera'"):
        RacerEnv(track="oval", observation="state", sensor=LIDAR_MODEL)
