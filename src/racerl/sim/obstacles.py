"""Where DeepRacer puts static obstacles and bot cars at an episode's start, for a batch.

Both follow one recipe (simapp ``markov/agent_ctrl/obstacles_agent_ctrl.py``
``_compute_obstacle_poses`` and ``bot_cars_agent_ctrl.py`` ``_compute_bot_car_initial_states``):
K places spaced evenly along the centre line from ``first`` to ``length - 1 m``
(``np.linspace``), lanes alternating inner, outer, … ; or, randomised, each place (in a random
order) drawn uniformly between its neighbours kept ``gap`` apart, and each lane drawn at
random. An object stands in its lane at the lane point nearest to the centre-line point
(``lane.project(center_line.interpolate(d))``), turned along the lane's segment there
(``interpolate_pose``'s central difference).

Randomness comes from :func:`uniforms`, a counter-based hash of (seed, episode, draw), so
every car's layout depends on its own seed and episode only, never on the other cars, and a
whole batch is drawn in a few array operations.
"""

from __future__ import annotations

import numpy as np

from racerl.track.trackset import TrackSet

END_MARGIN = 1.0
"""Metres before the end of the lap where the last evenly spaced object stands (simapp
``obstacle_end_dist = center_line.length - 1.0``)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def uniforms(seed: np.ndarray, episode: np.ndarray, stream: int,
             draw: int | np.ndarray) -> np.ndarray:
    """Floats in [0, 1) for N (seed, episode) pairs: draws ``0..draw-1`` of each, (N, draw),
    or the draws numbered by an (N, K) array. A splitmix64 hash of a counter, a deterministic
    stand-in for the simapp's ``random`` calls; ``stream`` keeps apart the draws made for
    different purposes."""
    index = (np.arange(draw, dtype=np.uint64)[None, :] if np.ndim(draw) == 0
             else np.asarray(draw).astype(np.uint64))
    with np.errstate(over="ignore"):  # wrapping is the point of the hash
        return _splitmix(np.asarray(seed), np.asarray(episode), stream, index)


def _splitmix(seed: np.ndarray, episode: np.ndarray, stream: int, index: np.ndarray
              ) -> np.ndarray:
    key = (np.asarray(seed).astype(np.uint64)[:, None] * np.uint64(0xD1B54A32D192ED03)
           + np.asarray(episode).astype(np.uint64)[:, None] * np.uint64(0xABC98388FB8FAC03)
           + np.array([stream], dtype=np.uint64) * np.uint64(0x8CB92BA72F3D8DD7) + index * _GOLDEN)
    z = key + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def spaced(length: np.ndarray, count: int, first: np.ndarray, randomize: bool,
           draws: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Centre-line distances (N, count) and outer-lane flags (N, count) of ``count`` objects
    per car on tracks of ``length`` (N,) metres, the first at ``first`` (N,) metres, as the
    simapp spaces them (module docstring). ``draws`` (N, 3 * count) uniforms are needed when
    ``randomize``: an order, the places, the lanes."""
    n = len(length)
    start, end = first, length - END_MARGIN
    steps = np.linspace(0.0, 1.0, count) if count > 1 else np.zeros(count)
    dist = start[:, None] + (end - start)[:, None] * steps[None, :]
    if not randomize:
        outer = np.broadcast_to(np.arange(count) % 2 == 1, (n, count)).copy()
        return dist, outer
    order = np.argsort(draws[:, :count], axis=1)  # random.shuffle of the indices
    rows = np.arange(n)
    for rank in range(count):  # one object of every car at a time, in each car's order
        i = order[:, rank]
        lo = np.where(i == 0, start, dist[rows, np.maximum(i - 1, 0)] + first)
        hi = np.where(i == count - 1, end, dist[rows, np.minimum(i + 1, count - 1)] - first)
        u = draws[rows, count + rank]
        dist[rows, i] = np.where(lo < hi, lo + u * (hi - lo), dist[rows, i])
    outer = draws[:, 2 * count:3 * count] < 0.5  # random.choice((False, True))
    return dist, outer


def lane_poses(courses: TrackSet, course: np.ndarray, center_dist: np.ndarray,
               outer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, M, 2) and yaws (N, M) in the lane (outer where ``outer``) beside the
    centre-line distances ``center_dist`` (N, M), car i's objects on ``course[i]``."""
    n, m = center_dist.shape
    xy, yaw = np.zeros((n, m, 2)), np.zeros((n, m))
    for c, cars in courses.groups(course):
        track = courses[c]
        centre, _ = track.center.interpolate(center_dist[cars].reshape(-1))
        for lane, pick in ((track.inner_lane, ~outer[cars]), (track.outer_lane, outer[cars])):
            arc, _ = lane.project(centre)
            point, heading = lane.interpolate(arc)
            sel = pick.reshape(-1)
            flat_xy = xy[cars].reshape(-1, 2)
            flat_yaw = yaw[cars].reshape(-1)
            flat_xy[sel] = point[sel]
            flat_yaw[sel] = heading[sel]
            xy[cars] = flat_xy.reshape(-1, m, 2)
            yaw[cars] = flat_yaw.reshape(-1, m)
    return xy, yaw
