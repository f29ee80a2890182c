"""The ``racerl`` command line: a thin typer shell over the library.

Every user mistake (a bad track, action space or reward function) arrives here as a
:class:`~racerl.errors.RacerlError` and is printed as one line, with exit code 2.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from racerl.catalog import DEFAULT_TRACK, add_tracks, load_track, track_index
from racerl.errors import RacerlError
from racerl.reward import DEFAULT_EXAMPLE

app = typer.Typer(help="racerl: train and race DeepRacer cars locally.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
tracks_app = typer.Typer(help="List, add and create tracks.", invoke_without_command=True)
app.add_typer(tracks_app, name="tracks")
console = Console(width=None if sys.stdout.isatty() else 120)  # tables uncut in pipes
err_console = Console(stderr=True)


def user_errors(func):
    """Print a RacerlError as one readable line and exit 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RacerlError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


@tracks_app.callback()
@user_errors
def tracks_list(ctx: typer.Context) -> None:
    """Show every track found: built-in, DeepRacer's (when added) and your own."""
    if ctx.invoked_subcommand is not None:
        return
    rows, broken = track_index()
    table = Table(title="Tracks (racerl home, RACERL_TRACK_PATH, built-in)")
    for col, justify in (("name", "left"), ("source", "left"), ("length m", "right"),
                         ("width m", "right"), ("direction", "left"), ("waypoints", "right")):
        table.add_column(col, justify=justify, no_wrap=True)
    for info in rows:
        name = f"{info.name} (default)" if info.name == DEFAULT_TRACK else info.name
        table.add_row(name, info.source, f"{info.length:.2f}", f"{info.width:.3f}",
                      info.direction, str(info.rows))
    console.print(table)
    for path, why in broken:
        err_console.print(f"[yellow]skipped[/] {path}: {why}", highlight=False)


@tracks_app.command("add")
@user_errors
def tracks_add(sources: list[Path] = typer.Argument(..., help=".npy files or folders")) -> None:
    """Copy track files (e.g. DeepRacer's route folder) into the racerl home."""
    written = add_tracks(sources)
    console.print(f"added {len(written)} track(s) to {written[0].parent}" if written
                  else "nothing added")


@tracks_app.command("create")
@user_errors
def tracks_create(
    name: str = typer.Argument(..., help="name of the new track"),
    seed: int | None = typer.Option(None, help="random but valid shape from this seed"),
    points: str | None = typer.Option(None, help="control points 'x,y x,y ...' in metres"),
    width: float = typer.Option(0.76, help="track width, metres"),
    length: float | None = typer.Option(None, help="scale the centre line to this length"),
    spacing: float = typer.Option(0.2, help="distance between waypoints, metres"),
    clockwise: bool = typer.Option(False, help="drive the loop clockwise"),
    out: Path | None = typer.Option(None, help="file to write (default: the racerl home)"),
    picture: Path | None = typer.Option(None, help="also save a top-down PNG"),
) -> None:
    """Generate a closed, smooth track in DeepRacer's file layout."""
    from racerl.home import user_tracks_dir
    from racerl.track import Track
    from racerl.trackgen import generate_track, write_track

    if (seed is None) == (points is None):
        raise RacerlError("give exactly one of --seed N or --points 'x,y x,y ...'")
    control = parse_control_points(points) if points is not None else None
    rows = generate_track(control_points=control, seed=seed, length=length, width=width,
                          spacing=spacing, clockwise=clockwise)
    target = out or user_tracks_dir() / f"{name}.npy"
    write_track(rows, target)
    track = Track(rows, name=name)
    console.print(f"wrote {target}: {track.length:.2f} m, {len(rows)} waypoints, "
                  f"width {track.summary_width():.3f} m")
    if picture:
        _save_view(track, picture)


@app.command()
@user_errors
def view(
    track: str = typer.Option(DEFAULT_TRACK, help="track name or .npy path"),
    out: Path = typer.Option(Path("view.png"), help="PNG to write"),
    reverse: bool = typer.Option(False, help="drive the track the other way"),
    camera: bool = typer.Option(False, "--camera", help="add the car's camera view"),
    lighting: str = typer.Option("studio", help="lighting preset for --camera"),
    lighting_grid: bool = typer.Option(False, "--lighting-grid",
                                       help="the camera view under every lighting preset"),
    at: float = typer.Option(0.1, help="where the car stands, as a fraction of the lap"),
    seed: int = typer.Option(0, help="seed of the lighting draw"),
) -> None:
    """Save a picture of a track: top-down, with the camera view, or a lighting grid."""
    from racerl.lighting import PRESETS

    course = load_track(track, reverse=reverse)
    if lighting not in PRESETS:
        raise RacerlError(f"--lighting {lighting!r}: presets are {', '.join(PRESETS)}")
    if camera or lighting_grid:
        from racerl.render import save_png
        from racerl.views import camera_view_image, lighting_grid_image

        image = (lighting_grid_image(course, at=at, seed=seed) if lighting_grid
                 else camera_view_image(course, at=at, preset=lighting, seed=seed))
        save_png(image, out)
        console.print(f"saved {out}")
        return
    _save_view(course, out)


def parse_control_points(text: str) -> np.ndarray:
    """'x,y x,y ...' (metres) to an (N, 2) array, or a RacerlError saying what is wrong."""
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
    except ValueError:
        raise RacerlError(f"--points {text!r}: expected 'x,y x,y ...' in metres") from None
    if any(len(p) != 2 for p in points):
        raise RacerlError(f"--points {text!r}: every point needs exactly two numbers, x,y")
    return np.array(points, dtype=np.float64)


def _save_view(track, out: Path) -> None:
    from racerl.render import TopDownRenderer, save_png

    xy, yaw = track.pose_at(0.0)
    caption = (f"{track.name}: {track.length:.2f} m, width {track.summary_width():.2f} m, "
               f"{'ccw' if track.is_ccw else 'cw'}")
    save_png(TopDownRenderer(track).draw(np.array([[xy[0], xy[1], yaw]]), caption=caption), out)
    console.print(f"saved {out}")


@app.command()
@user_errors
def drive(
    track: str = typer.Option(DEFAULT_TRACK, help="track name or .npy path"),
    speed: float = typer.Option(1.0, help="target speed, m/s"),
    reward: str = typer.Option(DEFAULT_EXAMPLE, help="reward function file or example"),
    out: Path = typer.Option(Path("drive.png"), help="PNG of the lap, coloured by speed"),
) -> None:
    """Drive one lap with the scripted pure-pursuit driver and save a picture of it."""
    from racerl.drivers import drive_lap
    from racerl.render import TopDownRenderer, save_png, speed_colors
    from racerl.reward import load_reward_function

    course = load_track(track)
    result = drive_lap(course, speed=speed, reward=load_reward_function(reward))
    table = Table(title=f"Scripted lap on {course.name} ({course.length:.2f} m)")
    for col in ("driver", "status", "lap time s", "steps", "progress %", "total reward"):
        table.add_column(col)
    lap = f"{result.lap_time:.2f}" if result.lap_time is not None else "-"
    table.add_row(f"pure pursuit @ {speed:g} m/s", result.status, lap, str(result.steps),
                  f"{float(result.progress):.1f}", f"{result.total_reward:.1f}")
    console.print(table)
    caption = (f"{course.name}: pure pursuit at {speed:g} m/s, {result.status}, lap {lap} s; "
               f"trail colour = speed, 0 (purple) to {result.speeds.max():.2f} m/s (yellow)")
    image = TopDownRenderer(course).draw(trails=[result.trail],
                                         trail_colors=[speed_colors(result.speeds)],
                                         caption=caption)
    save_png(image, out)
    console.print(f"saved {out}")


@app.command("train")
@user_errors
def train_command(
    name: str = typer.Option(..., help="model name (a folder under $RACERL_HOME/models)"),
    track: str | None = typer.Option(None, help=f"track name or .npy (default {DEFAULT_TRACK})"),
    reward: str | None = typer.Option(None, help="reward function file or example name"),
    config: Path | None = typer.Option(None, help="YAML file of TrainConfig settings"),
    minutes: float | None = typer.Option(None, help="train for this many minutes"),
    steps: int | None = typer.Option(None, help="train for this many env steps"),
    clone: str | None = typer.Option(None, help="start from this model's trained weights"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run"),
    preset: str | None = typer.Option(None, help="'deepracer': the console's PPO defaults"),
    lighting: str | None = typer.Option(None, help="lighting preset ('random' to randomise)"),
    n_envs: int | None = typer.Option(None, help="cars driving at once"),
    seed: int | None = typer.Option(None, help="random seed"),
    trials: int = typer.Option(3, help="evaluation laps after training (0: none)"),
    force: bool = typer.Option(False, "--force", help="replace a model of the same name"),
) -> None:
    """Train a model with PPO or SAC, then drive evaluation laps."""
    from racerl.config import TrainConfig, console_defaults, load_config, load_config_dict
    from racerl.garage import model_folder
    from racerl.train import train

    if minutes is None and steps is None:
        raise RacerlError("give a budget: --minutes M or --steps N")
    overrides = {k: v for k, v in (("track", track), ("lighting", lighting),
                                   ("n_envs", n_envs), ("seed", seed)) if v is not None}
    if resume and (clone or config or preset or overrides or reward or force):
        raise RacerlError("--resume continues a run with its own settings; it takes only "
                          "--name and a budget (--minutes or --steps)")
    cfg = None
    if not resume:
        base = model_folder(clone).config() if clone else TrainConfig()
        settings = {**vars(base)}
        if preset == "deepracer":
            settings.update(console_defaults())
        elif preset is not None:
            raise RacerlError(f"--preset {preset!r}: the only preset is 'deepracer'")
        if config is not None:
            settings.update({k: v for k, v in vars(load_config(config)).items()
                             if k in _explicit_keys(config)})
        settings.update(overrides)
        if reward is not None:
            settings["reward"] = reward
        cfg = load_config_dict(settings, "settings")
        if clone and reward is None:
            reward = str(model_folder(clone).reward_path)
    live = _LiveView(minutes)
    with live:
        result = train(name, cfg, minutes=minutes, steps=steps, clone=clone, resume=resume,
                       reward=reward, force=force, on_iteration=live.update)
    console.print(f"training stopped: {result.stop_reason}; model saved in {result.folder.root}")
    if trials > 0:
        _print_trials(name, trials)


def _explicit_keys(path: Path) -> set[str]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return set(data)


class _LiveView:
    """A live rich table while training in a terminal; one line per update otherwise."""

    def __init__(self, minutes: float | None):
        self.minutes = minutes
        self.live = None

    def __enter__(self):
        if console.is_terminal:
            from rich.live import Live

            self.live = Live(console=console, refresh_per_second=2)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, progress) -> None:
        from racerl.train import progress_table, summary_line

        if self.live is not None:
            self.live.update(progress_table(progress, self.minutes))
        else:
            console.print(summary_line(progress), highlight=False)


def _print_trials(name: str, trials: int) -> None:
    from racerl.env import make_env
    from racerl.evaluate import run_trials
    from racerl.train import load_policy

    policy, cfg = load_policy(name)  # cfg.action_space: the model folder's own metadata
    env = make_env(track=cfg.track, observation=cfg.observation, rgb=cfg.rgb,
                   frame_stack=cfg.frame_stack, action_space=cfg.action_space, start="line",
                   max_steps=cfg.max_episode_steps)
    results = run_trials(policy, env, trials)
    table = Table(title=f"Evaluation of {name} on {cfg.track} (start line, studio light)")
    for col in ("trial", "status", "progress %", "lap time s", "steps"):
        table.add_column(col)
    for k, r in enumerate(results, 1):
        table.add_row(str(k), r.status, f"{r.progress:.1f}",
                      f"{r.lap_time:.2f}" if r.lap_time else "-", str(r.steps))
    console.print(table)
    console.print(f"laps done: {sum(r.completed for r in results)}/{trials}")


@app.command()
@user_errors
def plot(
    name: str = typer.Argument(..., help="model name"),
    out: Path | None = typer.Option(None, help="PNG to write (default: in the model folder)"),
) -> None:
    """Save the DeepRacer-style training chart: reward and progress per iteration."""
    from racerl.garage import model_folder
    from racerl.viz import training_chart

    folder = model_folder(name)
    folder.config()  # a clear error when there is no such model
    metrics = folder.metrics()
    if not metrics:
        raise RacerlError(f"{folder.root}: no training episodes recorded yet")
    target = out or folder.root / "training_chart.png"
    training_chart(metrics, name, target)
    console.print(f"saved {target}")


reward_app = typer.Typer(help="Check a reward function and see what it pays for.",
                         no_args_is_help=True)
app.add_typer(reward_app, name="reward")


@reward_app.command("check")
@user_errors
def reward_check(
    reward: str = typer.Argument(..., help="reward function .py file (or an example's name)"),
    track: str = typer.Option(DEFAULT_TRACK, help="track name or .npy file to drive"),
    sandbox: bool = typer.Option(False, help="run the function in the sandbox (a separate "
                                 "process with time and memory limits, no network or writes)"),
) -> None:
    """Load the function and call it on real drives: errors, suspicious values, speed."""
    from racerl.rewardcheck import check_reward

    report = check_reward(reward, load_track(track), sandbox=sandbox)
    for finding in report.findings:
        colour = "red" if finding.level == "error" else "yellow"
        console.print(f"[bold {colour}]{finding.level}:[/] {finding.message}", highlight=False,
                      soft_wrap=True)
    if report.seconds_per_call is not None:
        where = "in the sandbox" if sandbox else "in-process"
        console.print(f"{report.calls} calls on {track}, "
                      f"{report.seconds_per_call * 1e6:.1f} µs per call {where}",
                      highlight=False)
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]ok[/]" + (" (with warnings)" if report.findings else ""))


@reward_app.command("lab")
@user_errors
def reward_lab(
    reward: str = typer.Argument(..., help="reward function .py file (or an example's name)"),
    track: str = typer.Option(DEFAULT_TRACK, help="track name or .npy file to drive"),
    json_out: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
    picture: Path | None = typer.Option(None, help="PNG of the best-paid behaviour's reward "
                                        "along the track (default: reward_lab_<track>.png)"),
    sandbox: bool = typer.Option(False, help="run the function in the sandbox"),
) -> None:
    """Drive good and bad behaviours with the reward and warn when bad driving pays more."""
    import json

    from racerl.render import save_png
    from racerl.reward import load_reward_function
    from racerl.rewardlab import TABLE_COLUMNS, lab_picture, run_lab, table_rows

    the_track = load_track(track)
    if sandbox:
        from racerl.sandbox import load_sandboxed

        with load_sandboxed(reward) as sandboxed:
            report = run_lab(the_track, sandboxed)
    else:
        report = run_lab(the_track, load_reward_function(reward))
    target = picture or Path(f"reward_lab_{the_track.name}.png")
    save_png(lab_picture(the_track, report), target)
    if json_out:
        data = report.as_dict() | {"picture": str(target)}
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"Reward lab: {Path(reward).name} on {the_track.name} "
                        "(one episode per behaviour from the start line)")
    for col in TABLE_COLUMNS:
        table.add_column(col, justify="left" if col in ("behaviour", "status") else "right")
    for row in table_rows(report):
        table.add_row(*row)
    console.print(table)
    for warning in report.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if not report.warnings:
        console.print("[green]no unwanted behaviour earns more than driving well[/]")
    console.print(f"saved {target}")


@app.command()
@user_errors
def raceline(
    track: str = typer.Option(DEFAULT_TRACK, help="track name or .npy file"),
    out: Path = typer.Option(Path("."), help="folder for <track>_raceline.csv/.npy/.png"),
    drive: bool = typer.Option(True, help="also drive it in the simulator and report the lap"),
) -> None:
    """Compute the minimum-curvature race line and its speed profile; save CSV, .npy, PNG."""
    from racerl.drivers import drive_raceline_lap
    from racerl.raceline import compute_raceline, raceline_picture, save_csv, save_npy
    from racerl.render import save_png

    the_track = load_track(track)
    line = compute_raceline(the_track)
    stem = out / f"{the_track.name}_raceline"
    save_csv(line, stem.with_suffix(".csv"))
    save_npy(line, stem.with_suffix(".npy"))
    save_png(raceline_picture(the_track, line), stem.with_suffix(".png"))
    console.print(f"{the_track.name}: race line {line.length:.2f} m "
                  f"(centre line {the_track.length:.2f} m), {len(line.xy)} points, "
                  f"speeds {line.speed.min():.2f}-{line.speed.max():.2f} m/s, "
                  f"planned lap {line.lap_time:.2f} s", highlight=False)
    if drive:
        lap = drive_raceline_lap(the_track, line)
        result = (f"{lap.lap_time:.2f} s" if lap.lap_time
                  else f"{lap.status} at {lap.progress:.1f} %")
        console.print(f"driven in the simulator (pure pursuit on the line): {result}",
                      highlight=False)
    console.print(f"saved {stem}.csv, .npy, .png")


def main() -> None:  # pragma: no cover - console-script entry
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m racerl.cli`
    app()
