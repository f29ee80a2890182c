"""The web console in a real browser (Chromium through Playwright): every page loads without
a script error or a failed request, shows its data, and the main flows work by clicking
(create and train with the live chart, validate a reward, stop, delete, race).

The server is the real app under uvicorn on a free port of 127.0.0.1, over a fresh racerl
home per test. The browser is Debian's Chromium (``apt-get install chromium``; ``make
browser-tools`` does it as root): without it these tests fail, they never skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import copy_trained_model
from tests.web.live_server import paused_at_first_checkpoint, serving

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("RACERL_CHROMIUM", "/usr/bin/chromium")
NO_BROWSER = (f"the browser tests need Chromium at {CHROMIUM}: apt-get install chromium "
              "(or `make browser-tools` as root), or point RACERL_CHROMIUM at one")
# Settings for a model that trains in seconds (state observation, a small MLP).
TINY = {"observation": "state", "network": "mlp", "n_envs": "8", "rollout_steps": "64",
        "batch_size": "128", "learning_rate": "0.001", "num_episodes_between_training": "5"}
TIMEOUT_MS = 90_000  # a training job's start and a sandboxed validation on 2 shared cores


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(NO_BROWSER, pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright's Python package: pip install "
                    "'racerl[test]' (or pip install playwright)", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def server(isolated_home):
    """The console on a free port of 127.0.0.1, over this test's racerl home."""

    from racerl.web.app import create_app

    with serving(create_app(home=isolated_home)) as url:
        yield url


class Problems(list):
    """Console errors, script errors, failed requests and HTTP errors of a page."""

    def expect_none(self):
        assert not self, "the page had errors:\n" + "\n".join(self)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems = Problems()
    page.on("console", lambda m: m.type == "error" and problems.append(
        f"console: {m.text} ({m.location.get('url', '')})"))
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}")
            if not r.url.endswith("/events")  # an event stream closed on leaving
            and not (r.url.endswith(".mp4") and "ERR_ABORTED" in (r.failure or ""))
            else None)  # a <video> drops its range request once it has what it needs
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)
    page.problems = problems
    yield page
    context.close()


@pytest.fixture
def tiny(tiny_model_home, isolated_home):
    """The session's tiny trained model, copied into this test's home."""
    copy_trained_model(tiny_model_home / "models" / "tiny", isolated_home / "models" / "tiny")
    return "tiny"


def images_loaded(page, selector: str) -> list[int]:
    """naturalWidth of every image the selector finds (0: not loaded)."""
    return page.eval_on_selector_all(selector, "imgs => imgs.map(i => i.complete ? "
                                               "i.naturalWidth : 0)")


def wait_images(page, selector: str) -> None:
    page.wait_for_function(f"""() => {{
        const imgs = [...document.querySelectorAll({selector!r})];
        return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
    }}""")


def wait_status(page, status: str) -> None:
    """Wait for the model page's status; on a timeout, say what the page and the job say."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"document.getElementById('status').textContent === {status!r}")
    except PlaywrightTimeout:
        jobs = page.request.get("/api/jobs").json()
        output = page.request.get(f"/api/jobs/{jobs[-1]['id']}").json()["output"] \
            if jobs else ""
        pytest.fail(f"status {page.locator('#status').inner_text()!r}, not {status!r}; "
                    f"jobs: {jobs}\n{output}")


def test_every_page_loads_and_shows_its_data(page, server, tiny):
    page.goto("/")
    row = page.locator("#models tbody tr", has_text="tiny")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "tiny" and cells[1] == "done" and cells[2] == "oval"
    assert "laps" in cells[4]  # the best evaluation during training
    assert page.locator("#empty").is_hidden()

    page.goto("/create")
    page.locator("#hp tbody tr").first.wait_for()
    wait_images(page, "#track-preview")
    assert page.locator("#actions tbody tr").count() == 10  # the console's default actions
    help_text = page.locator("#hp tbody tr", has_text="batch_size").locator("td.help")
    assert "batch" in help_text.inner_text().lower()
    assert "def reward_function" in page.locator("#reward").input_value()

    page.goto("/create?clone=tiny")
    page.wait_for_function("document.getElementById('name').value === 'tiny-clone'")
    assert page.locator("#hp-observation").input_value() == "state"
    assert page.locator("#track").input_value() == "oval"
    wait_images(page, "#track-preview")  # leaving while it loads would abort its request

    page.goto("/models/tiny")
    page.wait_for_selector("#chart svg polyline")
    points = page.eval_on_selector("#chart svg polyline", "p => p.points.length")
    assert points >= 8  # the tiny model's iterations
    assert "iteration 8" in page.locator("#summary").inner_text()
    assert page.locator("#status").inner_text() == "done"

    page.goto("/jobs")
    page.locator("#jobs thead").wait_for()
    page.goto("/docs")
    page.get_by_text("/api/models").first.wait_for()
    page.problems.expect_none()


def test_the_create_page_previews_tracks_and_validates_rewards(page, server):
    page.goto("/create")
    wait_images(page, "#track-preview")
    assert page.locator("#track").input_value() == "loop"
    page.select_option("#track", "oval")
    page.wait_for_function("document.getElementById('track-preview').src.includes('/oval/')")
    wait_images(page, "#track-preview")
    assert "13 m long" in page.locator("#track-about").inner_text()

    page.click("#validate")
    page.get_by_text("Reward lab: what each behaviour earns").wait_for()
    box = page.locator("#validation")
    assert "sandbox:" in box.inner_text()
    assert box.locator("table tr").count() > 2  # the ranking of behaviours
    wait_images(page, "#validation img")

    page.fill("#reward", "def reward_function(params):\n    return params['nope']\n")
    page.click("#validate")
    page.get_by_text("the reward function has errors").wait_for()
    errors = box.locator("p.error").all_inner_texts()
    assert any("nope" in e for e in errors), errors
    assert box.locator("table").count() == 0
    page.problems.expect_none()


def test_create_and_train_with_the_live_chart(page, server, isolated_home):
    page.goto("/create")
    page.locator("#hp tbody tr").first.wait_for()
    page.fill("#name", "webcar")
    page.select_option("#track", "oval")
    for name, value in TINY.items():
        page.fill(f"#hp-{name}", value)
    page.select_option("#budget-unit", "steps")
    page.fill("#budget", str(8 * 64 * 4))
    page.click("#start")
    page.wait_for_url("**/models/webcar")
    # Catch the run at its first checkpoint and pause it there (SIGSTOP to the job's process
    # group): the page must show the run so far while it is still going, whatever the
    # machine's speed; then let it finish and see the chart reach the end.
    with paused_at_first_checkpoint(page, isolated_home, "webcar", TIMEOUT_MS / 1000):
        wait_status(page, "training")
        page.wait_for_function("document.querySelector('#chart svg polyline')?.points.length > 0")
        early = page.evaluate("document.querySelector('#chart svg polyline').points.length")
    wait_status(page, "done")
    final = page.request.get("/api/models/webcar/metrics").json()["iterations"]["iteration"]
    page.wait_for_function("document.querySelector('#chart svg polyline').points.length"
                           f" === {len(final)}")
    assert early < len(final)  # drawn live, then to the end
    assert f"iteration {int(final[-1])}," in page.locator("#summary").inner_text()
    assert (isolated_home / "models" / "webcar" / "checkpoints").is_dir()

    page.goto("/")
    row = page.locator("#models tbody tr", has_text="webcar")
    row.wait_for()
    assert row.locator("td").nth(1).inner_text() == "done"
    page.problems.expect_none()


def test_resume_then_stop_training_from_the_model_page(page, server, tiny):
    page.goto("/models/tiny")
    page.locator("#resume-box").wait_for()
    page.fill("#resume-budget", "5")
    page.click("#resume")
    page.locator("#stop").wait_for()
    assert page.locator("#status").inner_text() == "training"
    page.wait_for_function("document.getElementById('output').textContent.includes('iteration')")
    page.click("#stop")
    wait_status(page, "stopped")
    assert page.locator("#stop").is_hidden()
    assert page.locator("#resume-box").is_visible()  # a stopped model can be resumed
    page.goto("/jobs")
    page.locator("#jobs tbody tr", has_text="stopped").wait_for()
    page.problems.expect_none()


def test_delete_asks_first(page, server, tiny, isolated_home):
    page.goto("/")
    row = page.locator("#models tbody tr", has_text="tiny")
    row.wait_for()
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    row.get_by_role("button", name="delete").click()
    page.wait_for_timeout(300)
    assert asked and "Delete model tiny" in asked[0]
    assert (isolated_home / "models" / "tiny").is_dir()  # dismissed: nothing deleted
    row.get_by_role("button", name="delete").click()
    page.locator("#empty").wait_for()
    assert page.locator("#models tbody tr").count() == 0
    assert not (isolated_home / "models" / "tiny").exists()
    page.problems.expect_none()


def test_a_race_and_its_leaderboard(page, server):
    page.goto("/races")
    page.wait_for_function("document.getElementById('race-track').options.length > 0")
    page.fill("#race-name", "friday-cup")
    page.select_option("#race-track", "oval")
    page.fill("#race-laps", "1")
    page.click("#create-race")
    page.locator("#race-title", has_text="Leaderboard: friday-cup").wait_for()
    assert page.locator("#races tbody tr", has_text="friday-cup").count() == 1
    page.select_option("#entrant", "driver:centerline")
    page.click("#submit")
    page.locator("#submit-state", has_text="#1").wait_for()
    row = page.locator("#board tbody tr").first
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "1" and "centerline" in cells[1] and cells[4] == "1/1"
    assert float(cells[3]) > 0  # its best lap, in seconds
    page.problems.expect_none()


def test_a_head_to_model_match_and_its_wins(page, server):
    page.goto("/races")
    page.wait_for_function("document.getElementById('opponent').options.length > 2")
    page.fill("#race-name", "duel")
    page.select_option("#race-type", "head-to-model")
    assert page.locator("#race-done").is_visible() and page.locator("#race-bots").is_hidden()
    page.select_option("#race-done", "any")
    page.fill("#race-laps", "1")  # on loop, the form's first track
    page.click("#create-race")
    page.locator("#race-title", has_text="Leaderboard: duel").wait_for()
    assert "the first car to finish ends it" in page.inner_text("#race-about")
    assert page.locator("#opponent").is_visible()
    assert page.locator("#board thead th").all_inner_texts()[-2:] == ["wins", "matches"]
    page.select_option("#entrant", "driver:centerline:1.5")  # on the line, the other behind
    page.select_option("#opponent", "driver:centerline")
    page.click("#submit")
    page.locator("#submit-state", has_text="beat").wait_for()
    page.locator("#last-match", has_text="Last match: centerline @ 1.5 m/s beat "
                 "centerline @ 1 m/s").wait_for()
    rows = [r.locator("td").all_inner_texts() for r in page.locator("#board tbody tr").all()]
    assert [(r[1], r[-2], r[-1]) for r in rows] == [
        ("centerline @ 1.5 m/s", "1", "1"), ("centerline @ 1 m/s", "0", "1")]
    page.problems.expect_none()
