"""Pay for pace: the share of the lap covered so far per step, a common DeepRacer reward.

``progress / steps`` is the car's average pace since the start of the episode (percent of
the lap per step): a car twice as fast earns twice as much on every step. Summed over a
whole lap it comes to about 100 however fast the lap is driven (the crawler earns a little
for many steps; it even comes out slightly ahead, because a fast car's pace is pulled down
by its standing start), so per lap it cannot tell crawling from racing. The learner's
discounted return can: rewards many steps ahead are worth little, and the fast car earns
its reward sooner. ``racerl reward lab`` therefore has no warning for it.
"""


def reward_function(params):
    if not params["all_wheels_on_track"]:
        return 1e-3
    return float(params["progress"] / params["steps"])
