"""A racer's side of a league server (``racerl serve --league``): join, submit, follow.

Plain HTTP with httpx against the server's JSON API; every refusal comes back as the
server's one-line ``{"error": ...}``, raised here as a :class:`ServerError`.
"""

from __future__ import annotations

import time
from pathlib import Path

from racerl.errors import RacerlError

RACER_HEADER = "X-Racer-Name"
RACER_TOKEN_HEADER = "X-Racer-Token"


class ServerError(RacerlError):
    """The league server refused a request, or could not be reached."""


def _client(server: str):
    try:
        import httpx
    except ImportError:
        raise RacerlError("talking to a league server needs httpx: pip install "
                          "'racerl[web]'") from None
    return httpx.Client(base_url=server.rstrip("/"), timeout=120.0)


def _call(server: str, method: str, path: str, **kwargs) -> dict:
    import httpx

    try:
        with _client(server) as client:
            response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ServerError(f"{server}: {' '.join(str(exc).split()) or type(exc).__name__}") \
            from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        message = body.get("error") if isinstance(body, dict) else None
        raise ServerError(f"{server}: {message or f'HTTP {response.status_code}'}")
    return body


def join(server: str, racer: str) -> str:
    """Register ``racer`` on the server; returns its token (shown only this once)."""
    return _call(server, "POST", "/api/racers", json={"name": racer})["token"]


def submit_bundle(server: str, race: str, racer: str, token: str, bundle: Path) -> dict:
    """Upload an exported bundle to ``race``; returns the queued submission."""
    try:
        data = Path(bundle).read_bytes()
    except OSError as exc:
        raise RacerlError(f"--bundle {bundle}: cannot be read ({exc.strerror})") from None
    return _call(server, "POST", f"/api/races/{race}/bundles",
                 headers={RACER_HEADER: racer, RACER_TOKEN_HEADER: token},
                 files={"bundle": (Path(bundle).name, data, "application/gzip")})


def wait_for(server: str, submission_id: int, timeout: float = 1800.0,
             poll: float = 0.5) -> dict:
    """The submission once it is done or failed (or as it is after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        entry = _call(server, "GET", f"/api/league/submissions/{submission_id}")
        if entry["state"] in ("done", "failed") or time.monotonic() > deadline:
            return entry
        time.sleep(poll)


def standings(server: str, league: str) -> dict:
    return _call(server, "GET", f"/api/leagues/{league}")
