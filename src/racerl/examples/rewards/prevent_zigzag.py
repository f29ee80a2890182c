"""Prevent zig-zag: the centre-line bands, with a penalty for steering hard.

A car paid only for being near the centre learns to swerve back and forth across it; taking
20 % off the reward whenever the wheel is turned more than 15 degrees makes straight driving
the better deal. This file runs unchanged in DeepRacer.
"""

ABS_STEERING_THRESHOLD = 15.0  # degrees


def reward_function(params):
    distance_from_center = params["distance_from_center"]
    track_width = params["track_width"]
    abs_steering = abs(params["steering_angle"])

    if distance_from_center <= 0.1 * track_width:
        reward = 1.0
    elif distance_from_center <= 0.25 * track_width:
        reward = 0.5
    elif distance_from_center <= 0.5 * track_width:
        reward = 0.1
    else:
        reward = 1e-3

    if abs_steering > ABS_STEERING_THRESHOLD:
        reward *= 0.8

    return float(reward)
