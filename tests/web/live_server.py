"""What the browser tests share: the console served for real on a free port, and a training
job paused at its first checkpoint so that a page is seen mid-run on any machine."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free local port; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


@contextlib.contextmanager
def paused_at_first_checkpoint(page, home: Path, model: str, timeout_s: float) -> Iterator[None]:
    """Wait for ``model``'s training job to write its first checkpoint, then hold the job
    (SIGSTOP to its process group) until the block ends, when it goes on (SIGCONT)."""
    state = home / "models" / model / "checkpoints" / "state.json"
    deadline = time.monotonic() + timeout_s
    while not state.is_file():
        assert time.monotonic() < deadline, "the training job wrote no checkpoint"
        time.sleep(0.01)
    (job,) = [j for j in page.request.get("/api/jobs").json() if j["model"] == model]
    os.killpg(job["pid"], signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(job["pid"], signal.SIGCONT)
