"""The league routes through FastAPI's TestClient: each route's good path and its refusals
(wrong token, oversized, a tar with '../', wrong operators, bad metadata, unknown race)."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from racerl.evaluate.races import create_race, database_path
from racerl.web import league as league_routes
from racerl.web.app import create_app
from tests.league.bundles import tiny_bundle, with_json, with_member, with_op


@pytest.fixture(scope="module")
def good(tiny_model_home, tmp_path_factory) -> bytes:
    return tiny_bundle(tiny_model_home, tmp_path_factory.mktemp("bundle"))


@pytest.fixture
def client(isolated_home):
    create_race("r1", "oval", laps=1)
    create_race("r2", "oval", laps=1, lighting="dim")
    app = create_app(home=isolated_home, league=True)
    with TestClient(app) as c:
        c.app_worker = app.state.league_worker
        yield c


def upload(client, data: bytes, racer: str, token: str, race: str = "r1"):
    return client.post(f"/api/races/{race}/bundles",
                       headers={"X-Racer-Name": racer, "X-Racer-Token": token},
                       files={"bundle": ("tiny.tar.gz", data, "application/gzip")})


def joined(client, name: str = "ann") -> str:
    answer = client.post("/api/racers", json={"name": name})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def test_create_join_submit_and_standings(client, good):
    made = client.post("/api/leagues", json={"name": "spring", "races": ["r1"]})
    assert made.status_code == 201 and made.json()["races"] == ["r1"]
    added = client.post("/api/leagues/spring/races", json={"races": ["r2"]})
    assert added.json()["races"] == ["r1", "r2"]
    assert client.get("/api/leagues").json() == [{"name": "spring", "races": ["r1", "r2"]}]
    empty = client.get("/api/leagues/spring").json()
    assert empty["overall"] == [] and empty["current"] == "r1"

    token = joined(client)
    queued = upload(client, good, "ann", token)
    assert queued.status_code == 202, queued.text
    assert queued.json()["state"] in ("queued", "running") and "bundle" not in queued.json()
    assert client.app_worker.wait_idle(300)
    entry = client.get(f"/api/league/submissions/{queued.json()['id']}").json()
    assert entry["state"] == "done" and entry["rank"] == 1, entry

    standings = client.get("/api/leagues/spring").json()
    assert standings["overall"][0]["racer"] == "ann" and standings["overall"][0]["points"] == 25
    board = standings["races"][0]["leaderboard"]
    assert board[0]["entrant"] == "ann" and board[0]["total_time"] > 0
    assert standings["recent"][0]["state"] == "done"
    assert client.get("/league/spring").status_code == 200
    assert "spring" in client.get("/league").text


def test_the_token_is_stored_only_as_a_hash(client, isolated_home):
    token = joined(client)
    with sqlite3.connect(isolated_home / "races.sqlite") as conn:
        stored = conn.execute("SELECT token_hash FROM racers").fetchone()[0]
    assert token not in stored and len(stored) == 64
    assert client.post("/api/racers", json={"name": "ann"}).status_code == 409
    assert client.post("/api/racers", json={"name": "../ann"}).status_code == 400


def test_a_wrong_token_or_unknown_racer_is_refused(client, good):
    joined(client)
    for racer, token in (("ann", "guess"), ("nobody", "guess")):
        answer = upload(client, good, racer, token)
        assert answer.status_code == 401 and "do not match" in answer.json()["error"]
    missing = client.post("/api/races/r1/bundles", files={"bundle": ("b", good)})
    assert missing.status_code == 422


def test_an_unknown_race_or_league_is_404(client, good):
    token = joined(client)
    answer = upload(client, good, "ann", token, race="nope")
    assert answer.status_code == 404 and "no race 'nope'" in answer.json()["error"]
    assert client.get("/api/leagues/nope").status_code == 404
    assert client.get("/league/nope").status_code == 404
    assert client.post("/api/leagues", json={"name": "x", "races": ["nope"]}).status_code == 404
    assert client.get("/api/league/submissions/99").status_code == 404


def test_an_oversized_upload_is_refused_before_it_is_read(client, good, monkeypatch):
    token = joined(client)
    monkeypatch.setattr(league_routes, "UPLOAD_LIMIT", 1000)
    answer = upload(client, good, "ann", token)
    assert answer.status_code == 413 and "too large" in answer.json()["error"]


@pytest.mark.parametrize(("spoil", "words"), [
    (lambda g: with_member(g, "../evil.py"), "not a plain file name"),
    (lambda g: with_op(g, "Tanh", "Sin"), "operators Sin"),
    (lambda g: with_json(g, "model_metadata.json", lambda m: m.update(action_space=[])),
     "model_metadata.json"),
])
def test_bad_bundles_are_refused_and_nothing_is_queued(client, good, spoil, words):
    token = joined(client)
    answer = upload(client, spoil(good), "ann", token)
    assert answer.status_code == 400 and words in answer.json()["error"], answer.text
    with sqlite3.connect(database_path()) as conn:
        assert conn.execute("SELECT COUNT(*) FROM bundle_submissions").fetchone()[0] == 0


def test_admin_routes_need_the_console_token_racer_routes_do_not(isolated_home, good):
    create_race("r1", "oval", laps=1)
    app = create_app(home=isolated_home, token="secret", league=True)
    with TestClient(app) as c:
        assert c.post("/api/leagues", json={"name": "s", "races": ["r1"]}).status_code == 401
        assert c.post("/api/leagues", json={"name": "s", "races": ["r1"]},
                      headers={"X-Racerl-Token": "secret"}).status_code == 201
        assert c.post("/api/leagues/s/races", json={"races": ["r1"]}).status_code == 401
        assert c.get("/api/models").status_code == 401  # the console stays closed
        assert c.post("/api/racers", json={"name": "ann"}).status_code == 201
        assert c.get("/api/leagues/s").status_code == 200
        assert c.get("/league/s").status_code == 200
    closed = create_app(home=isolated_home, token="secret")  # without --league
    with TestClient(closed) as c:
        assert c.post("/api/racers", json={"name": "bob"}).status_code == 401


def test_events_stream_the_standings(client):
    client.post("/api/leagues", json={"name": "spring", "races": ["r1"]})
    with client.stream("GET", "/api/leagues/spring/events") as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                assert '"league": "spring"' in line
                break
