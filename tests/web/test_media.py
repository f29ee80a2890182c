"""The console's camera view, evaluation videos, robustness report, car bundle, multi-track
create and race types, through FastAPI's TestClient with real jobs."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient
from PIL import Image

from racerl.camera.lighting import PRESETS
from racerl.web.app import create_app
from tests.web.test_app import RAISES, TINY, tiny, wait  # noqa: F401 (tiny: a fixture)


@pytest.fixture
def client():
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def error(response, status: int) -> str:
    """The one-line error of a refused request (JSON, no traceback)."""
    assert response.status_code == status, response.text
    text = response.json()["error"]
    assert "Traceback" not in text and "\n" not in text
    return text


def test_the_live_camera_frame_of_a_camera_model(client, cam):
    metrics = client.get("/api/models/cam/metrics").json()
    assert isinstance(metrics["camera"], float)  # when the frame was saved: the page's cue
    r = client.get("/api/models/cam/camera.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["cache-control"] == "no-store"
    image = Image.open(io.BytesIO(r.content))
    assert image.size == (160, 120) and image.mode == "L"
    assert np.asarray(image).std() > 5  # a rendered track, not a blank


def test_a_state_model_has_no_camera_frame(client, tiny):  # noqa: F811
    assert client.get("/api/models/tiny/metrics").json()["camera"] is None
    assert "no camera frame" in error(client.get("/api/models/tiny/camera.png"), 404)
    assert "no model" in error(client.get("/api/models/nope/camera.png"), 404)


def test_an_evaluation_with_its_video(client, tiny):  # noqa: F811
    r = client.post("/api/models/tiny/evaluations", json={"trials": 1, "video": True})
    assert r.status_code == 201, r.text
    assert "--save-video" in r.json()["args"]
    done = wait(client, r.json()["id"])
    assert done["state"] == "done", done["output"]
    (run,) = client.get("/api/models/tiny/evaluations").json()
    assert run["video"] is True
    url = f"/api/models/tiny/evaluations/{run['id']}/video.mp4"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content[4:8] == b"ftyp" and len(whole.content) > 10_000
    part = client.get(url, headers={"Range": "bytes=0-99"})  # what a <video> seeks with
    assert part.status_code == 206 and part.content == whole.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole.content)}"
    assert "no evaluation" in error(
        client.get("/api/models/tiny/evaluations/nope/video.mp4"), 404)
    assert "evaluation name" in error(
        client.get("/api/models/tiny/evaluations/.hidden/video.mp4"), 400)


def test_an_evaluation_without_video_has_none(client, tiny):  # noqa: F811
    r = client.post("/api/models/tiny/evaluations", json={"trials": 1, "video": False})
    assert wait(client, r.json()["id"])["state"] == "done"
    (run,) = client.get("/api/models/tiny/evaluations").json()
    assert run["video"] is False
    assert "has no video" in error(
        client.get(f"/api/models/tiny/evaluations/{run['id']}/video.mp4"), 404)
    assert "video" in error(client.post("/api/models/tiny/evaluations",
                                        json={"video": "maybe"}), 422)


def test_the_robustness_report_as_a_job(client, tiny):  # noqa: F811
    assert client.get("/api/models/tiny").json()["robustness"] is False
    assert "no robustness report" in error(client.get("/api/models/tiny/robustness"), 404)
    assert "no robustness report" in error(client.get("/api/models/tiny/robustness.png"), 404)
    assert "trials" in error(client.post("/api/models/tiny/robustness", json={"trials": 0}),
                             422)
    assert "track name" in error(client.post("/api/models/tiny/robustness",
                                             json={"track": "../x"}), 400)
    r = client.post("/api/models/tiny/robustness", json={"trials": 1})
    assert r.status_code == 201 and r.json()["kind"] == "robustness"
    done = wait(client, r.json()["id"], timeout=300)
    assert done["state"] == "done", done["output"]
    report = client.get("/api/models/tiny/robustness").json()
    assert [p["preset"] for p in report["presets"]] == list(PRESETS)
    assert report["settings"]["track"] == "oval"
    assert all(p["trials"] == 1 for p in report["presets"])
    png = client.get("/api/models/tiny/robustness.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert client.get("/api/models/tiny").json()["robustness"] is True


def test_a_state_model_gets_no_car_bundle(client, tiny):  # noqa: F811
    assert "cannot run on the DeepRacer car" in error(
        client.post("/api/models/tiny/export/car"), 400)
    assert client.get("/api/models/tiny/export/car").json()["ready"] is False
    assert "no car bundle" in error(client.get("/api/models/tiny/export/car/download"), 404)


@pytest.mark.slow
def test_the_car_bundle_as_a_job(client, cam):
    pytest.importorskip("tensorflow")
    r = client.post("/api/models/cam/export/car")
    assert r.status_code == 201 and r.json()["args"] == ["export", "cam", "--car"]
    done = wait(client, r.json()["id"], timeout=600)
    assert done["state"] == "done", done["output"]
    state = client.get("/api/models/cam/export/car").json()
    assert state["ready"] is True and state["report"]["parity_frames"] > 0
    r = client.get("/api/models/cam/export/car/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/gzip"
    assert state["file"] in r.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        names = {n.rsplit("/", 1)[-1] for n in tar.getnames()}
    assert {"model.pb", "model_metadata.json"} <= names


def test_create_a_multi_track_model(client):
    body = {"name": "multi", "reward_code": RAISES, "steps": 8 * 64, "hyperparameters": TINY}
    assert "more than once" in error(client.post("/api/models", json={
        **body, "track": ["oval", "oval"]}), 400)
    assert "nope" in error(client.post("/api/models", json={**body, "track": ["oval", "nope"]}),
                           404)
    assert "track" in error(client.post("/api/models", json={**body, "track": []}), 400)
    assert "track name" in error(client.post("/api/models", json={
        **body, "track": ["oval", "../x"]}), 400)
    code = client.get("/api/settings").json()["rewards"]["progress"]
    r = client.post("/api/models", json={**body, "reward_code": code,
                                          "track": ["oval", "loop"]})
    assert r.status_code == 201, r.text
    done = wait(client, r.json()["id"], timeout=300)
    assert done["state"] == "done", done["output"]
    model = client.get("/api/models/multi").json()
    assert model["track"] == ["oval", "loop"] and model["config"]["track"] == ["oval", "loop"]


def test_race_types_offered_and_refused(client):
    page = client.get("/races").text
    assert '<option value="time-trial">' in page
    assert '<option value="head-to-bot">' in page
    assert '<option value="head-to-model">' in page
    assert "called 'head-to-model' here" in error(client.post("/api/races", json={
        "name": "h2h", "race_type": "head-to-head"}), 400)
    r = client.post("/api/races", json={"name": "bots", "race_type": "head-to-bot",
                                        "number_of_bot_cars": 2, "bot_car_speed": 0.4,
                                        "is_lane_change": True, "collision_penalty": 2})
    assert r.status_code == 201, r.text
    assert "2 bot cars at 0.4 m/s changing lanes, collision penalty 2 s" in r.json()["description"]
    r = client.post("/api/races", json={"name": "boxes", "race_type": "object-avoidance",
                                        "number_of_obstacles": 3})
    assert r.status_code == 201 and "3 boxes" in r.json()["description"]
    assert "object_positions" in error(client.post("/api/races", json={
        "name": "bad", "race_type": "object-avoidance", "object_positions": "half"}), 400)
    assert "race type" in error(client.post("/api/races", json={
        "name": "bots", "race_type": "drag"}), 400)
    r = client.post("/api/races", json={"name": "tt", "race_type": "time-trial", "laps": 1})
    assert r.status_code == 201 and r.json()["type"] == "time-trial"


def test_a_head_to_model_race_and_its_matches(client):
    r = client.post("/api/races", json={"name": "duel", "race_type": "head-to-model",
                                        "laps": 1, "done_condition": "all"})
    assert r.status_code == 201, r.text
    assert "every car races to its finish" in r.json()["description"]
    r = client.post("/api/races", json={"name": "sprint", "race_type": "head-to-model",
                                        "track": "loop", "laps": 1, "done_condition": "any"})
    assert r.status_code == 201 and "the first car to finish ends it" in r.json()["description"]
    assert "done-condition: not a setting" in error(client.post("/api/races", json={
        "name": "nope", "race_type": "time-trial", "done_condition": "all"}), 400)

    url = "/api/races/sprint/submissions"
    assert "opponent_driver" in error(client.post(url, json={"driver": "centerline"}), 400)
    assert "cannot race itself" in error(client.post(url, json={
        "driver": "centerline", "opponent_driver": "centerline"}), 400)
    assert "no model 'ghost'" in error(client.post(url, json={
        "driver": "centerline", "opponent_model": "ghost"}), 404)
    client.post("/api/races", json={"name": "solo", "laps": 1})
    assert "races alone" in error(client.post("/api/races/solo/submissions", json={
        "driver": "centerline", "opponent_driver": "raceline"}), 400)

    # the entrant starts on the line, the opponent 0.75 m behind it: the faster car in
    # front pulls away (the other way round, the fast one runs into the slow one's back)
    r = client.post(url, json={"driver": "centerline", "speed": 1.5,
                               "opponent_driver": "centerline", "opponent_speed": 1.0})
    assert r.status_code == 201, r.text
    match = r.json()
    fast, slow = (s["entrant"] for s in match["standings"])
    assert (fast, slow) == ("centerline @ 1.5 m/s", "centerline @ 1 m/s")
    assert match["winner"] == fast and match["result"] == f"{fast} beat {slow}"
    assert match["wins"] == [1, 0]
    assert match["summaries"][0]["laps"] == 1  # the winner finished its lap...
    assert match["summaries"][1]["laps"] == 0  # ...which ended the race ('any')
    race = client.get("/api/races/sprint").json()
    assert [(s["entrant"], s["wins"], s["submissions"]) for s in race["leaderboard"]] == [
        (fast, 1, 1), (slow, 0, 1)]
    assert race["last_match"] == {"winner": fast, "loser": slow}
    assert client.get("/api/races/solo").json()["last_match"] is None
