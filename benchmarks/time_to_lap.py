"""Time to a lap: wall time for default PPO training to complete 3 of 3 evaluation laps.

This is a benchmark, not a test: it trains for minutes, its figures depend on the machine
and on whatever else runs on it, and it never fails a build. It answers the question a
DeepRacer user asks first: how long until my car gets round the track?

Target
    At most 15 minutes of training wall time on a 2-core CPU machine for a model trained
    from scratch with the DEFAULT :class:`racerl.model.config.TrainConfig` (camera observation,
    the ``light`` CNN, 32 cars, 64-step rollouts, batch 512, 4 epochs, the console's 10
    default actions, the follow-centre-line reward) to drive 3 of 3 evaluation laps of
    DeepRacer's ``reinvent_base`` track. For comparison, DeepRacer's console typically
    needs about an hour of training for a first reliable lap of that track.

What is measured
    Training runs in chunks of ``--eval-every`` seconds (default 60). After each chunk the
    latest checkpoint is evaluated: 3 trials from the start line (``start="line"``), greedy
    actions, studio light, the config's observation settings, the config's step cap. The run
    stops at the first evaluation with 3/3 laps completed, or when training time reaches
    ``--max-minutes`` (default 20). The first chunk is ``train(name, cfg, minutes=...)``;
    later ones are ``train(name, None, minutes=..., resume=True)``, which continue from the
    checkpoint (weights and optimiser state). Training time is the wall time spent inside
    ``train()`` (env construction, Numba JIT on the first chunk, checkpoint saves and
    loads included), evaluation time is excluded from it and reported separately; the
    summary gives both "training only" and "including evaluation". A resumed chunk starts
    fresh episodes and drops the rollout the previous chunk was in the middle of (at most
    one rollout of n_envs x rollout_steps steps per chunk); those steps count as env steps.

Tracks
    ``reinvent_base`` is a DeepRacer track file, not shipped with racerl. It is found through
    ``RACERL_TRACK_PATH``; when that is unset this script uses ``/work/shared/tracks`` or
    ``../shared/tracks`` next to the repository, and exits with a message if neither has it.

Usage
    .venv/bin/python benchmarks/time_to_lap.py                 # rich table at the end
    .venv/bin/python benchmarks/time_to_lap.py --json          # the same as JSON
    .venv/bin/python benchmarks/time_to_lap.py --eval-every 30 --max-minutes 10
    .venv/bin/python benchmarks/time_to_lap.py --home ~/bench  # keep the model folder

Without ``--home`` the racerl home (``RACERL_HOME``) is a temporary folder, deleted at the
end. Progress lines go to stderr while it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TRACK = "reinvent_base"
TARGET_MINUTES = 15.0
TRIALS = 3
REPO = Path(__file__).resolve().parents[1]
DEFAULT_TRACK_DIRS = (Path("/work/shared/tracks"), REPO.parent / "shared" / "tracks")
MIN_CHUNK_S = 5.0  # a shorter last chunk is not worth a resume


def setup_track_path(track: str) -> str:
    """Make sure ``track`` is findable; return where it was found (exits with a message)."""
    if not os.environ.get("RACERL_TRACK_PATH", "").strip():
        for folder in DEFAULT_TRACK_DIRS:
            if (folder / f"{track}.npy").is_file():
                os.environ["RACERL_TRACK_PATH"] = str(folder)
                break
    from racerl.errors import TrackError
    from racerl.track.catalog import find_track

    try:
        return str(find_track(track))
    except TrackError as exc:
        tried = ", ".join(str(d) for d in DEFAULT_TRACK_DIRS)
        sys.exit(f"time_to_lap: track {track!r} not found. Point RACERL_TRACK_PATH at the "
                 f"folder of DeepRacer's track files (without it, {tried} are tried).\n"
                 f"racerl says: {exc}")


def settings_of(cfg) -> dict[str, Any]:
    return {"n_envs": cfg.n_envs, "rollout_steps": cfg.rollout_steps,
            "batch_size": cfg.batch_size, "num_epochs": cfg.num_epochs,
            "learning_rate": cfg.learning_rate, "discount_factor": cfg.discount_factor,
            "entropy": cfg.entropy, "network": cfg.network, "observation": cfg.observation,
            "rgb": cfg.rgb, "frame_stack": cfg.frame_stack, "algorithm": cfg.algorithm,
            "reward": cfg.reward, "max_episode_steps": cfg.max_episode_steps,
            "seed": cfg.seed}


def evaluate(name: str, trials: int) -> tuple[list[dict[str, Any]], float]:
    """Greedy trials of the model's latest checkpoint from the start line; (trials, seconds)."""
    from racerl.envs.single import make_env
    from racerl.evaluate.evaluation import run_trials
    from racerl.train.trainer import load_policy

    start = time.perf_counter()
    policy, cfg = load_policy(name, "last")
    env = make_env(track=cfg.track, observation=cfg.observation, rgb=cfg.rgb,
                   frame_stack=cfg.frame_stack, action_space=cfg.action_space,
                   lighting="studio", start="line", max_steps=cfg.max_episode_steps)
    results = run_trials(policy, env, trials)
    env.close()
    rows = [{"status": r.status, "progress": r.progress, "steps": r.steps,
             "lap_time": r.lap_time} for r in results]
    return rows, time.perf_counter() - start


def run(track: str, eval_every: float, max_minutes: float, name: str, trials: int,
        log=None) -> dict[str, Any]:
    """Train and evaluate in turns until ``trials`` of ``trials`` laps or the cap."""
    from racerl.model.config import TrainConfig
    from racerl.train.trainer import summary_line, train

    def say(text: str) -> None:
        if log is not None:
            log(text)

    cfg = TrainConfig(track=track).validate("time_to_lap")
    cap_s = 60.0 * max_minutes
    load_start = os.getloadavg()
    evaluations: list[dict[str, Any]] = []
    train_s = eval_s = 0.0
    steps = 0
    reached = False
    stop_reason = "cap reached"
    last_line = [0.0]

    def on_iteration(progress) -> None:  # a progress line at most every 15 s
        now = time.perf_counter()
        if now - last_line[0] >= 15.0:
            last_line[0] = now
            say(f"  {summary_line(progress)}")

    while train_s < cap_s:
        chunk = min(eval_every, cap_s - train_s)
        if evaluations and chunk < MIN_CHUNK_S:
            break
        t0 = time.perf_counter()
        if not evaluations:
            result = train(name, cfg, minutes=chunk / 60.0, on_iteration=on_iteration)
        else:
            result = train(name, None, minutes=chunk / 60.0, resume=True,
                           on_iteration=on_iteration)
        chunk_s = time.perf_counter() - t0
        chunk_steps = result.progress.steps - steps
        train_s += chunk_s
        steps = result.progress.steps
        trial_rows, seconds = evaluate(name, trials)
        eval_s += seconds
        laps = sum(r["status"] == "lap_complete" for r in trial_rows)
        lap_times = [r["lap_time"] for r in trial_rows if r["lap_time"] is not None]
        row = {"training_s": train_s, "eval_s": seconds, "wall_s": train_s + eval_s,
               "env_steps": steps, "chunk_s": chunk_s, "chunk_steps": chunk_steps,
               "steps_per_s": chunk_steps / chunk_s if chunk_s > 0 else 0.0,
               "laps": laps, "trials": trial_rows,
               "mean_progress": sum(r["progress"] for r in trial_rows) / len(trial_rows),
               "best_lap": min(lap_times) if lap_times else None,
               "training_best_lap": result.progress.best_lap,
               "train_stop_reason": result.stop_reason}
        evaluations.append(row)
        best = f"{row['best_lap']:.2f} s" if row["best_lap"] is not None else "-"
        say(f"eval {len(evaluations)}: {train_s / 60:.2f} min trained, {steps:,} env steps, "
            f"{row['steps_per_s']:,.0f} steps/s, laps {laps}/{trials}, "
            f"progress {row['mean_progress']:.1f} %, best lap {best} "
            f"(eval {seconds:.1f} s)")
        if result.stop_reason.startswith("interrupted"):
            stop_reason = "interrupted (Ctrl-C)"
            break
        if laps == trials:
            reached = True
            stop_reason = f"{trials}/{trials} laps"
            break

    return {
        "track": track,
        "trials": trials,
        "eval_every_s": eval_every,
        "max_minutes": max_minutes,
        "target_minutes": TARGET_MINUTES,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg_start": list(load_start),
                    "load_avg_end": list(os.getloadavg())},
        "settings": settings_of(cfg),
        "evaluations": evaluations,
        "result": {"reached": reached, "stop_reason": stop_reason,
                   "training_minutes": train_s / 60.0, "eval_minutes": eval_s / 60.0,
                   "wall_minutes": (train_s + eval_s) / 60.0, "env_steps": steps,
                   "avg_steps_per_s": steps / train_s if train_s > 0 else 0.0,
                   "target_met": reached and train_s / 60.0 <= TARGET_MINUTES},
    }


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 120)
    trials = report["trials"]
    table = Table(title=f"Time to lap: default config on {report['track']}, "
                        f"{trials} greedy trials from the start line (studio light) "
                        f"every {report['eval_every_s']:g} s of training")
    for col in ("eval", "training min", "env steps", "steps/s", f"laps k/{trials}",
                "best lap s", "progress %", "eval s"):
        table.add_column(col, justify="right")
    for k, row in enumerate(report["evaluations"], 1):
        done = row["laps"] == trials
        laps = f"{row['laps']}/{trials}"
        table.add_row(str(k), f"{row['training_s'] / 60:.2f}", f"{row['env_steps']:,}",
                      f"{row['steps_per_s']:,.0f}",
                      f"[green]{laps}[/green]" if done else laps,
                      f"{row['best_lap']:.2f}" if row["best_lap"] is not None else "-",
                      f"{row['mean_progress']:.1f}", f"{row['eval_s']:.1f}")
    console.print(table)

    res, machine, s = report["result"], report["machine"], report["settings"]
    summary = Table(title="Summary", show_header=False)
    summary.add_column("what")
    summary.add_column("value")
    if res["reached"]:
        verdict = (f"[green]met[/green] (≤ {report['target_minutes']:g} min)"
                   if res["target_met"] else
                   f"[red]missed[/red] (> {report['target_minutes']:g} min)")
        summary.add_row(f"{trials}/{trials} laps after (training only)",
                        f"{res['training_minutes']:.2f} min")
        summary.add_row(f"{trials}/{trials} laps after (incl. evaluation)",
                        f"{res['wall_minutes']:.2f} min")
        summary.add_row("target", verdict)
    else:
        summary.add_row(f"{trials}/{trials} laps", f"[red]not reached[/red] "
                        f"({res['stop_reason']}; {res['training_minutes']:.2f} min trained, "
                        f"{res['wall_minutes']:.2f} min incl. evaluation)")
    summary.add_row("evaluation time", f"{res['eval_minutes']:.2f} min "
                    f"({len(report['evaluations'])} evaluations)")
    summary.add_row("env steps", f"{res['env_steps']:,}")
    summary.add_row("average steps/s (training)", f"{res['avg_steps_per_s']:,.0f}")
    summary.add_row("settings", f"n_envs {s['n_envs']}, rollout_steps {s['rollout_steps']}, "
                    f"batch_size {s['batch_size']}, num_epochs {s['num_epochs']}, "
                    f"learning_rate {s['learning_rate']:g}, "
                    f"discount_factor {s['discount_factor']:g}, entropy {s['entropy']:g}, "
                    f"network {s['network']} ({s['observation']}, "
                    f"{'rgb' if s['rgb'] else 'grey'}, frame_stack {s['frame_stack']}), "
                    f"{s['algorithm']}, reward {s['reward']}")
    summary.add_row("machine", f"{machine['cpus']} CPUs, Python {machine['python']}, load "
                    f"average {machine['load_avg_start'][0]:.2f} at start, "
                    f"{machine['load_avg_end'][0]:.2f} at end")
    console.print(summary)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--eval-every", type=float, default=60.0, metavar="SECONDS",
                        help="training wall time between evaluations (default 60)")
    parser.add_argument("--max-minutes", type=float, default=20.0,
                        help="stop after this much training wall time (default 20)")
    parser.add_argument("--home", type=Path, default=None,
                        help="racerl home to train in, kept afterwards (default: a temporary "
                             "folder, deleted at the end)")
    parser.add_argument("--name", default=None,
                        help="model name (default time-to-lap-<date-time>)")
    parser.add_argument("--track", default=TRACK, help=f"track (default {TRACK})")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    if args.eval_every <= 0 or args.max_minutes <= 0:
        parser.error("--eval-every and --max-minutes must be positive")

    track_file = setup_track_path(args.track)
    name = args.name or f"time-to-lap-{time.strftime('%Y%m%d-%H%M%S')}"

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    log(f"time_to_lap: {args.track} ({track_file}), evaluation every {args.eval_every:g} s, "
        f"cap {args.max_minutes:g} min, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="racerl-time-to-lap-") as tmp:
        home = args.home.expanduser() if args.home else Path(tmp)
        os.environ["RACERL_HOME"] = str(home)
        log(f"time_to_lap: RACERL_HOME={home}, model {name}")
        report = run(args.track, args.eval_every, args.max_minutes, name, TRIALS, log)
        report["home"] = str(home) if args.home else None
        report["model"] = name
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
