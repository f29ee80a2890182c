"""Operating-system isolation for the reward sandbox: what this machine offers, and the
command line that puts the worker inside it.

On Linux the worker runs under bubblewrap (``bwrap``, Debian's ``bubblewrap`` package, the
tool Flatpak uses), which gives it

* its own user, PID, network, IPC, UTS and cgroup namespaces: no network at all (only a
  loopback device that is down), no view of the host's processes, and every process in
  it killed when the worker ends or racerl dies (``--die-with-parent``; the PID
  namespace's init takes the rest with it);
* a file system of its own: the Python runtime read-only (``/usr``, the interpreter's
  prefixes, the virtual environment's packages, racerl's own package), the worker's file, a
  private ``/tmp`` of limited size as the only writable place, a minimal ``/dev`` and the
  namespace's ``/proc``; nothing else of the host (no ``/etc``, no home folders, no models);
* no capabilities, a user of its own (``nobody``), a new session (no terminal to inject
  into) and no further user namespaces.

The worker adds its resource limits and a seccomp filter itself (see
:mod:`racerl.reward.sandbox_worker`). Where bubblewrap is missing or cannot create
namespaces (macOS, a container without user namespaces), :func:`isolation` says so and
why; the sandbox then runs the worker as a plain process with only its limits and audit
hook, and warns loudly, and :func:`require_isolation` refuses (the web console's
untrusted mode uses it).
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from racerl.errors import RacerlError

SCRATCH = "/tmp"  # the worker's private, writable folder inside the sandbox
WORKER_AT = "/racerl-sandbox/worker.py"  # where the worker's file appears inside
SCRATCH_BYTES = 64 * 1024 * 1024  # size of the private /tmp (a tmpfs)
SANDBOX_UID = 65534  # nobody
SYSTEM_DIRS = ("/usr",)
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# ctypes.util.find_library (used to find libseccomp) reads the linker's cache.
SYSTEM_FILES = ("/etc/ld.so.cache",)
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt install bubblewrap; Fedora: dnf "
                "install bubblewrap) on a Linux kernel with user namespaces")


class SandboxUnavailableError(RacerlError):
    """Untrusted code was to run, and this machine cannot isolate it."""


@dataclass(frozen=True)
class Isolation:
    """What the sandbox can promise on this machine."""

    confined: bool
    """True when the worker runs in its own namespaces under a seccomp filter."""
    tool: str
    """``bwrap`` and its version, or ``"none"``."""
    reason: str
    """Why there is no isolation (empty when ``confined``)."""
    bwrap: str = ""
    """The bubblewrap executable that gives it."""

    def describe(self) -> str:
        if self.confined:
            return (f"isolated by the operating system ({self.tool}: own namespaces, no "
                    "network, read-only runtime, private scratch, seccomp, resource limits)")
        return (f"NOT isolated by the operating system ({self.reason}): the function runs "
                "in a plain process with resource limits and an audit hook, which guard "
                "against accidents, not against hostile code; " + INSTALL_HINT)


def _seccomp_available() -> str:
    """Empty when the worker can load a seccomp filter, else why not."""
    try:
        import pyseccomp  # noqa: F401 - a ctypes binding: importing finds libseccomp
    except (ImportError, RuntimeError, OSError) as exc:
        return f"no seccomp ({exc}; pip install pyseccomp, apt install libseccomp2)"
    return ""


@functools.cache
def isolation() -> Isolation:
    """Probe once per process: can bubblewrap start a confined Python here?"""
    if not sys.platform.startswith("linux"):
        return Isolation(False, "none", f"{sys.platform} has no Linux namespaces")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Isolation(False, "none", "bubblewrap (bwrap) is not installed")
    missing = _seccomp_available()
    if missing:
        return Isolation(False, "none", missing)
    command = sandbox_command(bwrap, Path(os.devnull),
                              run=[sys.executable, "-I", "-c", "import pyseccomp"])
    try:
        probe = subprocess.run(command, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation(False, "none", f"bubblewrap could not start ({exc})")
    if probe.returncode != 0:
        said = probe.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        return Isolation(False, "none", "bubblewrap cannot create the sandbox here "
                                        f"({said[0] if said else probe.returncode})")
    version = subprocess.run([bwrap, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip() or "bwrap"
    return Isolation(True, version, "", bwrap)


def require_isolation() -> Isolation:
    """The isolation report, or :class:`SandboxUnavailableError` when there is none."""
    found = isolation()
    if not found.confined:
        raise SandboxUnavailableError(f"refusing to run untrusted reward code: {found.reason}; "
                                 + INSTALL_HINT)
    return found


def runtime_paths() -> list[str]:
    """Folders the worker's Python needs to start and import the reward's libraries."""
    # racerl itself too (a reward may use its helpers, as examples/rewards/follow_raceline.py
    # does): the package folder alone, which an editable install's .pth finds in place.
    package = str(Path(__file__).resolve().parent.parent)
    paths = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parent.parent), *site.getsitepackages(),
             package}
    found = sorted(p for p in paths if p and os.path.isdir(p))
    outer = [p for p in found if not any(p != q and p.startswith(q + os.sep) for q in found)]
    return [p for p in outer if not p.startswith(SYSTEM_DIRS)]


def sandbox_command(bwrap: str, worker: Path, run: list[str] | None = None) -> list[str]:
    """The ``bwrap`` command line that starts ``worker`` confined (see the module's doc);
    ``run`` replaces the worker's command (the probe runs a one-line Python instead)."""
    command = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
               "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
               "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               "--hostname", "racerl-sandbox", "--clearenv"]
    for name, value in worker_environment(SCRATCH).items():
        command += ["--setenv", name, value]
    for folder in SYSTEM_DIRS:
        command += ["--ro-bind", folder, folder]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            command += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            command += ["--ro-bind", link, link]
    for file in SYSTEM_FILES:
        if os.path.exists(file):
            command += ["--ro-bind", file, file]
    for folder in runtime_paths():
        command += ["--ro-bind", folder, folder]
    command += ["--ro-bind", str(worker), WORKER_AT,
                "--size", str(SCRATCH_BYTES), "--tmpfs", SCRATCH,
                "--proc", "/proc", "--dev", "/dev", "--chdir", SCRATCH]
    return command + (run or [sys.executable, "-I", WORKER_AT])


def worker_environment(scratch: str) -> dict[str, str]:
    """The worker's whole environment: nothing of the user's (tokens, paths) leaks in."""
    return {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch, "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMBA_CACHE_DIR": os.path.join(scratch, "numba"), "PYTHONDONTWRITEBYTECODE": "1"}
