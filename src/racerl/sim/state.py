"""Episode statuses and the per-car episode state, as one struct of arrays.

Every counter the episode rules need lives in :class:`EpisodeState`, one array per field
indexed by car, so :class:`~racerl.sim.batch.BatchSim` resets a car's episode field by field
(:meth:`EpisodeState.reset`) instead of by a hand-kept list, and nothing outside ``sim/``
writes them. Other packages read them (an evaluation reads the lap count and penalties).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from racerl.sim.vehicle import CONTROL_DT


class Status(StrEnum):
    """DeepRacer's episode statuses (reference sections 8-9), as sim-traces spell them.

    A ``StrEnum``: a status equals its text (``Status.LAP_COMPLETE == "lap_complete"``), so
    traces, JSON and user code that compare strings keep working.
    """

    PREPARE = "prepare"
    IN_PROGRESS = "in_progress"
    LAP_COMPLETE = "lap_complete"
    CRASHED = "crashed"
    OFF_TRACK = "off_track"
    IMMOBILIZED = "immobilized"
    REVERSED = "reversed"
    PAUSE = "pause"
    TIME_UP = "time_up"


TERMINAL = frozenset({Status.LAP_COMPLETE, Status.CRASHED, Status.OFF_TRACK,
                      Status.IMMOBILIZED, Status.REVERSED})
"""Statuses that end a training episode."""
PENALISED = (Status.OFF_TRACK, Status.REVERSED, Status.IMMOBILIZED, Status.CRASHED)
"""Failures that evaluation rules forgive for a reset and a time penalty (reference 9)."""


def _ints() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def _floats() -> np.ndarray:
    return np.zeros(0)


def _bools() -> np.ndarray:
    return np.zeros(0, dtype=bool)


@dataclass
class EpisodeState:
    """Per-car episode counters, reset together when a car starts a new episode.

    Fields marked ``keep`` in their metadata outlive an episode (the start cycle); every
    other field goes back to zero (NaN for the last position) on :meth:`reset`.
    """

    steps: np.ndarray = field(default_factory=_ints)
    """Steps of the episode so far, the PREPARE step included."""
    sim_time: np.ndarray = field(default_factory=_floats)
    """Seconds of simulated time since the episode started."""
    start_ndist: np.ndarray = field(default_factory=_floats)
    """Lap fraction of the episode's start point (progress counts from here)."""
    prev_progress: np.ndarray = field(default_factory=_floats)
    """Progress (percent) of the previous step, for DeepRacer's wrap and reverse rules."""
    immobile_count: np.ndarray = field(default_factory=_ints)
    """Consecutive RUN steps that moved at most 0.3 mm."""
    reverse_count: np.ndarray = field(default_factory=_ints)
    """Consecutive RUN steps of falling progress."""
    last_x: np.ndarray = field(default_factory=_floats)
    """base_link x one step ago (NaN right after a reset: nothing to compare with)."""
    last_y: np.ndarray = field(default_factory=_floats)
    """base_link y one step ago."""
    lap_start: np.ndarray = field(default_factory=_ints)
    """Step count at which the current lap started (races restart the timer each lap)."""
    laps_done: np.ndarray = field(default_factory=_ints)
    """Laps completed in this episode (evaluation rules only), a lap completed while paused
    included."""
    paused: np.ndarray = field(default_factory=_bools)
    """In DeepRacer's PAUSE phase: frozen at the reset pose after a forgiven failure, from
    the step after it until the step on which the penalty is served (at least one step)."""
    pause_left: np.ndarray = field(default_factory=_floats)
    """Seconds of penalty still to serve (the sim-trace's ``pause_duration``)."""
    resets_used: np.ndarray = field(default_factory=_ints)
    """Resets after failures used in this episode."""
    penalty_time: np.ndarray = field(default_factory=_floats)
    """Seconds of penalty given in this episode."""
    off_track: np.ndarray = field(default_factory=_ints)
    """Off-track failures forgiven with a reset in this episode."""
    reversed: np.ndarray = field(default_factory=_ints)
    """Reversed failures forgiven with a reset in this episode."""
    immobilized: np.ndarray = field(default_factory=_ints)
    """Immobilized failures forgiven with a reset in this episode."""
    crashed: np.ndarray = field(default_factory=_ints)
    """Collisions with objects forgiven with a reset (or a pause in place) this episode."""
    episodes_started: np.ndarray = field(default_factory=_ints, metadata={"keep": True})
    """Episodes started since the start cycle began (training's round-robin starts)."""

    @classmethod
    def zeros(cls, n: int) -> EpisodeState:
        state = cls()
        for f in dataclasses.fields(cls):
            setattr(state, f.name, np.zeros(n, dtype=getattr(state, f.name).dtype))
        state.last_x[:] = np.nan
        state.last_y[:] = np.nan
        return state

    def reset(self, cars: np.ndarray) -> None:
        """Zero every per-episode field of ``cars`` (the last position becomes unknown)."""
        for f in dataclasses.fields(self):
            if not f.metadata.get("keep"):
                getattr(self, f.name)[cars] = 0
        self.last_x[cars] = np.nan
        self.last_y[cars] = np.nan

    def failures(self, status: Status) -> np.ndarray:
        """The counter of a penalised failure (``off_track``, ``reversed``, ``immobilized``,
        ``crashed``)."""
        if status not in PENALISED:
            raise ValueError(f"no failure counter for status {status!r}")
        return getattr(self, str(status))

    def lap_clock(self) -> np.ndarray:
        """Seconds on each car's lap timer (penalties included: the clock runs while paused)."""
        return (self.steps - self.lap_start) * CONTROL_DT
