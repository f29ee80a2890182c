"""The seed's third pitfall: 1 in the lane centre, 0.5 towards the edges.

It looks reasonable, but it pays for every step the car spends near the centre, not for
getting round the track: a car that weaves inside the centre band (or simply drives slowly)
collects more steps per lap and so more reward. ``racerl reward lab`` says so in seconds.
"""


def reward_function(params):
    if params["distance_from_center"] <= 0.25 * params["track_width"]:
        return 1.0
    return 0.5
