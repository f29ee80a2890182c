"""`racerl evaluate`, `racerl robustness` and `racerl plot`: how good the car is."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from racerl.cli.common import (
    CHECKPOINT_OPT,
    DRIVER_OPT,
    MODEL_ARG,
    SPEED_OPT,
    app,
    console,
    pick_entrant,
    print_evaluation,
    seconds,
    user_errors,
)
from racerl.errors import RacerlError
from racerl.sim.race_setup import RaceSetup


@app.command("evaluate")
@user_errors
def evaluate_command(
    model: str | None = MODEL_ARG,
    track: list[str] | None = typer.Option(
        None, help="track; repeat for several (default: the model's training track, or "
                   "each of a multi-track model's tracks in turn)"),
    trials: int = typer.Option(3, help="laps, each from the start line (DRfC "
                                       "DR_EVAL_NUMBER_OF_TRIALS)"),
    continuous: bool = typer.Option(False, "--continuous", help="drive the laps in one go, "
                                    "as a race does (DRfC DR_EVAL_IS_CONTINUOUS)"),
    lighting: str = typer.Option("studio", help="lighting preset"),
    seed: int = typer.Option(0, help="seed of the lighting draw"),
    driver: str | None = DRIVER_OPT,
    speed: float = SPEED_OPT,
    off_track_penalty: float = typer.Option(2.0, help="seconds frozen after leaving the track "
                                                      "(DRfC DR_EVAL_OFF_TRACK_PENALTY)"),
    collision_penalty: float = typer.Option(5.0, help="seconds frozen after a crash (DRfC "
                                                      "DR_EVAL_COLLISION_PENALTY)"),
    max_resets: int = typer.Option(10_000, help="resets per trial before a mistake ends it "
                                                "(DRfC DR_EVAL_MAX_RESETS)"),
    reverse_direction: bool = typer.Option(False, "--reverse-direction", help="drive the "
                                           "track the other way (DRfC "
                                           "DR_EVAL_REVERSE_DIRECTION)"),
    race_duration: float | None = typer.Option(
        None, help="seconds of race time after which a trial ends 'time_up' (DeepRacer's "
                   "virtual events); default: no limit"),
    reset_behind_dist: float = typer.Option(
        1.0, help="metres behind an obstacle near the reset point a car is put back (DRfC "
                  "RESET_BEHIND_DIST; only where the track has obstacles)"),
    race_type: str | None = typer.Option(
        None, help="time_trial, object_avoidance or head_to_bot with DRfC's default objects "
                   "(default: the race the model trained for, its own obstacles or bots)"),
    video: Path | None = typer.Option(None, help="also save a video (.mp4 or .gif)"),
    save_video: bool = typer.Option(False, "--save-video", help="also save the video as "
                                    "video.mp4 in the evaluation's own folder (the web "
                                    "console shows it there)"),
    checkpoint: str = CHECKPOINT_OPT,
    limits: bool = typer.Option(False, "--limits", help="then drive the centre line at 1 m/s "
                                "and the race line on the same track and compare the laps"),
) -> None:
    """Evaluate a model (or a scripted driver) under DeepRacer's evaluation rules."""
    from racerl.evaluate.evaluation import EvalSettings, evaluate
    from racerl.evaluate.records import VIDEO_FILE, save_evaluation
    from racerl.track.catalog import load_track

    if video is not None and video.suffix.lower() not in (".mp4", ".gif"):
        raise RacerlError(f"--video {video}: use a .mp4 or .gif file name")
    rules = evaluation_rules(trials, continuous, off_track_penalty, collision_penalty,
                             max_resets, race_duration, reset_behind_dist)
    who = pick_entrant(model, driver, speed, checkpoint)
    race = who.race
    if race_type is not None and race_type != race.race_type:
        try:
            race = RaceSetup(race_type=race_type)
        except ValueError as exc:
            raise RacerlError(f"--race-type: {exc}") from None
    tracks = track or who.tracks
    if (video is not None or save_video) and len(tracks) > 1:
        raise RacerlError(f"--video shows one track; this evaluation drives {len(tracks)} "
                          f"({', '.join(tracks)}): choose one with --track")
    for name in tracks:
        settings = EvalSettings(track=name, trials=1 if continuous else trials,
                                lighting=lighting, seed=seed, rules=rules,
                                reverse=reverse_direction, race=race)
        run = evaluate(who.driver, settings, keep_frames=video is not None or save_video)
        folder = save_evaluation(who.folder, run, who.identity)
        print_evaluation(run, folder)
        targets = ([video] if video is not None else []) + \
            ([folder / VIDEO_FILE] if save_video else [])
        for target in targets:
            from racerl.viz.video import write_video

            write_video(run.driver, run.trajectories,
                        load_track(settings.track, reverse=settings.reverse), target)
            console.print(f"saved {target}")
        if limits:
            print_limits(run)


def evaluation_rules(trials: int, continuous: bool, off_track_penalty: float,
                     collision_penalty: float, max_resets: int,
                     race_duration: float | None = None, reset_behind_dist: float = 1.0):
    """The rules of ``racerl evaluate``'s flags, each bad value refused in one line."""
    from racerl.sim.rules import EvaluationRules

    for flag, value in (("--off-track-penalty", off_track_penalty),
                        ("--collision-penalty", collision_penalty)):
        if not value >= 0:
            raise RacerlError(f"{flag} {value}: use 0 or more seconds")
    if max_resets < 0:
        raise RacerlError(f"--max-resets {max_resets}: use 0 (a mistake ends the trial) or more")
    if trials < 1:
        raise RacerlError(f"--trials {trials}: drive at least 1")
    if race_duration is not None and not race_duration > 0:
        raise RacerlError(f"--race-duration {race_duration}: use more than 0 seconds")
    if not 0.0 <= reset_behind_dist <= 10.0:
        raise RacerlError(f"--reset-behind-dist {reset_behind_dist}: use 0 to 10 metres")
    return EvaluationRules(resets=max_resets, off_track_penalty=off_track_penalty,
                           collision_penalty=collision_penalty,
                           laps=trials if continuous else 1, race_duration=race_duration,
                           reset_behind_dist=reset_behind_dist)


def print_limits(run) -> None:
    """The run's laps beside the centre-line driver's and the race line's."""
    from racerl.evaluate.limits import beside_the_limits

    table = Table(title=f"Laps on {run.settings.track} beside the track's limits")
    for col in ("driver", "laps", "best lap s", "mean lap s", "off track", "x race line"):
        table.add_column(col, justify="left" if col == "driver" else "right")
    for standing in beside_the_limits(run):
        s = standing.summary
        table.add_row(standing.driver, f"{s.laps}/{s.trials}", seconds(s.best_lap),
                      seconds(s.mean_lap), str(s.off_track),
                      "-" if standing.ratio is None else f"{standing.ratio:.2f}")
    console.print(table)


@app.command()
@user_errors
def robustness(
    model: str | None = MODEL_ARG,
    track: str | None = typer.Option(None, help="track (default: the model's (first) "
                                                "training track)"),
    trials: int = typer.Option(3, help="laps per lighting preset"),
    seed: int = typer.Option(0, help="seed of the lighting draws"),
    driver: str | None = DRIVER_OPT,
    speed: float = SPEED_OPT,
    out: Path | None = typer.Option(None, help="PNG of what the car saw under each preset"),
    checkpoint: str = CHECKPOINT_OPT,
) -> None:
    """Evaluate under every lighting preset: does the model survive sun, shadow and dusk?"""
    from racerl.atomic import atomic_write_json
    from racerl.camera.topdown import save_png
    from racerl.evaluate.evaluation import EvalSettings
    from racerl.evaluate.robustness import robustness as run_robustness
    from racerl.evaluate.robustness import robustness_grid

    who = pick_entrant(model, driver, speed, checkpoint)
    settings = EvalSettings(track=track or who.tracks[0], trials=trials, seed=seed)
    results = run_robustness(who.driver, settings)
    table = Table(title=f"Robustness of {who.driver.label} on {settings.track} "
                        f"({trials} trials per lighting preset, seed {seed})")
    for col in ("lighting", "laps", "completion %", "best lap s", "mean lap s", "off track",
                "penalty s"):
        table.add_column(col, justify="left" if col == "lighting" else "right")
    for r in results:
        s = r.summary
        table.add_row(r.preset, f"{s.laps}/{s.trials}", f"{s.completion:.1f}",
                      seconds(s.best_lap), seconds(s.mean_lap), str(s.off_track),
                      f"{s.penalty:.1f}")
    console.print(table)
    target = out or who.folder / "robustness.png"
    save_png(robustness_grid(results, f"{who.driver.label} on {settings.track}: "
                                      "what the camera saw 3 s into trial 1"), target)
    atomic_write_json(target.with_suffix(".json"), {
        **who.identity, "settings": settings.describe(),
        "presets": [r.to_json() for r in results]})
    console.print(f"saved {target} and {target.with_suffix('.json')}")


@app.command()
@user_errors
def plot(
    name: str = typer.Argument(..., help="model name"),
    out: Path | None = typer.Option(None, help="PNG to write (default: in the model folder)"),
    evaluation: bool = typer.Option(False, "--evaluation",
                                    help="the latest evaluation's driven line instead"),
) -> None:
    """Save the training chart, or with --evaluation maps of the latest evaluation."""
    from racerl.model.folder import model_folder
    from racerl.viz.charts import training_chart

    folder = model_folder(name)
    if evaluation:
        _plot_evaluation(folder.root, out)
        return
    folder.config()  # a clear error when there is no such model
    metrics = folder.metrics()
    if not metrics:
        raise RacerlError(f"{folder.root}: no training episodes recorded yet")
    target = out or folder.root / "training_chart.png"
    best = folder.best_record()
    training_chart(metrics, name, target, best["evaluation"] if best else None)
    console.print(f"saved {target}")


def _plot_evaluation(root: Path, out: Path | None) -> None:
    from racerl.evaluate.records import latest_evaluation, load_summary, read_trace
    from racerl.viz.charts import saved_evaluation_chart

    found = latest_evaluation(root)
    target = out or root / "evaluation_chart.png"
    saved_evaluation_chart(load_summary(found), read_trace(found), target)
    console.print(f"saved {target}")
