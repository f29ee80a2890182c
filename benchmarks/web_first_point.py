"""Web console: how long from pressing "Create and train" to the first point on the chart.

What is measured
    Wall time in the browser from the click on **Create and train** (the create page, every
    setting at its default but the name and the track) to the first live camera frame the
    model page shows, and to the moment it has drawn its first chart point (``#chart svg
    polyline`` with a point), i.e. what a new user waits for: the job's start (a ``racerl
    train`` process: Python, torch, the track, the first rollout), the first iteration
    (``num_episodes_between_training`` episodes), the metrics file, the server-sent event
    and the drawing. The run is then stopped from the page.

How
    The real console under uvicorn on a free port of 127.0.0.1 over a fresh racerl home,
    Chromium through Playwright (Debian's /usr/bin/chromium, or RACERL_CHROMIUM). The
    machine's load average is printed beside each run: on a shared machine the figure moves
    with it.

Usage
    PYTHONPATH=src .venv/bin/python benchmarks/web_first_point.py --runs 3 [--track oval]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))
from web_screenshots import CHROMIUM, serve


def one_run(browser, url: str, name: str, track: str) -> float:
    page = browser.new_page(base_url=url, viewport={"width": 1280, "height": 900})
    page.set_default_timeout(600_000)
    page.goto("/create")
    page.locator("#hp tbody tr").first.wait_for()
    page.fill("#name", name)
    page.select_option("#track", track)
    page.fill("#budget", "30")
    page.evaluate("""() => {
        document.getElementById('start').addEventListener('click',
            () => { sessionStorage.setItem('pressed', String(Date.now())); }, true); }""")
    page.click("#start")
    page.wait_for_url(f"**/models/{name}")
    page.wait_for_function("document.getElementById('camera').naturalWidth > 0", polling=50)
    camera = page.evaluate("Date.now()")
    page.wait_for_function("document.querySelector('#chart svg polyline')?.points.length > 0",
                           polling=50)
    drawn = page.evaluate("Date.now()")
    pressed = int(page.evaluate("sessionStorage.getItem('pressed')"))
    page.click("#stop")
    page.wait_for_function("document.getElementById('status').textContent === 'stopped'")
    page.close()
    return (camera - pressed) / 1000, (drawn - pressed) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--track", default="loop")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="racerl-first-point-"))
    server, url = serve(home)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for k in range(args.runs):
            load = os.getloadavg()[0]
            camera, chart = one_run(browser, url, f"first-point-{k}", args.track)
            print(f"run {k + 1}: first camera frame {camera:.1f} s, first chart point "
                  f"{chart:.1f} s after the click "
                  f"(load average before: {load:.1f}, {os.cpu_count()} cores)", flush=True)
            time.sleep(2)
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
