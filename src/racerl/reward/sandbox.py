"""Sandboxed reward functions: the user's code in a confined worker process.

A reward function from a stranger (the web console) must not be able to hang the trainer,
eat the machine's memory, talk to the network, read or touch files, start processes or
take over racerl. :class:`SandboxedReward` runs it in a worker process
(:mod:`racerl.reward.sandbox_worker`) that is

* isolated by the operating system where it can be (Linux with bubblewrap, see
  :mod:`racerl.reward.isolation`): own namespaces, no network, a file system with only the
  Python runtime and a private scratch ``/tmp``, every process it starts killed with it;
* under a seccomp filter refusing new processes, exec, sockets and device nodes, and
  under resource limits: memory (``RLIMIT_AS``), CPU per call (``RLIMIT_CPU``), file size,
  open files and processes;
* stopped from here when a batch takes longer than its wall-clock limit.

Nothing the worker sends is unpickled or evaluated here: replies are length-prefixed JSON
that :func:`parse_reply` checks field by field (numbers, short strings, error records);
anything else is a fatal "malformed reply" and the worker is killed. The worker's channel
is reachable by the user's code (``/proc/self/fd``), so a forged reply is possible; it can
carry nothing but numbers and short texts.

Where the operating system offers no isolation the worker runs as a plain process with its
limits and an audit hook only, :attr:`SandboxedReward.isolation` says so and a
:class:`SandboxWarning` is issued; ``untrusted=True`` refuses to start instead.

It is a :class:`~racerl.reward.protocol.RewardSource`, like
:class:`~racerl.reward.function.RewardFunction`: ``instance()`` gives each car
its own module copy inside the worker, and :meth:`SandboxedReward.score` sends the
params of all cars of one simulator step in one round trip, which is what
:class:`~racerl.sim.batch.BatchSim` uses. Values are judged by DeepRacer's rules in this process
(:func:`racerl.reward.function.call_reward`), so errors read exactly as they do without the sandbox.

After a fatal error (a timeout, the CPU limit, the worker dying, a malformed reply) the
sandbox refuses every further call with the same error (DeepRacer ends the job, and so do
we); create a new sandbox to start over. An ordinary error (an exception, a bad return
value) leaves the worker running.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from racerl.errors import RewardFunctionError
from racerl.reward.function import call_reward, format_params, reward_file
from racerl.reward.isolation import (
    Isolation,
    isolation,
    require_isolation,
    sandbox_command,
    worker_environment,
)

MEMORY_LIMIT = 1024 * 1024 * 1024  # bytes of address space for the worker
CPU_PER_CALL = 1.0  # CPU seconds per call (the limit has one-second granularity)
CALL_TIMEOUT = 1.0  # wall-clock seconds per call before the worker is killed
START_TIMEOUT = 30.0  # seconds to start the worker and import the user's module
FILE_LIMIT = 16 * 1024 * 1024  # bytes: the largest file the worker may write
OPEN_FILES = 64  # file descriptors the worker may hold
PROCESSES = 16  # processes and threads in the worker's user namespace
TEXT_LIMIT = 300  # characters of a text in a reply (as the worker cuts them)
REPLY_OVERHEAD = 4096  # bytes of a reply beyond its results
RESULT_BYTES = 2 * TEXT_LIMIT * 6 + 64  # the most one result can take as JSON
WORKER = Path(__file__).with_name("sandbox_worker.py")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,99}")


class SandboxWarning(UserWarning):
    """The sandbox runs without operating-system isolation."""


class MalformedReplyError(Exception):
    """The worker sent something that is not a reply of the protocol."""


class SandboxedReward:
    """A reward function running in a confined worker; use as a context manager or close()."""

    def __init__(self, path: Path, memory_bytes: int = MEMORY_LIMIT,
                 cpu_seconds: float = CPU_PER_CALL, call_timeout: float = CALL_TIMEOUT,
                 untrusted: bool = False, audit_hook: bool = True):
        self.path = path
        self.audit_hook = audit_hook
        """False leaves out the worker's audit hook (the friendly error messages), so that
        tests can show the operating system's refusals hold on their own."""
        self.label = f"reward_function in {path} (sandboxed)"
        self.memory_bytes = int(memory_bytes)
        self.call_timeout = float(call_timeout)
        self.isolation: Isolation = require_isolation() if untrusted else isolation()
        """What the operating system guarantees for this worker (see :mod:`.isolation`)."""
        self.cpu_seconds = float(cpu_seconds)
        self._fatal: RewardFunctionError | None = None
        self._next_id = 0
        self._dir = Path(tempfile.mkdtemp(prefix="racerl-sandbox-"))
        self._log = open(self._dir / "worker.log", "w+b")  # noqa: SIM115 - closed in close()
        if self.isolation.confined:
            command = sandbox_command(self.isolation.bwrap, WORKER)
            env, scratch = {}, self._dir  # bwrap clears the environment; /tmp is a tmpfs
        else:
            warnings.warn(f"reward sandbox: {self.isolation.describe()}", SandboxWarning,
                          stacklevel=2)
            scratch = self._dir / "scratch"
            scratch.mkdir()
            command = [sys.executable, "-I", str(WORKER)]
            env = worker_environment(str(scratch))
        self._proc = subprocess.Popen(command, cwd=scratch, env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log)
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        try:
            source = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RewardFunctionError(f"{self.path}: cannot read the file ({exc})") from None
        limits = {"memory_bytes": self.memory_bytes, "cpu_seconds": self.cpu_seconds,
                  "file_bytes": FILE_LIMIT, "open_files": OPEN_FILES, "processes": PROCESSES,
                  "seccomp": self.isolation.confined, "audit_hook": self.audit_hook}
        reply = self._round_trip(("load", source, str(self.path), limits), START_TIMEOUT, None)
        if "error" in reply:
            raise RewardFunctionError(f"{self.path}: {reply['error']}")
        self.instance()  # fail now, not on the first step, if the module is broken

    # -- the RewardFunction interface ---------------------------------------------------------

    def instance(self) -> Callable[[dict], float]:
        """A handle on a fresh module copy in the worker (one per car)."""
        handle = _Instance(self, self._next_id)
        self._next_id += 1
        reply = self._round_trip(("new", handle.id), START_TIMEOUT, None)
        if "error" in reply:
            raise RewardFunctionError(f"{self.path}: {reply['error']}")
        return handle

    def score(self, instances: Sequence[_Instance], params: Sequence[dict]) -> list[float]:
        """One round trip for many calls; returns floats checked by DeepRacer's rules."""
        if not instances:
            return []
        request = ("batch", [(h.id, p) for h, p in zip(instances, params, strict=True)],
                   self.cpu_seconds * len(instances))
        timeout = self.call_timeout * len(instances) + 1.0
        reply = self._round_trip(request, timeout, params[0], calls=len(instances))
        return [call_reward(_Replay(result), p, self.label)
                for result, p in zip(reply["results"], params, strict=True)]

    # -- plumbing -------------------------------------------------------------------------------

    def _round_trip(self, message: object, timeout: float, params: dict | None,
                    calls: int | None = None) -> dict:
        if self._fatal is not None:
            raise self._fatal
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)  # to the worker
        try:
            self._proc.stdin.write(struct.pack(">I", len(data)) + data)
            self._proc.stdin.flush()
            return parse_reply(self._receive(timeout, calls), calls)
        except (BrokenPipeError, EOFError):
            raise self._die(self._why_dead(), params) from None
        except TimeoutError:
            raise self._die(f"did not return within {timeout:g} s (an endless loop?); "
                            "the sandbox stopped it", params) from None
        except MalformedReplyError as exc:
            raise self._die(f"made the sandbox worker send a malformed reply ({exc}); "
                            "the sandbox stopped it", params) from None

    def _receive(self, timeout: float, calls: int | None) -> bytes:
        stream = self._proc.stdout
        deadline = time.monotonic() + timeout
        header = self._read_exactly(stream, 4, deadline)
        (size,) = struct.unpack(">I", header)
        if size > REPLY_OVERHEAD + RESULT_BYTES * (calls or 1):
            raise MalformedReplyError(f"{size} bytes")
        return self._read_exactly(stream, size, deadline)

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
        if code in (-24, -9, 128 + 24, 128 + 9):  # SIGXCPU or SIGKILL (bwrap passes 128+n)
            return "used more CPU time than the sandbox allows; the sandbox stopped it"
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        tail = lines[-1][:TEXT_LIMIT] if lines else ""
        return f"crashed the sandbox worker (exit code {code}{': ' + tail if tail else ''})"

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


def parse_reply(data: bytes, calls: int | None) -> dict:
    """The worker's reply, checked field by field; :class:`MalformedReplyError` otherwise.

    ``calls`` is the number of results a batch reply must hold (None for load and new,
    whose replies are ``{"ok": true}`` or ``{"error": text}``). Only JSON's plain values are
    ever built from the bytes; no object of the worker's choosing.
    """
    try:
        reply = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedReplyError(f"not JSON: {exc}") from None
    if not isinstance(reply, dict) or len(reply) != 1:
        raise MalformedReplyError("not a one-key object")
    if calls is None:
        if reply.get("ok") is True:
            return reply
        if isinstance(reply.get("error"), str) and len(reply["error"]) <= 2 * TEXT_LIMIT:
            return reply
        raise MalformedReplyError("neither ok nor an error text")
    results = reply.get("results")
    if not isinstance(results, list) or len(results) != calls:
        raise MalformedReplyError(f"not a list of {calls} results")
    for result in results:
        _check_result(result)
    return reply


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")  # NaN and infinities travel as text


def _text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= TEXT_LIMIT


RESULT_SHAPES: dict[str, Callable[[list], bool]] = {
    "ok": lambda r: len(r) == 2 and (
        (isinstance(r[1], (int, float)) and not isinstance(r[1], bool)
         and abs(r[1]) < float("inf")) or r[1] in ("nan", "inf", "-inf")),
    "raised": lambda r: len(r) == 3 and _text(r[1]) and NAME.fullmatch(r[1]) is not None
    and _text(r[2]),
    "none": lambda r: len(r) == 1,
    "str": lambda r: len(r) == 2 and _text(r[1]),
    "bytes": lambda r: len(r) == 2 and _text(r[1]),
    "opaque": lambda r: len(r) == 3 and _text(r[1]) and _text(r[2])
    and NAME.fullmatch(r[2]) is not None,
}


def _check_result(result: object) -> None:
    if not (isinstance(result, list) and result and isinstance(result[0], str)
            and result[0] in RESULT_SHAPES and RESULT_SHAPES[result[0]](result)):
        raise MalformedReplyError(f"a result {str(result)[:60]!r} is not one the protocol allows")


class _Instance:
    """One car's module copy inside the worker; callable for one-off calls."""

    def __init__(self, sandbox: SandboxedReward, ident: int):
        self.sandbox = sandbox
        self.id = ident

    def __call__(self, params: dict) -> float:
        return self.sandbox.score([self], [params])[0]


class _Replay:
    """Plays back one checked result from the worker so that :func:`call_reward` judges it."""

    def __init__(self, result: list):
        self.result = result

    def __call__(self, params: dict) -> object:
        kind = self.result[0]
        if kind == "raised":
            raise type(self.result[1], (Exception,), {})(self.result[2])
        if kind == "opaque":
            # named like the worker's type, so that the message reads as it does in-process
            return type(self.result[2], (_Opaque,), {})(self.result[1], self.result[2])
        if kind == "ok":
            return float(self.result[1])
        if kind == "bytes":
            return self.result[1].encode("latin-1")
        return self.result[1] if kind == "str" else None


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
                   cpu_seconds: float = CPU_PER_CALL, call_timeout: float = CALL_TIMEOUT,
                   untrusted: bool = False) -> SandboxedReward:
    """Start a sandbox for a reward file (or a shipped example's name); ``untrusted=True``
    refuses (:class:`~racerl.reward.isolation.SandboxUnavailableError`) where the operating
    system cannot isolate the worker."""
    if callable(source):
        raise RewardFunctionError("the sandbox runs reward functions from files, "
                                  "not Python callables")
    return SandboxedReward(reward_file(source), memory_bytes, cpu_seconds, call_timeout,
                           untrusted)
