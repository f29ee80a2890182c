"""Sandboxed reward functions: the user's code in a separate process, under limits.

A reward function from a stranger (the web console) must not be able to hang the trainer,
eat the machine's memory, talk to the network or touch files. :class:`SandboxedReward`
runs it in a worker process (:mod:`racerl.reward.sandbox_worker`) with

* a CPU-time limit per call (``RLIMIT_CPU``, re-armed for every batch) and, in this
  process, a wall-clock limit per batch, after which the worker is killed;
* a memory limit (``RLIMIT_AS``): an allocation beyond it raises ``MemoryError``;
* an audit hook refusing sockets, file writes, deletions, renames and new processes;
* a fresh temporary folder as working directory and the only place it may write (scratch
  files of libraries), removed when the sandbox closes.

It is a :class:`~racerl.reward.protocol.RewardSource`, like
:class:`~racerl.reward.function.RewardFunction`: ``instance()`` gives each car
its own module copy inside the worker, and :meth:`SandboxedReward.score` sends the
params of all cars of one simulator step in one round trip, which is what
:class:`~racerl.sim.batch.BatchSim` uses. Values are judged by DeepRacer's rules in this process
(:func:`racerl.reward.function.call_reward`), so errors read exactly as they do without the sandbox.

After a fatal error — a timeout, the CPU limit, the worker dying — the sandbox refuses
every further call with the same error (DeepRacer ends the job, and so do we); create a
new sandbox to start over. An ordinary error (an exception, a bad return value) leaves the
worker running.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from racerl.errors import RewardFunctionError
from racerl.reward.function import call_reward, format_params, reward_file

MEMORY_LIMIT = 1024 * 1024 * 1024  # bytes of address space for the worker
CPU_PER_CALL = 1.0  # CPU seconds per call (the limit has one-second granularity)
CALL_TIMEOUT = 1.0  # wall-clock seconds per call before the worker is killed
START_TIMEOUT = 30.0  # seconds to start the worker and import the user's module
WORKER = Path(__file__).with_name("sandbox_worker.py")


class SandboxedReward:
    """A reward function running in a worker process; use as a context manager or close()."""

    def __init__(self, path: Path, memory_bytes: int = MEMORY_LIMIT,
                 cpu_seconds: float = CPU_PER_CALL, call_timeout: float = CALL_TIMEOUT):
        self.path = path
        self.label = f"reward_function in {path} (sandboxed)"
        self.memory_bytes = int(memory_bytes)
        self.call_timeout = float(call_timeout)
        self._fatal: RewardFunctionError | None = None
        self._next_id = 0
        self._dir = Path(tempfile.mkdtemp(prefix="racerl-sandbox-"))
        self._log = open(self._dir / "worker.log", "w+b")  # noqa: SIM115 - closed in close()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
                   TMPDIR=str(self._dir), NUMBA_CACHE_DIR=str(self._dir / "numba"))
        self._proc = subprocess.Popen(
            [sys.executable, "-P", str(WORKER)], cwd=self._dir, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        try:
            self._start(float(cpu_seconds))
        except BaseException:
            self.close()
            raise

    def _start(self, cpu_seconds: float) -> None:
        try:
            source = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RewardFunctionError(f"{self.path}: cannot read the file ({exc})") from None
        limits = {"memory_bytes": self.memory_bytes, "cpu_seconds": cpu_seconds}
        reply = self._round_trip(("load", source, str(self.path), limits), START_TIMEOUT, None)
        if reply[0] == "error":
            raise RewardFunctionError(f"{self.path}: {reply[1]}")
        self.instance()  # fail now, not on the first step, if the module is broken

    # -- the RewardFunction interface ---------------------------------------------------------

    def instance(self) -> Callable[[dict], float]:
        """A handle on a fresh module copy in the worker (one per car)."""
        handle = _Instance(self, self._next_id)
        self._next_id += 1
        reply = self._round_trip(("new", handle.id), START_TIMEOUT, None)
        if reply[0] == "error":
            raise RewardFunctionError(f"{self.path}: {reply[1]}")
        return handle

    def score(self, instances: Sequence[_Instance], params: Sequence[dict]) -> list[float]:
        """One round trip for many calls; returns floats checked by DeepRacer's rules."""
        if not instances:
            return []
        request = ("batch", [(h.id, p) for h, p in zip(instances, params, strict=True)])
        timeout = self.call_timeout * len(instances) + 1.0
        reply = self._round_trip(request, timeout, params[0])
        return [call_reward(_Replay(result), p, self.label)
                for result, p in zip(reply[1], params, strict=True)]

    # -- plumbing -------------------------------------------------------------------------------

    def _round_trip(self, message: object, timeout: float, params: dict | None) -> tuple:
        if self._fatal is not None:
            raise self._fatal
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._proc.stdin.write(struct.pack(">I", len(data)) + data)
            self._proc.stdin.flush()
            return self._receive(timeout)
        except (BrokenPipeError, EOFError):
            raise self._die(self._why_dead(), params) from None
        except TimeoutError:
            raise self._die(f"did not return within {timeout:g} s (an endless loop?); "
                            "the sandbox stopped it", params) from None

    def _receive(self, timeout: float) -> tuple:
        stream = self._proc.stdout
        deadline = time.monotonic() + timeout
        header = self._read_exactly(stream, 4, deadline)
        (size,) = struct.unpack(">I", header)
        return pickle.loads(self._read_exactly(stream, size, deadline))

    @staticmethod
    def _read_exactly(stream, n: int, deadline: float) -> bytes:
        chunks, got = [], 0
        fd = stream.fileno()
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, n - got)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _why_dead(self) -> str:
        try:
            code = self._proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code in (-24, -9):  # SIGXCPU, or SIGKILL at the hard limit
            return "used more CPU time than the sandbox allows; the sandbox stopped it"
        self._log.seek(0)
        tail = self._log.read().decode("utf-8", "replace").strip().splitlines()[-1:]
        return f"crashed the sandbox worker (exit code {code}{': ' + tail[0] if tail else ''})"

    def _die(self, what: str, params: dict | None) -> RewardFunctionError:
        step = params.get("steps") if params else None
        where = f" at step {step:g}" if step is not None else ""
        detail = f"\nparams: {format_params(params)}" if params else ""
        error = RewardFunctionError(f"{self.label}{where}: it {what}.{detail}", params=params,
                                    step=step, problem=what, fatal=True)
        self._fatal = error
        self._kill()
        return error

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def close(self) -> None:
        """Stop the worker and remove its folder (idempotent)."""
        for stream in (self._proc.stdin, self._proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self._proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self._kill()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        if self._fatal is None:
            self._fatal = RewardFunctionError(f"{self.label}: the sandbox is closed")

    def __enter__(self) -> SandboxedReward:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_proc", None) is not None and self._proc.poll() is None:
            self._kill()


class _Instance:
    """One car's module copy inside the worker; callable for one-off calls."""

    def __init__(self, sandbox: SandboxedReward, ident: int):
        self.sandbox = sandbox
        self.id = ident

    def __call__(self, params: dict) -> float:
        return self.sandbox.score([self], [params])[0]


class _Replay:
    """Plays back one result from the worker so that :func:`call_reward` judges it."""

    def __init__(self, result: tuple):
        self.result = result

    def __call__(self, params: dict) -> object:
        kind = self.result[0]
        if kind == "raised":
            raise type(self.result[1], (Exception,), {})(self.result[2])
        if kind == "opaque":
            return type(self.result[2], (_Opaque,), {})(*self.result[1:])
        return self.result[1]


class _Opaque:
    """Stands for a returned object that could not be brought over (it is not a number)."""

    def __init__(self, text: str, type_name: str):
        self.text = text
        self.type_name = type_name

    def __repr__(self) -> str:
        return self.text

    def __float__(self) -> float:
        raise TypeError(f"{self.type_name} is not a number")


def load_sandboxed(source: str | Path, memory_bytes: int = MEMORY_LIMIT,
                   cpu_seconds: float = CPU_PER_CALL,
                   call_timeout: float = CALL_TIMEOUT) -> SandboxedReward:
    """Start a sandbox for a reward file (or a shipped example's name)."""
    if callable(source):
        raise RewardFunctionError("the sandbox runs reward functions from files, "
                                  "not Python callables")
    return SandboxedReward(reward_file(source), memory_bytes, cpu_seconds, call_timeout)
