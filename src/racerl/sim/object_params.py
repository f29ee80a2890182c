"""The reward function's object keys, for every car of a batch at once.

simapp ``markov/track_geom/track_data.py`` ``get_object_reward_params``, key by key:

* ``objects_location``: [x, y] of every object but the agent, registry order (obstacles,
  then bot cars), as Python lists of floats;
* ``objects_distance``: each object centre's projection on the centre line, metres from
  waypoint 0 of the current direction;
* ``closest_objects``: [prev, next], the objects just behind and just ahead of the car's
  own projection (``find_prev_next``: ``bisect_right`` over the sorted projections,
  wrapping round the lap), as indices into ``objects_location``. The simapp hands over
  ``numpy.int64``; racerl gives Python ints, which compare, index and print the same;
* ``objects_left_of_center``: the object centre in the inner half of the road, XOR the
  track running clockwise. racerl asks whether the centre is nearer the inner border than
  the outer one at its projection, the same answer on the road;
* ``objects_distance_from_center``: metres from the centre line;
* ``objects_heading`` (radians) and ``objects_speed`` (``BOT_CAR_SPEED``): filled only when
  the race has bot cars (``_is_bot_car_``), for every object; 0.0 otherwise;
* ``object_in_camera``: whether the *next* object is in the camera's frustum, with the
  simapp's index quirk kept (reference section 13, item 11): the frustum list is numbered
  over the whole registry, where the agent itself comes first (``rollout_worker.py``
  creates the agent before the obstacles and bots), but compared with ``closest_objects[1]``,
  numbered without it. So the flag is true when object ``next - 1`` is in view, and false
  when ``next`` is 0 (registry entry 0 is the agent, never in its own view). The reference
  words it as "the object after the next one"; the code tests the one before. In a
  head-to-model race the registry starts with every racer in order, so racer r's own
  entry is r: ``next`` below r tests that very object, ``next`` = r the racer itself (always
  false), above r the object before it. Racer 0 of two never sees the flag set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racerl.sim.contacts import in_camera
from racerl.sim.objects import Objects


@dataclass
class ObjectTrackPlaces:
    """Where each object lies on its car's track, (N, M) arrays: measured once when an
    object is placed or moves (static obstacles: once per episode), not every step."""

    ndist: np.ndarray
    """Lap fraction of the object centre's projection on the centre line."""
    distance_from_center: np.ndarray
    is_left_of_center: np.ndarray

    @classmethod
    def zeros(cls, n: int, m: int) -> ObjectTrackPlaces:
        return cls(np.zeros((n, m)), np.zeros((n, m)), np.zeros((n, m), dtype=bool))


def object_params(objects: Objects, measured: ObjectTrackPlaces, length: np.ndarray,
                  model_ndist: np.ndarray, x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
                  bot_speed: float | None, own_entry: np.ndarray | None = None
                  ) -> list[dict]:
    """One dict of the object keys per car. ``measured`` holds where the objects lie on the
    track (measured when they moved), ``length`` (N,) each car's track length,
    ``model_ndist`` (N,) the lap fraction of each car's model point, (``x``, ``y``, ``yaw``)
    its ``base_link`` pose, ``bot_speed`` the bot cars' speed when the race has them (None:
    headings and speeds are 0.0), ``own_entry`` (N,) each car's own place in the simapp's
    object registry (default 0: the agent first; module docstring)."""
    n, m = objects.x.shape
    centres = np.stack([objects.x, objects.y], axis=-1)  # (N, M, 2)
    pdist = measured.ndist * length[:, None]
    order = np.argsort(pdist, axis=1, kind="stable")
    ordered = np.take_along_axis(pdist, order, axis=1)
    nxt = (ordered <= (model_ndist * length)[:, None]).sum(axis=1)  # bisect_right
    prev = np.where(nxt - 1 < 0, m - 1, nxt - 1)
    nxt = np.where(nxt == m, 0, nxt)
    rows = np.arange(n)
    prev, nxt = order[rows, prev], order[rows, nxt]
    seen = in_camera(x, y, yaw, objects)
    own = np.zeros(n, dtype=np.int64) if own_entry is None else np.asarray(own_entry)
    # Registry index nxt is object nxt below the car's own entry, the car itself at it, and
    # object nxt - 1 above it (module docstring).
    quirk = np.where(nxt < own, nxt, nxt - 1)
    next_in_camera = (nxt != own) & seen[rows, np.maximum(quirk, 0)]
    if bot_speed is None:
        heading, speed = np.zeros((n, m)), np.zeros((n, m))
    else:
        heading, speed = objects.yaw, np.full((n, m), float(bot_speed))
    rows_of = zip(centres.tolist(), pdist.tolist(), prev.tolist(), nxt.tolist(),
                  measured.is_left_of_center.tolist(),
                  measured.distance_from_center.tolist(), heading.tolist(),
                  speed.tolist(), next_in_camera.tolist(), strict=True)
    return [{
        "closest_objects": [p, q], "objects_location": location,
        "objects_left_of_center": left, "objects_distance": distance,
        "objects_distance_from_center": off_centre, "objects_heading": head,
        "objects_speed": sp, "object_in_camera": cam,
    } for location, distance, p, q, left, off_centre, head, sp, cam in rows_of]
