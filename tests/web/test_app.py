"""The web console (`racerl serve`): every route, through FastAPI's TestClient, with real
effects (a model trained through the API, evaluations, races, export)."""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from racerl.web.app import create_app
from racerl.web.jobs import INTERRUPTED, RUNNING, Job, JobTable, jobs_dir
from tests.helpers import copy_trained_model

TINY = {"observation": "state", "network": "mlp", "n_envs": 8, "rollout_steps": 64,
        "batch_size": 128, "learning_rate": 1e-3, "num_episodes_between_training": 5}
RAISES = "def reward_function(params):\n    raise ValueError('no reward today')\n"


@pytest.fixture
def client():
    app = create_app()
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def tiny(tiny_model_home, isolated_home):
    """The session's tiny trained model, copied into this test's home."""
    copy_trained_model(tiny_model_home / "models" / "tiny", isolated_home / "models" / "tiny")
    return "tiny"


def wait(client, job_id: str, timeout: float = 120.0) -> dict:
    table = client.app.state.jobs
    job = table.wait(job_id, timeout)
    assert job.state != RUNNING, f"job {job_id} still running after {timeout} s"
    return client.get(f"/api/jobs/{job_id}").json()


def test_pages_render_with_the_menu(client, tiny):
    for url in ("/", "/create", "/create?clone=tiny", "/races", "/jobs", "/models/tiny"):
        r = client.get(url)
        assert r.status_code == 200, url
        for link in ('href="/"', 'href="/create"', 'href="/races"', 'href="/jobs"'):
            assert link in r.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/models"]


def test_settings_tracks_and_preview(client):
    settings = client.get("/api/settings").json()
    fields = {f["name"]: f for f in settings["fields"]}
    assert fields["batch_size"]["default"] == 512 and "batch size" in fields["batch_size"]["help"]
    assert set(settings["presets"]) == {"deepracer", "racing"}
    assert settings["action_spaces"]["racing"]["action_space_type"] == "continuous"
    assert "def reward_function" in settings["rewards"]["progress"]
    tracks = {t["name"]: t for t in client.get("/api/tracks").json()}
    assert tracks["oval"]["length"] > 0
    png = client.get("/api/tracks/oval/preview.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert client.get("/api/tracks/nope/preview.png").status_code == 404


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", "x" * 80, "~root"])
def test_bad_names_are_refused_with_a_message(client, name):
    r = client.post("/api/models", json={"name": name, "reward_code": RAISES, "steps": 10})
    assert r.status_code == 400 and "name" in r.json()["error"]
    r = client.post("/api/races", json={"name": name})
    assert r.status_code == 400 and "name" in r.json()["error"]
    r = client.post("/api/rewards/validate", json={"code": RAISES, "track": name})
    assert r.status_code == 400 and "track name" in r.json()["error"]


def test_errors_are_json_without_traceback(client):
    r = client.get("/api/models/nope")
    assert r.status_code == 404 and r.json() == {"error": "no model 'nope'"}
    r = client.post("/api/models", json={"name": "m"})
    assert r.status_code == 422 and "reward_code" in r.json()["error"]
    r = client.post("/api/models", json={"name": "m", "reward_code": RAISES})
    assert r.status_code == 400 and "budget" in r.json()["error"]

    @client.app.get("/api/boom")
    def boom():
        raise RuntimeError("secret internals")

    r = client.get("/api/boom")
    assert r.status_code == 500
    assert "secret" not in r.text and "Traceback" not in r.text and "error" in r.json()


def test_body_size_is_limited():
    with TestClient(create_app(max_body=1000)) as c:
        r = c.post("/api/rewards/validate", json={"code": "#" * 5000})
        assert r.status_code == 413 and "too large" in r.json()["error"]


def test_a_token_is_required_when_given():
    with TestClient(create_app(token="s3cret")) as c:
        assert c.get("/api/models").status_code == 401
        assert "token" in c.get("/").json()["error"]
        assert c.get("/api/models", headers={"X-Racerl-Token": "wrong"}).status_code == 401
        assert c.get("/api/models", headers={"X-Racerl-Token": "s3cret"}).status_code == 200
        assert c.get("/?token=s3cret").status_code == 200  # sets the cookie
        assert c.get("/api/models").status_code == 200


def test_serve_needs_a_token_off_this_machine():
    from racerl.web.app import serve_token

    assert serve_token("127.0.0.1") is None and serve_token("localhost") is None
    assert len(serve_token("0.0.0.0")) > 20


def test_a_reward_that_raises_is_reported(client):
    r = client.post("/api/rewards/validate", json={"code": RAISES, "track": "oval"})
    body = r.json()
    assert r.status_code == 200 and body["ok"] is False and body["lab"] is None
    assert any("no reward today" in f["message"] for f in body["findings"])
    assert "sandbox" not in body or body["sandbox"]


def test_garage_download_and_delete(client, tiny, isolated_home):
    models = client.get("/api/models").json()
    assert [m["name"] for m in models] == ["tiny"]
    assert models[0]["status"] == "done" and models[0]["track"] == "oval"
    assert models[0]["iteration"] > 0
    detail = client.get("/api/models/tiny").json()
    assert detail["config"]["network"] == "mlp" and "def reward_function" in detail["reward_code"]
    r = client.get("/api/models/tiny/download")
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        assert "tiny/config.yaml" in tar.getnames()
    metrics = client.get("/api/models/tiny/metrics").json()
    assert metrics["iterations"]["iteration"] and metrics["job"] is None
    events = client.get("/api/models/tiny/events")  # no job: one event, then the end
    assert events.headers["content-type"].startswith("text/event-stream")
    data = [json.loads(line[6:]) for line in events.text.splitlines() if line.startswith("data: ")]
    assert len(data) == 1 and data[0]["iterations"] == metrics["iterations"]
    assert client.delete("/api/models/tiny").json() == {"deleted": "tiny"}
    assert not (isolated_home / "models" / "tiny").exists()
    assert client.get("/api/models").json() == []
    assert client.delete("/api/models/tiny").status_code == 404


def test_create_train_and_see_it_in_the_garage(client):
    code = client.get("/api/settings").json()["rewards"]["progress"]
    r = client.post("/api/models", json={
        "name": "webcar", "track": "oval", "reward_code": code, "steps": 8 * 64 * 3,
        "hyperparameters": TINY,
        "action_space": {"action_space_type": "discrete", "action_space": [
            {"steering_angle": 20, "speed": 1}, {"steering_angle": 0, "speed": 1.5},
            {"steering_angle": -20, "speed": 1}]}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["kind"] == "train" and "--sandbox" in job["args"]
    again = client.post("/api/models", json={"name": "webcar", "reward_code": code, "steps": 9})
    assert again.status_code in (400, 409)
    done = wait(client, job["id"])
    assert done["state"] == "done", done["output"]
    model = client.get("/api/models/webcar").json()
    assert model["status"] == "done" and model["steps"] >= 8 * 64 * 3
    assert len(model["action_space"]["action_space"]) == 3
    assert model["config"]["sandbox_reward"] is True


def test_stop_and_resume_after_a_restart(client, tiny):
    job = client.post("/api/models/tiny/resume", json={"minutes": 5}).json()
    assert client.get("/api/models").json()[0]["status"] == "training"
    assert client.delete("/api/models/tiny").status_code == 409
    time.sleep(1.0)
    stopped = client.post("/api/models/tiny/stop").json()
    assert stopped["stop_requested"] is True
    assert wait(client, job["id"])["state"] == "stopped"
    assert client.get("/api/models").json()[0]["status"] == "stopped"
    assert client.post("/api/models/tiny/stop").status_code == 409
    # A job a server left running shows as interrupted after a restart; it can be resumed.
    record = Job("20000101-000000-abcdef", "train", "tiny", ["train"], state=RUNNING,
                 started=time.time())
    (jobs_dir() / record.id).mkdir(parents=True)
    (jobs_dir() / record.id / "job.json").write_text(json.dumps(record.to_json()))
    client.app.state.jobs = JobTable()
    with TestClient(create_app(jobs=JobTable()), raise_server_exceptions=False) as fresh:
        assert fresh.get(f"/api/jobs/{record.id}").json()["state"] == INTERRUPTED
        assert fresh.get("/api/models").json()[0]["status"] == "interrupted"
        before = fresh.get("/api/models/tiny").json()["steps"]
        resumed = fresh.post("/api/models/tiny/resume", json={"steps": 8 * 64 * 2})
        assert resumed.status_code == 201
        done = wait(fresh, resumed.json()["id"])
        assert done["state"] == "done", done["output"]
        after = fresh.get("/api/models/tiny").json()
        assert after["status"] == "done" and after["steps"] > before


def test_an_evaluation_job_produces_laps_and_a_map(client, tiny):
    r = client.post("/api/models/tiny/evaluations", json={"trials": 2, "lighting": "studio"})
    assert r.status_code == 201, r.text
    assert wait(client, r.json()["id"])["state"] == "done"
    runs = client.get("/api/models/tiny/evaluations").json()
    assert len(runs) == 1 and len(runs[0]["trials"]) == 2
    assert runs[0]["settings"]["track"] == "oval"
    png = client.get(f"/api/models/tiny/evaluations/{runs[0]['id']}/map.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert client.get("/api/models/tiny/evaluations/nope/map.png").status_code == 404
    bad = client.post("/api/models/tiny/evaluations", json={"lighting": "disco"})
    assert bad.status_code == 400 and "disco" in bad.json()["error"]


def test_races_create_submit_leaderboard(client, tiny):
    r = client.post("/api/races", json={"name": "cup", "track": "oval", "laps": 1})
    assert r.status_code == 201 and "1 lap on oval" in r.json()["description"]
    assert client.post("/api/races", json={"name": "cup", "track": "oval"}).status_code == 400
    assert [x["name"] for x in client.get("/api/races").json()] == ["cup"]
    r = client.post("/api/races/cup/submissions", json={"driver": "centerline", "speed": 1.5})
    assert r.status_code == 201, r.text
    assert r.json()["standing"]["rank"] == 1
    r = client.post("/api/races/cup/submissions", json={"model": "tiny"})
    assert r.status_code == 201, r.text
    board = client.get("/api/races/cup").json()["leaderboard"]
    assert {s["entrant"] for s in board} == {"centerline @ 1.5 m/s", "tiny"}
    assert client.get("/api/races/nope").status_code == 404
    both = client.post("/api/races/cup/submissions", json={"model": "tiny",
                                                            "driver": "centerline"})
    assert both.status_code == 400


def test_export_downloads_the_bundle(client, tiny):
    pytest.importorskip("onnxruntime")
    r = client.post("/api/models/tiny/export")
    assert r.status_code == 200, r.text
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        names = tar.getnames()
    assert any(n.endswith(".onnx") for n in names), names


def test_a_good_reward_gets_the_lab_ranking(client):
    code = client.get("/api/settings").json()["rewards"]["progress"]
    body = client.post("/api/rewards/validate", json={"code": code, "track": "oval"}).json()
    assert body["ok"] is True and body["calls"] > 0
    lab = body["lab"]
    assert "behaviour" in lab["columns"] and len(lab["rows"]) > 3
    assert isinstance(lab["warnings"], list) and lab["picture"].startswith("data:image/png")
