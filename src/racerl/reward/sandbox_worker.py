"""The sandbox's worker process: runs one user's reward function, confined.

Started by :mod:`racerl.reward.sandbox`, on Linux inside bubblewrap (see
:mod:`racerl.reward.isolation`), as ``python -I worker.py``. The file is run by path and
imports nothing of racerl, because the sandbox's file system holds no racerl source: only
the Python runtime, this file and a private scratch folder. Before it runs any user code it
confines itself, in this order:

* resource limits: address space (``RLIMIT_AS``: a huge allocation raises
  ``MemoryError``), file size (``RLIMIT_FSIZE``), open files (``RLIMIT_NOFILE``), processes
  and threads (``RLIMIT_NPROC``), and CPU time (``RLIMIT_CPU``, re-armed before every batch
  to the CPU used so far plus the batch's budget, so the kernel stops an endless loop);
* a seccomp filter (libseccomp through ``pyseccomp``) that makes the kernel refuse new
  processes (``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``, ``clone3``),
  ``execve``, sockets, device nodes (``mknod``), new sessions, mounts, namespaces, tracing
  and the other calls listed in :data:`REFUSED_SYSCALLS`. A filter cannot be removed, and
  it holds for native code too (``ctypes``);
* an audit hook (:pep:`578`) that turns the same refusals into readable Python errors
  ("the reward sandbox does not allow socket.connect") before they reach the kernel, and
  refuses writing files outside the scratch folder. It is the friendly layer, not the
  guarantee: the kernel's refusals above hold whatever the code does to the hook.

Protocol, on stdin/stdout, each message a 4-byte big-endian length and a body.
Requests (from the parent, which is trusted) are pickles: ``("load", source, filename,
limits)``, ``("new", instance_id)``, ``("batch", [(instance_id, params), ...], cpu_seconds)``.
Replies are JSON objects, never pickles, because the parent must not run anything this
process sends: ``{"ok": true}``, ``{"error": text}``, or for a batch
``{"results": [result, ...]}`` with one result per call: ``["ok", number]``,
``["raised", type_name, message]``, ``["none"]``, ``["str", text]``, ``["bytes", text]``
or ``["opaque", repr, type_name]``. The parent validates every field (see
:func:`racerl.reward.sandbox.parse_reply`).
"""

from __future__ import annotations

import errno
import inspect
import json
import linecache
import math
import os
import pickle
import resource
import struct
import sys
import types

TEXT_LIMIT = 300  # characters of any text sent back (an error message, a repr)
REFUSED_EVENTS = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "os.chown", "os.symlink", "os.link", "os.chdir",
    "os.mkfifo", "os.mknod", "os.setsid", "os.setpgid", "sqlite3.connect",
    "resource.setrlimit", "resource.prlimit", "pty.", "webbrowser.", "urllib.", "http.",
    "ftplib.", "smtplib.", "poplib.", "imaplib.", "telnetlib.", "sys.addaudithook",
)
# Allowed only on paths inside the scratch folder (the working directory; TMPDIR and HOME
# point there); refused everywhere else.
FILE_EVENTS = {
    "os.remove": 1, "os.unlink": 1, "os.rmdir": 1, "os.mkdir": 1, "os.rename": 2,
    "os.replace": 2, "os.truncate": 1, "os.chmod": 1, "os.utime": 1, "shutil.rmtree": 1,
    "shutil.move": 2, "shutil.copyfile": 2, "open": 1,
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# Refused by the kernel once the seccomp filter is loaded (EPERM). clone is refused only
# without CLONE_THREAD (threads stay possible, bounded by RLIMIT_NPROC and the memory
# limit); clone3 answers ENOSYS so that C libraries fall back to clone, whose flags the
# filter can see.
REFUSED_SYSCALLS = (
    "fork", "vfork", "execve", "execveat", "mknod", "mknodat", "socket", "socketpair",
    "setsid", "setpgid", "ptrace", "mount", "umount2", "unshare", "setns", "chroot",
    "pivot_root", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "userfaultfd", "process_vm_readv", "process_vm_writev", "kexec_load", "init_module",
    "finit_module", "delete_module", "swapon", "swapoff", "reboot", "acct", "quotactl",
    "io_uring_setup", "name_to_handle_at", "open_by_handle_at",
)
CLONE_THREAD = 0x00010000
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
    return pickle.loads(stream.read(size))  # from the parent, which is trusted


def _write(fd: int, message: dict) -> None:
    data = json.dumps(message, allow_nan=True).encode("utf-8")
    data = struct.pack(">I", len(data)) + data
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _text(value: object) -> str:
    return str(value)[:TEXT_LIMIT]


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


def _call(func, params: dict) -> list:
    try:
        value = func(params)
    except MemoryError:
        return ["raised", "MemoryError", "it needs more memory than the sandbox allows "
                f"({_LIMITS['memory_bytes'] / 2**20:.0f} MiB)"]
    except BaseException as exc:
        return ["raised", type(exc).__name__, _text(exc)]
    if value is None:
        return ["none"]
    if isinstance(value, str):
        return ["str", value[:TEXT_LIMIT]]
    if isinstance(value, bytes):
        return ["bytes", value[:TEXT_LIMIT].decode("latin-1")]
    try:
        number = float(value)
    except BaseException:
        try:
            shown = repr(value)
        except BaseException:
            shown = f"<{type(value).__name__} object>"
        return ["opaque", shown[:TEXT_LIMIT], type(value).__name__[:TEXT_LIMIT]]
    return ["ok", number if math.isfinite(number) else repr(number)]


def _arm_cpu(seconds: float) -> None:
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    soft = int(spent + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    _arming[0] = True
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    finally:
        _arming[0] = False


def _set_limits(limits: dict) -> None:
    memory = int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    for name, key in (("RLIMIT_FSIZE", "file_bytes"), ("RLIMIT_NOFILE", "open_files"),
                      ("RLIMIT_NPROC", "processes")):
        value = int(limits[key])
        resource.setrlimit(getattr(resource, name), (value, value))


def _load_seccomp() -> None:
    """Make the kernel refuse new processes, exec, sockets, device nodes and the rest.

    Loaded after this process has everything it needs (its modules imported, its pipes
    open), and before the user's code; it cannot be lifted afterwards.
    """
    import pyseccomp as seccomp

    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in REFUSED_SYSCALLS:
        try:
            rules.add_rule(refuse, name)
        except (RuntimeError, ValueError, OSError):
            continue  # a call this kernel or architecture does not have
    rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.load()  # sets no_new_privs first, so no set-uid program could undo it


def main() -> None:
    out_fd = os.dup(1)  # the protocol's channel
    # The user's print() output is dropped (DeepRacer sends it to a log nobody reads here);
    # stderr is the parent's log of this worker, kept for a crash's last words and bounded
    # by RLIMIT_FSIZE.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    sys.dont_write_bytecode = True
    stdin = sys.stdin.buffer
    kind, source, filename, limits = _read(stdin)
    if kind != "load":
        raise SystemExit("the sandbox worker expects a load request first")
    _LIMITS.update(limits)
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        _write(out_fd, {"error": f"syntax error on line {exc.lineno}: {exc.msg}"})
        return
    # Tracebacks and inspect show the source lines although the file itself is not here.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    _SCRATCH.append(os.path.realpath(os.getcwd()))
    _set_limits(limits)
    if limits["seccomp"]:
        _load_seccomp()
    if limits["audit_hook"]:
        sys.addaudithook(_audit)
    instances: dict[int, object] = {}
    cpu_per_call = float(limits["cpu_seconds"])
    _write(out_fd, {"ok": True})
    while True:
        try:
            kind, *payload = _read(stdin)
        except EOFError:
            return
        if kind == "new":
            try:
                _arm_cpu(cpu_per_call)
                instances[payload[0]] = _instance(code, filename)
            except BaseException as exc:
                message = str(exc) if isinstance(exc, _ShapeError) else \
                    f"importing the file raised {type(exc).__name__}: {exc}"
                _write(out_fd, {"error": message[:TEXT_LIMIT * 2]})
                continue
            _write(out_fd, {"ok": True})
        elif kind == "batch":
            calls, cpu_seconds = payload
            _arm_cpu(cpu_seconds)
            _write(out_fd, {"results": [_call(instances[i], params) for i, params in calls]})


if __name__ == "__main__":
    main()
