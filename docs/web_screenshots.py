"""Screenshots of every page of `racerl serve` at a laptop's width and a phone's, for the
README: ``PYTHONPATH=src python docs/web_screenshots.py`` writes ``docs/web_<page>.png``
(1280 px wide) and ``docs/web_<page>_phone.png`` (390 px); ``... web_screenshots.py
head-to-model`` writes only ``docs/web_head_to_model.png``, a head-to-model race's board
after three matches of scripted drivers (no model to train, so seconds).

Everything shown is real: a fresh racerl home in a temporary folder, a camera model trained
there for a few seconds, then through the console's own API an evaluation with its video,
the robustness report, a race with two entrants and a job; Chromium (Debian's, or
RACERL_CHROMIUM) draws the pages.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("RACERL_CHROMIUM", "/usr/bin/chromium")
MODEL = "first-car"
SETTINGS = {"track": "oval", "observation": "camera", "network": "light", "n_envs": 8,
            "rollout_steps": 64, "batch_size": 256, "learning_rate": 1e-3, "seed": 0,
            "num_episodes_between_training": 5, "eval_every": 2}
PAGES = {"garage": "/", "create": "/create", "model": f"/models/{MODEL}", "races": "/races",
         "jobs": "/jobs", "api": "/docs"}
WIDTHS = {"": (1280, 900), "_phone": (390, 844)}


def serve(home: Path):
    import uvicorn

    from racerl.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(home=home), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def wait_job(request, job: dict) -> None:
    while request.get(f"/api/jobs/{job['id']}").json()["state"] == "running":
        time.sleep(0.5)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from racerl.model.config import load_config_dict
    from racerl.train.trainer import train

    home = Path(tempfile.mkdtemp(prefix="racerl-screenshots-"))
    os.environ["RACERL_HOME"] = str(home)
    train(MODEL, load_config_dict(SETTINGS, MODEL), steps=8 * 64 * 8)
    server, url = serve(home)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=url)
        api = context.request
        wait_job(api, api.post(f"/api/models/{MODEL}/evaluations",
                               data={"trials": 2, "video": True}).json())
        wait_job(api, api.post(f"/api/models/{MODEL}/robustness", data={"trials": 1}).json())
        api.post("/api/races", data={"name": "friday-cup", "track": "oval", "laps": 2})
        api.post("/api/races/friday-cup/submissions", data={"model": MODEL})
        api.post("/api/races/friday-cup/submissions", data={"driver": "centerline"})
        for suffix, (width, height) in WIDTHS.items():
            page = browser.new_page(base_url=url, viewport={"width": width, "height": height})
            for name, path in PAGES.items():
                page.goto(path)
                ready(page, name)
                target = DOCS / f"web_{name}{suffix}.png"
                page.screenshot(path=str(target), full_page=name not in ("create", "api"))
                print("saved", target)
            page.close()
        browser.close()
    server.should_exit = True


def ready(page, name: str) -> None:
    """Wait until the page shows its data."""
    if name == "garage":
        page.locator("#models tbody tr").first.wait_for()
    elif name == "create":
        page.locator("#hp tbody tr").first.wait_for()
        page.wait_for_function("document.getElementById('track-preview').naturalWidth > 0")
    elif name == "model":
        page.wait_for_selector("#chart svg polyline")
        page.wait_for_function("document.getElementById('camera').naturalWidth > 0")
        page.locator("#robust-report table").wait_for()
        page.wait_for_function("document.querySelector('video.evaluation')?.readyState >= 2")
        page.wait_for_function("document.getElementById('robust-picture').naturalWidth > 0")
    elif name == "races":
        page.locator("#races tbody tr").first.wait_for()
        page.locator("#races tbody button").first.click()
        page.locator("#board tbody tr").nth(1).wait_for()
    elif name == "jobs":
        page.locator("#jobs tbody tr").first.wait_for()
    elif name == "api":
        page.get_by_text("/api/models").first.wait_for()
    page.wait_for_timeout(300)


def head_to_model() -> None:
    """The race page of a head-to-model race after three matches, each one API call."""
    from playwright.sync_api import sync_playwright

    os.environ["RACERL_HOME"] = tempfile.mkdtemp(prefix="racerl-screenshots-")
    server, url = serve(Path(os.environ["RACERL_HOME"]))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=url)
        api = page.request
        api.post("/api/races", data={"name": "duel", "race_type": "head-to-model",
                                     "laps": 1, "done_condition": "any"})
        fast, slow, line = ({"driver": "centerline", "speed": 1.5},
                            {"driver": "centerline", "speed": 1.0}, {"driver": "raceline"})
        for a, b in ((slow, fast), (fast, line), (fast, slow)):
            api.post("/api/races/duel/submissions",
                     data={**a, **{"opponent_" + k: v for k, v in b.items()}})
        page.goto("/races")
        ready(page, "races")
        target = DOCS / "web_head_to_model.png"
        page.screenshot(path=str(target), full_page=True)
        print("saved", target)
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    sys.exit(head_to_model() if sys.argv[1:] == ["head-to-model"] else main())
