"""Front-camera frames per second with and without objects in view.

What is measured
    Grey 160x120 frames per second of :meth:`racerl.camera.front.Camera.render` (Numba
    backend, studio lighting) on the ``loop`` track, for one car (a Gymnasium env) and a
    batch of 64, with: no objects (``objects=None``), an empty struct (M = 0), and M = 3
    objects per car in view (a box 0.8 m ahead, a box 1.6 m ahead and to the side, a bot
    car 2.5 m ahead), the case of an object-avoidance race. Also the stereo pair
    (:class:`racerl.camera.stereo.StereoCamera`) with M = 3, counted in stereo frames.

How
    Each configuration renders repeatedly for ``--seconds`` of this process's CPU time
    after a warm-up (Numba compiles excluded), and the best of ``--repeat`` runs is kept:
    frames per CPU-second, the cost of a frame, which other processes on a shared machine
    disturb far less than wall time. With ``NUMBA_NUM_THREADS=1`` that is also the
    frames per second of one core.

Usage
    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/camera_objects.py [--seconds 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from racerl.camera.front import Camera, LightingBatch
from racerl.camera.stereo import StereoCamera
from racerl.sim.objects import (
    BOX_HEIGHT,
    BOX_LENGTH,
    BOX_WIDTH,
    CAR_HEIGHT,
    CAR_LENGTH,
    CAR_WIDTH,
    Kind,
    Objects,
)
from racerl.track.catalog import load_track


def objects_ahead(x: np.ndarray, y: np.ndarray, yaw: np.ndarray) -> Objects:
    """Three objects in view of every car: two boxes and a bot car."""
    n = len(x)
    objs = Objects.empty(n, 3)
    ahead = np.array([0.8, 1.6, 2.5])
    side = np.array([0.0, 0.3, -0.1])
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    objs.x[:] = x[:, None] + ahead * c - side * s
    objs.y[:] = y[:, None] + ahead * s + side * c
    objs.yaw[:] = yaw[:, None] + np.array([0.0, 0.5, 0.0])
    objs.kind[:] = [Kind.BOX, Kind.BOX, Kind.BOT_CAR]
    objs.length[:] = [BOX_LENGTH, BOX_LENGTH, CAR_LENGTH]
    objs.width[:] = [BOX_WIDTH, BOX_WIDTH, CAR_WIDTH]
    objs.height[:] = [BOX_HEIGHT, BOX_HEIGHT, CAR_HEIGHT]
    objs.present[:] = True
    return objs


def frames_per_second(camera, n: int, objects: str, seconds: float, repeat: int) -> float:
    track = load_track("loop")
    at = np.linspace(0.0, 1.0, n, endpoint=False)
    poses = np.array([[*track.pose_at(a)[0], track.pose_at(a)[1]] for a in at])
    x, y, yaw = poses[:, 0].copy(), poses[:, 1].copy(), poses[:, 2].copy()
    objs = {"none": None, "M=0": Objects.empty(n, 0), "M=3": objects_ahead(x, y, yaw)}[objects]
    lighting = LightingBatch.studio(n)
    frame = np.zeros(n, dtype=np.uint64)
    out = np.empty((n, *camera.shape), dtype=np.uint8)
    for _ in range(3):
        camera.render(x, y, yaw, lighting, frame, out=out, objects=objs)
    best = 0.0
    for _ in range(repeat):
        count, start = 0, time.process_time()
        while time.process_time() - start < seconds:
            camera.render(x, y, yaw, lighting, frame, out=out, objects=objs)
            count += 1
        best = max(best, count * n / (time.process_time() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    track = load_track("loop")
    mono, stereo = Camera(track), StereoCamera(track)
    print(f"{'camera':8} {'cars':>5} {'objects':>8} {'frames/CPU-s':>13}")
    for n in (1, 64):
        for objects in ("none", "M=0", "M=3"):
            fps = frames_per_second(mono, n, objects, args.seconds, args.repeat)
            print(f"{'front':8} {n:5d} {objects:>8} {fps:13.0f}")
        fps = frames_per_second(stereo, n, "M=3", args.seconds, args.repeat)
        print(f"{'stereo':8} {n:5d} {'M=3':>8} {fps:13.0f}")


if __name__ == "__main__":
    main()
