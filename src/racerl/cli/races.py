"""`racerl race ...`: time-trial races and their leaderboards."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from racerl.cli.common import (
    CHECKPOINT_OPT,
    DRIVER_OPT,
    SPEED_OPT,
    app,
    console,
    pick_entrant,
    print_evaluation,
    seconds,
    user_errors,
)
from racerl.errors import RacerlError
from racerl.track import DEFAULT_TRACK

race_app = typer.Typer(help="Races (time trial, object avoidance, head-to-bot) and their "
                            "leaderboards.", no_args_is_help=True)
app.add_typer(race_app, name="race")


@race_app.command("create")
@user_errors
def race_create(
    name: str = typer.Argument(..., help="race name: letters, digits, '-', '_', '.'"),
    track: str = typer.Option(DEFAULT_TRACK, help="track name or .npy path"),
    race_type: str = typer.Option("time-trial", "--type", help="race type: time-trial, "
                                  "object-avoidance (boxes), head-to-bot (bot cars) or "
                                  "head-to-model (two models at once)"),
    laps: int = typer.Option(3, help="laps per submission, driven in one go"),
    lighting: str = typer.Option("studio", help="lighting preset every entrant races in"),
    off_track_penalty: float = typer.Option(1.0, help="seconds frozen after leaving the track"),
    seed: int = typer.Option(0, help="seed of the race's lighting draw"),
    duration: float | None = typer.Option(
        None, help="seconds of race time, after which a submission ends 'time_up' "
                   "(DeepRacer's virtual events); default: no limit"),
    max_resets: int = typer.Option(10_000, help="resets before a mistake ends a submission "
                                                "(DRfC DR_EVAL_MAX_RESETS)"),
    reverse_direction: bool = typer.Option(False, "--reverse-direction",
                                           help="race the track the other way round"),
    collision_penalty: float = typer.Option(1.0, help="seconds frozen after a crash"),
    number_of_obstacles: int | None = typer.Option(None, help="object-avoidance: boxes (6)"),
    object_positions: str | None = typer.Option(
        None, help="object-avoidance: fixed boxes, 'progress,lane;...' (1 inner, -1 outer)"),
    randomize_obstacle_locations: bool = typer.Option(
        False, "--randomize-obstacle-locations",
        help="object-avoidance: the boxes drawn anew each lap's episode (from the seed)"),
    number_of_bot_cars: int | None = typer.Option(None, help="head-to-bot: bot cars (3)"),
    bot_car_speed: float | None = typer.Option(None, help="head-to-bot: m/s (0.2)"),
    is_lane_change: bool = typer.Option(False, "--is-lane-change",
                                        help="head-to-bot: bots change lanes every 3-5 s"),
    done_condition: str | None = typer.Option(
        None, help="head-to-model: 'any' (the first car to finish ends the race, "
                   "DeepRacer's default) or 'all' (each car races to its own finish)"),
) -> None:
    """Create a race: its settings are fixed so that every submission compares."""
    from racerl.evaluate.races import create_race, database_path

    given = {"number_of_obstacles": number_of_obstacles, "object_positions": object_positions,
             "randomize_obstacle_locations": randomize_obstacle_locations or None,
             "number_of_bot_cars": number_of_bot_cars, "bot_car_speed": bot_car_speed,
             "is_lane_change": is_lane_change or None, "done_condition": done_condition}
    race = create_race(name, track, race_type, laps, lighting, off_track_penalty, seed,
                       duration, max_resets, reverse_direction, collision_penalty,
                       {k: v for k, v in given.items() if v is not None})
    console.print(f"race {race.name}: {race.describe()} (in {database_path()})",
                  highlight=False)


@race_app.command("submit")
@user_errors
def race_submit(
    name: str = typer.Argument(..., help="race name"),
    models: list[str] | None = typer.Argument(None, help="model names or folders (or use "
                                                         "--driver)"),
    driver: str | None = DRIVER_OPT,
    speed: float = SPEED_OPT,
    checkpoint: str = CHECKPOINT_OPT,
    server: str | None = typer.Option(
        None, help="submit to a league server (racerl serve --league) instead of this "
                   "machine: the model is exported and its bundle uploaded"),
    racer: str | None = typer.Option(None, help="with --server: your racer name"),
    token: str | None = typer.Option(None, help="with --server: your racer token "
                                                "(racerl league join)"),
    bundle: Path | None = typer.Option(None, help="with --server: an exported .tar.gz "
                                                  "to upload instead of a model"),
    wait: bool = typer.Option(True, help="with --server: wait for the result"),
    parallel: bool = typer.Option(False, "--parallel",
                                  help="race the models at once, as Ray tasks (one CPU each)"),
    address: str | None = typer.Option(None, help="with --parallel: the Ray cluster to run on "
                                                  "(default: a local Ray on this machine)"),
) -> None:
    """Race models (or a scripted driver) and put them on the leaderboard; with --server,
    on a league server's. A head-to-model race takes two at once: two models, or a model
    and --driver."""
    from racerl.evaluate.races import HEAD_TO_MODEL, get_race, submit, submit_parallel

    if server is not None:
        from racerl.cli.league import remote_submit

        if driver is not None or parallel or (models and len(models) > 1):
            raise RacerlError("--server uploads one model's bundle (give one model or "
                              "--bundle); --driver and --parallel race on this machine")
        return remote_submit(name, server, racer, token, bundle,
                             models[0] if models else None, checkpoint, wait)
    if address and not parallel:
        raise RacerlError("--address goes with --parallel")
    if parallel and not models:
        raise RacerlError("--parallel races models: name them (racerl race submit RACE "
                          "MODEL MODEL ...)")
    if server is None and not parallel and get_race(name).type == HEAD_TO_MODEL:
        return _race_match(name, models or [], driver, speed, checkpoint)
    entrants = [pick_entrant(m, driver, speed, checkpoint) for m in models] if models \
        else [pick_entrant(None, driver, speed, checkpoint)]
    if parallel:
        results = submit_parallel(name, entrants, checkpoint, address)
    else:
        results = [submit(name, who) for who in entrants]
    for who, (run, standing) in zip(entrants, results, strict=True):
        print_evaluation(run)
        console.print(f"{who.name} is {_ordinal(standing.rank)} on the {name} leaderboard")


def _race_match(name: str, models: list[str], driver: str | None, speed: float,
                checkpoint: str) -> None:
    """One head-to-model match: two models, or a model and a scripted driver."""
    from racerl.evaluate.races import submit_match

    entrants = [pick_entrant(m, None, speed, checkpoint) for m in models]
    if driver is not None:
        entrants.append(pick_entrant(None, driver, speed, checkpoint))
    if len(entrants) != 2:
        raise RacerlError(f"{name} is a head-to-model race: name two models, or one model "
                          f"and --driver (got {len(entrants)} entrant(s))")
    match, standings = submit_match(name, entrants)
    for run in match.runs:
        print_evaluation(run)
    winner, loser = entrants[match.winner], entrants[1 - match.winner]
    console.print(f"{winner.name} beat {loser.name}", highlight=False)
    for who, standing in zip(entrants, standings, strict=True):
        console.print(f"{who.name} is {_ordinal(standing.rank)} on the {name} leaderboard "
                      f"({standing.wins} win{'' if standing.wins == 1 else 's'})",
                      highlight=False)


@race_app.command("leaderboard")
@user_errors
def race_leaderboard(name: str = typer.Argument(..., help="race name")) -> None:
    """Each entrant's best submission: total time (penalties included), then best lap."""
    from racerl.evaluate.races import get_race, leaderboard

    race = get_race(name)
    table = Table(title=f"{race.name}: {race.describe()}")
    board = leaderboard(name)
    matches = race.type == "head-to-model"
    columns = ("#", "entrant", *(("wins",) if matches else ()), "total s", "best lap s",
               "laps", "off track", "collisions", "penalty s", "lap times s", "model",
               "matches" if matches else "tries")
    for col in columns:
        narrow = col in ("#", "laps", "wins")
        table.add_column(col, no_wrap=True, min_width=len(col) if narrow else None,
                         justify="left" if col in ("entrant", "lap times s", "model") else "right")
    for st in board:
        table.add_row(str(st.rank), st.entrant, *((str(st.wins),) if matches else ()),
                      seconds(st.total_time), seconds(st.best_lap),
                      f"{st.laps_completed}/{race.laps}", str(st.off_track),
                      str(st.collisions), f"{st.penalty:.1f}",
                      "/".join(f"{t:.2f}" for t in st.lap_times),
                      _short_hash(st.model_hash), str(st.submissions))
    console.print(table)


@race_app.command("list")
@user_errors
def race_list() -> None:
    """Every race and its settings."""
    from racerl.evaluate.races import list_races

    table = Table(title="Races")
    for col in ("name", "type", "track", "laps", "lighting", "off-track penalty s", "seed",
                "duration s", "max resets", "direction"):
        table.add_column(col)
    for r in list_races():
        table.add_row(r.name, r.type, r.track, str(r.laps), r.lighting,
                      f"{r.off_track_penalty:g}", str(r.seed),
                      "-" if r.race_duration is None else f"{r.race_duration:g}",
                      str(r.max_resets), "reversed" if r.reverse_direction else "as drawn")
    console.print(table)


def _short_hash(digest: str) -> str:
    return "scripted" if digest.startswith("scripted:") else digest[:8]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
