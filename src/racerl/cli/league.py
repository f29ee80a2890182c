"""`racerl league ...`: seasons of races with points, and racers on other machines.

The server side runs locally (`league create`, `league add-race`, `league standings`) next
to `racerl serve --league`; a racer's side talks to that server over HTTP (`league join
--server`, `league standings --server`, and `racerl race submit --server`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.table import Table

from racerl.cli.common import app, console, err_console, seconds, user_errors

league_app = typer.Typer(help="Leagues: seasons of races with points per finishing position.",
                         no_args_is_help=True)
app.add_typer(league_app, name="league")

SERVER_OPT = typer.Option(..., help="the league server's address, e.g. http://host:8000")


@league_app.command("create")
@user_errors
def league_create(
    name: str = typer.Argument(..., help="league name: letters, digits, '-', '_', '.'"),
    race: list[str] = typer.Option([], "--race", help="a race of the season (repeat, in "
                                                      "order); create races first"),
) -> None:
    """Create a league of existing races on this machine; serve it with --league."""
    from racerl.league.store import create_league

    create_league(name, race)
    console.print(f"league {name}: {', '.join(race) or 'no races yet'}", highlight=False)


@league_app.command("add-race")
@user_errors
def league_add_race(
    name: str = typer.Argument(..., help="league name"),
    race: list[str] = typer.Argument(..., help="races to add to the end of the season"),
) -> None:
    """Add races to a league's season."""
    from racerl.league.store import add_races, get_league_races

    add_races(name, race)
    console.print(f"league {name}: {', '.join(get_league_races(name))}", highlight=False)


@league_app.command("join")
@user_errors
def league_join(
    server: str = SERVER_OPT,
    name: str = typer.Option(..., help="your racer name: letters, digits, '-', '_', '.'"),
) -> None:
    """Join a league server as a racer; prints your token, which is shown only once."""
    from racerl.league.client import join

    token = join(server, name)
    console.print(f"racer {name} joined {server}\ntoken: {token}\nkeep it: submit with "
                  f"racerl race submit RACE --server {server} --racer {name} --token TOKEN "
                  "--bundle BUNDLE.tar.gz (or a model name)", highlight=False, soft_wrap=True)


@league_app.command("standings")
@user_errors
def league_standings(
    name: str = typer.Argument(..., help="league name"),
    server: str | None = typer.Option(None, help="a league server (default: this machine's "
                                                 "races database)"),
) -> None:
    """The season's standings: points per race and in total."""
    if server is None:
        from racerl.league.store import league_standings as local

        data = local(name)
    else:
        from racerl.league.client import standings

        data = standings(server, name)
    print_standings(data)


@league_app.command("run-submission", hidden=True)
@user_errors
def league_run_submission(submission: int = typer.Argument(...)) -> None:
    """Drive one queued bundle submission (the league server runs this per upload)."""
    from racerl.league.queue import run_submission

    entry = run_submission(submission)
    console.print(f"{entry.racer} is number {entry.rank} on the {entry.race} leaderboard")


def print_standings(data: dict) -> None:
    races = [r["name"] for r in data["races"]]
    table = Table(title=f"League {data['league']}: overall")
    for col in ("#", "racer", "points", *races):
        table.add_column(col, justify="left" if col == "racer" else "right")
    for row in data["overall"]:
        table.add_row(str(row["rank"]), row["racer"], str(row["points"]),
                      *(str(row["positions"].get(r, "-")) for r in races))
    console.print(table)
    current = next((r for r in data["races"] if r["name"] == data["current"]), None)
    if current is not None:
        board = Table(title=f"{current['name']}: {current['description']}")
        for col in ("#", "racer", "points", "total s", "best lap s", "laps"):
            board.add_column(col, justify="left" if col == "racer" else "right")
        for st in current["leaderboard"]:
            board.add_row(str(st["rank"]), st["entrant"], str(st["points"]),
                          seconds(st["total_time"]), seconds(st["best_lap"]),
                          f"{st['laps_completed']}/{current['laps']}")
        console.print(board)


def remote_submit(race: str, server: str, racer: str | None, token: str | None,
                  bundle: Path | None, model: str | None, checkpoint: str,
                  wait: bool) -> None:
    """`racerl race submit --server`: upload a bundle (exporting ``model`` first into a
    temporary folder), then follow it until it is on the board."""
    from racerl.errors import RacerlError
    from racerl.league.client import submit_bundle, wait_for

    if racer is None or token is None:
        raise RacerlError("--server needs --racer and --token (get a token with "
                          "`racerl league join --server URL --name NAME`)")
    if (bundle is None) == (model is None):
        raise RacerlError("with --server give a model to export or --bundle PATH (one)")
    with tempfile.TemporaryDirectory(prefix="racerl-submit-") as tmp:
        if bundle is None:
            from racerl.edge.export import export_model

            err_console.print(f"exporting {model} ({checkpoint} checkpoint)...", style="dim")
            bundle = export_model(model, out=tmp, openvino=False,
                                  checkpoint=checkpoint).bundle
        entry = submit_bundle(server, race, racer, token, bundle)
    console.print(f"submission {entry['id']} of {racer} to {race}: {entry['state']}",
                  highlight=False)
    if not wait:
        return
    entry = wait_for(server, entry["id"])
    if entry["state"] == "failed":
        raise RacerlError(f"submission {entry['id']} failed: {entry['error']}")
    if entry["state"] != "done":
        raise RacerlError(f"submission {entry['id']} is still {entry['state']}; follow it "
                          f"at {server.rstrip('/')}/api/league/submissions/{entry['id']}")
    console.print(f"{racer} is number {entry['rank']} on the {race} leaderboard",
                  highlight=False)
