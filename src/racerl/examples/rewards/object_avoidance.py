"""Object avoidance: pay for progress, in the lane away from the next object ahead.

Each step earns the percent of the lap it gained (as the ``progress`` example), so a lap
pays the same however it is driven and a crash, which ends the episode, simply stops the
earning. On top of that the share of the step's pay depends on where the car is while the
next object ahead is near:

* no object within ``CARE_M`` metres ahead (or the road's other half): the full pay;
* in the object's half of the road within ``CARE_M``: less the nearer it is, down to a
  twentieth right behind it; the other half pays in full, which teaches the lane change
  early instead of the swerve at the last moment.

It reads only DeepRacer's own keys (``closest_objects``, ``objects_location``,
``objects_left_of_center``, ``is_left_of_center``, ``x``, ``y``), so it runs unchanged in
the DeepRacer console.
"""

import math

CARE_M = 1.5  # how far ahead an object starts to matter, metres
_last = {"progress": 0.0}  # this car's progress on its previous step


def reward_function(params):
    progress = float(params["progress"])
    if params["steps"] <= 2:  # the first RUN step of an episode (step 1 is PREPARE)
        _last["progress"] = 0.0
    gained = progress - _last["progress"]
    _last["progress"] = progress
    if not params["all_wheels_on_track"] or params.get("is_crashed"):
        return 0.0
    share = 1.0
    objects = params.get("objects_location") or []
    if objects:
        ahead = params["closest_objects"][1]
        gap = math.hypot(objects[ahead][0] - params["x"], objects[ahead][1] - params["y"])
        same_half = params["objects_left_of_center"][ahead] == params["is_left_of_center"]
        if same_half and gap < CARE_M:
            share = 0.05 + 0.95 * gap / CARE_M
    return float(gained * share)
