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
    """Laps from the start line under DeepRacer's evaluation rules, as `racerl evaluate`
    drives them, with the runtime called on one frame at a time (a car's latency)."""
    from racerl.evaluate import EvalSettings, PolicyDriver, evaluate

    if trials < 1:
        raise RacerlError("--trials must be at least 1")
    c = policy.contract

    def one_frame_at_a_time(batch: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(policy(obs)) for obs in batch])

    driver = PolicyDriver(one_frame_at_a_time, policy.bundle.actions,
                          f"{c.model} on {policy.runtime}", observation=c.observation,
                          rgb=c.rgb, frame_stack=c.frame_stack)
    _print_evaluation(evaluate(driver, EvalSettings(track=track, trials=trials)))


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
    sandbox: bool = typer.Option(False, "--sandbox",
                                 help="run the reward function in a sandboxed process"),
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
                                   ("n_envs", n_envs), ("seed", seed),
                                   ("sandbox_reward", sandbox or None)) if v is not None}
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
    from racerl.evalrecord import save_evaluation
    from racerl.evaluate import EvalSettings, evaluate, model_entrant

    who = model_entrant(name)
    run = evaluate(who.driver, EvalSettings(track=who.track, trials=trials))
    folder = save_evaluation(who.folder, run, who.identity)
    _print_evaluation(run, folder)


def _print_evaluation(run, folder: Path | None = None) -> None:
    """The per-trial table of an evaluation (per lap for a race) and its totals."""
    settings = run.settings
    kind = "lap" if settings.continuous else "trial"
    table = Table(title=f"Evaluation of {run.driver} on {settings.track} "
                        f"({settings.lighting} light, seed {settings.seed}, "
                        f"off-track penalty {settings.rules.off_track_penalty:g} s)")
    for col in (kind, "status", "lap time s", "off track", "penalty s", "completion %"):
        table.add_column(col, justify="left" if col == "status" else "right")
    for t in run.trials:
        table.add_row(str(t.trial), t.status, _seconds(t.lap_time), str(t.off_track),
                      f"{t.penalty:.1f}", f"{t.progress:.1f}")
    s = run.summary()
    table.add_section()
    table.add_row("total", f"{s.laps}/{s.trials} laps", _seconds(s.total_time),
                  str(s.off_track), f"{s.penalty:.1f}", f"{s.completion:.1f}")
    console.print(table)
    console.print(f"best lap {_seconds(s.best_lap)} s, mean lap {_seconds(s.mean_lap)} s"
                  + (f"; saved in {folder}" if folder else ""), highlight=False)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _entrant(model: str | None, driver: str | None, speed: float):
    from racerl.evaluate import entrant

    return entrant(model, driver, speed)


MODEL_ARG = typer.Argument(None, help="model name or folder (or use --driver)")
DRIVER_OPT = typer.Option(None, help="a scripted driver instead of a model: centerline "
                                      "(at --speed) or raceline (the track's limit)")
SPEED_OPT = typer.Option(1.0, help="speed of the scripted centre-line driver, m/s")


@app.command("evaluate")
@user_errors
def evaluate_command(
    model: str | None = MODEL_ARG,
    track: str | None = typer.Option(None, help="track (default: the model's training track)"),
    trials: int = typer.Option(3, help="laps, each from the start line"),
    lighting: str = typer.Option("studio", help="lighting preset"),
    seed: int = typer.Option(0, help="seed of the lighting draw"),
    driver: str | None = DRIVER_OPT,
    speed: float = SPEED_OPT,
    off_track_penalty: float = typer.Option(2.0, help="seconds frozen after leaving the track"),
    video: Path | None = typer.Option(None, help="also save a video (.mp4 or .gif)"),
) -> None:
    """Evaluate a model (or a scripted driver) under DeepRacer's evaluation rules."""
    from racerl.evalrecord import save_evaluation
    from racerl.evaluate import EvalSettings, EvaluationRules, evaluate

    if video is not None and video.suffix.lower() not in (".mp4", ".gif"):
        raise RacerlError(f"--video {video}: use a .mp4 or .gif file name")
    if off_track_penalty < 0:
        raise RacerlError(f"--off-track-penalty {off_track_penalty}: use 0 or more seconds")
    who = _entrant(model, driver, speed)
    settings = EvalSettings(track=track or who.track, trials=trials, lighting=lighting,
                            seed=seed, rules=EvaluationRules(off_track_penalty=off_track_penalty))
    run = evaluate(who.driver, settings, keep_frames=video is not None)
    folder = save_evaluation(who.folder, run, who.identity)
    _print_evaluation(run, folder)
    if video is not None:
        from racerl.video import write_video

        write_video(run, load_track(settings.track), video)
        console.print(f"saved {video}")


@app.command()
@user_errors
def robustness(
    model: str | None = MODEL_ARG,
    track: str | None = typer.Option(None, help="track (default: the model's training track)"),
    trials: int = typer.Option(3, help="laps per lighting preset"),
    seed: int = typer.Option(0, help="seed of the lighting draws"),
    driver: str | None = DRIVER_OPT,
    speed: float = SPEED_OPT,
    out: Path | None = typer.Option(None, help="PNG of what the car saw under each preset"),
) -> None:
    """Evaluate under every lighting preset: does the model survive sun, shadow and dusk?"""
    from racerl.atomic import atomic_write_json
    from racerl.evaluate import EvalSettings
    from racerl.render import save_png
    from racerl.robustness import robustness as run_robustness
    from racerl.robustness import robustness_grid

    who = _entrant(model, driver, speed)
    settings = EvalSettings(track=track or who.track, trials=trials, seed=seed)
    results = run_robustness(who.driver, settings)
    table = Table(title=f"Robustness of {who.driver.label} on {settings.track} "
                        f"({trials} trials per lighting preset, seed {seed})")
    for col in ("lighting", "laps", "completion %", "best lap s", "mean lap s", "off track",
                "penalty s"):
        table.add_column(col, justify="left" if col == "lighting" else "right")
    for r in results:
        s = r.summary
        table.add_row(r.preset, f"{s.laps}/{s.trials}", f"{s.completion:.1f}",
                      _seconds(s.best_lap), _seconds(s.mean_lap), str(s.off_track),
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
    from racerl.garage import model_folder
    from racerl.viz import training_chart

    folder = model_folder(name)
    if evaluation:
        _plot_evaluation(folder.root, out)
        return
    folder.config()  # a clear error when there is no such model
    metrics = folder.metrics()
    if not metrics:
        raise RacerlError(f"{folder.root}: no training episodes recorded yet")
    target = out or folder.root / "training_chart.png"
    training_chart(metrics, name, target)
    console.print(f"saved {target}")


def _plot_evaluation(root: Path, out: Path | None) -> None:
    from racerl.evalrecord import latest_evaluation, load_summary, read_trace
    from racerl.viz import evaluation_chart

    found = latest_evaluation(root)
    about = load_summary(found)
    settings = about["settings"]
    s = about["summary"]
    title = (f"{about['driver']} on {settings['track']} ({settings['lighting']} light): "
             f"{s['laps']}/{s['trials']} laps, best {_seconds(s['best_lap'])} s, "
             f"{s['off_track']} off track — evaluation {about['id']}")
    target = out or root / "evaluation_chart.png"
    evaluation_chart(read_trace(found), load_track(settings["track"]), title, target)
    console.print(f"saved {target}")


race_app = typer.Typer(help="Time-trial races and their leaderboards.", no_args_is_help=True)
app.add_typer(race_app, name="race")


@race_app.command("create")
@user_errors
def race_create(
    name: str = typer.Argument(..., help="race name"),
    track: str = typer.Option(DEFAULT_TRACK, help="track name or .npy path"),
    race_type: str = typer.Option("time-trial", "--type", help="race type: time-trial"),
    laps: int = typer.Option(3, help="laps per submission, driven in one go"),
    lighting: str = typer.Option("studio", help="lighting preset every entrant races in"),
    off_track_penalty: float = typer.Option(1.0, help="seconds frozen after leaving the track"),
    seed: int = typer.Option(0, help="seed of the race's lighting draw"),
) -> None:
    """Create a race: its settings are fixed so that every submission compares."""
    from racerl.race import create_race, database_path

    race = create_race(name, track, race_type, laps, lighting, off_track_penalty, seed)
    console.print(f"race {race.name}: {race.type}, {race.laps} laps on {race.track}, "
                  f"{race.lighting} light, off-track penalty {race.off_track_penalty:g} s "
                  f"(in {database_path()})", highlight=False)


@race_app.command("submit")
@user_errors
def race_submit(
    name: str = typer.Argument(..., help="race name"),
    model: str | None = MODEL_ARG,
    driver: str | None = DRIVER_OPT,
    speed: float = SPEED_OPT,
) -> None:
    """Race a model (or a scripted driver) and put it on the leaderboard."""
    from racerl.race import submit

    who = _entrant(model, driver, speed)
    run, standing = submit(name, who)
    _print_evaluation(run)
    console.print(f"{who.name} is {_ordinal(standing.rank)} on the {name} leaderboard")


@race_app.command("leaderboard")
@user_errors
def race_leaderboard(name: str = typer.Argument(..., help="race name")) -> None:
    """Each entrant's best submission: total time (penalties included), then best lap."""
    from racerl.race import get_race, leaderboard

    race = get_race(name)
    table = Table(title=f"{race.name}: {race.type}, {race.laps} laps on {race.track}, "
                        f"{race.lighting} light, off-track penalty {race.off_track_penalty:g} s")
    for col in ("#", "entrant", "total s", "best lap s", "laps", "off track", "penalty s",
                "lap times s", "model", "tries"):
        table.add_column(col, no_wrap=True,
                         justify="left" if col in ("entrant", "lap times s", "model") else "right")
    for st in leaderboard(name):
        table.add_row(str(st.rank), st.entrant, _seconds(st.total_time), _seconds(st.best_lap),
                      f"{st.laps_completed}/{race.laps}", str(st.off_track),
                      f"{st.penalty:.1f}", "/".join(f"{t:.2f}" for t in st.lap_times),
                      _short_hash(st.model_hash), str(st.submissions))
    console.print(table)


@race_app.command("list")
@user_errors
def race_list() -> None:
    """Every race and its settings."""
    from racerl.race import list_races

    table = Table(title="Races")
    for col in ("name", "type", "track", "laps", "lighting", "off-track penalty s", "seed"):
        table.add_column(col)
    for r in list_races():
        table.add_row(r.name, r.type, r.track, str(r.laps), r.lighting,
                      f"{r.off_track_penalty:g}", str(r.seed))
    console.print(table)


def _short_hash(digest: str) -> str:
    return "scripted" if digest.startswith("scripted:") else digest[:8]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


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
