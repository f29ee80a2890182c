"""``racerl serve``: the web console, a thin shell over the library like the CLI.

One FastAPI app serves a JSON API under ``/api`` (documented at ``/docs``) and the HTML
pages that use it (Jinja2 templates and small plain scripts, no front-end build). Every
route calls the library functions the CLI calls; long work (training, evaluation) runs as
a ``racerl`` command in a background process (:mod:`racerl.web.jobs`).

Safety: the app binds 127.0.0.1 by default; given a token (``racerl serve`` makes one for
any other host) every request needs it, as the ``X-Racerl-Token`` header, the
``racerl_token`` cookie or a ``?token=`` query (which sets the cookie). Reward code from
the browser only ever runs in the reward sandbox. Request bodies are capped. Model, race,
track and evaluation names are checked with :func:`racerl.home.check_name` before they
reach the file system. Every error is ``{"error": "..."}``; no traceback reaches the
browser.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import io
import json
import logging
import os
import secrets
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from racerl.errors import RacerlError
from racerl.home import check_name
from racerl.web.jobs import RUNNING, JobError, JobTable
from racerl.web.league import body_limit, install_league, is_public

HERE = Path(__file__).parent
MAX_BODY = 1_000_000  # bytes: a reward function and a form, with room to spare
MAX_REWARD_CODE = 200_000  # characters of reward code
TOKEN_HEADER = "X-Racerl-Token"
TOKEN_COOKIE = "racerl_token"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SHOWN_FIELDS = ("algorithm", "batch_size", "num_epochs", "learning_rate", "entropy",
                "discount_factor", "sac_alpha", "gae_lambda", "clip_range", "network",
                "mlp_layers", "observation", "frame_stack", "lighting", "n_envs",
                "rollout_steps", "num_episodes_between_training", "max_episode_steps",
                "eval_every", "eval_trials", "best_model_metric", "seed")
"""The settings the create page offers (the others keep their defaults, or the clone's)."""
log = logging.getLogger("racerl.web")


class RequestError(RacerlError):
    """A request the API refuses, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# -- request and answer models ------------------------------------------------------------


class Budget(BaseModel):
    steps: int | None = Field(None, description="train for this many env steps", gt=0)
    minutes: float | None = Field(None, description="train for this many minutes", gt=0)


class CreateModel(Budget):
    name: str = Field(..., description="model name: letters, digits, '-', '_', '.'")
    track: str | list[str] = Field(
        "loop", description="track name from /api/tracks, or a list of them: a multi-track "
                            "run spreads its cars over the tracks (car i on track i % len)")
    reward_code: str = Field(..., description="the reward function's Python source; it runs "
                                              "only in the reward sandbox",
                             max_length=MAX_REWARD_CODE)
    action_space: dict | None = Field(
        None, description="model_metadata.json layout: {'action_space_type': 'discrete', "
                          "'action_space': [{'steering_angle':.., 'speed':..}, ..]} or "
                          "continuous with low/high ranges; null: the console's default")
    preset: str | None = Field(None, description="a TrainConfig preset: deepracer or racing")
    hyperparameters: dict[str, Any] = Field(default_factory=dict,
                                            description="TrainConfig settings by name")
    clone: str | None = Field(None, description="start from this model's trained weights")


class Validate(BaseModel):
    code: str = Field(..., description="reward function source", max_length=MAX_REWARD_CODE)
    track: str = Field("loop", description="track to drive the check and the lab on")


class Evaluate(BaseModel):
    track: str | None = Field(None, description="track (default: the model's first)")
    trials: int = Field(3, ge=1, le=20, description="laps, each from the start line")
    lighting: str = Field("studio", description="lighting preset")
    video: bool = Field(True, description="also make the evaluation's video (video.mp4)")


class CreateRace(BaseModel):
    name: str = Field(..., description="race name: letters, digits, '-', '_', '.'")
    track: str = Field("loop", description="track name")
    race_type: str = Field("time-trial", description="race type: time-trial, "
                           "object-avoidance, head-to-bot or head-to-model")
    laps: int = Field(3, ge=1, le=20, description="laps per submission, driven in one go")
    lighting: str = Field("studio", description="lighting preset every entrant races in")
    off_track_penalty: float = Field(1.0, ge=0, description="seconds frozen after leaving "
                                                            "the track")
    seed: int = Field(0, ge=0, description="seed of the race's lighting draw")
    collision_penalty: float = Field(1.0, ge=0, description="seconds frozen after a crash "
                                                            "into an object")
    number_of_obstacles: int | None = Field(None, ge=1, le=32, description="object-avoidance: "
                                            "boxes on the track (default DRfC's 6)")
    randomize_obstacle_locations: bool = Field(False, description="object-avoidance: boxes "
                                               "laid out afresh for every submission")
    object_positions: str | None = Field(None, description="object-avoidance: fixed boxes "
                                         "as 'progress,lane;...' (lane 1 inner, -1 outer)")
    number_of_bot_cars: int | None = Field(None, ge=1, le=32, description="head-to-bot: bot "
                                           "cars (default DRfC's 3)")
    bot_car_speed: float | None = Field(None, gt=0, description="head-to-bot: bot speed, m/s")
    is_lane_change: bool = Field(False, description="head-to-bot: bots change lanes")
    done_condition: Literal["any", "all"] | None = Field(
        None, description="head-to-model: 'any' (DRfC's default) ends the match when the "
                          "first car finishes, 'all' when every car has")


OBJECT_FIELDS = ("number_of_obstacles", "randomize_obstacle_locations", "object_positions",
                 "number_of_bot_cars", "bot_car_speed", "is_lane_change", "done_condition")
"""The object settings the console's race form offers (the rest take DRfC's defaults)."""


class Submit(BaseModel):
    model: str | None = Field(None, description="model name (or give driver)")
    driver: Literal["centerline", "raceline"] | None = Field(
        None, description="a scripted driver instead of a model")
    speed: float = Field(1.0, gt=0, le=4, description="speed of the centre-line driver, m/s")
    opponent_model: str | None = Field(None, description="head-to-model races: the other "
                                       "entrant's model (or give opponent_driver)")
    opponent_driver: Literal["centerline", "raceline"] | None = Field(
        None, description="head-to-model races: a scripted opponent instead of a model")
    opponent_speed: float = Field(1.0, gt=0, le=4, description="speed of the centre-line "
                                  "opponent, m/s")

    def has_opponent(self) -> bool:
        return self.opponent_model is not None or self.opponent_driver is not None


class JobOut(BaseModel):
    id: str
    kind: str = Field(..., description="train, evaluate, robustness or export")
    model: str
    args: list[str] = Field(..., description="the racerl command line it runs")
    state: str = Field(..., description="running, done, failed, stopped or interrupted")
    started: float
    ended: float | None
    returncode: int | None
    pid: int | None
    stop_requested: bool


class ModelOut(BaseModel):
    name: str
    status: str = Field(..., description="training, stopped, interrupted, failed, done or "
                                         "new (no checkpoint)")
    track: str | list[str]
    created: float = Field(..., description="Unix time config.yaml was written")
    iteration: int | None = Field(None, description="iteration of the last checkpoint")
    steps: int | None = Field(None, description="env steps of the last checkpoint")
    best_training_evaluation: dict | None = Field(
        None, description="the evaluation during training that made checkpoints/best.zip")
    best_lap: float | None = Field(None, description="best lap of the model's evaluations")
    error: str | None = Field(None, description="what is wrong with the folder, if anything")


class ErrorOut(BaseModel):
    error: str


# -- the app ------------------------------------------------------------------------------


def create_app(home: str | Path | None = None, token: str | None = None,
               max_body: int = MAX_BODY, jobs: JobTable | None = None,
               league: bool = False) -> FastAPI:
    """The console's app; ``home`` sets RACERL_HOME for this process and its jobs, a
    ``token`` is then required by every request, ``max_body`` caps request bodies;
    ``league`` opens the league's racer routes to racers without the token
    (:mod:`racerl.web.league`)."""
    if home is not None:
        os.environ["RACERL_HOME"] = str(Path(home).expanduser())
    table = jobs if jobs is not None else JobTable()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        table.shutdown()

    app = FastAPI(title="racerl console", version="0.1", lifespan=lifespan,
                  description="The JSON API of `racerl serve`: models, training jobs, "
                              "evaluations, races and export. Errors are {\"error\": ...}.",
                  responses={400: {"model": ErrorOut}}, docs_url=None, redoc_url=None)
    app.state.jobs = table
    app.state.token = token
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _guard(app, token, max_body, league)
    _error_handlers(app)
    install_league(app, templates)
    from racerl.web.media import media_router

    app.include_router(media_router(table))

    # -- pages ----------------------------------------------------------------------------

    def page(request: Request, template: str, **context):
        return templates.TemplateResponse(request, template, {"page": template, **context})

    @app.get("/", include_in_schema=False)
    def garage_page(request: Request):
        return page(request, "garage.html")

    @app.get("/create", include_in_schema=False)
    def create_page(request: Request, clone: str | None = None):
        if clone is not None:
            check_name(clone, "model")
        return page(request, "create.html", clone=clone or "")

    @app.get("/models/{name}", include_in_schema=False)
    def model_page(request: Request, name: str):
        check_name(name, "model")
        return page(request, "model.html", name=name)

    @app.get("/races", include_in_schema=False)
    def races_page(request: Request):
        from racerl.evaluate.races import RACE_TYPES

        return page(request, "races.html", race_types=RACE_TYPES)

    @app.get("/jobs", include_in_schema=False)
    def jobs_page(request: Request):
        return page(request, "jobs.html")

    @app.get("/docs", include_in_schema=False)
    def api_page(request: Request):
        """The API's reference from its OpenAPI schema, served here (no CDN: the console
        works offline); Swagger UI, which loads its scripts from a CDN, is at /docs/swagger."""
        return page(request, "api.html", endpoints=_endpoints(app.openapi()))

    @app.get("/docs/swagger", include_in_schema=False)
    def swagger_page():
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="/openapi.json", title="racerl console API")

    # -- tracks, settings, rewards --------------------------------------------------------

    @app.get("/api/tracks", tags=["tracks"])
    def list_tracks() -> list[dict]:
        """Every track of the catalog (racerl home, RACERL_TRACK_PATH, built-in)."""
        from racerl.track.catalog import track_index

        rows, _ = track_index()
        return [{"name": t.name, "source": t.source, "length": round(t.length, 2),
                 "width": round(t.width, 3), "direction": t.direction} for t in rows]

    @app.get("/api/tracks/{name}/preview.png", tags=["tracks"],
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def track_preview(name: str) -> Response:
        """A top-down picture of the track, the car on the start line."""
        check_name(name, "track")
        return Response(_track_png(name), media_type="image/png")

    @app.get("/api/settings", tags=["models"])
    def settings() -> dict:
        """The training settings the create page offers: defaults, one-line help, presets,
        the default action space and the shipped reward examples."""
        from racerl.envs.actions import load_action_space
        from racerl.model.config import TRAIN_PRESETS, TrainConfig, field_help
        from racerl.reward.function import EXAMPLES, example_path

        defaults = dataclasses.asdict(TrainConfig())
        help_ = field_help()
        return {
            "fields": [{"name": f, "default": defaults[f], "help": help_.get(f, "")}
                       for f in SHOWN_FIELDS],
            "presets": {name: make() for name, make in TRAIN_PRESETS.items()},
            "action_spaces": {"default": load_action_space(None).to_metadata(),
                              "racing": load_action_space("racing").to_metadata()},
            "rewards": {name: example_path(name).read_text(encoding="utf-8")
                        for name in EXAMPLES},
        }

    @app.post("/api/rewards/validate", tags=["rewards"])
    def validate_reward(body: Validate) -> dict:
        """Run `racerl reward check` and `racerl reward lab` on the code, in the sandbox:
        errors, warnings, speed, and what each behaviour earns."""
        return _validate(body.code, body.track)

    # -- models ---------------------------------------------------------------------------

    @app.get("/api/models", tags=["models"])
    def list_models() -> list[ModelOut]:
        """Every model of the garage with its status."""
        from racerl.model.folder import list_models as names

        return [_model_summary(n, table) for n in names()]

    @app.post("/api/models", tags=["models"], status_code=201)
    def create_model(body: CreateModel) -> JobOut:
        """Create a model and start training it (a background `racerl train`)."""
        return JobOut(**_start_training(body, table).to_json())

    @app.get("/api/models/{name}", tags=["models"])
    def model_detail(name: str) -> dict:
        """A model's summary, settings, action space, reward code and jobs;
        ``robustness``: whether it has a robustness report."""
        folder = _folder(name)
        summary = _model_summary(name, table)
        return {**summary.model_dump(),
                "config": dataclasses.asdict(folder.config()),
                "action_space": json.loads(folder.metadata_path.read_text(encoding="utf-8"))
                if folder.metadata_path.is_file() else None,
                "reward_code": folder.reward_path.read_text(encoding="utf-8")
                if folder.reward_path.is_file() else "",
                "robustness": (folder.root / "robustness.json").is_file(),
                "jobs": [j.to_json() for j in table.list(name)]}

    @app.delete("/api/models/{name}", tags=["models"])
    def delete_model(name: str) -> dict:
        """Delete a model folder (only a model, and not while it trains)."""
        from racerl.model.folder import is_training, remove_model_folder

        folder = _folder(name)
        if table.running(name) is not None or is_training(folder):
            raise RequestError(f"model {name!r} is training; stop it first", 409)
        remove_model_folder(folder)
        return {"deleted": name}

    @app.get("/api/models/{name}/download", tags=["models"], response_class=Response,
             responses={200: {"content": {"application/gzip": {}}}})
    def download_model(name: str) -> Response:
        """The model folder as a .tar.gz."""
        folder = _folder(name)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(folder.root, arcname=name)
        return Response(buffer.getvalue(), media_type="application/gzip", headers={
            "Content-Disposition": f'attachment; filename="{name}.tar.gz"'})

    @app.get("/api/models/{name}/metrics", tags=["training"])
    def metrics(name: str) -> dict:
        """Per iteration: mean reward, progress and % laps of training episodes; and every
        evaluation during training."""
        return _metrics(_folder(name), table)

    @app.get("/api/models/{name}/events", tags=["training"])
    async def events(name: str, request: Request) -> StreamingResponse:
        """Server-sent events: the metrics whenever they change, while a job runs (one
        event, then the end, when none does)."""
        folder = _folder(name)

        async def stream():
            last = None
            while True:
                data = await asyncio.to_thread(_metrics, folder, table)
                text = json.dumps(data)
                if text != last:
                    yield f"data: {text}\n\n"
                    last = text
                if data["job"] is None or data["job"]["state"] != RUNNING \
                        or await request.is_disconnected():
                    return
                await asyncio.sleep(1.0)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.post("/api/models/{name}/stop", tags=["training"])
    def stop(name: str) -> JobOut:
        """Stop the model's running job as Ctrl-C does (a second stop kills it)."""
        _folder(name)
        job = table.running(name)
        if job is None:
            raise RequestError(f"model {name!r} has no running job", 409)
        return JobOut(**table.stop(job.id).to_json())

    @app.post("/api/models/{name}/resume", tags=["training"], status_code=201)
    def resume(name: str, body: Budget) -> JobOut:
        """Continue training from the last checkpoint (`racerl train --resume`)."""
        _folder(name).config()
        budget = _budget(body)
        return JobOut(**table.start("train", name, ["train", "--name", name, "--resume",
                                                    *budget, "--trials", "0"]).to_json())

    @app.post("/api/models/{name}/evaluations", tags=["evaluation"], status_code=201)
    def start_evaluation(name: str, body: Evaluate) -> JobOut:
        """Evaluate the model's best checkpoint (a background `racerl evaluate`)."""
        from racerl.camera.lighting import check_lighting

        config = _folder(name).config()
        track = body.track or config.tracks[0]
        if body.track is not None:
            check_name(body.track, "track")
        check_lighting(body.lighting)
        return JobOut(**table.start("evaluate", name, [
            "evaluate", name, "--track", track, "--trials", str(body.trials),
            "--lighting", body.lighting, *(["--save-video"] if body.video else [])]).to_json())

    @app.get("/api/models/{name}/evaluations", tags=["evaluation"])
    def evaluations(name: str) -> list[dict]:
        """The model's evaluations (and race submissions), newest first, with their laps;
        ``video``: whether it has one (at video.mp4)."""
        from racerl.evaluate.records import VIDEO_FILE, list_evaluations, load_summary

        return [{**load_summary(p), "video": (p / VIDEO_FILE).is_file()}
                for p in reversed(list_evaluations(_folder(name).root))]

    @app.get("/api/models/{name}/evaluations/{evaluation}/map.png", tags=["evaluation"],
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def evaluation_map(name: str, evaluation: str) -> FileResponse:
        """The evaluation's driven line on the track map (`racerl plot --evaluation`)."""
        return FileResponse(_evaluation_map(_folder(name).root, evaluation),
                            media_type="image/png")

    @app.post("/api/models/{name}/export", tags=["export"], response_class=Response,
              responses={200: {"content": {"application/gzip": {}}}})
    def export(name: str, openvino: bool = False) -> FileResponse:
        """Export the best checkpoint for the car (`racerl export`) and download the
        bundle (ONNX, metadata, contract, README; OpenVINO IR with ?openvino=true)."""
        from racerl.edge.export import export_model

        _folder(name).config()
        result = export_model(name, openvino=openvino)
        return FileResponse(result.bundle, media_type="application/gzip",
                            filename=result.bundle.name)

    # -- jobs -----------------------------------------------------------------------------

    @app.get("/api/jobs", tags=["jobs"])
    def list_jobs() -> list[JobOut]:
        """Every job, oldest first."""
        return [JobOut(**j.to_json()) for j in table.list()]

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    def job_detail(job_id: str) -> dict:
        """A job and the end of what its command printed."""
        return {**table.get(job_id).to_json(), "output": table.output(job_id)}

    @app.post("/api/jobs/{job_id}/stop", tags=["jobs"])
    def stop_job(job_id: str) -> JobOut:
        """Stop a job as Ctrl-C does (a second stop kills it)."""
        return JobOut(**table.stop(job_id).to_json())

    # -- races ----------------------------------------------------------------------------

    @app.get("/api/races", tags=["races"])
    def races() -> list[dict]:
        """Every race and its settings."""
        from racerl.evaluate.races import list_races

        return [{**dataclasses.asdict(r), "description": r.describe()} for r in list_races()]

    @app.post("/api/races", tags=["races"], status_code=201)
    def create_race(body: CreateRace) -> dict:
        """Create a race (`racerl race create`): a time trial, or one with obstacles or bot
        cars, their settings checked as the CLI checks them."""
        from racerl.evaluate.races import create_race as create

        check_name(body.track, "track")
        objects = {key: value for key, value in body.model_dump().items()
                   if key in OBJECT_FIELDS and value not in (None, False)}
        race = create(body.name, body.track, body.race_type, body.laps, body.lighting,
                      body.off_track_penalty, body.seed,
                      collision_penalty=body.collision_penalty, objects=objects)
        return {**dataclasses.asdict(race), "description": race.describe()}

    @app.get("/api/races/{name}", tags=["races"])
    def race_detail(name: str) -> dict:
        """A race and its leaderboard (`racerl race leaderboard`)."""
        from racerl.evaluate.races import HEAD_TO_MODEL, get_race, last_match, leaderboard

        race = get_race(check_name(name, "race"))
        match = last_match(name) if race.type == HEAD_TO_MODEL else None
        return {**dataclasses.asdict(race), "description": race.describe(),
                "leaderboard": [dataclasses.asdict(s) for s in leaderboard(name)],
                "last_match": None if match is None else {"winner": match[0],
                                                          "loser": match[1]}}

    @app.post("/api/races/{name}/submissions", tags=["races"], status_code=201)
    def submit(name: str, body: Submit) -> dict:
        """Race a model or a scripted driver and put it on the board (`racerl race
        submit`); answers when the race is driven. A head-to-model race takes a match:
        the entrant and an opponent (opponent_model or opponent_driver) race at once, and
        the answer has both runs and the winner."""
        from racerl.evaluate.evaluation import entrant
        from racerl.evaluate.races import HEAD_TO_MODEL, get_race
        from racerl.evaluate.races import submit as run

        race = get_race(check_name(name, "race"))
        for model in (body.model, body.opponent_model):
            if model is not None:
                _folder(model)
        if race.type == HEAD_TO_MODEL:
            return _match(name, body)
        if body.has_opponent():
            raise RequestError(f"{name} is a {race.type} race: each entrant races alone, so "
                               "leave out opponent_model and opponent_driver")
        who = entrant(body.model, body.driver, body.speed)
        result, standing = run(name, who)
        s = result.summary()
        return {"standing": dataclasses.asdict(standing), "note": who.note,
                "summary": dataclasses.asdict(s)}

    return app


# -- what the routes share ----------------------------------------------------------------


def _guard(app: FastAPI, token: str | None, default_max_body: int, league: bool) -> None:
    """The token check and the body cap, before any route runs."""

    @app.middleware("http")
    async def guard(request: Request, call_next):
        max_body = body_limit(request.url.path, default_max_body)
        if token is not None and not (league and is_public(request.method,
                                                           request.url.path)):
            given = (request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE)
                     or request.query_params.get("token"))
            if given is None or not secrets.compare_digest(given, token):
                return JSONResponse({"error": "this console needs its token: open the "
                                              "address `racerl serve` printed, or send the "
                                              f"{TOKEN_HEADER} header"}, 401)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return JSONResponse({"error": f"request body too large (limit {max_body} "
                                          "bytes)"}, 413)
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_body:
                    return JSONResponse({"error": f"request body too large (limit "
                                                  f"{max_body} bytes)"}, 413)
            request._body = body  # read once here; the route reads it again from here
        response = await call_next(request)
        if token is not None and request.query_params.get("token") == token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response


def _error_handlers(app: FastAPI) -> None:
    """Every error as {"error": "..."}: user errors in their own words, nothing else
    beyond a line (the traceback goes to the server's log only)."""

    @app.exception_handler(RacerlError)
    async def user_error(request: Request, exc: RacerlError):
        status = exc.status if isinstance(exc, RequestError) else \
            404 if _missing(exc) else 409 if isinstance(exc, JobError) else 400
        return JSONResponse({"error": str(exc)}, status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else
                         e.get("msg", "invalid"))
        return JSONResponse({"error": "; ".join(parts) or "invalid request"}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, exc.status_code)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.exception("error in %s %s", request.method, request.url.path)
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); the server's "
                                      "log has the details"}, 500)


def _endpoints(schema: dict) -> list[dict]:
    """The routes of an OpenAPI schema as the API page lists them, by tag."""
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            rows.append({"tag": (op.get("tags") or ["other"])[0], "method": method.upper(),
                         "path": path, "summary": op.get("summary", ""),
                         "description": op.get("description", ""),
                         "parameters": [p["name"] for p in op.get("parameters", [])],
                         "body": ref.rsplit("/", 1)[-1] if ref else ""})
    return rows


def _missing(exc: RacerlError) -> bool:
    text = str(exc)
    return "no model here" in text or text.startswith(("no race", "no track named")) \
        or "no such" in text \
        or text.startswith("no job")


def _folder(name: str):
    """The model folder of ``name`` (a name, never a path), which must be a model."""
    from racerl.model.folder import named_model_folder

    folder = named_model_folder(name)
    if not folder.exists():
        raise RequestError(f"no model {name!r}", 404)
    return folder


def _match(name: str, body: Submit) -> dict:
    """One head-to-model match of the body's entrant and opponent, as the submit route
    answers it (`racerl race submit RACE MODEL_A MODEL_B`)."""
    from racerl.evaluate.evaluation import entrant
    from racerl.evaluate.races import submit_match

    if not body.has_opponent():
        raise RequestError(f"{name} is a head-to-model race: two entrants race at once, so "
                           "also give opponent_model (a model name) or opponent_driver "
                           "(centerline or raceline, with opponent_speed)")
    entrants = [entrant(body.model, body.driver, body.speed),
                entrant(body.opponent_model, body.opponent_driver, body.opponent_speed)]
    match, standings = submit_match(name, entrants)
    winner, loser = entrants[match.winner].name, entrants[1 - match.winner].name
    return {"standings": [dataclasses.asdict(s) for s in standings],
            "notes": [who.note for who in entrants],
            "summaries": [dataclasses.asdict(run.summary()) for run in match.runs],
            "wins": match.wins, "winner": winner, "result": f"{winner} beat {loser}"}


def _budget(body: Budget) -> list[str]:
    if (body.steps is None) == (body.minutes is None):
        raise RequestError("give a budget: steps or minutes (one of them)")
    return ["--steps", str(body.steps)] if body.steps is not None else \
        ["--minutes", f"{body.minutes:g}"]


def _model_summary(name: str, table: JobTable) -> ModelOut:
    """A model's line in the garage; a damaged folder still gets one, saying so."""
    from racerl.evaluate.records import list_evaluations, load_summary
    from racerl.model.folder import named_model_folder

    folder = named_model_folder(name)
    created = folder.config_path.stat().st_mtime
    try:
        config, state = folder.config(), folder.state()
        best = folder.best_record()
        laps = [load_summary(p)["summary"]["best_lap"] for p in list_evaluations(folder.root)]
    except (RacerlError, OSError, ValueError, KeyError) as exc:
        return ModelOut(name=name, status="damaged", track="?", created=created,
                        error=str(exc))
    laps = [lap for lap in laps if lap is not None]
    return ModelOut(name=name, status=_status(folder, table), track=config.track,
                    created=created,
                    iteration=state.get("iteration"), steps=state.get("num_timesteps"),
                    best_training_evaluation=best, best_lap=min(laps) if laps else None)


def _status(folder, table: JobTable) -> str:
    """training, a job's end (stopped, failed, interrupted), done, or new."""
    from racerl.model.folder import is_training

    job = table.latest(folder.name, "train")
    if is_training(folder) or (job is not None and job.state == RUNNING):
        return "training"
    if job is not None and job.state != "done":
        return job.state
    return "done" if folder.checkpoint_path.is_file() else "new"


def _metrics(folder, table: JobTable) -> dict:
    """What the live chart draws."""
    from racerl.model.best_checkpoint import evaluation_summaries
    from racerl.model.folder import DamagedFileError
    from racerl.viz.charts import iteration_table

    try:
        records = folder.metrics()
    except DamagedFileError:
        records = []  # being replaced this instant, or damaged: the next event shows it
    per_iteration = {k: [round(float(v), 4) for v in values]
                     for k, values in iteration_table(records).items()}
    from racerl.train.live_camera import LIVE_CAMERA_FILE

    camera = folder.root / LIVE_CAMERA_FILE
    job = table.latest(folder.name, "train")
    return {"iterations": per_iteration,
            "camera": camera.stat().st_mtime if camera.is_file() else None,
            "evaluations": [e.to_json() for e in evaluation_summaries(records)],
            "state": folder.state() if folder.state_path.is_file() else {},
            "status": _status(folder, table),
            "job": job.to_json() if job is not None else None}


def _start_training(body: CreateModel, table: JobTable):
    """Check everything the run needs, then start `racerl train` on files in the job's
    folder: config.yaml, model_metadata.json and reward_function.py."""
    import yaml

    from racerl.envs.actions import parse_action_space
    from racerl.model.config import TrainConfig, layered_config
    from racerl.model.folder import check_can_create, named_model_folder

    name = body.name
    folder = named_model_folder(name)
    check_can_create(folder, force=False)
    tracks = [body.track] if isinstance(body.track, str) else body.track
    for track in tracks:
        check_name(track, "track")
    budget = _budget(body)
    if body.clone is not None:
        source = _folder(body.clone)
        base = source.config()
    else:
        base = TrainConfig()
    unknown = set(body.hyperparameters) - set(SHOWN_FIELDS)
    if unknown:
        raise RequestError(f"settings not offered here: {', '.join(sorted(unknown))}; "
                         f"offered: {', '.join(SHOWN_FIELDS)}")
    from racerl.track.catalog import load_track

    for track in tracks:
        load_track(track)  # a missing track is refused now, not in the job
    metadata = body.action_space
    if metadata is None:
        from racerl.envs.actions import load_action_space

        metadata = load_action_space(None).to_metadata()
    parse_action_space(metadata, "action space")
    overrides = {**body.hyperparameters, "track": body.track, "sandbox_reward": True,
                 "reward": "reward_function.py"}
    config = layered_config(base, body.preset, None, overrides)
    settings = {**dataclasses.asdict(config), "reward": "{job}/reward_function.py",
                "action_space": "{job}/model_metadata.json"}
    files = {"config.yaml": yaml.safe_dump(settings, sort_keys=False),
             "model_metadata.json": json.dumps(metadata, indent=2),
             "reward_function.py": body.reward_code}
    args = ["train", "--name", name, "--config", "{job}/config.yaml", "--reward",
            "{job}/reward_function.py", "--sandbox", "--trials", "0", *budget]
    if body.clone is not None:
        args += ["--clone", body.clone]
    return table.start("train", name, args, files)


def _validate(code: str, track_name: str) -> dict:
    """`racerl reward check` and `racerl reward lab` of ``code``, both in the sandbox."""
    from racerl.lab.check import check_reward
    from racerl.lab.lab import TABLE_COLUMNS, lab_picture, run_lab, table_rows
    from racerl.reward.isolation import isolation
    from racerl.reward.sandbox import load_sandboxed
    from racerl.track.catalog import load_track

    check_name(track_name, "track")
    track = load_track(track_name)
    with tempfile.TemporaryDirectory(prefix="racerl-web-reward-") as tmp:
        path = Path(tmp) / "reward_function.py"
        path.write_text(code, encoding="utf-8")
        report = check_reward(path, track, sandbox=True)
        answer = {"ok": report.ok, "sandbox": isolation().describe(),
                  "findings": [dataclasses.asdict(f) for f in report.findings],
                  "calls": report.calls,
                  "microseconds_per_call": None if report.seconds_per_call is None
                  else round(report.seconds_per_call * 1e6, 1),
                  "lab": None}
        if not report.ok:
            return answer
        with load_sandboxed(path) as sandboxed:
            lab = run_lab(track, sandboxed)
    answer["lab"] = {"columns": list(TABLE_COLUMNS), "rows": table_rows(lab),
                     "warnings": lab.warnings,
                     "picture": "data:image/png;base64," + base64.b64encode(
                         _png(lab_picture(track, lab))).decode()}
    return answer


def _png(image) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def _track_png(name: str) -> bytes:
    from racerl.track.catalog import find_track

    path = find_track(name)
    return _track_png_cached(name, str(path), path.stat().st_mtime)


@lru_cache(maxsize=64)
def _track_png_cached(name: str, path: str, mtime: float) -> bytes:
    import numpy as np

    from racerl.camera.topdown import TopDownRenderer
    from racerl.track.catalog import load_track

    track = load_track(name)
    xy, yaw = track.pose_at(0.0)
    caption = f"{track.name}: {track.length:.2f} m, width {track.summary_width():.2f} m"
    return _png(TopDownRenderer(track, size=360).draw(np.array([[xy[0], xy[1], yaw]]),
                                                      caption=caption))


def _evaluation_map(root: Path, evaluation: str) -> Path:
    """The evaluation's map PNG, drawn once into its folder."""
    from racerl.evaluate.records import list_evaluations, load_summary, read_trace
    from racerl.viz.charts import saved_evaluation_chart

    check_name(evaluation, "evaluation")
    found = {p.name: p for p in list_evaluations(root)}
    if evaluation not in found:
        raise RequestError(f"no evaluation {evaluation!r}", 404)
    folder = found[evaluation]
    target = folder / "evaluation_chart.png"
    if not target.is_file():
        saved_evaluation_chart(load_summary(folder), read_trace(folder), target)
    return target


def serve_token(host: str) -> str | None:
    """The token a console on ``host`` needs: none on this machine only, else a new one."""
    return None if host in LOCAL_HOSTS else secrets.token_urlsafe(24)

