"""DeepRacer's evaluation and race rules: a mistake costs time, not the episode.

In training every off-track ends the episode. In an evaluation or a race (reference
section 9) the car is put back on the track and frozen for a penalty while the clock runs:
off track and reversed cost ``off_track_penalty`` seconds (2 s in an evaluation, 1-3 s in a
race), immobilized costs nothing but the reset. Only when the reset budget is used up does
a mistake end the episode. A race is *continuous*: one episode of several laps, the lap
timer restarting at each crossing of the line.

:class:`EvaluationRules` holds those settings; :func:`lane_reset_pose` finds where a car
is put back: at the centre-line position of its previous step's progress, moved to
whichever lane (a quarter of the width either side of the centre) is nearer to the car,
heading along the track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racerl.sim.state import Status
from racerl.track.geometry import Track


@dataclass(frozen=True)
class EvaluationRules:
    """How a failed step is handled and when an evaluation episode ends."""

    resets: int = 10_000
    """Resets per episode; the console's evaluations and races allow 10 000 (unlimited)."""
    off_track_penalty: float = 2.0
    """Seconds frozen after going off track (evaluation default 2.0; races 1, 2 or 3)."""
    reversed_penalty: float | None = None
    """Seconds after driving backwards; None means the same as off track (DeepRacer)."""
    immobilized_penalty: float = 0.0
    """Seconds after standing still; DeepRacer only resets the car."""
    collision_penalty: float = 5.0
    """Seconds frozen after crashing into an object (DeepRacer's COLLISION_PENALTY, 5.0);
    kept with the settings, though a time trial has nothing to crash into."""
    laps: int = 1
    """Laps per episode: 1 is an evaluation trial, more is a continuous race."""
    max_lap_time: float = 180.0
    """Seconds of simulated time a lap may take before the episode ends as ``time_up``."""

    def __post_init__(self) -> None:
        if self.resets < 0:
            raise ValueError(f"resets must be 0 or more, not {self.resets}")
        if self.laps < 1:
            raise ValueError(f"laps must be at least 1, not {self.laps}")
        if min(self.off_track_penalty, self.immobilized_penalty, self.collision_penalty,
               self.off_track_penalty if self.reversed_penalty is None
               else self.reversed_penalty) < 0:
            raise ValueError("penalties must be 0 seconds or more")
        if self.max_lap_time <= 0:
            raise ValueError(f"max_lap_time must be positive, not {self.max_lap_time}")

    def penalty(self, status: str) -> float:
        """Seconds of penalty for a failure ``status``, one of
        :data:`racerl.sim.state.PENALISED` or a crash."""
        if status == Status.OFF_TRACK:
            return self.off_track_penalty
        if status == Status.REVERSED:
            return (self.off_track_penalty if self.reversed_penalty is None
                    else self.reversed_penalty)
        if status == Status.IMMOBILIZED:
            return self.immobilized_penalty
        if status == Status.CRASHED:
            return self.collision_penalty
        raise ValueError(f"no penalty for status {status!r}")


def lane_reset_pose(track: Track, ndist: np.ndarray, near: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Reset poses ((M, 2) base_link points, (M,) yaw) at lap fractions ``ndist``, in the
    lane nearer to the points ``near`` (M, 2), facing along the track."""
    arc = (np.asarray(ndist, dtype=np.float64) % 1.0) * track.length
    centre, heading = track.center.interpolate(arc)
    centre, heading = np.atleast_2d(centre), np.atleast_1d(heading)
    normal = np.stack([-np.sin(heading), np.cos(heading)], axis=-1)
    quarter = 0.25 * track.local_width(centre)[:, None]
    left, right = centre + normal * quarter, centre - normal * quarter
    near = np.atleast_2d(near)
    use_left = np.hypot(*(near - left).T) <= np.hypot(*(near - right).T)
    return np.where(use_left[:, None], left, right), heading
