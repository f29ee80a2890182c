"""Rollout workers: what sharing the cars among Ray actors gains, and where it stops.

This is a benchmark, not a test: its figures depend on the machine and on whatever else
runs on it, and it never fails a build.

What is measured, for plain local training (every car in the trainer's process) and for 1,
2 and 4 Ray rollout workers on a local Ray (``racerl train --workers K``), with the same
total cars, seed and preset:

* rollout only: env steps per second of the simulator as the learner sees it, stepping
  every car with the same seeded random actions (no policy, no learning);
* training end to end: ``train()`` with evaluation laps during training every
  ``--eval-every`` iterations; env steps per second over the whole run, and the wall time
  and env steps to the first evaluation that finishes 3 of 3 laps without leaving the
  track, as in benchmarks/race_pace.py (the run stops there, or at ``--steps``: then "not
  reached within N steps"). Both include starting the workers and the evaluations.

The 1-worker row is the cost of Ray alone: the same simulator as local training, in another
process, with every step's observations and infos sent over. The peers run one after the
other in the same process, so that they see the same machine; the load average before and
after each is printed because on a shared machine it moves.

Usage
    .venv/bin/python benchmarks/ray_workers.py                       # racing preset, loop
    .venv/bin/python benchmarks/ray_workers.py --workers 2 4 --steps 40000
    .venv/bin/python benchmarks/ray_workers.py --rollout-only
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def config_for(workers: int, args) -> object:
    from racerl.model.config import TrainConfig, layered_config

    return layered_config(TrainConfig(), "racing", None,
                          {"track": args.track, "n_envs": args.cars, "seed": args.seed,
                           "workers": max(1, workers), "eval_every": args.eval_every})


def rollout_rate(workers: int, args) -> float:
    """Env steps per second of ``args.batches`` steps of every car, random actions."""
    from racerl.envs.sb3 import to_sb3
    from racerl.reward.function import load_reward_function, reward_file
    from racerl.train.simulator import training_simulator
    from racerl.train.workers import RolloutWorkers

    config = config_for(workers, args)
    path = reward_file(config.reward)
    env = (RolloutWorkers(config, path) if workers else
           to_sb3(training_simulator(config, load_reward_function(path))))
    try:
        env.seed(config.seed)
        env.reset()
        rng = np.random.default_rng(0)
        low, high = env.action_space.low, env.action_space.high
        actions = rng.uniform(low, high, size=(args.batches, env.num_envs, len(low)))
        for k in range(5):  # warm up (JIT, first frames)
            env.step_async(actions[k])
            env.step_wait()
        started = time.perf_counter()
        for batch in actions:
            env.step_async(batch)
            env.step_wait()
        return args.batches * env.num_envs / (time.perf_counter() - started)
    finally:
        env.close()


def clean(record: dict) -> bool:
    """A lap finished without leaving the track (evaluation rules put a car that leaves
    it back and let it go on, so a finished lap alone may hide resets)."""
    return bool(record["completed_lap"]) and not record.get("off_track")


def first_clean_evaluation(metrics: list[dict]) -> list[dict] | None:
    """The records of the first evaluation whose every lap is clean, if there is one."""
    groups: dict[int, list[dict]] = {}
    for m in metrics:
        if m["phase"] == "evaluation":
            groups.setdefault(m["evaluation"], []).append(m)
    return next((g for _, g in sorted(groups.items()) if all(map(clean, g))), None)


def training_run(workers: int, args) -> dict:
    """Train until the first clean 3/3 evaluation or the step budget; its figures."""
    from racerl.model.folder import model_folder
    from racerl.train.trainer import train

    config = config_for(workers, args)
    name = f"bench-{workers}"

    def stop_at_three_laps(progress) -> None:  # the metrics file is saved every iteration
        if progress.evaluations and first_clean_evaluation(model_folder(name).metrics()):
            signal.raise_signal(signal.SIGINT)  # stops at the next step, as Ctrl-C does

    started = time.time()
    # workers=0: plain local training; K >= 1: K Ray workers on the Ray started in main().
    result = train(name, config, steps=args.steps, on_iteration=stop_at_three_laps,
                   address="auto" if workers else None)
    wall = time.time() - started
    first = first_clean_evaluation(result.folder.metrics())
    return {"steps": result.progress.steps, "wall": wall,
            "rate": result.progress.steps / wall,
            "to_laps_s": None if first is None else first[0]["wall_time"] - started,
            "to_laps_steps": None if first is None else first[0]["num_timesteps"],
            "best_lap": None if first is None else min(m["lap_time"] for m in first)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cars", type=int, default=32, help="total cars (n_envs)")
    parser.add_argument("--track", default="loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batches", type=int, default=100,
                        help="steps of every car in the rollout-only measure")
    parser.add_argument("--steps", type=int, default=60_000, help="training budget")
    parser.add_argument("--eval-every", type=int, default=2,
                        help="iterations between evaluations during training")
    parser.add_argument("--rollout-only", action="store_true")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="racerl-bench-workers-")
    os.environ["RACERL_HOME"] = home
    from racerl.train.cluster import connect, disconnect
    from racerl.train.threads import cores

    connect(num_cpus=max(cores(), *args.workers))
    setups = [0, *args.workers]
    rows = []
    try:
        for workers in setups:
            load = os.getloadavg()[0]
            rate = rollout_rate(workers, args)
            run = None if args.rollout_only else training_run(workers, args)
            rows.append((workers, rate, run, load, os.getloadavg()[0]))
            name = "local" if workers == 0 else f"{workers} worker(s)"
            print(f"{name}: rollout {rate:.0f} steps/s"
                  + ("" if run is None else f", training {run['rate']:.0f} steps/s, "
                     f"3/3 laps at {run['to_laps_steps']} steps"), file=sys.stderr)
    finally:
        disconnect()
    print_table(rows, args)


def print_table(rows, args) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Ray rollout workers: {args.cars} cars, preset racing, {args.track}, "
                        f"seed {args.seed}, {os.cpu_count()} CPUs")
    for column in ("setup", "rollout steps/s", "training steps/s", "to first 3/3 laps",
                   "env steps to 3/3", "load avg before/after"):
        table.add_column(column, justify="left" if column == "setup" else "right")
    for workers, rate, run, before, after in rows:
        setup = "local (in process)" if workers == 0 else f"{workers} Ray worker" + \
            ("s" if workers > 1 else "")
        if run is None:
            cells = ("-", "-", "-")
        elif run["to_laps_s"] is None:
            cells = (f"{run['rate']:.0f}", f"not reached within {args.steps:,} steps", "-")
        else:
            cells = (f"{run['rate']:.0f}", f"{run['to_laps_s'] / 60:.1f} min",
                     f"{run['to_laps_steps']:,}")
        table.add_row(setup, f"{rate:.0f}", *cells, f"{before:.1f} / {after:.1f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
