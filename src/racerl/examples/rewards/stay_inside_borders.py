"""Stay inside the two borders: pay for keeping every wheel on the road with a margin.

This file runs unchanged in DeepRacer.
"""


def reward_function(params):
    all_wheels_on_track = params["all_wheels_on_track"]
    distance_from_center = params["distance_from_center"]
    track_width = params["track_width"]

    # Nearly nothing unless the car is on the road and at least 5 cm from the border.
    reward = 1e-3
    if all_wheels_on_track and (0.5 * track_width - distance_from_center) >= 0.05:
        reward = 1.0

    return float(reward)
