"""`racerl tracks` and `racerl view`: the tracks and pictures of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from racerl.cli.common import (
    app,
    console,
    err_console,
    user_errors,
)
from racerl.errors import RacerlError
from racerl.track import DEFAULT_TRACK

tracks_app = typer.Typer(help="List, add and create tracks.", invoke_without_command=True)
app.add_typer(tracks_app, name="tracks")


@tracks_app.callback()
@user_errors
def tracks_list(ctx: typer.Context) -> None:
    """Show every track found: built-in, DeepRacer's (when added) and your own."""
    from racerl.track.catalog import track_index

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
    from racerl.track.catalog import add_tracks

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
    from racerl.home import check_name, user_tracks_dir
    from racerl.track.generator import generate_track, write_track
    from racerl.track.geometry import Track

    check_name(name, "track")  # stays in the home, like model and race names
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
    objects: bool = typer.Option(False, "--objects",
                                 help="with --camera: a box and a bot car ahead of the car"),
    objects_grid: bool = typer.Option(False, "--objects-grid",
                                      help="boxes and a bot car in the camera, near and far, "
                                      "and the stereo pair"),
    race_type: str = typer.Option("time_trial", help="with --camera: the objects of this race "
                                  "as the simulator places them (object_avoidance, "
                                  "head_to_bot, head_to_model: the other racer on the grid)"),
    object_positions: str = typer.Option("", help="with --race-type object_avoidance: fixed "
                                         "boxes, 'progress,lane;...'"),
    number_of_bot_cars: int = typer.Option(1, help="with --race-type head_to_bot"),
) -> None:
    """Save a picture of a track: top-down, with the camera view, a lighting grid, or
    obstacles in the camera."""
    from racerl.camera.lighting import check_lighting
    from racerl.track.catalog import load_track

    course = load_track(track, reverse=reverse)
    check_lighting(lighting, "--lighting")
    if camera or lighting_grid or objects_grid:
        from racerl.camera.topdown import save_png
        from racerl.viz import views

        if lighting_grid:
            image = views.lighting_grid_image(course, at=at, seed=seed)
        elif objects_grid:
            image = views.camera_objects_image(course, preset=lighting, seed=seed)
        else:
            demo = (views.objects_ahead(course, at, views.DEMO_OBJECTS)
                    if objects else None)
            if race_type != "time_trial":
                demo = _race_objects(course, at, race_type, object_positions,
                                     number_of_bot_cars)
            image = views.camera_view_image(course, at=at, preset=lighting, seed=seed,
                                            objects=demo)
        save_png(image, out)
        console.print(f"saved {out}")
        return
    _save_view(course, out)


def _race_objects(course, at: float, race_type: str, object_positions: str,
                  bot_cars: int):
    """The objects the simulator places for a race with the car on the centre line at
    ``at``, as ``racerl train`` and ``racerl evaluate`` see them."""
    from racerl.envs.cars import Racers, race_setup
    from racerl.model.config import TrainConfig
    from racerl.sim.race_setup import START_GAP, RaceSetup

    if race_type == "head_to_model":  # the view of racer 1: racer 0 one grid place ahead
        racers = Racers(2, track=course, observation="state", start="line",
                        race=RaceSetup(race_type="head_to_model"))
        racers.reset(np.arange(2), seeds=[0, 0],
                     start_ndist=(at + START_GAP / course.length) % 1.0)
        return racers.sim.objects.subset(np.array([1]))
    config = TrainConfig(race_type=race_type, object_positions=object_positions,
                         number_of_bot_cars=bot_cars).validate()
    race = race_setup(None, config.race_options())
    racers = Racers(1, track=course, observation="state", start="line", race=race)
    racers.reset(np.array([0]), seeds=[0], start_ndist=at % 1.0)
    return racers.sim.objects


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
    from racerl.camera.topdown import TopDownRenderer, save_png

    xy, yaw = track.pose_at(0.0)
    caption = (f"{track.name}: {track.length:.2f} m, width {track.summary_width():.2f} m, "
               f"{'ccw' if track.is_ccw else 'cw'}")
    save_png(TopDownRenderer(track).draw(np.array([[xy[0], xy[1], yaw]]), caption=caption), out)
    console.print(f"saved {out}")
