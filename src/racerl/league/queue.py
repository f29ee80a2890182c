"""The evaluation queue: one submission at a time, each in a process of its own.

The server's request only checks and stores the upload (:func:`racerl.league.bundles.
check_upload`, :func:`racerl.league.store.enqueue`) and returns; a :class:`QueueWorker`
thread then drives the queue, running ``racerl league run-submission ID`` for each entry
as the console's jobs run their commands (:mod:`racerl.web.jobs`): the evaluation cannot
take the server down, and a crash of the runtime on a hostile graph is that process's
failure. One at a time, because a race is timed in simulated seconds, not wall time, and
parallel evaluations would only share the same CPU cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from racerl.errors import RacerlError
from racerl.evaluate.races import submit
from racerl.league import store
from racerl.league.bundles import bundle_entrant, check_upload

RUN_TIMEOUT_S = 1800  # the longest race (20 laps) of a camera model on one slow core


def run_submission(submission_id: int) -> store.BundleSubmission:
    """Check the stored bundle again and drive it under the race's conditions; records
    ``done`` with the race submission, or ``failed`` with the reason."""
    entry = store.get_submission(submission_id)
    try:
        bundle = check_upload(Path(entry.bundle).read_bytes(), f"bundle of {entry.racer}")
        who = bundle_entrant(bundle, entry.racer, store.racer_folder(entry.racer))
        _, standing = submit(entry.race, who)
    except RacerlError as exc:
        store.finish(submission_id, error=str(exc))
        raise
    store.finish(submission_id, rank=standing.rank)
    return store.get_submission(submission_id)


class QueueWorker:
    """Drains the queue in a background thread, started again whenever work arrives."""

    def __init__(self, python: str = sys.executable):
        self.python = python
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        store.interrupt_running()

    def kick(self) -> None:
        """Make sure the queue is being drained."""
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._drain, name="racerl-league",
                                               daemon=True)
                self.thread.start()

    def _drain(self) -> None:
        while (entry := store.claim_next()) is not None:
            try:
                done = subprocess.run(
                    [self.python, "-m", "racerl.cli", "league", "run-submission",
                     str(entry.id)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                    stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"})
                failed = done.returncode != 0
                reason = _last_line(done.stderr) or _last_line(done.stdout) or \
                    f"the evaluation exited with code {done.returncode}"
            except subprocess.TimeoutExpired:
                failed, reason = True, f"the evaluation took over {RUN_TIMEOUT_S} s"
            if failed and store.get_submission(entry.id).state == store.RUNNING:
                store.finish(entry.id, error=reason)  # the process died before saying why

    def wait_idle(self, timeout: float) -> bool:
        """True once the queue is drained (for tests and a clean shutdown)."""
        thread = self.thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("error: ")[:300] if lines else ""
