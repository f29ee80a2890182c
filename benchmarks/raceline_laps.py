"""Race line vs centre line: simulated lap times on a few tracks.

This is a benchmark, not a test: it prints a markdown table and never fails a build.

What is measured
    For each track: the race line (:func:`racerl.drive.raceline.compute_raceline`, minimum
    curvature inside the borders with a car-width margin, speeds from the vehicle model's
    grip and acceleration limits) driven by :class:`racerl.drive.pursuit.RaceLineDriver` in the
    simulator from the start line; and pure pursuit on the centre line at constant speeds
    1.0, 1.5, ... 4.0 m/s, of which the fastest that completes the lap is shown (a faster
    constant speed slides off the road). Lap times are simulator seconds (steps / 15 Hz),
    not wall time, so they do not depend on the machine.

Usage
    RACERL_TRACK_PATH=/work/shared/tracks .venv/bin/python benchmarks/raceline_laps.py
    .venv/bin/python benchmarks/raceline_laps.py loop oval circuit
"""

from __future__ import annotations

import sys

import numpy as np

from racerl.drive.pursuit import drive_lap, drive_raceline_lap
from racerl.drive.raceline import compute_raceline
from racerl.reward.function import load_reward_function
from racerl.track.catalog import load_track

TRACKS = ("loop", "reinvent_base", "reInvent2019_track")
SPEEDS = np.arange(1.0, 4.01, 0.5)
CONSTANT = load_reward_function(lambda params: 1.0)


def main() -> None:
    names = sys.argv[1:] or TRACKS
    print("| track | centre line m | best centre-line lap | race line m | planned lap "
          "| race-line lap (simulated) | gain |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        track = load_track(name)
        line = compute_raceline(track)
        lap = drive_raceline_lap(track, line, reward=CONSTANT)
        best = None
        for v in SPEEDS:
            centre = drive_lap(track, speed=float(v), reward=CONSTANT)
            if centre.status == "lap_complete" and (best is None or
                                                     centre.lap_time < best[1]):
                best = (float(v), centre.lap_time)
        centre_txt = f"{best[1]:.2f} s at {best[0]:.1f} m/s" if best else "no lap"
        lap_txt = f"{lap.lap_time:.2f} s" if lap.lap_time else lap.status
        gain = f"{100 * (1 - lap.lap_time / best[1]):.0f} %" if best and lap.lap_time else "-"
        print(f"| {name} | {track.length:.2f} | {centre_txt} | {line.length:.2f} | "
              f"{line.lap_time:.2f} s | {lap_txt} | {gain} |")


if __name__ == "__main__":
    main()
