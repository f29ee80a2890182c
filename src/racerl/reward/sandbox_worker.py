"""The sandbox's worker process: runs one user's reward function under limits.

Started by :mod:`racerl.reward.sandbox` as ``python -P sandbox_worker.py`` (the file is run by
path, so that importing it does not import the racerl package), with the sandbox's temp
folder as its working directory. It sets its own limits before it runs any user code:

* ``RLIMIT_AS`` (address space) so that a huge allocation raises ``MemoryError``;
* ``RLIMIT_CPU`` re-armed before every batch (CPU seconds used so far plus the batch's
  budget), so that an endless loop is killed by the kernel even if the parent were stuck;
* an audit hook (:pep:`578`) that refuses sockets, starting processes, changing the limits,
  and opening files for writing, deleting, renaming or changing permissions anywhere but
  in its scratch folder (its working directory, also ``TMPDIR`` and ``NUMBA_CACHE_DIR``, so
  that libraries needing a scratch file work), which the parent removes afterwards.

The audit hook and the limits set here guard against mistakes and casual misuse, not a
determined attacker: code that reaches native code (``ctypes``) or this module's globals
can get round them. The parent's wall-clock limit, which kills this process, holds anyway.
Code from strangers should also run in a container or VM without network and with a
read-only file system.

Protocol, on stdin/stdout: each message is a 4-byte big-endian length and a pickle.
Requests: ``("load", source, filename, limits)``, ``("batch", [(instance_id, params), ...])``.
Replies: ``("ok", payload)`` or ``("error", message)``; a batch's payload has one entry per
call: ``("ok", float)``, ``("raised", type_name, message)``, ``("value", None|str|bytes)``
or ``("opaque", repr, type_name)``.
"""

from __future__ import annotations

import inspect
import os
import pickle
import resource
import struct
import sys
import types

REFUSED_EVENTS = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "os.chown", "os.symlink", "os.link", "os.chdir",
    "resource.setrlimit", "resource.prlimit", "pty.", "webbrowser.", "urllib.", "http.",
    "ftplib.", "smtplib.", "poplib.", "imaplib.", "telnetlib.", "sys.addaudithook",
)
# Allowed only on paths inside the scratch folder (the working directory, TMPDIR and
# NUMBA_CACHE_DIR point there); refused everywhere else.
FILE_EVENTS = {
    "os.remove": 1, "os.unlink": 1, "os.rmdir": 1, "os.mkdir": 1, "os.rename": 2,
    "os.replace": 2, "os.truncate": 1, "os.chmod": 1, "os.utime": 1, "shutil.rmtree": 1,
    "shutil.move": 2, "shutil.copyfile": 2, "open": 1,
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_SCRATCH: list[str] = []
_LIMITS: dict[str, float] = {}
_arming = [False]  # true only while the worker itself re-arms the CPU limit


def _in_scratch(path: object) -> bool:
    if not isinstance(path, (str, bytes, os.PathLike)) or not _SCRATCH:
        return False
    real = os.path.realpath(os.fsdecode(path))
    return real == _SCRATCH[0] or real.startswith(_SCRATCH[0] + os.sep)


def _audit(event: str, args: tuple) -> None:
    if event == "resource.setrlimit" and _arming[0]:
        return
    if event == "open":
        mode, flags = (args[1], args[2]) if len(args) >= 3 else (None, 0)
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            (isinstance(flags, int) and flags & WRITE_FLAGS)
        if writes and not _in_scratch(args[0]):
            raise PermissionError(f"the reward sandbox does not allow writing files ({args[0]})")
        return
    if event in FILE_EVENTS:
        if not all(_in_scratch(a) for a in args[:FILE_EVENTS[event]]):
            raise PermissionError(f"the reward sandbox does not allow {event} outside its "
                                  f"scratch folder ({args[0]})")
        return
    if event.startswith(REFUSED_EVENTS):
        raise PermissionError(f"the reward sandbox does not allow {event}")


def _read(stream) -> object:
    header = stream.read(4)
    if len(header) < 4:
        raise EOFError
    (size,) = struct.unpack(">I", header)
    return pickle.loads(stream.read(size))


def _write(fd: int, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = struct.pack(">I", len(data)) + data
    while data:
        written = os.write(fd, data)
        data = data[written:]


class _ShapeError(Exception):
    """The file runs but has no usable ``reward_function``."""


def _instance(code: types.CodeType, filename: str):
    module = types.ModuleType("reward_function_module")
    module.__file__ = filename
    exec(code, module.__dict__)  # the user's code: the reason this process exists
    func = module.__dict__.get("reward_function")
    if not callable(func):
        raise _ShapeError("the file defines no function 'reward_function(params)'")
    try:
        inspect.signature(func).bind({})
    except TypeError:
        raise _ShapeError("reward_function must take exactly one argument (params), its "
                        f"signature is {inspect.signature(func)}") from None
    return func


def _call(func, params: dict) -> tuple:
    try:
        value = func(params)
    except MemoryError:
        return ("raised", "MemoryError", "it needs more memory than the sandbox allows "
                f"({_LIMITS['memory_bytes'] / 2**20:.0f} MiB)")
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    if value is None or isinstance(value, (str, bytes)):
        return ("value", value)
    try:
        return ("ok", float(value))
    except Exception:
        return ("opaque", repr(value)[:200], type(value).__name__)


def _arm_cpu(seconds: float) -> None:
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    soft = int(spent + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    _arming[0] = True
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    finally:
        _arming[0] = False


def main() -> None:
    out_fd = os.dup(1)  # the protocol's channel; the user's print() goes to the log
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.dont_write_bytecode = True
    stdin = sys.stdin.buffer
    kind, source, filename, limits = _read(stdin)
    assert kind == "load"
    _LIMITS.update(limits)
    memory = int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu_per_call = float(limits["cpu_seconds"])
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        _write(out_fd, ("error", f"syntax error on line {exc.lineno}: {exc.msg}"))
        return
    _SCRATCH.append(os.path.realpath(os.getcwd()))
    sys.addaudithook(_audit)
    instances: dict[int, object] = {}
    _write(out_fd, ("ok", None))
    while True:
        try:
            kind, payload = _read(stdin)
        except EOFError:
            return
        if kind == "new":
            try:
                _arm_cpu(cpu_per_call)
                instances[payload] = _instance(code, filename)
            except Exception as exc:
                message = str(exc) if isinstance(exc, _ShapeError) else \
                    f"importing the file raised {type(exc).__name__}: {exc}"
                _write(out_fd, ("error", message))
                continue
            _write(out_fd, ("ok", None))
        elif kind == "batch":
            _arm_cpu(cpu_per_call * max(len(payload), 1))
            _write(out_fd, ("ok", [_call(instances[i], params) for i, params in payload]))


if __name__ == "__main__":
    main()
