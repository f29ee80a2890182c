"""The model page's newer parts in a real browser (Chromium through Playwright): the live
camera beside the chart while a camera model trains, stop; an evaluation's video playing,
the robustness report; a model on a race's leaderboard; the bundle download.

Fixtures (the browser, the server under uvicorn, the page that collects every error) are
those of :mod:`tests.web.test_browser`.
"""

from __future__ import annotations

import io
import tarfile
import time

import pytest

from racerl.camera.lighting import PRESETS
from tests.web.live_server import paused_at_first_checkpoint
from tests.web.test_browser import (  # noqa: F401 (fixtures)
    TIMEOUT_MS,
    browser,
    page,
    server,
    tiny,
    wait_images,
    wait_status,
)

pytestmark = pytest.mark.slow
JOB_MS = 300_000  # a background evaluation, robustness report or export on busy shared cores

# A camera model that trains in seconds: the light CNN, 8 cars, short rollouts.
CAMERA = {"observation": "camera", "network": "light", "n_envs": "8", "rollout_steps": "32",
          "batch_size": "128", "learning_rate": "0.001", "num_episodes_between_training": "5",
          "eval_every": "0"}


def camera_src(tab) -> str:
    return tab.eval_on_selector("#camera", "i => i.complete && i.naturalWidth === 160 ? "
                                            "i.getAttribute('src') : ''")


def test_training_shows_the_chart_and_the_live_camera_then_stops(page, server,  # noqa: F811
                                                                isolated_home):
    page.goto("/create")
    page.locator("#hp tbody tr").first.wait_for()
    page.fill("#name", "camcar")
    page.select_option("#track", "oval")
    for name, value in CAMERA.items():
        page.fill(f"#hp-{name}", value)
    page.fill("#budget", "10")  # minutes: the test stops it
    page.click("#start")
    page.wait_for_url("**/models/camcar")
    # Pause the run at its first checkpoint (SIGSTOP to the job's process group): the page
    # must show the chart and the camera frame while the run is still going.
    with paused_at_first_checkpoint(page, isolated_home, "camcar", TIMEOUT_MS / 1000):
        wait_status(page, "training")
        page.wait_for_function("document.querySelector('#chart svg polyline')?.points.length > 0")
        page.wait_for_function("document.getElementById('camera').complete && "
                               "document.getElementById('camera').naturalWidth === 160")
        first = camera_src(page)
        shown = page.eval_on_selector("#camera", "i => [i.clientWidth, i.clientHeight]")
        assert shown == [320, 240]  # the 160x120 frame, enlarged
        time.sleep(1.2)  # more than the frame interval: the next step saves a new frame
    # The next frame arrives through the same event stream, without a reload.
    page.wait_for_function(f"document.getElementById('camera').getAttribute('src') !== {first!r}"
                           " && document.getElementById('camera').naturalWidth === 160")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    page.click("#stop")
    wait_status(page, "stopped")
    assert page.locator("#resume-box").is_visible()
    assert (isolated_home / "models" / "camcar" / "checkpoints" / "state.json").is_file()
    page.problems.expect_none()


def test_evaluate_watch_the_video_and_run_the_robustness_report(page, server, tiny):  # noqa: F811
    page.goto("/models/tiny")
    page.wait_for_selector("#chart svg")  # drawn just before the buttons get their handlers
    page.fill("#eval-trials", "1")
    page.click("#evaluate")
    page.locator("#eval-state", has_text="done").wait_for(timeout=JOB_MS)
    page.locator("#evaluations table tr").nth(1).wait_for()  # the lap table: one trial
    video = page.locator("video.evaluation")
    video.wait_for()
    page.wait_for_function("""() => { const v = document.querySelector('video.evaluation');
        return v.readyState >= 1 && v.duration > 0; }""")
    assert page.eval_on_selector("video.evaluation", "v => v.duration") > 1.0
    page.locator("#evaluations summary").first.click()  # the map of the driven line
    wait_images(page, "#evaluations img.map")

    page.fill("#robust-trials", "1")
    page.click("#robustness")
    page.locator("#robust-state", has_text="done").wait_for(timeout=JOB_MS)
    rows = page.locator("#robust-report table tr")
    rows.nth(len(PRESETS)).wait_for()
    assert rows.count() == len(PRESETS) + 1
    assert rows.nth(1).locator("td").first.inner_text() == PRESETS[0]
    wait_images(page, "#robust-picture")
    page.problems.expect_none()


def test_a_model_on_a_race_leaderboard(page, server, tiny):  # noqa: F811
    page.goto("/races")
    page.wait_for_function("document.getElementById('entrant').options.length > 2")
    assert page.locator("#race-type option:not([disabled])").all_inner_texts() == [
        "time-trial", "object-avoidance", "head-to-bot", "head-to-model"]
    assert page.locator("#race-objects").is_hidden()  # a time trial has no objects
    page.select_option("#race-type", "head-to-bot")
    assert page.locator("#race-bots").is_visible() and page.locator("#race-obstacles").is_hidden()
    page.select_option("#race-type", "time-trial")
    page.fill("#race-name", "model-cup")
    page.select_option("#race-track", "oval")
    page.fill("#race-laps", "1")
    page.click("#create-race")
    page.locator("#race-title", has_text="Leaderboard: model-cup").wait_for()
    page.select_option("#entrant", "model:tiny")
    page.click("#submit")
    page.locator("#submit-state", has_text="#1").wait_for(timeout=JOB_MS)
    row = page.locator("#board tbody tr").first
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "1" and cells[1] == "tiny" and cells[8] == "1"
    page.problems.expect_none()


def test_export_downloads_the_bundle(page, server, tiny):  # noqa: F811
    page.goto("/models/tiny")
    page.wait_for_selector("#chart svg")  # drawn just before the buttons get their handlers
    with page.expect_download(timeout=JOB_MS) as info:
        page.click("#export")
    download = info.value
    assert download.suggested_filename == "tiny.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(open(download.path(), "rb").read())) as tar:
        names = tar.getnames()
    assert any(n.endswith(".onnx") for n in names), names
    page.locator("#export-state", has_text="downloaded").wait_for()
    assert page.locator("#car-download").is_hidden()  # no car bundle built
    page.problems.expect_none()
