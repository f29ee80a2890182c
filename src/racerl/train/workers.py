"""Rollout workers: the training cars shared among Ray actors, feeding one learner.

``racerl train --workers K`` cuts the batch of ``n_envs`` cars into K consecutive slices and
gives each to a Ray actor (:class:`RolloutWorker`): a batched simulator of its own
(:class:`~racerl.envs.vector.RacerVectorEnv` with its cars, camera and reward function, in
the reward sandbox where the config asks for it) in a process of its own, on this machine
or on any node of a Ray cluster. The learner (SB3's PPO or SAC) stays in the trainer's
process on the trainer's device and sees the workers as one stable-baselines3 VecEnv,
:class:`RolloutWorkers`: ``step_async`` sends each actor its slice of the actions and
``step_wait`` waits for all of them at once, so the slices are simulated in parallel, and
returns their steps joined in car order, in the same layout and with the same infos as the
in-process adapter (:func:`racerl.envs.sb3_layout.sb3_step`). The Recorder, traces,
checkpoints, evaluations and the live view therefore cannot tell the two apart.

Worker k's cars are cars ``first_car .. first_car + cars - 1`` of the whole batch
(``first_car`` of :class:`~racerl.envs.vector.RacerVectorEnv`): the same seeds, tracks and
round-robin start points as one batch of all of them, so K workers drive exactly what one
simulator would (a test checks it step by step).

What it costs: every step each worker's observations, rewards and infos (the params dict of
each car) are pickled and sent to the learner, and the learner waits for the slowest
worker; a step of a small slice is then mostly overhead (benchmarks/ray_workers.py
measures it). Workers pay where a core per worker is free, e.g. on other machines.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from racerl.envs.actions import ActionSpace, load_action_space
from racerl.envs.cars import load_tracks
from racerl.envs.sb3_layout import SB3Step, sb3_step
from racerl.errors import RacerlError
from racerl.model.config import TrainConfig
from racerl.track.geometry import Track
from racerl.train.cluster import connect, disconnect, ray_module
from racerl.train.simulator import training_simulator
from racerl.train.threads import cores

START_TIMEOUT = 300.0
"""Seconds the workers may take to start (import, compile, load the reward function) before
the run gives up: on a cluster without a free CPU for each they would wait for ever."""
CLOSE_TIMEOUT = 10.0
"""Seconds a worker gets to close its simulator and reward sandbox before it is killed."""
WORKER_THREADS = 1
"""Camera render threads of a worker (NUMBA_NUM_THREADS), matching the one CPU it asks Ray
for: parallelism comes from the workers, not from threads fighting over a core."""


class WorkerError(RacerlError):
    """A rollout worker failed, died or could not start."""


def car_slices(n_envs: int, workers: int) -> list[tuple[int, int]]:
    """``(first_car, cars)`` of each worker: the batch cut into ``workers`` consecutive
    slices whose sizes differ by at most one (the first ones the larger)."""
    if not 1 <= workers <= n_envs:
        raise ValueError(f"{workers} workers cannot share {n_envs} cars")
    sizes = [n_envs // workers + (k < n_envs % workers) for k in range(workers)]
    firsts = np.cumsum([0, *sizes[:-1]])
    return [(int(first), size) for first, size in zip(firsts, sizes, strict=True)]


@dataclass(frozen=True)
class RewardFile:
    """A reward function file as it travels to a worker: its path and its text, so that a
    worker on another machine, where the path may not exist, runs the same code."""

    path: str
    text: str

    @classmethod
    def read(cls, path: str | Path) -> RewardFile:
        return cls(str(path), Path(path).read_text(encoding="utf-8"))

    def local_path(self) -> Path:
        """The file on this machine: its own path where that holds the same text (errors
        then name it), else a copy of the same name in a new temporary folder."""
        path = Path(self.path)
        try:
            if path.read_text(encoding="utf-8") == self.text:
                return path
        except (OSError, UnicodeDecodeError):
            pass
        copy = Path(tempfile.mkdtemp(prefix="racerl-worker-reward-")) / path.name
        copy.write_text(self.text, encoding="utf-8")
        return copy


class RolloutWorker:
    """The body of one Ray actor: one slice of the training cars in a batched simulator,
    with its own reward function (sandboxed if the config says so)."""

    def __init__(self, config: TrainConfig, reward: RewardFile, first_car: int, cars: int,
                 tracks: Sequence[Track], action_space: ActionSpace):
        # Ctrl-C at the terminal reaches every process of its group: it is the trainer's to
        # handle (stop, save, then close the workers), not a worker's to die of.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.reward = self.venv = None
        self.failure: Exception | None = None
        """Why the worker could not start: raised by its first call, where Ray passes the
        exception itself on (an error in an actor's ``__init__`` reaches the caller only
        as text), so that a broken reward function stays a RewardFunctionError."""
        try:
            self._start(config, reward, first_car, cars, tracks, action_space)
        except Exception as exc:
            self.failure = exc

    def _start(self, config: TrainConfig, reward: RewardFile, first_car: int, cars: int,
               tracks: Sequence[Track], action_space: ActionSpace) -> None:
        from racerl.reward.function import load_reward_function

        path = reward.local_path()
        if config.sandbox_reward:
            from racerl.reward.sandbox import load_sandboxed

            self.reward = load_sandboxed(path)
        else:
            self.reward = load_reward_function(path)
        self.venv = training_simulator(config, self.reward, first_car=first_car, cars=cars,
                                       tracks=tracks, action_space=action_space)

    def spaces(self) -> tuple:
        """One car's observation and action spaces (the learner's network is built from
        them); the first call, so it raises what kept the worker from starting."""
        if self.failure is not None:
            raise self.failure
        return self.venv.single_observation_space, self.venv.single_action_space

    def reset(self, seed: int | None) -> np.ndarray:
        obs, _ = self.venv.reset(seed=seed)
        return obs

    def step(self, actions: np.ndarray) -> SB3Step:
        return sb3_step(self.venv, actions)

    def attribute(self, name: str) -> object:
        return getattr(self.venv, name)

    def close(self) -> None:
        try:
            if self.venv is not None:
                self.venv.close()
        finally:
            if self.reward is not None:
                self.reward.close()  # the sandbox's process, if there is one


class RolloutWorkers(VecEnv):
    """``config.workers`` rollout workers as one stable-baselines3 VecEnv of all
    ``config.n_envs`` cars (see the module docstring). ``address``: the Ray cluster to
    run them on (None: a local Ray started here, and stopped again by :meth:`close`)."""

    def __init__(self, config: TrainConfig, reward_path: str | Path,
                 address: str | None = None):
        ray = ray_module()
        self._stop_ray = not ray.is_initialized()
        self.ray: ModuleType = connect(address, num_cpus=None if address
                                       else max(cores(), config.workers))
        self.slices = car_slices(config.n_envs, config.workers)
        self.actors: list = []
        self._pending: list | None = None
        self._seed: int | None = None
        try:
            observation_space, action_space = self._start(config, RewardFile.read(reward_path))
        except BaseException:
            self.close()
            raise
        super().__init__(config.n_envs, observation_space, action_space)

    def _start(self, config: TrainConfig, reward: RewardFile) -> tuple:
        """Create the actors, wait until each has built its simulator, and return one
        car's observation and action spaces."""
        ray = self.ray
        tracks = load_tracks(config.tracks, config.reverse_direction)
        actions = load_action_space(config.action_space)
        actor = ray.remote(RolloutWorker).options(
            num_cpus=1, scheduling_strategy="SPREAD", max_restarts=0,
            runtime_env={"env_vars": {"NUMBA_NUM_THREADS": str(WORKER_THREADS)}})
        self.actors = [actor.remote(config, reward, first, cars, tracks, actions)
                       for first, cars in self.slices]
        started = [a.spaces.remote() for a in self.actors]
        _, waiting = ray.wait(started, num_returns=len(started), timeout=START_TIMEOUT)
        if waiting:
            free = ray.available_resources().get("CPU", 0.0)
            raise WorkerError(f"{len(waiting)} of {len(started)} rollout workers did not start "
                              f"within {START_TIMEOUT:.0f} s: each needs a CPU of the Ray "
                              f"cluster, which has {free:g} free")
        return self._gather(started, "starting")[0]

    def _name(self, k: int) -> str:
        first, cars = self.slices[k]
        return (f"rollout worker {k + 1} of {len(self.slices)} "
                f"(cars {first}-{first + cars - 1})")

    def _gather(self, refs: list, doing: str) -> list:
        """The results of one call per worker, in worker order; a worker's failure is
        raised as its own racerl error (a broken reward function stays a
        RewardFunctionError) or as a :class:`WorkerError` naming the worker and its
        exception, and a dead worker as a WorkerError saying so."""
        from ray.exceptions import RayActorError, RayTaskError

        results = []
        for k, ref in enumerate(refs):
            try:
                results.append(self.ray.get(ref))
            except RayTaskError as exc:
                cause = exc.cause
                if isinstance(cause, RacerlError):
                    raise cause from None
                what = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
                raise WorkerError(f"{self._name(k)} failed {doing}: {_one_line(what)}") \
                    from None
            except RayActorError as exc:
                raise WorkerError(f"{self._name(k)} died {doing}: "
                                  f"{_one_line(_actor_death(exc))}") from None
        return results

    # -- the VecEnv interface ---------------------------------------------------------------

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def reset(self) -> np.ndarray:
        refs = [a.reset.remote(self._seed) for a in self.actors]
        self._seed = None
        return np.concatenate(self._gather(refs, "resetting"))

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions)
        self._pending = [a.step.remote(actions[first:first + cars])
                         for a, (first, cars) in zip(self.actors, self.slices, strict=True)]

    def step_wait(self):
        refs, self._pending = self._pending, None
        steps = self._gather(refs, "stepping")
        obs = np.concatenate([s[0] for s in steps])
        rewards = np.concatenate([s[1] for s in steps])
        dones = np.concatenate([s[2] for s in steps])
        infos = [info for s in steps for info in s[3]]
        return obs, rewards, dones, infos

    def close(self) -> None:
        """Close every worker (its simulator and reward sandbox), kill it, and stop the
        local Ray if this env started it; safe to call twice."""
        actors, self.actors = self.actors, []
        for actor in actors:
            try:
                self.ray.get(actor.close.remote(), timeout=CLOSE_TIMEOUT)
            except Exception:  # a dead or stuck worker: killing it is all there is to do
                pass
            finally:
                self.ray.kill(actor)
        if self._stop_ray:
            self._stop_ray = False
            disconnect()

    def get_attr(self, attr_name: str, indices=None) -> list:
        values = self._gather([a.attribute.remote(attr_name) for a in self.actors],
                              f"reading {attr_name!r}")
        per_car = [value for value, (_, cars) in zip(values, self.slices, strict=True)
                   for _ in range(cars)]
        return [per_car[i] for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        raise NotImplementedError("rollout workers' simulators are set up by their config")

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list:
        raise NotImplementedError("rollout workers' simulators are set up by their config")

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def _indices(self, indices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else indices


def _actor_death(exc: Exception) -> str:
    """Why a worker died: the exception its start raised if that was it, else Ray's
    account (killed, out of memory, its process gone)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    return getattr(exc, "error_msg", None) or str(exc)


def _one_line(text: str, limit: int = 400) -> str:
    return " ".join(str(text).split())[:limit]
