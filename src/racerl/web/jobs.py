"""Background jobs of the web console: each a ``racerl`` command in a process of its own.

A job runs the same command a user would type (``racerl train ...``, ``racerl evaluate
...``), so the console adds no training or evaluation logic of its own, and a stop is the
command's own Ctrl-C: SIGINT, after which the trainer finishes its step, saves its
checkpoint and exits (a second stop kills the process; the model folder's atomic
checkpoints survive either). Each job keeps ``$RACERL_HOME/web/jobs/<id>/job.json`` (what
it is and how it ended) and ``output.log`` (what the command printed), so the table
survives a page reload, is the same in every tab and outlives the server: a job the table
lists as running but that this server did not start (the server was restarted) shows as
``interrupted``; a training job can then be resumed (``racerl train --resume``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from racerl.atomic import atomic_write_json
from racerl.errors import RacerlError
from racerl.home import racerl_home

RUNNING, DONE, FAILED, STOPPED, INTERRUPTED = "running", "done", "failed", "stopped", \
    "interrupted"
KINDS = ("train", "evaluate", "robustness", "export")
LOG_TAIL = 4000  # characters of a job's output the API shows


class JobError(RacerlError):
    """A job that does not exist, or cannot be started or stopped."""


@dataclass
class Job:
    """One background command and how it went."""

    id: str
    kind: str  # one of KINDS
    model: str
    args: list[str]  # the racerl command line, without "racerl"
    state: str = RUNNING
    started: float = field(default_factory=time.time)
    ended: float | None = None
    returncode: int | None = None
    pid: int | None = None
    stop_requested: bool = False

    def to_json(self) -> dict:
        return asdict(self)


def jobs_dir() -> Path:
    return racerl_home() / "web" / "jobs"


class JobTable:
    """The jobs of this racerl home: those this server started (with their processes) and
    those earlier servers left on disk."""

    def __init__(self, python: str = sys.executable):
        self.python = python
        self.processes: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self._interrupt_orphans()

    # -- reading ------------------------------------------------------------------------

    def _path(self, job_id: str) -> Path:
        return jobs_dir() / job_id / "job.json"

    def _read(self, path: Path) -> Job | None:
        try:
            return Job(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None  # a damaged record is left out, not fatal

    def _write(self, job: Job) -> None:
        atomic_write_json(self._path(job.id), job.to_json())

    def _interrupt_orphans(self) -> None:
        """Jobs a previous server left running: their process is not ours to watch."""
        for job in self._all():
            if job.state == RUNNING:
                job.state, job.ended = INTERRUPTED, job.ended or time.time()
                self._write(job)

    def _all(self) -> list[Job]:
        folder = jobs_dir()
        if not folder.is_dir():
            return []
        found = (self._read(p / "job.json") for p in folder.iterdir() if p.is_dir())
        return sorted((j for j in found if j is not None), key=lambda j: j.started)

    def refresh(self) -> None:
        """Record the end of every job whose process has ended."""
        with self.lock:
            for job_id, proc in list(self.processes.items()):
                code = proc.poll()
                if code is None:
                    continue
                del self.processes[job_id]
                job = self._read(self._path(job_id))
                if job is None:
                    continue
                job.returncode, job.ended = code, time.time()
                job.state = STOPPED if job.stop_requested else (DONE if code == 0 else FAILED)
                self._write(job)

    def list(self, model: str | None = None) -> list[Job]:
        self.refresh()
        return [j for j in self._all() if model is None or j.model == model]

    def get(self, job_id: str) -> Job:
        self.refresh()
        job = self._read(self._path(job_id)) if _plain_id(job_id) else None
        if job is None:
            raise JobError(f"no job {job_id!r}")
        return job

    def latest(self, model: str, kind: str | None = None) -> Job | None:
        found = [j for j in self.list(model) if kind is None or j.kind == kind]
        return found[-1] if found else None

    def running(self, model: str) -> Job | None:
        return next((j for j in self.list(model) if j.state == RUNNING), None)

    def output(self, job_id: str) -> str:
        self.get(job_id)
        path = jobs_dir() / job_id / "output.log"
        if not path.is_file():
            return ""
        text = path.read_text(encoding="utf-8", errors="replace")
        return text[-LOG_TAIL:]

    # -- starting and stopping ----------------------------------------------------------

    def start(self, kind: str, model: str, args: list[str],
              files: dict[str, str] | None = None) -> Job:
        """Run ``racerl ARGS`` in the background; ``files`` (name -> text) are written into
        the job's folder first, and ``{job}`` in an argument or a settings file (not in
        Python code) is that folder's path."""
        if kind not in KINDS:
            raise JobError(f"job kind {kind!r}: one of {', '.join(KINDS)}")
        busy = self.running(model)
        if busy is not None:
            raise JobError(f"model {model!r} already has a {busy.kind} job running "
                           f"({busy.id}); stop it first")
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        folder = jobs_dir() / job_id
        folder.mkdir(parents=True)
        for name, text in (files or {}).items():
            text = text if name.endswith(".py") else text.replace("{job}", str(folder))
            (folder / name).write_text(text, encoding="utf-8")
        args = [a.replace("{job}", str(folder)) for a in args]
        job = Job(job_id, kind, model, args)
        with self.lock:
            with open(folder / "output.log", "wb") as log:
                proc = subprocess.Popen(
                    [self.python, "-m", "racerl.cli", *args], stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,  # a stop signals this job, nothing else
                    env={**os.environ, "COLUMNS": "120", "PYTHONUNBUFFERED": "1"})
            job.pid = proc.pid
            self.processes[job_id] = proc
            self._write(job)
        return job

    def stop(self, job_id: str) -> Job:
        """Ask a running job to stop as Ctrl-C does (the trainer saves and exits); a
        second stop kills it."""
        job = self.get(job_id)
        proc = self.processes.get(job_id)
        if job.state != RUNNING or proc is None:
            raise JobError(f"job {job_id} is not running ({job.state})")
        sig = signal.SIGKILL if job.stop_requested else signal.SIGINT
        job.stop_requested = True
        self._write(job)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        return job

    def wait(self, job_id: str, timeout: float) -> Job:
        """The job once it has ended, or as it is after ``timeout`` seconds."""
        proc = self.processes.get(job_id)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        return self.get(job_id)

    def shutdown(self, grace: float = 20.0) -> None:
        """Stop every job this server started, as Ctrl-C does, wait for their saves, and
        record them as interrupted (a training job can be resumed from the page)."""
        ours = list(self.processes.items())
        for _, proc in ours:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
        deadline = time.time() + grace
        for _, proc in ours:
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with self.lock:
            for job_id, proc in ours:
                self.processes.pop(job_id, None)
                job = self._read(self._path(job_id))
                if job is not None and job.state == RUNNING:
                    job.state, job.ended, job.returncode = INTERRUPTED, time.time(), \
                        proc.returncode
                    self._write(job)


def _plain_id(job_id: str) -> bool:
    return bool(job_id) and all(c.isalnum() or c == "-" for c in job_id) and len(job_id) < 40
