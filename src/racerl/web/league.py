"""League routes of ``racerl serve``: leagues, racers joining, bundle uploads, standings.

Who may do what: creating a league and adding races are the console's (its token, or this
machine when it has none); joining, uploading a bundle (with the racer's own token in the
``X-Racer-Token`` header) and every standings route and page are open to racers when the
server runs with ``--league`` (:func:`is_public`), so a racer needs only the address, a
name and the token the join gave. An upload is checked in the request (size, layout,
metadata, ONNX operators, input shape) and queued; its evaluation runs in the background
(:class:`racerl.league.queue.QueueWorker`), and the standings follow it live over
server-sent events.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated

from fastapi import APIRouter, File, Header, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from racerl.home import check_name
from racerl.league import store
from racerl.league.bundles import MAX_BUNDLE_BYTES, check_upload
from racerl.league.client import RACER_HEADER, RACER_TOKEN_HEADER
from racerl.league.queue import QueueWorker

UPLOAD_PATH = re.compile(r"/api/races/[^/]+/bundles")
PUBLIC = (re.compile(r"/league(/[^/]+)?"), re.compile(r"/static/.+"),
          re.compile(r"/api/leagues(/[^/]+(/events)?)?"),
          re.compile(r"/api/league/submissions/\d+"), re.compile(r"/api/racers"),
          UPLOAD_PATH)
UPLOAD_LIMIT = MAX_BUNDLE_BYTES + 64 * 1024  # the bundle and its multipart envelope
EVENT_POLL_S = 0.5


def is_public(method: str, path: str) -> bool:
    """Routes a racer uses without the console's token: reading standings, joining and
    uploading (which checks the racer's own token)."""
    if method == "POST" and path == "/api/leagues":
        return False  # creating a league is the console's
    if method == "POST" and path.startswith("/api/leagues/"):
        return False  # so is adding races
    return any(p.fullmatch(path) for p in PUBLIC)


def body_limit(path: str, default: int) -> int:
    """The request body cap of ``path``: bundle uploads get room for a bundle."""
    return UPLOAD_LIMIT if UPLOAD_PATH.fullmatch(path) else default


class CreateLeague(BaseModel):
    name: str = Field(..., description="league name: letters, digits, '-', '_', '.'")
    races: list[str] = Field(default_factory=list, description="existing races, in season "
                                                               "order")


class AddRaces(BaseModel):
    races: list[str] = Field(..., min_length=1, description="races to add to the season")


class Join(BaseModel):
    name: str = Field(..., description="racer name: letters, digits, '-', '_', '.'")


def install_league(app, templates) -> None:
    """Add the league routes and their error statuses to the console's app."""
    from fastapi.responses import JSONResponse

    async def refused(request: Request, exc: store.LeagueError):
        status = 401 if isinstance(exc, store.TokenError) else \
            404 if str(exc).startswith("no ") else 409
        return JSONResponse({"error": str(exc)}, status)

    app.add_exception_handler(store.LeagueError, refused)
    router = league_router(templates)
    app.include_router(router)
    app.state.league_worker = router.worker


def league_router(templates) -> APIRouter:
    """The league routes; ``templates`` renders the standings page."""
    router = APIRouter()
    worker = QueueWorker()
    router.worker = worker  # the app's tests wait on it
    worker.kick()  # a queue a previous server left

    @router.get("/league", include_in_schema=False)
    def leagues_page(request: Request):
        return templates.TemplateResponse(request, "leagues.html",
                                          {"page": "leagues.html",
                                           "leagues": store.list_leagues()})

    @router.get("/league/{name}", include_in_schema=False)
    def standings_page(request: Request, name: str):
        store.get_league_races(name)
        return templates.TemplateResponse(request, "league.html",
                                          {"page": "league.html", "name": name})

    @router.get("/api/leagues", tags=["leagues"])
    def leagues() -> list[dict]:
        """Every league and its races."""
        return [{"name": n, "races": store.get_league_races(n)} for n in store.list_leagues()]

    @router.post("/api/leagues", tags=["leagues"], status_code=201)
    def create_league(body: CreateLeague) -> dict:
        """Create a league of existing races (the console's token, or this machine)."""
        store.create_league(body.name, body.races)
        return {"name": body.name, "races": store.get_league_races(body.name)}

    @router.post("/api/leagues/{name}/races", tags=["leagues"])
    def add_races(name: str, body: AddRaces) -> dict:
        """Add races to the end of a league's season."""
        store.add_races(name, body.races)
        return {"name": name, "races": store.get_league_races(name)}

    @router.get("/api/leagues/{name}", tags=["leagues"])
    def standings(name: str) -> dict:
        """Each race's leaderboard with points, the overall standings (points summed,
        ties by countback), the current race and the latest submissions."""
        return store.league_standings(name)

    @router.get("/api/leagues/{name}/events", tags=["leagues"])
    async def events(name: str, request: Request) -> StreamingResponse:
        """Server-sent events: the standings whenever they change."""
        store.get_league_races(name)

        async def stream():
            last = None
            while not await request.is_disconnected():
                text = json.dumps(await asyncio.to_thread(store.league_standings, name))
                if text != last:
                    yield f"data: {text}\n\n"
                    last = text
                await asyncio.sleep(EVENT_POLL_S)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @router.post("/api/racers", tags=["leagues"], status_code=201)
    def join(body: Join) -> dict:
        """Join as a racer: the answer holds the racer's token, shown only this once."""
        return {"name": body.name, "token": store.join(body.name)}

    @router.post("/api/races/{race}/bundles", tags=["leagues"], status_code=202)
    async def submit_bundle(
            race: str,
            bundle: Annotated[UploadFile, File(description="the .tar.gz of `racerl export`")],
            racer: Annotated[str, Header(alias=RACER_HEADER)],
            token: Annotated[str, Header(alias=RACER_TOKEN_HEADER)]) -> dict:
        """Submit a racer's exported bundle to a race: checked now, driven in the
        background under the race's conditions; follow it at /api/league/submissions/ID."""
        from racerl.evaluate.races import get_race

        check_name(race, "race")
        get_race(race)
        store.authenticate(check_name(racer, "racer"), token)
        data = await bundle.read(MAX_BUNDLE_BYTES + 1)
        checked = await asyncio.to_thread(check_upload, data,
                                        (bundle.filename or "upload")[:100])
        del checked
        entry = store.enqueue(race, racer, data)
        worker.kick()
        return store.public_view(entry)

    @router.get("/api/league/submissions/{submission_id}", tags=["leagues"])
    def submission(submission_id: int) -> dict:
        """A bundle submission: queued, running, done (with its place) or failed (why)."""
        return store.public_view(store.get_submission(submission_id))

    return router
