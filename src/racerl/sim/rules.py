"""DeepRacer's evaluation and race rules: a mistake costs time, not the episode.

In training every off-track ends the episode. In an evaluation or a race (reference
section 9) the car is put back on the track and frozen for a penalty while the clock runs:
off track and reversed cost ``off_track_penalty`` seconds (2 s in an evaluation, 1-3 s in a
race), immobilized costs nothing but the reset. Only when the reset budget is used up does
a mistake end the episode. A race is *continuous*: one episode of several laps, the lap
timer restarting at each crossing of the line.

:class:`EvaluationRules` holds those settings; :func:`reset_pose` finds where a car is put
back. How DeepRacer does it, read in the simapp (aws-deepracer-community/deepracer-simapp,
``bundle/markov/``; where reference sections 8-9 say otherwise, this code follows the
simapp):

* ``agent_ctrl/rollout_agent_ctrl.py`` ``_judge_action_at_run_phase``: the reset point is
  the centre line at the *previous* step's progress (``prev_progress`` × track length /
  100, an arc length from the start line; racerl adds the episode's start offset, 0 in an
  evaluation, which the simapp leaves out), and the lane is the one strictly nearer to the
  car's base_link at the previous step (``prev_car_pose``; the failing step's own pose may
  lie closer to another part of the track), the outer one on a tie.
* ``_get_reset_poses``: the centre-line point is projected onto each lane and the car put
  there, aimed at the lane's next point (``FiniteDifference.FORWARD_DIFFERENCE``); the
  lanes are the row-by-row midpoints of the centre and border points
  (``track_geom/track_data.py``), not a quarter of the local width either side.
* ``_get_car_reset_model_state`` / ``_get_closest_obj``: if a static obstacle projects
  within ``CLOSEST_OBJ_GAP`` (1.0 m, ``agent_ctrl/constants.py``) of the reset point, ahead
  or behind (measured as ``abs(gap) % track length``, so not across the start line), the car
  goes ``RESET_BEHIND_DIST`` (default 1.0 m, also DRfC's ``DR_EVAL_RESET_BEHIND_DIST``)
  behind that obstacle, in the lane opposite to it. Bot cars and other racers are not
  obstacles here. (``ENABLE_MERCY_RESET``, off by default, is not modelled.)
* ``reset/utils.py``: ``time_up`` (``reset/rules/race_time_rule.py``) exists only in
  virtual events, where the race ends once the race time *exceeds* ``RACE_DURATION``
  (``virtual_event/constants.py``: 180 s by default). Ordinary evaluations and console races
  have no time limit, only the 100,000-step cap of an episode
  (``environments/deepracer_racetrack_env.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racerl.sim.state import Status
from racerl.track.geometry import Track

CLOSEST_OBJ_GAP = 1.0
"""Metres along the centre line within which an obstacle moves a reset point (simapp
``markov/agent_ctrl/constants.py``)."""
DEFAULT_RESET_BEHIND_DIST = 1.0
"""Metres behind an obstacle a car is reset (simapp ``DEFAULT_RESET_BEHIND_DIST``; DRfC
``defaults/template-run.env`` ``DR_EVAL_RESET_BEHIND_DIST=1.0``)."""
VIRTUAL_EVENT_RACE_DURATION = 180.0
"""Seconds a DeepRacer virtual (live) event races (simapp ``markov/virtual_event/
constants.py`` ``DEFAULT_RACE_DURATION``)."""


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
    """Seconds after standing still; DeepRacer only resets the car (still one pause step)."""
    collision_penalty: float = 5.0
    """Seconds frozen after crashing into an object (DeepRacer's COLLISION_PENALTY, 5.0);
    kept with the settings, though a time trial has nothing to crash into."""
    laps: int = 1
    """Laps per episode: 1 is an evaluation trial, more is a continuous race."""
    race_duration: float | None = None
    """Seconds of race time after which the episode ends as ``time_up``; None (DeepRacer's
    evaluations and console races) sets no limit but the 100,000-step cap. DeepRacer's
    virtual events set one (:data:`VIRTUAL_EVENT_RACE_DURATION`): the race time counts from
    the end of their 10 s countdown, when the car may first move; racerl has no countdown, so
    it counts from the episode's first step. The episode ends on the first step whose race
    time is strictly greater, whatever else happens on it."""
    reset_behind_dist: float = DEFAULT_RESET_BEHIND_DIST
    """Metres behind an obstacle near the reset point that a car is put back (DRfC's
    ``RESET_BEHIND_DIST``); matters only where the track has obstacles."""

    def __post_init__(self) -> None:
        if self.resets < 0:
            raise ValueError(f"resets must be 0 or more, not {self.resets}")
        if self.laps < 1:
            raise ValueError(f"laps must be at least 1, not {self.laps}")
        if min(self.off_track_penalty, self.immobilized_penalty, self.collision_penalty,
               self.off_track_penalty if self.reversed_penalty is None
               else self.reversed_penalty) < 0:
            raise ValueError("penalties must be 0 seconds or more")
        if self.race_duration is not None and not self.race_duration > 0:
            raise ValueError(f"race_duration must be positive or None, not {self.race_duration}")
        if not 0.0 <= self.reset_behind_dist < np.inf:
            raise ValueError(f"reset_behind_dist must be 0 metres or more, "
                             f"not {self.reset_behind_dist}")

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


def reset_pose(track: Track, arc: np.ndarray, near: np.ndarray,
               obstacles: np.ndarray | None = None,
               behind: float = DEFAULT_RESET_BEHIND_DIST) -> tuple[np.ndarray, np.ndarray]:
    """Where DeepRacer puts failed cars back: base_link points (M, 2) and yaws (M,).

    ``arc`` (M,) is each reset point's arc length along the centre line, ``near`` (M, 2) the
    car's base_link at the previous step (the lane nearer to it is taken), ``obstacles``
    (K, 2) the static obstacles' centres, if any, or (M, K, 2) each reset's own: one
    within :data:`CLOSEST_OBJ_GAP` of a reset point sends that car ``behind`` metres behind
    it, in the other lane. See the module docstring for the simapp code this follows.
    """
    arc = np.atleast_1d(np.asarray(arc, dtype=np.float64))
    near = np.atleast_2d(np.asarray(near, dtype=np.float64))
    blocked = np.zeros(len(arc), dtype=bool)
    obstacle_inner = np.zeros(len(arc), dtype=bool)
    if obstacles is not None and np.size(obstacles):
        obstacles = np.asarray(obstacles, dtype=np.float64)
        if obstacles.ndim == 2:
            obstacles = np.broadcast_to(obstacles, (len(arc), *obstacles.shape))
        arc, blocked, obstacle_inner = _behind_obstacles(track, arc, obstacles, behind)
    centre, _ = track.center.interpolate(arc)
    inner_xy, inner_yaw = track.inner_lane.forward_pose(track.inner_lane.project(centre)[0])
    outer_xy, outer_yaw = track.outer_lane.forward_pose(track.outer_lane.project(centre)[0])
    # Strictly nearer the inner lane, or the outer one (a tie goes outside, as in the simapp).
    use_inner = np.hypot(*(inner_xy - near).T) < np.hypot(*(outer_xy - near).T)
    use_inner = np.where(blocked, ~obstacle_inner, use_inner)
    return (np.where(use_inner[:, None], inner_xy, outer_xy),
            np.where(use_inner, inner_yaw, outer_yaw))


def _behind_obstacles(track: Track, arc: np.ndarray, obstacles: np.ndarray, behind: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reset arcs moved behind the nearest obstacle (of each reset's own (M, K, 2)) within
    the gap; whether each was moved, and whether that obstacle lies in the inner half of the
    road."""
    m, k = obstacles.shape[:2]
    flat = obstacles.reshape(-1, 2)
    obstacle_arc, obstacle_centre = track.center.project(flat)
    obstacle_arc = obstacle_arc.reshape(m, k)
    gap = np.abs(obstacle_arc - arc[:, None]) % track.length  # (M, K), no wrap
    gap = np.where(gap < CLOSEST_OBJ_GAP, gap, np.inf)
    nearest = np.argmin(gap, axis=1)  # ties go to the first obstacle, as the simapp's loop
    rows = np.arange(m)
    blocked = np.isfinite(gap[rows, nearest])
    _, inner_border = track.inner.project(obstacle_centre)
    _, outer_border = track.outer.project(obstacle_centre)
    is_inner = (np.hypot(*(flat - inner_border).T)
                < np.hypot(*(flat - outer_border).T)).reshape(m, k)
    moved = np.where(blocked, obstacle_arc[rows, nearest] - behind, arc)
    return moved, blocked, is_inner[rows, nearest]
