"""`racerl serve`: the web console."""

from __future__ import annotations

import typer

from racerl.cli.common import app, console, user_errors
from racerl.errors import RacerlError


@app.command()
@user_errors
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on; any other than this "
                             "machine's (127.0.0.1, localhost, ::1) requires a token, "
                             "printed at start"),
    port: int = typer.Option(8000, help="port to listen on"),
    league: bool = typer.Option(False, "--league", help="a league server: racers join, "
                                "upload bundles and see the standings (/league) without "
                                "the console's token"),
) -> None:
    """Run the web console: garage, training with a live chart, evaluation, races, export."""
    try:
        import uvicorn

        from racerl.web.app import create_app, serve_token
    except ImportError as exc:
        raise RacerlError(f"the web console needs {exc.name}: pip install 'racerl[web]'") \
            from None
    token = serve_token(host)
    address = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    if token is None:
        console.print(f"racerl console on {address} (API docs at {address}docs)",
                      highlight=False)
    else:
        console.print(f"racerl console on {address}?token={token}\nrequests need this "
                      f"token (X-Racerl-Token header, or open the address above once)",
                      highlight=False, soft_wrap=True)
    if league:
        console.print(f"league standings on {address}league; racers join with: racerl "
                      f"league join --server {address} --name NAME", highlight=False,
                      soft_wrap=True)
    uvicorn.run(create_app(token=token, league=league), host=host, port=port,
                log_level="warning")
