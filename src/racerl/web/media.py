"""The console's pictures, videos and slow exports of a model: the live camera view of a
training run, an evaluation's video, the robustness report and the car bundle.

Like every long piece of work in the console, the robustness report and the car bundle are
the CLI's own commands run as background jobs (``racerl robustness``, ``racerl export
--car``); these routes start them and serve what they wrote. Files go out through
Starlette's ``FileResponse``, which answers range requests, so a ``<video>`` element can
seek in an evaluation's mp4.
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from racerl.home import check_name
from racerl.web.app import JobOut, RequestError, _folder
from racerl.web.jobs import JobTable

NO_CACHE = {"Cache-Control": "no-store"}  # a file that is replaced while the page shows it


class Robustness(BaseModel):
    track: str | None = Field(None, description="track (default: the model's first)")
    trials: int = Field(2, ge=1, le=10, description="laps per lighting preset")


def media_router(table: JobTable) -> APIRouter:
    """The routes of this module, over the console's job table."""
    router = APIRouter()

    @router.get("/api/models/{name}/camera.png", tags=["training"], response_class=Response,
                responses={200: {"content": {"image/png": {}}}})
    def live_camera(name: str) -> Response:
        """Car 0's newest camera frame of the training run (160x120, what the network
        sees), saved about once a second; the metrics' ``camera`` says when."""
        from racerl.train.live_camera import LIVE_CAMERA_FILE

        path = _folder(name).root / LIVE_CAMERA_FILE
        if not path.is_file():
            raise RequestError(f"model {name!r} has no camera frame (not trained on the "
                               "camera yet)", 404)
        return _replaced_often(path)

    @router.get("/api/models/{name}/evaluations/{evaluation}/video.mp4", tags=["evaluation"],
                response_class=Response, responses={200: {"content": {"video/mp4": {}}}})
    def evaluation_video(name: str, evaluation: str) -> FileResponse:
        """The evaluation's video: the camera frame beside the top-down track, every trial
        (range requests answered, for seeking)."""
        from racerl.evaluate.records import VIDEO_FILE

        path = _evaluation_folder(name, evaluation) / VIDEO_FILE
        if not path.is_file():
            raise RequestError(f"evaluation {evaluation!r} has no video", 404)
        return FileResponse(path, media_type="video/mp4")

    @router.post("/api/models/{name}/robustness", tags=["evaluation"], status_code=201)
    def start_robustness(name: str, body: Robustness) -> JobOut:
        """Evaluate under every lighting preset (a background `racerl robustness`)."""
        config = _folder(name).config()
        track = body.track or config.tracks[0]
        check_name(track, "track")
        return JobOut(**table.start("robustness", name, [
            "robustness", name, "--track", track, "--trials", str(body.trials)]).to_json())

    @router.get("/api/models/{name}/robustness", tags=["evaluation"])
    def robustness_report(name: str) -> dict:
        """The last robustness report: per lighting preset, laps, completion and lap
        times (the picture is at robustness.png)."""
        path = _folder(name).root / "robustness.json"
        if not path.is_file():
            raise RequestError(f"model {name!r} has no robustness report yet", 404)
        return json.loads(path.read_text(encoding="utf-8"))

    @router.get("/api/models/{name}/robustness.png", tags=["evaluation"],
                response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def robustness_picture(name: str) -> Response:
        """What the car saw under each lighting preset, labelled with how it drove."""
        path = _folder(name).root / "robustness.png"
        if not path.is_file():
            raise RequestError(f"model {name!r} has no robustness report yet", 404)
        return _replaced_often(path)

    @router.post("/api/models/{name}/export/car", tags=["export"], status_code=201)
    def start_car_export(name: str) -> JobOut:
        """Build the bundle the stock DeepRacer car loads (a background `racerl export
        --car`: TensorFlow, then checks against torch; download it when the job is done)."""
        from racerl.edge.car import car_refusal

        config = _folder(name).config()
        why = car_refusal(config)
        if why is not None:
            raise RequestError(f"model {name!r} cannot run on the DeepRacer car: {why}")
        return JobOut(**table.start("export", name, ["export", name, "--car"]).to_json())

    @router.get("/api/models/{name}/export/car", tags=["export"])
    def car_bundle_state(name: str) -> dict:
        """Whether the car bundle is there, and its parity report when it is."""
        from racerl.edge.car import CAR_FOLDER, CAR_REPORT_FILE, car_archive_name

        folder = _folder(name).root / "export" / CAR_FOLDER
        archive, report = folder / car_archive_name(name), folder / CAR_REPORT_FILE
        return {"ready": archive.is_file(), "file": archive.name,
                "size": archive.stat().st_size if archive.is_file() else None,
                "report": json.loads(report.read_text(encoding="utf-8"))
                if report.is_file() else None}

    @router.get("/api/models/{name}/export/car/download", tags=["export"],
                response_class=Response, responses={200: {"content": {"application/gzip": {}}}})
    def car_bundle_download(name: str) -> FileResponse:
        """The car bundle (model.pb + model_metadata.json) to upload in the car's console."""
        from racerl.edge.car import CAR_FOLDER, car_archive_name

        archive = _folder(name).root / "export" / CAR_FOLDER / car_archive_name(name)
        if not archive.is_file():
            raise RequestError(f"model {name!r} has no car bundle yet: export it first", 404)
        return FileResponse(archive, media_type="application/gzip", filename=archive.name)

    return router



def _replaced_often(path) -> Response:
    """A small PNG that a job replaces while pages read it, read in one go: FileResponse
    would state the size of the file it saw first and then stream the one that replaced
    it (the training writes a new camera frame every second)."""
    return Response(path.read_bytes(), media_type="image/png", headers=NO_CACHE)


def _evaluation_folder(name: str, evaluation: str):
    from racerl.evaluate.records import list_evaluations

    check_name(evaluation, "evaluation")
    found = {p.name: p for p in list_evaluations(_folder(name).root)}
    if evaluation not in found:
        raise RequestError(f"no evaluation {evaluation!r}", 404)
    return found[evaluation]
