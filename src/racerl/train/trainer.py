"""``racerl train``: stable-baselines3 PPO or SAC on the batched camera simulator.

The loop reads top to bottom: build the batched env from the config, build (or load) the
model, then let SB3 alternate rollouts and updates while :class:`Recorder` logs every step
(sim-trace rows with the user's own reward), every episode (training_metrics.json) and every
iteration (a checkpoint, atomically). Every ``eval_every`` iterations the policy drives
greedy evaluation laps in cars of its own (:mod:`racerl.train.evaluation`), and an evaluation
that beats the best so far rewrites checkpoints/best.zip. A time or step budget, Ctrl-C and
reward-function errors all end the run with the last checkpoint on disk; ``--resume``
continues from it (and from the best-so-far record) and ``--clone`` starts a new model from
another one's weights. A resume checks the checkpoint it continues from first: a
damaged one is named, with the previous checkpoint if it is usable.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

from racerl.camera.sensors import STEREO_CAMERAS
from racerl.envs.actions import load_action_space
from racerl.envs.sb3 import to_sb3
from racerl.errors import RacerlError, RewardFunctionError
from racerl.model.best_checkpoint import (
    EvalSummary,
    avg_eval_metric,
    beats,
    evaluation_summaries,
    summarise,
    training_episodes,
)
from racerl.model.config import TrainConfig
from racerl.model.folder import (
    DamagedFileError,
    GarageError,
    ModelFolder,
    check_can_create,
    create_model_folder,
    model_folder,
    named_model_folder,
    previous_checkpoint_note,
    remove_model_folder,
    save_best_checkpoint,
    save_checkpoint,
    training_lock,
    weights_problem,
    write_metrics,
)
from racerl.model.robomaker_log import (
    append_steps,
    resume_training_log,
    training_log,
    world_name,
)
from racerl.model.simtrace import (
    TRACK_COLUMNS,
    action_label,
    read_partial_block,
    trace_row,
    training_trace_path,
    write_simtrace,
)
from racerl.reward.function import load_reward_function, reward_file, watch_ctrl_c
from racerl.sim.state import Status
from racerl.sim.vehicle import CONTROL_DT
from racerl.train.evaluation import TrainingEvaluator, evaluation_records
from racerl.train.live_camera import LiveCamera
from racerl.train.policies import policy_setup
from racerl.train.simulator import training_simulator
from racerl.train.threads import ThreadTuner, cores, fixed_threads

INTERRUPTED = "interrupted (Ctrl-C)"
INFERENCE_DEVICE = "cpu"
"""Where a loaded model drives (evaluation, export, a clone's source weights): one small
batch per step runs fastest on the CPU, and every machine has one. Training and resuming
use the config's ``device``."""


@dataclass
class Progress:
    """What the live view shows; updated by the recorder."""

    iteration: int = 0
    episodes: int = 0
    steps: int = 0
    started: float = field(default_factory=time.time)
    elapsed_before: float = 0.0  # seconds trained before a resume
    recent: list[dict] = field(default_factory=list)  # last iteration's episodes
    best_lap: float | None = None
    evaluations: list[EvalSummary] = field(default_factory=list)  # during training, in order
    best_evaluation: EvalSummary | None = None  # the one checkpoints/best.zip holds

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.time() - self.started


class Recorder(BaseCallback):
    """Logs steps, episodes and iterations; saves checkpoints; enforces the budget.

    Sim-trace files group whole episodes the way DeepRacer does: file ``k`` holds episodes
    ``k*E .. (k+1)*E - 1`` in the order they ended, E = ``num_episodes_between_training``.
    deepracer-utils numbers episodes on exactly that assumption. The same steps go to the
    training log (DeepRacer's RoboMaker log) as each file is written. A run on several tracks
    adds a ``track`` column to its sim-traces and a ``track`` key to its episode metrics,
    naming the track each episode drove. PPO itself updates the
    policy every ``n_envs x rollout_steps`` steps; a checkpoint follows every update, and an
    evaluation every ``eval_every`` updates, before that update's checkpoint.
    """

    def __init__(self, folder: ModelFolder, config: TrainConfig, progress: Progress,
                 metrics: list[dict], deadline: float | None, max_steps: int | None,
                 on_iteration=None, evaluator: TrainingEvaluator | None = None):
        super().__init__()
        self.folder, self.config, self.progress = folder, config, progress
        self.metrics = metrics
        self.deadline, self.max_steps = deadline, max_steps
        self.on_iteration = on_iteration
        self.per_file = config.num_episodes_between_training
        self.multi_track = len(config.tracks) > 1
        self.car_rows: list[list[list]] = [[] for _ in range(config.n_envs)]
        self.block_rows = read_partial_block(folder.root, progress.episodes, self.per_file)
        self.log_path = training_log(folder.root)
        self.logged = len(self.block_rows)  # rows of block_rows the training log holds
        self.returns = np.zeros(config.n_envs)
        self.step_in_rollout = 0
        self.updates = 0
        self.pending_checkpoint = False
        self.evaluator = evaluator
        self.pending_evaluation = False
        self.rollouts = 0
        self.unevaluated = False  # the weights changed since the last evaluation
        self.stop_reason: str | None = None
        self.threads = ThreadTuner(fixed=fixed_threads())
        self.update_started: float | None = None
        self.live_camera = LiveCamera(
            folder.root, config.rgb, camera=config.sensors.camera,
            stereo=config.sensors.camera == STEREO_CAMERAS) \
            if config.observation == "camera" else None  # the web console's camera view

    def _on_rollout_end(self) -> None:
        # SB3 updates the policy next: with the thread count the tuner thinks fastest.
        self.threads.start()
        self.update_started = time.perf_counter()

    def _on_rollout_start(self) -> None:
        if self.update_started is not None:  # the update just finished
            self.threads.stop(time.perf_counter() - self.update_started)
            self.update_started = None
        # SB3 updates the policy between rollouts: after the first, the weights are new.
        self.unevaluated = self.unevaluated or self.rollouts > 0
        self.rollouts += 1
        if self.pending_evaluation:  # after the policy update of the finished rollout
            self.evaluate()
            self.pending_evaluation = False
        if self.pending_checkpoint:  # after the policy update of the finished rollout
            self.save()
            self.pending_checkpoint = False

    def _on_step(self) -> bool:
        infos, actions = self.locals["infos"], self.locals["actions"]
        dones = self.locals["dones"]
        for i, info in enumerate(infos):
            params, reward = info["params"], info["reward"]
            self.returns[i] += reward
            action = actions[i]  # continuous: the applied (clipped, mapped) steering and speed
            action = int(action) if np.ndim(action) == 0 else \
                action_label(params["steering_angle"], params["speed"])
            row = trace_row(0, params, action, reward, bool(dones[i]), info["status"])
            if self.multi_track:
                row.append(info["track"])
            self.car_rows[i].append(row)
            if dones[i]:
                self._episode_done(i, info, params)
        if self.live_camera is not None:
            self.live_camera.offer(self.locals["new_obs"])
        self.progress.steps = int(self.num_timesteps)
        self.step_in_rollout += 1
        if self.step_in_rollout >= self.config.rollout_steps:
            self.step_in_rollout = 0
            self.updates += 1
            self.pending_checkpoint = self.updates % self.config.checkpoint_every == 0
            self.pending_evaluation = self.evaluator is not None and \
                self.updates % self.config.eval_every == 0
            if self.on_iteration is not None:
                self.on_iteration(self.progress)
            self.progress.recent = self.progress.recent[-self.config.n_envs:]
        if self.stop_reason == INTERRUPTED:  # set by ctrl_c_stops
            return False
        if self.deadline is not None and time.time() >= self.deadline:
            self.stop_reason = "time budget reached"
        if self.max_steps is not None and self.num_timesteps >= self.max_steps:
            self.stop_reason = "step budget reached"
        return self.stop_reason is None

    def _episode_done(self, car: int, info: dict, params: dict) -> None:
        episode = self.progress.episodes  # 0-based, in the order episodes end
        for row in self.car_rows[car]:
            row[0] = episode
        self.block_rows.extend(self.car_rows[car])
        self.car_rows[car] = []
        lap_time = info.get("lap_time")
        self.metrics.append({
            "episode": episode + 1,
            "iteration": episode // self.per_file,
            "reward_score": round(float(self.returns[car])),
            "reward": float(self.returns[car]),
            "progress": float(params["progress"]),
            "steps": int(params["steps"]),
            "elapsed_time_in_milliseconds": round(params["steps"] * CONTROL_DT * 1000),
            "completed_lap": info["status"] == Status.LAP_COMPLETE,
            "lap_time": lap_time,
            "episode_status": info["status"],
            "phase": "training",
            "wall_time": time.time(),
            **({"track": info["track"]} if self.multi_track else {}),
        })
        if lap_time is not None and (self.progress.best_lap is None
                                     or lap_time < self.progress.best_lap):
            self.progress.best_lap = lap_time
        self.progress.recent.append(self.metrics[-1])
        self.progress.episodes += 1
        self.returns[car] = 0.0
        if self.progress.episodes % self.per_file == 0:
            self._write_block()
            self.block_rows, self.logged = [], 0
        self.progress.iteration = self.progress.episodes // self.per_file

    def _write_block(self) -> None:
        """The current iteration's sim-trace file (rewritten whole), then its steps not
        yet in the training log (appended)."""
        block = (self.progress.episodes - 1) // self.per_file
        write_simtrace(training_trace_path(self.folder.root, block), self.block_rows,
                       TRACK_COLUMNS if self.multi_track else ())
        if self.log_path is not None:
            append_steps(self.log_path, self.block_rows[self.logged:])
            self.logged = len(self.block_rows)

    def evaluate(self) -> EvalSummary:
        """Drive the evaluation laps with the current policy; record them (metrics,
        TensorBoard, the live view) and keep the weights when they are the best so far."""
        started = time.perf_counter()
        episodes = self.evaluator.drive(self.model)
        seconds = time.perf_counter() - started
        progress, metric = self.progress, self.config.best_model_metric
        earlier = [*progress.evaluations, progress.best_evaluation]
        number = 1 + max((e.evaluation for e in earlier if e is not None), default=0)
        records = evaluation_records(
            episodes, evaluation=number, episode=progress.episodes,
            iteration=progress.iteration, num_timesteps=int(self.num_timesteps),
            seconds=seconds, wall_time=time.time(), tracks=self.evaluator.track_names())
        self.metrics.extend(records)
        summary = summarise(records)
        progress.evaluations.append(summary)
        self.unevaluated = False
        if beats(summary, progress.best_evaluation, metric):
            save_best_checkpoint(self.folder, self.model, {
                **summary.to_json(), "metric": metric,
                "avg_eval_metric": avg_eval_metric(summary, metric)})
            progress.best_evaluation = summary
        self._log_evaluation(summary)
        return summary

    def _log_evaluation(self, summary: EvalSummary) -> None:
        """TensorBoard scalars of an evaluation, written at once at the current step."""
        log = self.logger
        log.record("eval/completion", summary.completion)
        log.record("eval/laps_completed", summary.laps)
        if summary.mean_lap is not None:
            log.record("eval/mean_lap_time", summary.mean_lap)
        best = self.progress.best_evaluation
        if best is not None and best.mean_lap is not None:
            log.record("eval/best_checkpoint_mean_lap_time", best.mean_lap)
        log.record("eval/seconds", summary.seconds)
        log.dump(int(self.num_timesteps))

    def evaluate_unevaluated(self) -> None:
        """Evaluate the final weights if the policy was updated since the last evaluation,
        so that the best checkpoint of a finished run has seen its last policy."""
        if self.evaluator is not None and self.unevaluated:
            self.evaluate()

    def save(self) -> None:
        """Checkpoint the weights, the episodes so far and the bookkeeping to resume them."""
        if self.block_rows:
            self._write_block()
        write_metrics(self.folder, self.metrics, self.per_file, self.config.best_model_metric)
        recent = training_episodes(self.metrics[-50:])
        state = {"iteration": self.progress.iteration, "num_timesteps": int(self.num_timesteps),
                 "episodes": self.progress.episodes, "metrics_count": len(self.metrics),
                 "elapsed_seconds": self.progress.elapsed,
                 "mean_progress": float(np.mean([m["progress"] for m in recent]))
                 if recent else 0.0}
        normalizer = self.model.get_env() if self.config.normalize_reward else None
        save_checkpoint(self.folder, self.model, state, normalizer)


def build_env(config: TrainConfig, reward, normalizer: Path | None = None,
              reward_path: Path | None = None, address: str | None = None):
    """The SB3 view of the batched simulator for this config and loaded reward function
    (``normalizer``: saved reward scaling statistics of a resumed run). With
    ``config.workers`` > 1, or an ``address`` of a Ray cluster, the cars are simulated by
    that many Ray rollout workers (:mod:`racerl.train.workers`), each loading the reward
    file ``reward_path`` itself."""
    if config.workers > 1 or address is not None:
        from racerl.train.workers import RolloutWorkers

        if reward_path is None:
            raise ValueError("rollout workers load the reward function from its file")
        venv = RolloutWorkers(config, reward_path, address)
    else:
        venv = to_sb3(training_simulator(config, reward))
    env = VecMonitor(venv)
    if config.normalize_reward:
        if normalizer is not None and normalizer.is_file():
            try:
                return VecNormalize.load(str(normalizer), env)
            except Exception as exc:  # a damaged pickle raises whatever unpickling hit
                env.close()  # rollout workers go with it
                raise DamagedFileError(normalizer, f"damaged: does not load ({type(exc).__name__}"
                                                   f": {' '.join(str(exc).split())[:200]})") \
                    from None
        env = VecNormalize(env, norm_obs=False, norm_reward=True, gamma=config.discount_factor)
    return env


def build_model(config: TrainConfig, env, log_dir: Path):
    """A fresh SB3 PPO or SAC model; every hyperparameter comes from ``config``."""
    sensors = config.sensors
    policy, kwargs = policy_setup(config.network, config.mlp_layers, sensors.camera,
                                  sensors.lidar)
    common = {"learning_rate": config.learning_rate, "batch_size": config.batch_size,
              "gamma": config.discount_factor, "policy_kwargs": kwargs, "seed": config.seed,
              "device": config.device, "verbose": 0, "tensorboard_log": str(log_dir)}
    if config.algorithm == "ppo":
        return PPO(policy, env, n_steps=config.rollout_steps, n_epochs=config.num_epochs,
                   ent_coef=config.entropy, gae_lambda=config.gae_lambda,
                   clip_range=config.clip_range, vf_coef=config.value_coef,
                   max_grad_norm=config.max_grad_norm, **common)
    if not hasattr(env.action_space, "low"):
        raise RacerlError("algorithm 'sac' needs a continuous action space "
                          "(action_space_type: continuous in model_metadata.json)")
    learning_starts = (config.batch_size if config.learning_starts is None
                       else config.learning_starts)
    return SAC(policy, env, ent_coef=config.sac_alpha, buffer_size=config.buffer_size,
               learning_starts=learning_starts, tau=config.tau, train_freq=config.train_freq,
               gradient_steps=config.gradient_steps, **common)


def load_model(config: TrainConfig, path: Path, env, device: str = INFERENCE_DEVICE):
    """A saved PPO or SAC model (the algorithm from ``config``) on ``device``; a damaged
    file is a :class:`DamagedFileError`, one that does not fit the config a GarageError."""
    problem = weights_problem(path)
    if problem is not None:
        raise DamagedFileError(path, problem)
    cls = PPO if config.algorithm == "ppo" else SAC
    try:
        return cls.load(path, env=env, device=device)
    except Exception as exc:  # SB3 and torch raise many types for a file they cannot use
        first = " ".join(str(exc).split())[:200]
        raise GarageError(f"{path}: does not load as the {config.algorithm.upper()} model "
                          f"its config.yaml describes ({type(exc).__name__}: {first})") \
            from None


@dataclass
class TrainResult:
    folder: ModelFolder
    progress: Progress
    stop_reason: str


def train(name: str, config: TrainConfig | None, minutes: float | None = None,
          steps: int | None = None, clone: str | None = None, resume: bool = False,
          reward: str | Path | None = None, force: bool = False,
          on_iteration=None, address: str | None = None) -> TrainResult:
    """Train (or resume, or clone into) model ``name``; returns when the budget is spent.

    ``name`` is a name, never a path: the model lives in ``$RACERL_HOME/models/<name>/``.
    The run holds the model's lock through its checks, the replacement and every write, so
    a second run of the same model is refused rather than interleaved. Everything the run needs is
    checked before anything is written; ``force`` replaces an existing model of the same
    name (a model only, never other files), but only once the new run has started cleanly.
    """
    if (minutes is not None and not minutes > 0) or (steps is not None and not steps > 0):
        raise RacerlError("the training budget must be positive (--minutes or --steps)")
    torch.set_num_threads(fixed_threads() or cores())
    folder = named_model_folder(name)
    if resume and not folder.exists():
        raise RacerlError(f"no model {name!r} to resume (nothing at {folder.root})")
    with training_lock(folder):  # to the last write: no second run of this model meanwhile
        return _train_locked(folder, config, minutes, steps, clone, resume, reward, force,
                             on_iteration, address)


def _train_locked(folder, config, minutes, steps, clone, resume, reward, force,
                  on_iteration, address) -> TrainResult:
    """:func:`train` once it holds the model's lock."""
    if resume:
        # The folder is self-contained: its own action space and reward copy.
        config = folder.config().replace(action_space=str(folder.metadata_path))
        reward_source = folder.reward_path
        check_resumable(folder)
    else:
        check_can_create(folder, force)
        reward_source = reward_file(reward if reward is not None else config.reward)
        if not config.sandbox_reward:  # untrusted code is only ever run in the sandbox
            load_reward_function(reward_source)  # a broken reward fails before any write
        config = config.replace(track=_absolute_track_paths(config.track))
    source = model_folder(clone) if clone else None
    if source is not None and not source.checkpoint_path.is_file():
        raise RacerlError(f"cannot clone {clone!r}: {source.root} has no checkpoint")
    with watch_ctrl_c():  # a reward's own KeyboardInterrupt is its error; Ctrl-C is not
        if config.sandbox_reward:
            from racerl.reward.sandbox import load_sandboxed

            reward_function = load_sandboxed(reward_source)
        else:
            reward_function = load_reward_function(reward_source)
        try:
            return _run(config, folder, reward_source, reward_function, minutes, steps,
                        source, resume, on_iteration, address)
        finally:
            reward_function.close()  # the sandbox's worker process, if there is one


def _absolute_track_paths(track: str | list[str]) -> str | list[str]:
    """``track`` with each .npy file path made absolute (names stay names), so that the
    model folder's config finds its tracks from anywhere."""
    def absolute(entry: str) -> str:
        path = Path(entry).expanduser()
        return str(path.resolve()) if path.suffix == ".npy" and path.is_file() else entry

    return absolute(track) if isinstance(track, str) else [absolute(t) for t in track]


def check_resumable(folder: ModelFolder) -> None:
    """Check everything a resume reads before anything is written: the latest checkpoint's
    weights and state, and the episode records. A damaged file is an error naming it and,
    for the checkpoint, whether the previous one is usable (the weights are loaded later;
    a file that passes these checks but still fails to load gets the same message)."""
    if not folder.checkpoint_path.is_file():
        note = (f"; {previous_checkpoint_note(folder)}" if folder.previous.directory.is_dir()
                else "; start it again with --force")
        raise GarageError(f"{folder.root}: nothing to resume (no checkpoint){note}")
    try:
        folder.latest.check()
    except DamagedFileError as exc:
        raise GarageError(f"cannot resume: {exc}; {previous_checkpoint_note(folder)}") \
            from None
    try:
        folder.metrics()
    except DamagedFileError as exc:
        raise GarageError(f"cannot resume: {exc}; resuming would overwrite it, so repair it "
                          "or move it away (the records of earlier episodes go with it)") \
            from None


def _run(config, folder, reward_source, reward_function, minutes, steps, source,
         resume, on_iteration, address) -> TrainResult:
    """The training run itself, once its settings and reward function are in hand. The
    env is closed however the run ends (rollout workers stopped, their Ray too if the run
    started it)."""
    try:
        env = build_env(config, reward_function, folder.normalizer_path if resume else None,
                        reward_path=reward_source, address=address)
    except DamagedFileError as exc:
        raise GarageError(f"cannot resume: {exc}; {previous_checkpoint_note(folder)}") \
            from None
    with contextlib.closing(env):
        return _run_in(env, config, folder, reward_source, minutes, steps, source, resume,
                       on_iteration)


def _run_in(env, config, folder, reward_source, minutes, steps, source, resume,
            on_iteration) -> TrainResult:
    """:func:`_run` in its env."""
    if resume:
        state = folder.state()
        try:
            model = load_model(config, folder.checkpoint_path, env, device=config.device)
        except DamagedFileError as exc:
            raise GarageError(f"cannot resume: {exc}; {previous_checkpoint_note(folder)}") \
                from None
        resume_training_log(folder.root, world_name(config.track), state["episodes"],
                            config.num_episodes_between_training)
        metrics = folder.metrics()[: state["metrics_count"]]
        best = folder.best_record()
        progress = Progress(iteration=state["iteration"], episodes=state["episodes"],
                            steps=state["num_timesteps"],
                            elapsed_before=state.get("elapsed_seconds", 0.0),
                            evaluations=evaluation_summaries(metrics),
                            best_evaluation=EvalSummary.from_json(best) if best else None)
    else:
        model = build_model(config, env, folder.logs_dir)
        if source is not None:
            _copy_weights(model, source, config)
        metrics, progress = [], Progress()
        # Only now, with the model built, does the folder appear: a bad start leaves nothing.
        remove_model_folder(folder)  # --force: the old model (only a model) goes now
        create_model_folder(folder, config, reward_source, load_action_space(config.action_space))
    deadline = time.time() + 60 * minutes if minutes else None
    max_steps = (progress.steps + steps) if steps else None
    evaluator = TrainingEvaluator(config) if config.eval_every > 0 else None
    recorder = Recorder(folder, config, progress, metrics, deadline, max_steps, on_iteration,
                        evaluator)
    recorder.model = model  # so that a Ctrl-C before the first step can still save
    stop_reason = "finished"
    try:
        # The watch goes inside ctrl_c_stops, so that it sees every Ctrl-C first.
        with ctrl_c_stops(recorder), watch_ctrl_c():
            model.learn(total_timesteps=steps if steps else 10**12, callback=recorder,
                        reset_num_timesteps=not resume, tb_log_name="train")
        stop_reason = recorder.stop_reason or "finished"
        if stop_reason != INTERRUPTED:
            recorder.evaluate_unevaluated()
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the first step
        stop_reason = INTERRUPTED
    except RewardFunctionError:
        raise  # the last checkpoint stays as it was: nothing trained on a broken reward
    recorder.save()
    logger = getattr(model, "_logger", None)  # SB3's TensorBoard writer: flush and close it
    if logger is not None:  # now, so that no writer thread outlives an interrupted run
        logger.close()
    return TrainResult(folder, progress, stop_reason)


@contextlib.contextmanager
def ctrl_c_stops(recorder: Recorder):
    """While training, the first Ctrl-C asks the run to stop at the next step (it then
    saves and returns normally); a second one interrupts at once.

    A KeyboardInterrupt raised at an arbitrary point could leave a library's lock held (a
    TensorBoard writer, a thread pool) and hang the save; a flag checked between steps
    cannot. Only the main thread may install signal handlers, so elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_ctrl_c(signum, frame):
        recorder.stop_reason = INTERRUPTED
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _copy_weights(model, source: ModelFolder, config: TrainConfig) -> None:
    """Start from another model's trained weights (DeepRacer's clone)."""
    src_cfg = source.config()
    if (src_cfg.network, src_cfg.observation, src_cfg.rgb, src_cfg.frame_stack,
            src_cfg.sensors) != (config.network, config.observation, config.rgb,
                                 config.frame_stack, config.sensors):
        raise RacerlError(f"cannot clone {source.name!r}: its network/observation differ "
                          "from this config's")
    if src_cfg.algorithm != config.algorithm:
        raise RacerlError(f"cannot clone {source.name!r}: it was trained with "
                          f"{src_cfg.algorithm}, not {config.algorithm}")
    trained = load_model(src_cfg, source.checkpoint_path, None)
    try:
        model.policy.load_state_dict(trained.policy.state_dict())
    except RuntimeError:
        raise RacerlError(f"cannot clone {source.name!r}: its action space differs") from None


def load_policy(name: str, checkpoint: str = "best"):
    """A greedy policy function ``obs -> action`` from a model folder's ``checkpoint``
    (``best`` or ``last``; see :meth:`ModelFolder.checkpoint`), and the model's config."""
    folder = model_folder(name)
    config = folder.config().replace(action_space=str(folder.metadata_path))
    model = load_model(config, folder.checkpoint(checkpoint).path, None)

    def policy(obs):
        action, _ = model.predict(obs, deterministic=True)
        return action

    return policy, config


def summary_line(progress: Progress) -> str:
    recent = progress.recent

    def mean(key: str) -> float:
        return float(np.mean([m[key] for m in recent])) if recent else math.nan

    laps = 100.0 * float(np.mean([m["completed_lap"] for m in recent])) if recent else math.nan
    best = f"{progress.best_lap:.2f}s" if progress.best_lap else "-"
    if not recent:
        return (f"iteration {progress.iteration:4d}  episodes {progress.episodes:6d}  "
                "(no episode ended yet)")
    return (f"iteration {progress.iteration:4d}  episodes {progress.episodes:6d}  "
            f"reward {mean('reward'):8.1f}  progress {mean('progress'):5.1f}%  "
            f"laps {laps:5.1f}%  best lap {best}  "
            f"{progress.steps / max(progress.elapsed, 1e-9):6.0f} steps/s"
            f"{evaluation_line(progress)}")


def evaluation_line(progress: Progress) -> str:
    """``  eval 3/3, best 8.41 s``: the last evaluation's laps and the best checkpoint's
    mean lap (its completion while it has no lap); empty before the first evaluation."""
    if not progress.evaluations:
        return ""
    last, best = progress.evaluations[-1], progress.best_evaluation
    text = f"  eval {last.laps}/{last.trials}"
    if best is not None:
        text += (f", best {best.mean_lap:.2f} s" if best.mean_lap is not None
                 else f", best {best.completion:.1f} %")
    return text


def progress_table(progress: Progress, minutes: float | None):
    """The live training view: a rich table of the run so far."""
    from rich.table import Table

    recent = progress.recent
    table = Table(title="racerl training", show_header=False)
    elapsed = progress.elapsed
    remaining = f"{max(0.0, 60 * minutes - elapsed) / 60:.1f} min" if minutes else "-"
    laps = (100.0 * float(np.mean([m["completed_lap"] for m in recent]))) if recent else 0.0
    rows = [
        ("iteration", str(progress.iteration)),
        ("episodes", str(progress.episodes)),
        ("mean reward", f"{np.mean([m['reward'] for m in recent]):.1f}" if recent else "-"),
        ("mean progress", f"{np.mean([m['progress'] for m in recent]):.1f} %"
         if recent else "-"),
        ("laps completed", f"{laps:.0f} %"),
        ("best lap", f"{progress.best_lap:.2f} s" if progress.best_lap else "-"),
        ("last evaluation", f"#{progress.evaluations[-1].evaluation}: "
                            f"{progress.evaluations[-1].describe()}"
         if progress.evaluations else "-"),
        ("best checkpoint", f"evaluation #{progress.best_evaluation.evaluation}: "
                            f"{progress.best_evaluation.describe()}"
         if progress.best_evaluation else "-"),
        ("steps/s", f"{progress.steps / max(elapsed, 1e-9):.0f}"),
        ("elapsed", f"{elapsed / 60:.1f} min"),
        ("remaining", remaining),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table
