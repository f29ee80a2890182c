"""The league's standings page in a real browser (Debian's Chromium through Playwright):
it follows the standings live; a submission from a second client shows up without a
reload. Set RACERL_SCREENSHOTS=docs to refresh docs/web_league*.png from this test."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from racerl.evaluate.evaluation import scripted_entrant
from racerl.evaluate.races import create_race, submit
from racerl.league import store
from tests.league.bundles import tiny_bundle
from tests.web.live_server import serving
from tests.web.test_browser import NO_BROWSER, Problems

pytestmark = pytest.mark.slow
CHROMIUM = os.environ.get("RACERL_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 180_000  # an evaluation process's start and a lap on 2 shared cores


@pytest.fixture(scope="module")
def good(tiny_model_home, tmp_path_factory) -> bytes:
    return tiny_bundle(tiny_model_home, tmp_path_factory.mktemp("bundle"))


@pytest.fixture
def league_server(isolated_home):
    """`racerl serve --league`'s app on a free port, with league spring of r1 and r2."""

    from racerl.web.app import create_app

    create_race("r1", "oval", laps=1)
    create_race("r2", "oval", laps=1, lighting="dim")
    store.create_league("spring", ["r1", "r2"])
    with serving(create_app(home=isolated_home, league=True)) as url:
        yield url


def second_client_submits(server: str, racer: str, data: bytes, race: str = "r1") -> None:
    """What another machine does: join, then upload its bundle (plain HTTP, no browser)."""
    with httpx.Client(base_url=server, timeout=60) as client:
        token = client.post("/api/racers", json={"name": racer}).json()["token"]
        answer = client.post(f"/api/races/{race}/bundles",
                             headers={"X-Racer-Name": racer, "X-Racer-Token": token},
                             files={"bundle": ("tiny.tar.gz", data, "application/gzip")})
        assert answer.status_code == 202, answer.text


def overall(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#overall tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def test_standings_change_live_when_a_second_client_submits(league_server, good, tmp_path):
    if not Path(CHROMIUM).is_file():
        pytest.fail(NO_BROWSER, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(TIMEOUT_MS)
        problems = Problems()
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 else None)
        page.goto(f"{league_server}/league/spring")
        page.wait_for_selector("#live.on")
        page.wait_for_selector("#overall-empty", state="visible")  # the first event drawn
        assert overall(page) == []
        page.evaluate("window.sameDocument = true")  # gone if the page reloads

        start = time.monotonic()
        second_client_submits(league_server, "ann", good)
        page.wait_for_function("document.querySelectorAll('#overall tbody tr').length === 1")
        seconds = time.monotonic() - start
        assert overall(page)[0][:3] == ["1", "ann", "25"]
        assert page.inner_text("#current-name") == "r1"
        assert page.evaluate("window.sameDocument") is True
        print(f"submit to standings on the page: {seconds:.1f} s")

        second_client_submits(league_server, "bob", good)
        page.wait_for_function("document.querySelectorAll('#overall tbody tr').length === 2")
        assert [row[:3] for row in overall(page)] == [["1", "ann", "25"], ["2", "bob", "18"]]
        assert page.evaluate("window.sameDocument") is True
        problems.expect_none()

        shots = Path(os.environ.get("RACERL_SCREENSHOTS", tmp_path))
        if os.environ.get("RACERL_SCREENSHOTS"):  # a fuller board for the README
            for race, speed in (("r1", 0.8), ("r2", 1.2)):
                submit(race, scripted_entrant("centerline", speed))
            second_client_submits(league_server, "cy", good, "r2")
            page.wait_for_function(
                "document.querySelectorAll('#overall tbody tr').length === 5")
            page.wait_for_timeout(3500)  # let the highlight of the last change fade
        page.screenshot(path=str(shots / "web_league.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(shots / "web_league_phone.png"), full_page=True)
        browser.close()
