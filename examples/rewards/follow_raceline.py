"""Follow the race line: pay for staying close to the optimal line and matching its speed.

The line is the one ``racerl raceline --track NAME`` computes (minimum curvature inside the
borders, speeds from the car's grip). ``raceline_for_params`` finds it from the params' own
waypoints (from the racerl home's cache, or computed once on first use), so the file needs
no track name. This helper is racerl's: the file does not run unchanged in DeepRacer, where
you would paste the line's points in as a list instead.
"""

import math

from racerl.drive.raceline import raceline_for_params


def reward_function(params):
    line = raceline_for_params(params)
    if not params["all_wheels_on_track"]:
        return 1e-3
    x, y = params["x"], params["y"]
    # The closest race-line point (a few hundred points: a plain scan is fast enough).
    best, best_d2 = 0, math.inf
    for i, (lx, ly) in enumerate(line.xy.tolist()):
        d2 = (lx - x) ** 2 + (ly - y) ** 2
        if d2 < best_d2:
            best, best_d2 = i, d2
    distance = math.sqrt(best_d2)
    target = float(line.speed[best])
    closeness = max(0.0, 1.0 - distance / (0.5 * params["track_width"]))
    speed_match = max(0.0, 1.0 - abs(params["speed"] - target) / target)
    return float(1e-3 + closeness ** 2 + speed_match)
