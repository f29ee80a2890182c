"""Simulator throughput: env steps per second and peak memory, racerl against CarRacing-v3.

What is measured
    Env steps per second with the default CAMERA observation (120x160 grey) and random
    actions, the default reward function (DeepRacer's follow-centre-line example) called on
    every step, for one :func:`racerl.make_env` env, :func:`racerl.make_vec_env` batches of
    16, 64 and 256 cars (and 256 cars with ``lighting="random"``), and, in the same run, the
    peer Gymnasium ``CarRacing-v3`` (96x96 RGB pixels, random actions), one env and a
    synchronous ``gymnasium.make_vec`` of 8. An env step is one car advanced by one step, so
    a batch step of 256 cars counts 256 env steps. Episode ends are part of the work: the
    single envs are reset when terminated or truncated, the vector envs auto-reset ended
    cars inside ``step``.

How
    Every configuration runs in its own fresh Python process
    (``python benchmarks/sim_throughput.py --one CONFIG``). The child builds the env, resets
    it, warms up (at least ``--warmup`` steps and, for racerl, until an episode has ended
    once, so Numba JIT compilation of the step and reset paths is excluded), then steps with
    pre-drawn random actions for a fixed wall time (``--seconds``, default 5 s) and counts
    steps. At the end it reads ``resource.getrusage(RUSAGE_SELF).ru_maxrss``; a baseline
    child that only imports the same packages and builds nothing is subtracted, and the
    difference is divided by the number of envs. Peak memory includes whatever the env
    needed on the way (Numba compiles, or loads its on-disk cache, while warming up).

Usage
    .venv/bin/python benchmarks/sim_throughput.py               # rich table
    .venv/bin/python benchmarks/sim_throughput.py --json        # the same figures as JSON
    .venv/bin/python benchmarks/sim_throughput.py --profile     # cProfile of batch 256
    .venv/bin/python benchmarks/sim_throughput.py --configs single batch256 --seconds 2
    .venv/bin/python benchmarks/sim_throughput.py --repeat 3 --numba-threads 1

The machine is often shared: each row records how much CPU other processes took while it
was timed (``other_cpus`` in the JSON; ``*`` in the table when it is 0.2 CPU or more), and
``--repeat N`` keeps the fastest of N runs.

The peer needs ``gymnasium[box2d]`` (the project's ``bench`` extra); without it the
CarRacing rows say so instead of failing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TRACK = "loop"
SEED = 0
N_ACTIONS = 10  # racerl's default action space: Discrete(10)
ACTION_POOL = 4096  # pre-drawn random actions, cycled through
TARGET_BATCHED = 20_000
TARGET_SINGLE = 2_000
SCRIPT = Path(__file__).resolve()
CONTENDED_CPUS = 0.2  # flag a row when other processes took this many CPUs while it ran


@dataclass(frozen=True)
class Config:
    """One benchmarked configuration."""

    label: str
    family: str  # "racerl" or "carracing": which baseline process it is measured against
    envs: int
    vector: bool
    kwargs: dict[str, Any] = field(default_factory=dict)


CONFIGS: dict[str, Config] = {
    "single": Config("racerl make_env", "racerl", 1, vector=False),
    "batch16": Config("racerl make_vec_env(16)", "racerl", 16, vector=True),
    "batch64": Config("racerl make_vec_env(64)", "racerl", 64, vector=True),
    "batch256": Config("racerl make_vec_env(256)", "racerl", 256, vector=True),
    "batch256-light": Config("racerl make_vec_env(256), lighting=random", "racerl", 256,
                             vector=True, kwargs={"lighting": "random"}),
    "carracing": Config("CarRacing-v3 make", "carracing", 1, vector=False),
    "carracing-vec8": Config("CarRacing-v3 make_vec(8, sync)", "carracing", 8, vector=True),
}
BASELINES = {"racerl": "baseline-racerl", "carracing": "baseline-carracing"}


class PeerUnavailableError(RuntimeError):
    """CarRacing-v3 cannot be built (box2d or pygame missing)."""


# --------------------------------------------------------------------------- child side


def _import_family(family: str) -> None:
    """Import what a configuration of ``family`` imports, and build nothing."""
    import gymnasium

    if family == "racerl":
        # ``import racerl`` is lazy: load what make_env and make_vec_env load (Numba, the
        # camera, the simulator), so that the baseline holds everything but the envs.
        import racerl.envs.single
        import racerl.envs.vector  # noqa: F401
    else:
        try:
            import gymnasium.envs.box2d.car_racing
        except (ImportError, gymnasium.error.DependencyNotInstalled) as exc:
            raise PeerUnavailableError(str(exc)) from exc


def _build(cfg: Config) -> tuple[Any, Callable[[int], Any], bool]:
    """The env, a function from step index to (pre-drawn) action, and whether it is a vector env."""
    import gymnasium as gym

    _import_family(cfg.family)
    rng = np.random.default_rng(SEED)
    if cfg.family == "racerl":
        import racerl

        if cfg.vector:
            env = racerl.make_vec_env(cfg.envs, track=TRACK, seed=SEED, **cfg.kwargs)
            pool = rng.integers(0, N_ACTIONS, size=(ACTION_POOL, cfg.envs))
        else:
            env = racerl.make_env(track=TRACK, seed=SEED, **cfg.kwargs)
            env.action_space.seed(SEED)
            pool = [env.action_space.sample() for _ in range(ACTION_POOL)]
    else:
        try:
            if cfg.vector:
                env = gym.make_vec("CarRacing-v3", num_envs=cfg.envs,
                                   vectorization_mode="sync")
            else:
                env = gym.make("CarRacing-v3")
        except (ImportError, gym.error.DependencyNotInstalled) as exc:
            raise PeerUnavailableError(str(exc)) from exc
        env.action_space.seed(SEED)
        pool = [env.action_space.sample() for _ in range(ACTION_POOL)]
    env.reset(seed=SEED)
    return env, lambda i: pool[i % ACTION_POOL], cfg.vector


def _run_steps(env: Any, action: Callable[[int], Any], vector: bool, *, min_steps: int = 0,
               seconds: float = 0.0, until_episode_end: bool = False,
               max_steps: int = 5_000) -> tuple[int, float]:
    """Step ``env``; return (batch steps, elapsed seconds).

    Runs at least ``min_steps`` steps and ``seconds`` of wall time; with
    ``until_episode_end`` also until some episode has ended (at most ``max_steps``).
    """
    steps, ended = 0, not until_episode_end
    start = now = time.perf_counter()
    while steps < min_steps or now - start < seconds or (not ended and steps < max_steps):
        _, _, terminated, truncated, _ = env.step(action(steps))
        steps += 1
        if vector:
            ended = ended or bool(np.any(terminated) or np.any(truncated))
        elif terminated or truncated:
            ended = True
            env.reset()
        now = time.perf_counter()
    return steps, now - start


def _machine_busy_s() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux ``/proc/stat``), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is in user


def _max_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(name: str, seconds: float, warmup: int) -> dict[str, Any]:
    """Measure one configuration (or a baseline) in this process; a JSON-able dict."""
    if name in BASELINES.values():
        family = name.removeprefix("baseline-")
        try:
            _import_family(family)
        except PeerUnavailableError as exc:
            return {"config": name, "error": str(exc)}
        return {"config": name, "max_rss_mb": _max_rss_mb()}
    cfg = CONFIGS[name]
    try:
        env, action, vector = _build(cfg)
    except PeerUnavailableError as exc:
        return {"config": name, "error": "not run: CarRacing-v3 needs box2d and pygame "
                f"(pip install 'gymnasium[box2d]'): {exc}"}
    warm_steps, warm_s = _run_steps(env, action, vector, min_steps=warmup,
                                    until_episode_end=cfg.family == "racerl")
    busy0, own0 = _machine_busy_s(), time.process_time()
    steps, elapsed = _run_steps(env, action, vector, seconds=seconds)
    busy1, own1 = _machine_busy_s(), time.process_time()
    env.close()
    # CPUs' worth of time other processes took while we were timed: contention, not us.
    other = (None if busy0 is None or busy1 is None
             else max(0.0, (busy1 - busy0) - (own1 - own0)) / elapsed)
    return {"config": name, "warmup_steps": warm_steps, "warmup_s": warm_s,
            "batch_steps": steps, "env_steps": steps * cfg.envs, "seconds": elapsed,
            "own_cpus": (own1 - own0) / elapsed, "other_cpus": other,
            "max_rss_mb": _max_rss_mb()}


# --------------------------------------------------------------------------- parent side


def _spawn(name: str, seconds: float, warmup: int) -> dict[str, Any]:
    """Run ``--one name`` in a fresh interpreter and parse its last stdout line."""
    cmd = [sys.executable, str(SCRIPT), "--one", name, "--seconds", str(seconds),
           "--warmup", str(warmup)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"config": name, "error": f"child exited {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def measure(names: list[str], seconds: float, warmup: int, repeat: int = 1,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Baselines plus every configuration in ``names``, each in its own process.

    With ``repeat`` > 1 each configuration runs that many times and the fastest run is
    kept (all rates are in ``runs_steps_per_s``): on a shared machine the best run is the
    one least disturbed by other work.
    """
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    families = {CONFIGS[n].family for n in names}
    baselines = {}
    for family in sorted(families):
        if progress:
            progress(BASELINES[family])
        baselines[family] = _spawn(BASELINES[family], seconds, warmup)
    rows = []
    for name in names:
        if progress:
            progress(name)
        cfg = CONFIGS[name]
        runs = [_spawn(name, seconds, warmup) for _ in range(repeat)]
        row: dict[str, Any] = {"config": name, "label": cfg.label, "envs": cfg.envs}
        good = [r for r in runs if "error" not in r]
        if not good:
            rows.append({**row, "error": runs[0]["error"]})
            continue
        rates = [r["env_steps"] / r["seconds"] for r in good]
        raw = good[int(np.argmax(rates))]
        rate = max(rates)
        base = baselines[cfg.family].get("max_rss_mb", 0.0)
        peak = raw["max_rss_mb"] - base
        rows.append({**row, "env_steps": raw["env_steps"], "seconds": raw["seconds"],
                     "steps_per_s": rate, "steps_per_s_per_env": rate / cfg.envs,
                     "peak_mb": peak, "mb_per_env": peak / cfg.envs,
                     "max_rss_mb": raw["max_rss_mb"], "warmup_steps": raw["warmup_steps"],
                     "warmup_s": raw["warmup_s"], "own_cpus": raw["own_cpus"],
                     "other_cpus": raw["other_cpus"], "runs_steps_per_s": rates})
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_1min_before": load_before,
                    "numba_threads": os.environ.get("NUMBA_NUM_THREADS")},
        "seconds": seconds,
        "repeat": repeat,
        "targets": {"batched_steps_per_s": TARGET_BATCHED, "single_steps_per_s": TARGET_SINGLE},
        "baselines_max_rss_mb": {f: b.get("max_rss_mb") for f, b in baselines.items()},
        "rows": rows,
    }


def print_table(result: dict[str, Any]) -> None:
    """The figures as a rich table, targets in the caption."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    machine = result["machine"]
    base = ", ".join(f"{f} {mb:.0f} MB" if mb is not None else f"{f} n/a"
                     for f, mb in result["baselines_max_rss_mb"].items())
    table = Table(
        title=f"Env steps/s, camera observation, random actions, reward function on "
              f"({result['seconds']:g} s per configuration"
              + (f", best of {result['repeat']})" if result["repeat"] > 1 else ")"),
        caption=f"Targets (issue): ≥ {TARGET_BATCHED:,} camera steps/s batched, "
                f"≥ {TARGET_SINGLE:,} for one env, on a 2-core machine. "
                f"This machine: {machine['cpus']} CPUs, Python {machine['python']}, "
                f"load average {machine['load_1min_before']:.2f} before the run, "
                f"Numba threads {machine['numba_threads'] or 'default'}. "
                f"* = other processes took ≥ {CONTENDED_CPUS} CPU on average while timed "
                f"(see other_cpus in --json); the figure is then low. "
                f"Peak MB = ru_maxrss minus an import-only baseline ({base}).",
    )
    table.add_column("configuration")
    for col in ("envs", "steps/s", "steps/s per env", "peak MB", "MB per env"):
        table.add_column(col, justify="right")
    for row in result["rows"]:
        name = row["label"]
        if "error" in row:
            note = f"{name}\n[yellow]note: {escape(row['error'])}[/yellow]"
            table.add_row(note, str(row["envs"]), "–", "–", "–", "–")
            continue
        contended = (row["other_cpus"] or 0.0) >= CONTENDED_CPUS
        mark = " [yellow]*[/yellow]" if contended else ""
        table.add_row(name, str(row["envs"]), f"{row['steps_per_s']:,.0f}{mark}",
                      f"{row['steps_per_s_per_env']:,.1f}", f"{row['peak_mb']:,.1f}",
                      f"{row['mb_per_env']:,.2f}")
    # Piped output (a log, a file) gets a fixed width rather than rich's 80 columns.
    Console(width=None if sys.stdout.isatty() else 120).print(table)


def profile(name: str, seconds: float, warmup: int, top: int = 15) -> None:
    """cProfile the timed loop of one configuration (in this process), top ``top`` by tottime."""
    import cProfile
    import pstats

    cfg = CONFIGS[name]
    env, action, vector = _build(cfg)
    _run_steps(env, action, vector, min_steps=warmup, until_episode_end=cfg.family == "racerl")
    profiler = cProfile.Profile()
    profiler.enable()
    steps, elapsed = _run_steps(env, action, vector, seconds=seconds)
    profiler.disable()
    env.close()
    rate = steps * cfg.envs / elapsed
    print(f"{name}: {steps} batch steps in {elapsed:.2f} s under cProfile "
          f"({rate:,.0f} env steps/s, profiler overhead included); time inside a Numba "
          f"kernel, all its threads, is that kernel's tottime")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="timed wall time per configuration (default 5)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="minimum untimed warm-up steps (default 20; warm-up also runs "
                             "until an episode has ended)")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        help="configurations to run (default all)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each configuration N times, keep the fastest (default 1)")
    parser.add_argument("--numba-threads", type=int, default=None, metavar="N",
                        help="set NUMBA_NUM_THREADS for the measured envs "
                             "(default: as the environment says, else one per CPU)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--profile", nargs="?", const="batch256", choices=list(CONFIGS),
                        metavar="CONFIG", help="cProfile one configuration (default batch256) "
                                               "and print the top 15 functions by tottime")
    parser.add_argument("--one", choices=[*CONFIGS, *BASELINES.values()],
                        help=argparse.SUPPRESS)  # child mode: one configuration, JSON line
    args = parser.parse_args(argv)
    if args.numba_threads is not None:  # read when Numba is imported; children inherit it
        os.environ["NUMBA_NUM_THREADS"] = str(args.numba_threads)

    if args.one:
        print(json.dumps(run_one(args.one, args.seconds, args.warmup)))
    elif args.profile:
        profile(args.profile, args.seconds, args.warmup)
    elif args.json:
        print(json.dumps(measure(args.configs, args.seconds, args.warmup, args.repeat),
                         indent=2))
    else:
        from rich.console import Console

        console = Console(stderr=True)
        with console.status("") as status:
            result = measure(args.configs, args.seconds, args.warmup, args.repeat,
                             progress=lambda n: status.update(f"measuring {n} ..."))
        print_table(result)


if __name__ == "__main__":
    main()
