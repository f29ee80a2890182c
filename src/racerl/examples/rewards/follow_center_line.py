"""Follow the centre line: DeepRacer's default reward.

Three bands around the centre line at 10 %, 25 % and 50 % of the track width; the closer
the car keeps to the centre, the more it earns. This file runs unchanged in DeepRacer.
"""


def reward_function(params):
    track_width = params["track_width"]
    distance_from_center = params["distance_from_center"]

    # Band edges as fractions of the local track width; edges count as inside.
    marker_1 = 0.1 * track_width
    marker_2 = 0.25 * track_width
    marker_3 = 0.5 * track_width

    if distance_from_center <= marker_1:
        reward = 1.0
    elif distance_from_center <= marker_2:
        reward = 0.5
    elif distance_from_center <= marker_3:
        reward = 0.1
    else:
        reward = 1e-3  # likely crashed or close to off track

    return float(reward)
