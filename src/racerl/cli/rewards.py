"""`racerl reward check|lab` and `racerl raceline`: what a reward pays for, and the limit."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from racerl.cli.common import (
    app,
    console,
    sandbox_notice,
    user_errors,
)
from racerl.track import DEFAULT_TRACK

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
    from racerl.lab.check import check_reward
    from racerl.track.catalog import load_track

    if sandbox:
        sandbox_notice()
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
    discount: float | None = typer.Option(
        None, min=0.0, max=1.0, help="the discount factor the model will train with (default: "
        "TrainConfig's discount_factor): the discounted return the lab ranks by uses it"),
    race_type: str = typer.Option("time_trial", help="time_trial, object_avoidance (boxes) or "
                                  "head_to_bot (bot cars): the latter two drive the object "
                                  "behaviours (avoiding, crashing, swerving late, stopping, "
                                  "tailgating)"),
    number_of_obstacles: int = typer.Option(3, help="boxes in object_avoidance"),
    object_positions: str = typer.Option("", help="fixed boxes, 'progress,lane;...' (lane 1 "
                                         "inner, -1 outer)"),
    number_of_bot_cars: int = typer.Option(2, help="bot cars in head_to_bot"),
    bot_car_speed: float = typer.Option(0.4, help="bot car speed, m/s"),
) -> None:
    """Drive good and bad behaviours with the reward and warn when bad driving pays more.

    Each bad behaviour is searched over its parameters and shown by its worst variant."""
    import json

    from racerl.camera.topdown import save_png
    from racerl.envs.cars import race_setup
    from racerl.lab.lab import DEFAULT_DISCOUNT, TABLE_COLUMNS, lab_picture, run_lab, table_rows
    from racerl.model.config import TrainConfig
    from racerl.reward.function import load_reward_function
    from racerl.track.catalog import load_track

    config = TrainConfig(race_type=race_type, number_of_obstacles=number_of_obstacles,
                         object_positions=object_positions,
                         number_of_bot_cars=number_of_bot_cars,
                         bot_car_speed=bot_car_speed).validate()
    race = race_setup(None, config.race_options())
    the_track = load_track(track)
    discount = DEFAULT_DISCOUNT if discount is None else discount
    if sandbox:
        from racerl.reward.sandbox import load_sandboxed

        sandbox_notice()
        with load_sandboxed(reward) as sandboxed:
            report = run_lab(the_track, sandboxed, discount=discount, race=race)
    else:
        report = run_lab(the_track, load_reward_function(reward), discount=discount,
                         race=race)
    target = picture or Path(f"reward_lab_{the_track.name}.png")
    save_png(lab_picture(the_track, report), target)
    if json_out:
        data = report.as_dict() | {"picture": str(target)}
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"Reward lab: {Path(reward).name} on {the_track.name} (the start-"
                        "line episode of each behaviour; discounted: the mean discounted "
                        f"return, discount {report.discount:g}, of the episodes from "
                        f"{len(report.starts)} starts round the lap)")
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
    from racerl.camera.topdown import save_png
    from racerl.drive.pursuit import drive_raceline_lap
    from racerl.drive.raceline import compute_raceline, raceline_picture, save_csv, save_npy
    from racerl.track.catalog import load_track

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
