"""Ray, joined or started: the one place racerl connects to a cluster.

Sweeps, rollout workers and parallel race evaluations all call :func:`connect` first. With
no address a local Ray is started on demand inside this process's session (the embedded
default: nothing to deploy); with an address (``ray://head:10001`` for Ray Client, or
``auto`` / ``head:6379`` on a cluster node) racerl joins that cluster. Ray is an optional
extra (``pip install 'racerl[ray]'``), imported only here and in the modules that use it.
"""

from __future__ import annotations

import os
import socket
from types import ModuleType

from racerl.errors import RacerlError


class ClusterError(RacerlError):
    """Ray is missing or the cluster cannot be reached."""


def ray_module() -> ModuleType:
    """The ``ray`` package, or a clear error naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterError("this needs Ray: pip install 'racerl[ray]'") from exc
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> ModuleType:
    """Join the Ray cluster at ``address``, or start a local one with ``num_cpus`` CPUs
    (default: all of this machine's); a second call in the same process reuses it."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    # Workers import racerl from the driver's environment; the source tree of an editable
    # or PYTHONPATH install travels with them on a local Ray.
    env = {"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}} if "PYTHONPATH" in os.environ \
        else None
    if address and address != "auto":
        _reachable(address)
    try:
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=env,
                     log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray"
        raise ClusterError(f"cannot start or join {where}: {exc}") from exc
    return ray


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on an address nothing listens at: Ray itself retries for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"Ray address {address!r} is not host:port or ray://host:port")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(f"cannot start or join the Ray cluster at {address!r}: "
                           f"nothing answers there ({exc.strerror or exc})") from exc


def disconnect() -> None:
    """Leave the cluster (a local Ray started by :func:`connect` shuts down with it)."""
    ray = ray_module()
    if ray.is_initialized():
        ray.shutdown()
