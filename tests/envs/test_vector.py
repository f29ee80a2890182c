"""The batched env: Gymnasium's make_vec, SAME_STEP autoreset, one reward module per car,
the same trajectories as the single env, the stable-baselines3 adapter, frame stacking."""

from __future__ import annotations

import gymnasium as gym
import numba
import numpy as np
import pytest

import racerl
from racerl.camera.lighting import PRESETS
from racerl.envs.cars import STATE_SIZE
from racerl.envs.vector import RacerVectorEnv, make_vec_env

HARD_LEFT, STRAIGHT, HARD_RIGHT = 9, 5, 1  # default action space: (30°, 1 m/s), (0°, 1 m/s)...


@pytest.fixture(autouse=True, scope="module")
def one_numba_thread():
    """These tests render hundreds of small batches. Pixels do not depend on the thread count
    (test_camera checks it), but each parallel call can cost ~8 ms of OpenMP barrier wait
    when the machine's cores are busy with other work, so run this module on one thread."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def test_make_vec_returns_a_racer_vector_env():
    env = gym.make_vec("racerl/DeepRacer-v0", num_envs=8, vectorization_mode="vector_entry_point")
    assert isinstance(env, RacerVectorEnv) or isinstance(env.unwrapped, RacerVectorEnv)
    assert env.num_envs == 8
    assert env.single_observation_space.shape == (120, 160, 1)
    assert env.observation_space.shape == (8, 120, 160, 1)
    assert env.observation_space.dtype == np.uint8
    assert env.single_action_space == gym.spaces.Discrete(10)
    assert env.action_space.shape == (8,)
    assert np.array_equal(env.action_space.nvec, np.full(8, 10))
    obs, info = env.reset(seed=0)
    assert obs.shape == (8, 120, 160, 1) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    assert list(info["status"]) == ["prepare"] * 8
    obs, rewards, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (8, 120, 160, 1) and rewards.shape == (8,)
    assert terminated.dtype == bool and truncated.dtype == bool
    env.close()


def test_make_vec_passes_keyword_arguments():
    env = gym.make_vec("racerl/DeepRacer-v0", num_envs=3, vectorization_mode="vector_entry_point",
                       track="oval", observation="state")
    assert env.observation_space.shape == (3, STATE_SIZE)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (3, STATE_SIZE) and obs.dtype == np.float32


# -- autoreset ------------------------------------------------------------------------------------


def single_run(seed: int, action: int, steps: int, **kwargs) -> list[dict]:
    """One env driven with a constant action, resetting by hand after each episode end."""
    env = racerl.make_env(seed=seed, **kwargs)
    obs, _ = env.reset()
    out = []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(action)
        record = {"obs": obs, "reward": reward, "terminated": terminated,
                  "truncated": truncated, "status": info["status"], "steps": info["steps"]}
        if terminated or truncated:
            record["reset_obs"], _ = env.reset()
        out.append(record)
    return out


def test_autoreset_same_step():
    actions = np.array([HARD_LEFT, STRAIGHT, HARD_RIGHT, 8])  # the hard-steer cars go off track
    kwargs = {"track": "loop", "start": "line"}
    venv = make_vec_env(4, seed=0, **kwargs)
    venv.reset()
    steps = 60
    singles = [single_run(i, int(actions[i]), steps, **kwargs) for i in range(4)]
    ended_any, partial = 0, False
    pending_prepare = np.zeros(4, dtype=bool)
    for t in range(steps):
        obs, rewards, terminated, truncated, info = venv.step(actions)
        done = terminated | truncated
        for i in range(4):
            ref = singles[i][t]
            assert terminated[i] == ref["terminated"] and truncated[i] == ref["truncated"]
            assert rewards[i] == ref["reward"]
            if pending_prepare[i]:  # the step after an autoreset is the new episode's PREPARE
                assert rewards[i] == 0.0 and info["status"][i] == "prepare"
                assert info["steps"][i] == 1.0 and info["params"][i]["steps"] == 1.0
            if done[i]:
                assert info["_final_obs"][i] and info["_final_info"][i]
                # The last frame of the ended episode, as the single env saw it ...
                assert np.array_equal(info["final_obs"][i], ref["obs"])
                assert info["final_info"]["status"][i] == ref["status"] == "off_track"
                assert info["final_info"]["_status"][i]
                # ... and the row holds the new episode's first frame.
                assert np.array_equal(obs[i], ref["reset_obs"])
                assert not np.array_equal(obs[i], ref["obs"])
            else:
                if "_final_obs" in info:
                    assert not info["_final_obs"][i] and info["final_obs"][i] is None
                assert np.array_equal(obs[i], ref["obs"])
        ended_any += int(done.any())
        partial |= bool(done.any() and not done.all())
        pending_prepare = done
    assert ended_any >= 3 and partial  # episodes ended, some cars while others drove on


def test_autoreset_info_layout():
    venv = make_vec_env(3, track="loop", start="line", seed=0)
    venv.reset()
    for _ in range(30):
        obs, _, terminated, _, info = venv.step(np.array([HARD_LEFT, STRAIGHT, STRAIGHT]))
        if terminated.any():
            break
    assert list(terminated) == [True, False, False]
    assert info["final_obs"].dtype == object and info["final_obs"].shape == (3,)
    assert list(info["_final_obs"]) == [True, False, False]
    assert info["final_obs"][0].shape == (120, 160, 1) and info["final_obs"][0].dtype == np.uint8
    assert list(info["final_info"]["_status"]) == [True, False, False]
    assert obs.shape == (3, 120, 160, 1)
    # The ended car's terminal frame is not the same array as its new first frame.
    assert not np.shares_memory(info["final_obs"][0], obs)


# -- one reward module per car ------------------------------------------------------------------

STATEFUL_REWARD = '''
calls = 0
last_progress = None


def reward_function(params):
    global calls, last_progress
    calls += 1
    gained = 0.0 if last_progress is None else params["progress"] - last_progress
    last_progress = params["progress"]
    return float(calls) + 0.001 * gained
'''


def test_each_car_has_its_own_reward_module(tmp_path):
    path = tmp_path / "stateful_reward.py"
    path.write_text(STATEFUL_REWARD)
    actions = np.array([STRAIGHT, 6, 4, HARD_LEFT])
    kwargs = {"track": "loop", "start": "line", "observation": "state",
              "reward_function": str(path)}
    venv = make_vec_env(4, seed=0, **kwargs)
    venv.reset()
    steps = 30
    got = np.array([venv.step(actions)[1] for _ in range(steps)])  # (steps, 4)
    for i in range(4):
        ref = [r["reward"] for r in single_run(i, int(actions[i]), steps, **kwargs)]
        assert got[:, i].tolist() == ref, i
    # Car 0 never ends (straight ahead for 2 s) and counts only its own 29 RUN-step calls;
    # a shared module would count the calls of all four cars.
    assert got[0, 0] == 0.0
    np.testing.assert_array_equal(np.floor(got[1:, 0]), np.arange(1, steps))
    # The cars' progress differs, so a shared last_progress would mix their increments too.
    assert len({round(float(got[-1, i]) % 1.0, 9) for i in range(3)}) == 3


# -- same trajectories as the single env ----------------------------------------------------------


def compare_car(venv_kwargs: dict, n: int, seed: int, car: int, single_seed: int,
                steps: int = 100) -> int:
    """Drive car ``car`` of a batch and a single env with the same random actions; return how
    many episodes ended. Observations, rewards and flags must be exactly equal."""
    rng = np.random.default_rng(100 + seed)
    actions = rng.integers(0, 10, size=(steps, n))
    venv = make_vec_env(n, seed=seed, **venv_kwargs)
    env = racerl.make_env(seed=single_seed, **venv_kwargs)
    vobs, _ = venv.reset()
    obs, _ = env.reset()
    assert np.array_equal(vobs[car], obs)
    ends = 0
    for t in range(steps):
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(actions[t])
        obs, rew, term, trunc, info = env.step(actions[t, car])
        if vterm[car] or vtrunc[car]:
            assert term or trunc
            assert np.array_equal(vinfo["final_obs"][car], obs), t
            obs, _ = env.reset()
            ends += 1
        assert np.array_equal(vobs[car], obs), t
        assert vrew[car] == rew and vterm[car] == term and vtrunc[car] == trunc, t
        assert vinfo["status"][car] == info["status"]
    return ends


@pytest.mark.parametrize("lighting", ["studio", "random"])
def test_car_zero_matches_the_single_env(lighting):
    kwargs = {"track": "loop", "lighting": lighting}
    assert compare_car(kwargs, n=3, seed=2, car=0, single_seed=2) >= 1


def test_every_car_matches_a_single_env_seeded_seed_plus_i():
    """Car i of a batch reset with seed s behaves like a single env seeded s + i.

    ``start="line"``: with the default round-robin starts, car i of a batch starts episode k
    at (k + i) x 5 % of the lap (sim.BatchSim, to spread a batch), so only the seeding is
    compared here; the start positions are checked below."""
    kwargs = {"track": "loop", "lighting": "random", "start": "line", "frame_stack": 2}
    ends = [compare_car(kwargs, n=3, seed=6, car=i, single_seed=6 + i) for i in range(3)]
    assert min(ends) >= 1


def test_round_robin_starts_spread_the_batch_and_lighting_follows_seed_plus_i():
    venv = make_vec_env(4, track="loop", lighting="random", seed=9)
    venv.reset()
    assert np.allclose(venv.sim.state.start_ndist, [0.0, 0.05, 0.10, 0.15])
    for i in range(4):
        env = racerl.make_env(track="loop", lighting="random", seed=9 + i)
        env.reset()
        for name in ("gain", "tone", "patches", "noise", "blur", "seed"):
            assert np.array_equal(getattr(venv.racers.lights, name)[i],
                                  getattr(env.racers.lights, name)[0]), (i, name)
    # Seeds restart the sequence: reset(seed=9) again gives the same first frames.
    first, _ = venv.reset(seed=9)
    again, _ = make_vec_env(4, track="loop", lighting="random", seed=9).reset()
    assert np.array_equal(first, again)
    assert not np.array_equal(first, venv.reset(seed=10)[0])


def test_explicit_seed_list():
    venv = make_vec_env(2, track="loop", lighting="random", start="line")
    obs, _ = venv.reset(seed=[4, 17])
    for i, s in enumerate([4, 17]):
        single, _ = racerl.make_env(track="loop", lighting="random", start="line",
                                    seed=s).reset()
        assert np.array_equal(obs[i], single)


@pytest.mark.parametrize("lighting", PRESETS)
def test_presets_work_in_the_batch(lighting):
    venv = make_vec_env(2, track="circuit", lighting=lighting, seed=0)
    obs, _ = venv.reset()
    obs2, *_ = venv.step(np.array([STRAIGHT, STRAIGHT]))
    assert obs.shape == obs2.shape == (2, 120, 160, 1)
    assert not np.array_equal(obs[0], obs[1])  # different starts and lights


# -- stable-baselines3 -----------------------------------------------------------------------------


def test_sb3_ppo_learns_a_few_hundred_steps():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO

    from racerl.envs.sb3 import to_sb3

    env = to_sb3(make_vec_env(4, track="loop", observation="state", seed=0))
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=2, seed=0, device="cpu",
                verbose=0)
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    action, _ = model.predict(env.reset(), deterministic=True)
    assert action.shape == (4,)


def test_sb3_step_wait_reports_terminal_observations():
    pytest.importorskip("stable_baselines3")
    from racerl.envs.sb3 import to_sb3

    kwargs = {"track": "loop", "observation": "state", "start": "line"}
    env = to_sb3(make_vec_env(3, seed=0, **kwargs))
    ref = make_vec_env(3, seed=0, **kwargs)  # the same cars, through the Gymnasium interface
    obs = env.reset()
    ref.reset()
    assert obs.shape == (3, STATE_SIZE)
    actions = np.array([HARD_LEFT, STRAIGHT, STRAIGHT])
    for _ in range(30):
        env.step_async(actions)
        obs, rewards, dones, infos = env.step_wait()
        robs, rrew, rterm, rtrunc, rinfo = ref.step(actions)
        assert dones.dtype == bool and dones.shape == (3,)
        assert np.array_equal(dones, rterm | rtrunc)
        assert rewards.dtype == np.float32 and len(infos) == 3
        assert np.array_equal(obs, robs) and np.array_equal(rewards, rrew.astype(np.float32))
        for i in range(3):
            if dones[i]:
                assert np.array_equal(infos[i]["terminal_observation"], rinfo["final_obs"][i])
                assert infos[i]["TimeLimit.truncated"] is False
                assert infos[i]["status"] == "off_track"
            else:
                assert "terminal_observation" not in infos[i]
        if dones.any():
            break
    assert list(dones) == [True, False, False]
    # The step cap: truncated episodes say so to SB3.
    capped = to_sb3(make_vec_env(2, seed=0, max_steps=5, **kwargs))
    capped.reset()
    for _ in range(5):
        obs, _, dones, infos = capped.step(np.array([STRAIGHT, STRAIGHT]))
    assert dones.tolist() == [True, True]
    assert all(info["TimeLimit.truncated"] is True for info in infos)
    assert infos[0]["terminal_observation"].shape == (STATE_SIZE,)


def test_sb3_vec_monitor_wraps_the_adapter():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import VecMonitor

    from racerl.envs.sb3 import to_sb3

    env = VecMonitor(to_sb3(make_vec_env(2, track="loop", observation="state", start="line",
                                         seed=0)))
    env.reset()
    totals = np.zeros(2)
    lengths = np.zeros(2, dtype=int)
    episodes = []
    for _ in range(30):
        _, rewards, dones, infos = env.step(np.array([HARD_LEFT, STRAIGHT]))
        totals += rewards
        lengths += 1
        for i in np.flatnonzero(dones):
            episodes.append((i, infos[i]["episode"], totals[i], lengths[i]))
            totals[i], lengths[i] = 0.0, 0
    assert episodes
    for _i, episode, total, length in episodes:
        assert episode["l"] == length
        assert episode["r"] == pytest.approx(total, abs=1e-4)


# -- frame stacking -------------------------------------------------------------------------------


@pytest.mark.parametrize("rgb", [False, True])
def test_frame_stack_single_env(rgb):
    channels = 3 if rgb else 1
    kwargs = {"track": "loop", "lighting": "dim", "rgb": rgb, "seed": 3}  # noisy: frames differ
    stacked = racerl.make_env(frame_stack=3, **kwargs)
    plain = racerl.make_env(**kwargs)
    assert stacked.observation_space.shape == (120, 160, 3 * channels)
    obs, _ = stacked.reset()
    frame, _ = plain.reset()
    assert obs.shape == (120, 160, 3 * channels)
    for k in range(3):  # on reset, every slot holds the first frame
        assert np.array_equal(obs[..., k * channels:(k + 1) * channels], frame)
    frames = [frame]
    for action in (STRAIGHT, STRAIGHT, 6, 6):
        prev = obs
        obs, *_ = stacked.step(action)
        frame, *_ = plain.step(action)
        frames.append(frame)
        assert not np.array_equal(frame, frames[-2])
        assert np.array_equal(obs[..., -channels:], frame)  # the newest frame last
        assert np.array_equal(obs[..., :-channels], prev[..., channels:])  # the rest shifted
    expected = np.concatenate(frames[-3:], axis=-1)
    assert np.array_equal(obs, expected)


def test_frame_stack_after_autoreset():
    venv = make_vec_env(2, track="loop", start="line", frame_stack=3, seed=0)
    assert venv.observation_space.shape == (2, 120, 160, 3)
    venv.reset()
    for _ in range(40):
        obs, _, terminated, _, info = venv.step(np.array([HARD_LEFT, STRAIGHT]))
        if terminated[0]:
            break
    assert terminated[0] and not terminated[1]
    final = info["final_obs"][0]
    assert not (np.array_equal(final[..., 0], final[..., 1])
                and np.array_equal(final[..., 1], final[..., 2]))  # a moving car's history
    fresh = obs[0]
    assert np.array_equal(fresh[..., 0], fresh[..., 1]) and np.array_equal(fresh[..., 1],
                                                                          fresh[..., 2])
    assert not np.array_equal(obs[1][..., 0], obs[1][..., 2])  # car 1's history continues


def test_frame_stack_must_be_positive():
    with pytest.raises(ValueError, match="frame_stack"):
        make_vec_env(2, frame_stack=0)
