"""Training throughput: env steps/s of ``racerl train`` as a share of the raw simulator's.

What is measured
    For one training setup (default: ``--preset racing`` on ``loop``, its 32 cars):

    * **raw**: the same batched env that training builds (camera frames, the reward function
      called for every car, auto-resets), stepped with random actions and no policy;
    * **train**: ``racerl train`` itself (PPO rollouts, updates, sim-traces, metrics,
      checkpoints; no in-training evaluations, so that every second is training), counted
      from the end of its first iteration (Numba's compiles and the first checkpoint are
      warm-up) to the end of the run;
    * where a training second goes: stepping the env (simulation, camera, reward calls), the
      policy's forward passes during rollouts, the PPO updates, and the rest (SB3's rollout
      buffer, racerl's trace rows, checkpoints);

    each idle and with one busy process beside it (``python -c "while True: pass"`` at the
    same priority: a browser tab or a compile on a shared laptop). The table gives training
    as a share of raw at the same batch size and the slowdown that the busy process causes.

How
    Every row runs in a fresh Python process (``--one``), so thread pools and JIT state
    start clean, as they do for a user. Thread counts are racerl's own choice unless
    ``--torch-threads``/``--numba-threads`` force them (to compare against the old
    behaviour: both at the core count).

Usage
    .venv/bin/python benchmarks/train_throughput.py                 # rich table
    .venv/bin/python benchmarks/train_throughput.py --steps 65536 --raw-seconds 10
    .venv/bin/python benchmarks/train_throughput.py --torch-threads 2 --numba-threads 2
    .venv/bin/python benchmarks/train_throughput.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY = "while True: pass"


def _child_env(args) -> dict[str, str]:
    env = dict(os.environ)
    if args.numba_threads:
        env["NUMBA_NUM_THREADS"] = str(args.numba_threads)
    if args.torch_threads:
        env["OMP_NUM_THREADS"] = str(args.torch_threads)  # racerl.train.threads keeps it
    return env


def _config(track: str, preset: str | None, n_envs: int | None):
    from racerl.model.config import TrainConfig, layered_config

    overrides: dict = {"track": track, "eval_every": 0}
    if n_envs:
        overrides["n_envs"] = n_envs
    return layered_config(TrainConfig(), preset=preset, overrides=overrides)


def measure_raw(track: str, preset: str | None, n_envs: int | None, seconds: float) -> dict:
    """Env steps/s of training's own env under random actions (no policy, no learning)."""
    import numpy as np

    from racerl.reward.function import load_reward_function
    from racerl.train import trainer

    config = _config(track, preset, n_envs)
    build_env = trainer.build_env
    env = build_env(config, load_reward_function(config.reward))
    env.reset()
    rng = np.random.default_rng(0)
    space = env.action_space

    def actions():
        if hasattr(space, "low"):
            return rng.uniform(space.low, space.high, (config.n_envs, *space.shape)) \
                .astype(np.float32)
        return rng.integers(0, space.n, config.n_envs)

    for _ in range(200):  # warm-up: compiles, the first resets
        env.step(actions())
    batches, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        env.step(actions())
        batches += 1
    elapsed = time.perf_counter() - started
    env.close()
    return {"steps_per_s": batches * config.n_envs / elapsed, "n_envs": config.n_envs}


def measure_train(track: str, preset: str | None, n_envs: int | None, steps: int) -> dict:
    """Env steps/s of a real training run after its first iteration, and where time goes."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.policies import ActorCriticPolicy

    from racerl.envs.vector import RacerVectorEnv
    from racerl.train import trainer

    spent = {"env": 0.0, "inference": 0.0, "updates": 0.0}

    def timed(owner, name: str, key: str):
        original = getattr(owner, name)

        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                spent[key] += time.perf_counter() - started
        setattr(owner, name, wrapper)

    timed(RacerVectorEnv, "step", "env")
    timed(PPO, "train", "updates")
    timed(ActorCriticPolicy, "forward", "inference")  # rollouts only: updates don't call it
    marks: list[tuple[float, int, dict]] = []

    def on_iteration(progress):
        marks.append((time.perf_counter(), progress.steps, dict(spent)))

    config = _config(track, preset, n_envs)
    os.environ["RACERL_HOME"] = tempfile.mkdtemp(prefix="racerl-bench-")
    trainer.train("bench", config, steps=steps, force=True, on_iteration=on_iteration)
    if len(marks) < 3:
        raise SystemExit(f"--steps {steps} is too few: need 3 iterations of "
                         f"{config.n_envs * config.rollout_steps} steps")
    (t0, s0, p0), (t1, s1, p1) = marks[0], marks[-1]
    # The first update follows mark 0, the last one's follows mark -1: count whole
    # iterations, each from one update's end to the next's, with the update time attributed.
    seconds = t1 - t0
    share = {k: (p1[k] - p0[k]) / seconds for k in spent}
    share["other"] = max(0.0, 1.0 - sum(share.values()))
    return {"steps_per_s": (s1 - s0) / seconds, "seconds": seconds, "steps": s1 - s0,
            "time_share": share, "n_envs": config.n_envs}


def run_one(kind: str, args) -> dict:
    """Run one measurement in a fresh process, with or without a busy neighbour."""
    command = [sys.executable, __file__, "--one", kind, "--track", args.track,
               "--steps", str(args.steps), "--raw-seconds", str(args.raw_seconds)]
    if args.preset:
        command += ["--preset", args.preset]
    if args.n_envs:
        command += ["--n-envs", str(args.n_envs)]
    busy = subprocess.Popen([sys.executable, "-c", BUSY]) if kind.endswith("-busy") else None
    try:
        out = subprocess.run(command, env=_child_env(args), capture_output=True, text=True,
                             check=False)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="loop")
    parser.add_argument("--preset", default="racing", help="a train preset, or '' for none")
    parser.add_argument("--n-envs", type=int, default=None)
    parser.add_argument("--steps", type=int, default=40960, help="env steps of each training")
    parser.add_argument("--raw-seconds", type=float, default=8.0)
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--numba-threads", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    preset = args.preset or None
    if args.one:
        if args.one.startswith("raw"):
            result = measure_raw(args.track, preset, args.n_envs, args.raw_seconds)
        else:
            result = measure_train(args.track, preset, args.n_envs, args.steps)
        print(json.dumps(result))
        return

    results = {kind: run_one(kind, args) for kind in ("raw", "train", "raw-busy", "train-busy")}
    threads = (f"torch {args.torch_threads or 'auto'}, numba {args.numba_threads or 'auto'}")
    if args.json:
        print(json.dumps({"threads": threads, "cores": os.cpu_count(), **results}, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"racerl train throughput: {args.track}, preset {preset}, "
                        f"{results['raw']['n_envs']} cars, {os.cpu_count()} cores, {threads}")
    for column in ("", "raw env steps/s", "train env steps/s", "train / raw",
                   "env", "inference", "updates", "other"):
        table.add_column(column, justify="right")
    for load in ("idle", "busy"):
        suffix = "" if load == "idle" else "-busy"
        raw, trained = results["raw" + suffix], results["train" + suffix]
        share = trained["time_share"]
        table.add_row(load, f"{raw['steps_per_s']:,.0f}", f"{trained['steps_per_s']:,.0f}",
                      f"{trained['steps_per_s'] / raw['steps_per_s']:.0%}",
                      *(f"{share[k]:.0%}" for k in ("env", "inference", "updates", "other")))
    Console().print(table)
    slow_raw = results["raw"]["steps_per_s"] / results["raw-busy"]["steps_per_s"]
    slow_train = results["train"]["steps_per_s"] / results["train-busy"]["steps_per_s"]
    print(f"slowdown with one busy process beside it: raw {slow_raw:.2f}x, "
          f"train {slow_train:.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
