"""Bot cars: B cars per car's world driving the lanes at one speed, changing lanes at times.

As the simapp's ``markov/agent_ctrl/bot_cars_agent_ctrl.py`` does it:

* a bot's place is a centre-line distance that grows with the episode's sim time,
  ``(initial + BOT_CAR_SPEED * max(t - crashes * PENALTY_SECONDS, 0)) mod length``
  (``_get_dist_from_sim_time``), its body in its lane beside that distance;
* with ``IS_LANE_CHANGE``, every bot, once its last change has ended, waits a uniform
  ``[LOWER_LANE_CHANGE_TIME, UPPER_LANE_CHANGE_TIME]`` seconds and then crosses to the other
  lane over ``LANE_CHANGE_DISTANCE`` metres (``_compute_bot_car_lane_changes``; the first
  wait starts at the episode's first step);
* when a bot runs into the racer from behind, *all* bots of that world stop for
  ``PENALTY_SECONDS`` and their lane-change clocks shift by as much (``judge_action``).

Difference: the simapp draws the lane change as a cubic spline through the lane points
before and after it (``track_geom/spline/lane_change_spline.py``); racerl blends the two
lanes' points beside the same centre-line distance with a smoothstep of the distance
covered, the same start, end and shape of a gentle S, without fitting one spline per bot.
"""

from __future__ import annotations

import numpy as np

from racerl.sim.obstacles import lane_poses, spaced, uniforms
from racerl.sim.race_setup import MAX_OBJECTS, RaceSetup
from racerl.track.trackset import TrackSet

LOOK_AHEAD = 0.01
"""Metres ahead along the path where a bot's heading is taken during a lane change."""
STREAM_PLACES, STREAM_CHANGES = 2, 3


class BotCars:
    """The bot cars of N worlds, (N, B) arrays; see the module docstring."""

    def __init__(self, setup: RaceSetup, n: int):
        b = setup.bot_cars
        self.setup = setup
        self.count = b
        self.initial = np.zeros((n, b))
        """Centre-line metres where each bot stood at the episode's start."""
        self.outer = np.zeros((n, b), dtype=bool)
        """The lane each bot is in, or leaves when it is changing lanes."""
        self.change_end = np.full((n, b), np.inf)
        """Episode seconds when the current (or next due) lane change ends."""
        self.change_from = np.zeros((n, b))
        """Metres travelled when the current lane change starts."""
        self.change_to = np.zeros((n, b))
        """Metres travelled when it ends."""
        self.changes = np.zeros((n, b), dtype=np.int64)
        """Lane changes drawn so far this episode (a counter for the random draws)."""
        self.crashes = np.zeros(n)
        """Times the bots of each world stopped for a bot running into the racer."""

    @property
    def duration(self) -> float:
        """Seconds one lane change takes (the simapp's ``lane_change_duration``)."""
        return self.setup.lane_change_distance / self.setup.bot_car_speed

    def reset(self, cars: np.ndarray, length: np.ndarray, seed: np.ndarray,
              episode: np.ndarray) -> None:
        """New starts and lanes for the bots of ``cars`` on tracks of ``length`` metres."""
        s, b = self.setup, self.count
        draws = uniforms(seed, episode, STREAM_PLACES, 3 * b)
        first = np.full(len(cars), s.min_distance_between_bot_cars)
        self.initial[cars], self.outer[cars] = spaced(length, b, first,
                                                      s.randomize_bot_car_locations, draws)
        self.change_end[cars] = 0.0 if s.is_lane_change else np.inf
        self.change_from[cars] = 0.0
        self.change_to[cars] = 0.0
        self.changes[cars] = 0
        self.crashes[cars] = 0.0

    def travelled(self, cars: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Metres the bots of ``cars`` have driven at episode times ``t``, (len(cars),) or
        (len(cars), B), as (len(cars), 1) or (len(cars), B)."""
        t = np.asarray(t, dtype=np.float64)
        t = t[:, None] if t.ndim == 1 else t
        moving = np.maximum(t - self.crashes[cars, None] * self.setup.bot_car_penalty, 0.0)
        return self.setup.bot_car_speed * moving

    def schedule(self, cars: np.ndarray, t: np.ndarray, seed: np.ndarray,
                 episode: np.ndarray) -> None:
        """Start the next lane change of every bot of ``cars`` whose last one has ended by
        episode time ``t`` (one per car); the one that just ended leaves the bot in the
        other lane."""
        end_was = self.change_end[cars]
        due = t[:, None] >= end_was
        if not due.any():
            return
        s = self.setup
        self.outer[cars] ^= due & (end_was > 0.0)
        # Draw k of bot j: a number of its own, however many changes came before.
        u = uniforms(seed, episode, STREAM_CHANGES,
                     self.changes[cars] * MAX_OBJECTS + np.arange(self.count)[None, :])
        end = t[:, None] + s.lower_lane_change_time + u * (
            s.upper_lane_change_time - s.lower_lane_change_time) + self.duration
        self.change_end[cars] = np.where(due, end, end_was)
        self.change_from[cars] = np.where(due, self.travelled(cars, end - self.duration),
                                          self.change_from[cars])
        self.change_to[cars] = np.where(due, self.travelled(cars, end), self.change_to[cars])
        self.changes[cars] += due

    def pause(self, worlds: np.ndarray) -> None:
        """Every bot of ``worlds`` (bool, N) stops for the penalty (a bot hit the racer)."""
        self.crashes[worlds] += 1
        self.change_end[worlds] += self.setup.bot_car_penalty

    def poses(self, courses: TrackSet, course: np.ndarray, t: np.ndarray, cars: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Points (len(cars), B, 2) and yaws (len(cars), B) of the bots of ``cars`` (on
        ``course``) at episode times ``t``."""
        travel = np.broadcast_to(self.travelled(cars, t), (len(cars), self.count))
        here = self._points(courses, course, travel, cars)
        ahead = self._points(courses, course, travel + LOOK_AHEAD, cars)
        delta = ahead - here
        return here, np.arctan2(delta[..., 1], delta[..., 0])

    def _points(self, courses: TrackSet, course: np.ndarray, travel: np.ndarray,
                cars: np.ndarray) -> np.ndarray:
        length = courses.length[course][:, None]
        dist = (self.initial[cars] + travel) % length
        lanes = np.zeros(dist.shape, dtype=bool)
        inner, _ = lane_poses(courses, course, dist, lanes)
        outer, _ = lane_poses(courses, course, dist, ~lanes)
        start, stop, end = self.change_from[cars], self.change_to[cars], self.change_end[cars]
        f = np.clip((travel - start) / np.maximum(stop - start, 1e-12), 0.0, 1.0)
        f = np.where(np.isfinite(end) & (end > 0.0), f, 0.0)
        blend = f * f * (3.0 - 2.0 * f)  # smoothstep: leaves and joins the lanes straight
        toward_outer = np.where(self.outer[cars], 1.0 - blend, blend)[..., None]
        return inner + toward_outer * (outer - inner)
