"""Race pace: how close a trained car gets to the race line, for a fixed env-step budget.

What is measured
    For each track and each setup (``default``: DeepRacer's console defaults, plain
    ``racerl train``; ``racing``: ``racerl train --preset racing``), a model is trained from
    scratch for ``--steps`` env steps (an env step is one car advancing one step, so the
    figures hold on any machine; wall minutes are given beside them). Training evaluates
    the policy itself every ``--eval-every`` iterations (3 greedy laps from the start line
    under evaluation rules, in cars of their own: ``racerl train``'s evaluation during
    training). From its records in training_metrics.json the table gives:

    * env steps (and wall minutes, evaluations included) to the first evaluation with 3/3
      laps;
    * the best evaluation lap (the fastest single lap of any evaluation), and that lap over
      the race line's;
    * the race line's lap (``racerl raceline``'s line driven by pure pursuit at its planned
      speeds) and the best constant-speed centre-line lap (pure pursuit on the centre line at
      1.0, 1.5, ... 4.0 m/s: the fastest speed that still completes the lap), both driven
      under the same evaluation rules.

    With ``--robustness`` each racing model's best checkpoint is then evaluated under every
    lighting preset of ``racerl robustness`` (3 trials each).

Targets (issue "Trained cars race")
    ``reinvent_base``, racing preset: best evaluation lap <= 1.25x the race line within
    1,000,000 env steps, and the first 3/3 evaluation within 150,000 env steps; trained with
    ``--lighting random``, 3/3 laps under every lighting preset.

Usage
    RACERL_TRACK_PATH=../shared/tracks .venv/bin/python benchmarks/race_pace.py --steps 1000000
    .venv/bin/python benchmarks/race_pace.py --tracks loop oval --setups racing --steps 200000
    .venv/bin/python benchmarks/race_pace.py --tracks reinvent_base --lighting random \\
        --robustness --steps 400000
    .venv/bin/python benchmarks/race_pace.py --json

``reinvent_base`` is one of DeepRacer's track files, found through ``RACERL_TRACK_PATH``
(``../shared/tracks`` beside the repository is used when it is unset); a track that cannot
be found is reported and skipped. Without ``--home`` models live in a temporary racerl home.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TRACKS = ("reinvent_base", "loop", "oval", "circuit")
SETUPS = ("default", "racing")
CENTRE_SPEEDS = np.arange(1.0, 4.01, 0.5)


@dataclass
class Limits:
    """The track's scripted laps, driven under evaluation rules."""

    raceline_lap: float | None
    centre_lap: float | None
    centre_speed: float | None


@dataclass
class Pace:
    """One training run's figures."""

    track: str
    setup: str
    steps: int
    minutes: float
    evaluations: int
    first_full_steps: int | None
    first_full_minutes: float | None
    best_lap: float | None
    best_lap_steps: int | None
    final_laps: str
    robustness: dict | None = None


def track_limits(track: str) -> Limits:
    """The race line's lap and the best constant-speed centre-line lap on ``track``."""
    from racerl.evaluate.evaluation import EvalSettings, ScriptedDriver, evaluate

    settings = EvalSettings(track=track, trials=1)
    line = evaluate(ScriptedDriver("raceline"), settings).summary().best_lap
    centre, speed = None, None
    for v in CENTRE_SPEEDS:
        lap = evaluate(ScriptedDriver("centerline", float(v)), settings).summary().best_lap
        if lap is not None and (centre is None or lap < centre):
            centre, speed = lap, float(v)
    return Limits(line, centre, speed)


def train_one(track: str, setup: str, steps: int, eval_every: int, lighting: str | None,
              robustness: bool) -> Pace:
    """Train one model for ``steps`` env steps and read its evaluations back."""
    from racerl.model.config import TrainConfig, layered_config
    from racerl.model.folder import named_model_folder
    from racerl.train.trainer import train

    overrides: dict = {"track": track, "eval_every": eval_every}
    if lighting:
        overrides["lighting"] = lighting
    config = layered_config(TrainConfig(), preset=None if setup == "default" else setup,
                            overrides=overrides)
    name = model_name(track, setup)
    started = time.time()
    result = train(name, config, steps=steps, force=True,
                   on_iteration=lambda p: _progress_line(name, p))
    minutes = (time.time() - started) / 60
    pace = pace_of(track, setup, named_model_folder(name).metrics(), started, minutes,
                   result.progress.steps)
    if robustness:
        pace.robustness = lighting_laps(name)
    return pace


def pace_of(track: str, setup: str, metrics: list[dict], started: float,
            minutes: float, steps: int) -> Pace:
    """The figures of one run from its training_metrics.json records.

    A lap counts only when the trial finished it without leaving the track: evaluation
    rules reset a car that leaves it (2 s penalty each) and let it go on, so even a car that
    cannot take a corner eventually "completes" its lap, reset by reset.
    """
    trials: dict[int, list[dict]] = {}
    for record in metrics:
        if record.get("phase") == "evaluation":
            trials.setdefault(int(record["evaluation"]), []).append(record)

    def clean(record: dict) -> bool:
        return bool(record["completed_lap"]) and not record.get("off_track")

    full = next((group for group in trials.values() if all(map(clean, group))), None)
    laps = [(r["lap_time"], r["num_timesteps"]) for group in trials.values()
            for r in group if clean(r)]
    best = min(laps) if laps else (None, None)
    last = list(trials.values())[-1] if trials else None
    return Pace(track=track, setup=setup, steps=steps, minutes=minutes,
                evaluations=len(trials),
                first_full_steps=int(full[0]["num_timesteps"]) if full else None,
                first_full_minutes=(full[0]["wall_time"] - started) / 60 if full else None,
                best_lap=best[0], best_lap_steps=best[1],
                final_laps=f"{sum(map(clean, last))}/{len(last)}" if last else "-")


def reported(track: str, setup: str) -> Pace | None:
    """The figures of a model this script trained earlier (``--report``), or None. Its
    start is taken as its first record's time, so minutes miss the first episode."""
    from racerl.model.folder import named_model_folder

    folder = named_model_folder(model_name(track, setup))
    if not folder.exists():
        return None
    metrics = folder.metrics()
    started = min(r["wall_time"] for r in metrics)
    minutes = (max(r["wall_time"] for r in metrics) - started) / 60
    return pace_of(track, setup, metrics, started, minutes, folder.state()["num_timesteps"])


def model_name(track: str, setup: str) -> str:
    return f"pace-{setup}-{track}".replace("_", "-").lower()


def lighting_laps(name: str) -> dict:
    """Laps completed per lighting preset by the model's best checkpoint, and how often
    it left the track on the way (a lap after resets still counts as completed)."""
    from racerl.evaluate.evaluation import EvalSettings, model_entrant
    from racerl.evaluate.robustness import robustness

    entrant = model_entrant(name)
    settings = EvalSettings(track=entrant.track, trials=3)
    return {r.preset: f"{r.summary.laps}/{r.summary.trials} laps, "
                      f"{r.summary.off_track} off track"
            for r in robustness(entrant.driver, settings)}


def _progress_line(name: str, progress) -> None:
    best = progress.best_evaluation
    lap = f", best eval lap {best.best_lap:.2f} s" if best and best.best_lap else ""
    print(f"  {name}: {progress.steps:,} steps, {progress.elapsed / 60:.1f} min{lap}",
          file=sys.stderr, flush=True)


def setup_track_path() -> None:
    if "RACERL_TRACK_PATH" not in os.environ:
        shared = REPO.parent / "shared" / "tracks"
        if shared.is_dir():
            os.environ["RACERL_TRACK_PATH"] = str(shared)


def print_table(rows: list[tuple[Pace, Limits]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Race pace: evaluation laps during training, counted only "
                        "without leaving the track")
    for column in ("track", "setup", "env steps trained", "env steps to 3/3", "minutes to 3/3",
                   "best eval lap",
                   "race-line lap", "best / race line", "centre-line lap (speed)",
                   "last eval", "minutes"):
        table.add_column(column, justify="right")
    for pace, limits in rows:
        ratio = (f"{pace.best_lap / limits.raceline_lap:.2f}x"
                 if pace.best_lap and limits.raceline_lap else "-")
        centre = (f"{limits.centre_lap:.2f} s ({limits.centre_speed:g} m/s)"
                  if limits.centre_lap else "no lap")
        table.add_row(
            pace.track, pace.setup, f"{pace.steps:,}",
            f"{pace.first_full_steps:,}" if pace.first_full_steps is not None else "never",
            f"{pace.first_full_minutes:.1f}" if pace.first_full_minutes is not None else "-",
            f"{pace.best_lap:.2f} s" if pace.best_lap else "-",
            f"{limits.raceline_lap:.2f} s" if limits.raceline_lap else "-",
            ratio, centre, pace.final_laps, f"{pace.minutes:.1f}")
    Console(width=200).print(table)
    for pace, _ in rows:
        if pace.robustness:
            laps = ", ".join(f"{k} {v}" for k, v in pace.robustness.items())
            print(f"lighting presets, {pace.setup} on {pace.track}: {laps}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", nargs="+", default=list(TRACKS))
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=SETUPS)
    parser.add_argument("--steps", type=int, default=300_000, help="env steps per run")
    parser.add_argument("--eval-every", type=int, default=3,
                        help="iterations between evaluations during training")
    parser.add_argument("--lighting", default=None, help="training lighting, e.g. random")
    parser.add_argument("--robustness", action="store_true",
                        help="evaluate each racing model under every lighting preset")
    parser.add_argument("--home", help="racerl home for the models (default: temporary)")
    parser.add_argument("--report", action="store_true",
                        help="train nothing: report the pace-* models already in --home")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    setup_track_path()
    os.environ["RACERL_HOME"] = args.home or tempfile.mkdtemp(prefix="racerl-pace-")
    sys.path.insert(0, str(REPO / "src"))
    from racerl.errors import RacerlError

    rows = []
    for track in args.tracks:
        try:
            limits = track_limits(track)
        except RacerlError as exc:
            print(f"skipping {track}: {exc}", file=sys.stderr)
            continue
        for setup in args.setups:
            if args.report:
                pace = reported(track, setup)
                if pace is None:
                    continue
            else:
                pace = train_one(track, setup, args.steps, args.eval_every, args.lighting,
                                 args.robustness and setup == "racing")
            rows.append((pace, limits))
            print(json.dumps({**asdict(pace), **asdict(limits)}), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps([{**asdict(p), **asdict(m)} for p, m in rows], indent=1))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
