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
from rich.markup import escape
from rich.table import Table

from racerl.catalog import DEFAULT_TRACK, add_tracks, load_track, track_index
from racerl.errors import RacerlError

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
            # escape(): a message may hold brackets ("racerl[export]", a list) that rich
            # would otherwise read as markup and drop.
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                              soft_wrap=True)
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


@app.command("export")
@user_errors
def export_command(
    name: str = typer.Argument(..., help="model name or folder"),
    out: Path | None = typer.Option(None, help="folder to write (default: <model>/export)"),
    openvino: bool = typer.Option(True, "--openvino/--no-openvino",
                                  help="also write the OpenVINO IR"),
) -> None:
    """Export a trained model for the car: ONNX, OpenVINO IR, metadata, a .tar.gz bundle."""
    from racerl.export import PARITY_TOLERANCE, export_model

    result = export_model(name, out, openvino=openvino)
    table = Table(title=f"Export of {name}")
    table.add_column("file")
    table.add_column("size", justify="right")
    for path in result.written:
        table.add_row(str(path), f"{path.stat().st_size / 1024:,.0f} KiB")
    console.print(table)
    for runtime, diff in result.parity.items():
        console.print(f"parity {runtime} vs torch: max abs diff {diff:.1e} "
                      f"(tolerance {PARITY_TOLERANCE:g})")
    console.print(f"bundle: {result.bundle}")


@app.command()
@user_errors
def drive(
    bundle: str = typer.Argument(..., metavar="BUNDLE_OR_MODEL",
                                 help="export bundle (.tar.gz), export folder, or a model "
                                      "name or folder (its export/)"),
    source: str = typer.Option("sim", metavar="sim|VIDEO|IMAGE_DIR",
                               help="'sim', a video file or a folder of PNG/JPEG frames"),
    track: str | None = typer.Option(None, help="track for --source sim (default: trained on)"),
    trials: int = typer.Option(1, help="laps from the start line for --source sim"),
    runtime: str = typer.Option("onnxruntime", help="onnxruntime or openvino"),
    csv: Path | None = typer.Option(None, help="per-frame actions as CSV (video/images)"),
) -> None:
    """Drive an exported model with onnxruntime (no torch): in the simulator or on frames."""
    from racerl.edge import EdgePolicy, load_bundle

    policy = EdgePolicy(load_bundle(bundle), runtime=runtime)
    contract = policy.contract
    if source == "sim":
        if csv is not None:
            raise RacerlError("--csv writes per-frame actions of a video or image folder; "
                              "with --source sim the laps table is the result")
        _drive_sim(policy, track or contract.track, trials)
    else:
        if contract.observation != "camera":
            raise RacerlError(f"model {contract.model!r} drives from the state vector, not "
                              "camera frames: use --source sim")
        _drive_frames(policy, Path(source), csv)
    lat = policy.latencies_ms
    table = Table(title=f"Per-frame latency, {runtime}, 1 thread")
    for col in ("frames", "p50 ms", "p99 ms", "max ms", "budget at 15 fps"):
        table.add_column(col, justify="right")
    table.add_row(str(len(lat)), f"{np.percentile(lat, 50):.3f}", f"{np.percentile(lat, 99):.3f}",
                  f"{max(lat):.3f}", "66.7 ms")
    console.print(table)


def _drive_sim(policy, track: str, trials: int) -> None:
    from racerl.env import make_env
    from racerl.evaluate import run_trials

    if trials < 1:
        raise RacerlError("--trials must be at least 1")
    c = policy.contract
    env = make_env(track=track, observation=c.observation, rgb=c.rgb,
                   frame_stack=c.frame_stack, action_space=policy.bundle.metadata,
                   start="line", max_steps=c.max_episode_steps)
    results = run_trials(policy, env, trials)
    table = Table(title=f"{c.model} driven by {policy.runtime} on {env.track.name} "
                        "(start line, studio light)")
    for col in ("trial", "status", "progress %", "lap time s", "steps"):
        table.add_column(col)
    for k, r in enumerate(results, 1):
        table.add_row(str(k), r.status, f"{r.progress:.1f}",
                      f"{r.lap_time:.2f}" if r.lap_time else "-", str(r.steps))
    console.print(table)
    console.print(f"laps done: {sum(r.completed for r in results)}/{trials}")


SHOWN_FRAMES = 20


def _drive_frames(policy, source: Path, csv_path: Path | None) -> None:
    from racerl.framesource import model_frames

    c = policy.contract
    rows = []
    for label, obs in model_frames(source, c.rgb, c.frame_stack):
        action = policy(obs)
        steer, speed = policy.physical(action)
        shown = str(action) if np.ndim(action) == 0 else \
            " ".join(f"{v:.3f}" for v in np.asarray(action))
        rows.append((label, shown, f"{steer:.2f}", f"{speed:.2f}",
                     f"{policy.latencies_ms[-1]:.3f}"))
    table = Table(title=f"{c.model} on {source} ({len(rows)} frames)")
    for col in ("frame", "action", "steering °", "speed m/s", "latency ms"):
        table.add_column(col)
    for row in rows[:SHOWN_FRAMES]:
        table.add_row(*row)
    console.print(table)
    if len(rows) > SHOWN_FRAMES:
        console.print(f"... {len(rows) - SHOWN_FRAMES} more frames (all of them with --csv)")
    if csv_path is not None:
        import csv as csv_module
        import io

        from racerl.atomic import atomic_write_text

        text = io.StringIO()
        writer = csv_module.writer(text, lineterminator="\n")
        writer.writerow(["frame", "action", "steering_angle", "speed", "latency_ms"])
        writer.writerows(rows)
        atomic_write_text(csv_path, text.getvalue())
        console.print(f"saved {csv_path}")


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


def main() -> None:  # pragma: no cover - console-script entry
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m racerl.cli`
    app()
