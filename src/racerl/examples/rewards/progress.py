"""Pay for progress: the reward of a step is the share of the lap it gained (in percent).

A whole lap earns 100 however it is driven, so weaving or crawling gains nothing per lap,
and the faster lap earns its 100 in fewer seconds. Driving backwards costs reward, and an
episode that ends early simply stops earning.
"""

_last = {"progress": 0.0}  # this car's progress on its previous step


def reward_function(params):
    progress = float(params["progress"])
    if params["steps"] <= 2:  # the first RUN step of an episode (step 1 is PREPARE)
        _last["progress"] = 0.0
    gained = progress - _last["progress"]
    _last["progress"] = progress
    if not params["all_wheels_on_track"]:
        return 0.0
    return float(gained)
