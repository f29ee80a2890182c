"""Reward calls per second: in-process vs in the sandbox, at batch sizes 1, 32 and 256.

This is a benchmark, not a test: its figures depend on the machine and on whatever else
runs on it, and it never fails a build. It answers the question a trainer asks before
switching the sandbox on: what does isolation cost per simulator step?

What is measured
    One realistic params dict (the first RUN step of a lap of the built-in ``loop``,
    119 waypoints) is copied ``batch`` times, one dict per car as the simulator makes
    them. In-process: ``call_reward`` on one instance per car, as ``BatchSim.step`` does
    (its deep copy of the params included). Sandboxed: ``SandboxedReward.score`` for
    the whole batch, one round trip (the params pickled to the worker, the calls there,
    a JSON reply checked field by field here, then DeepRacer's value checks), as
    ``BatchSim.step`` does with a sandbox; on Linux with bubblewrap the worker runs
    confined (namespaces, seccomp, limits). Each figure is the best of ``--repeat`` timed
    rounds of at least ``--seconds`` seconds each. The reward function is DeepRacer's
    follow-centre-line example.

Usage
    .venv/bin/python benchmarks/sandbox_calls.py            # markdown table
    .venv/bin/python benchmarks/sandbox_calls.py --seconds 1 --repeat 5
"""

from __future__ import annotations

import argparse
import time

from racerl.reward.function import call_reward, load_reward_function, reward_copy
from racerl.reward.sandbox import load_sandboxed
from racerl.sim.batch import BatchSim
from racerl.track.catalog import load_track

BATCHES = (1, 32, 256)
REWARD = "follow_center_line"


def sample_params() -> dict:
    sim = BatchSim(load_track("loop"), 1, reward=load_reward_function(lambda p: 0.0),
                   start="line")
    sim.step([0.0], [1.0])  # PREPARE
    return sim.step([0.0], [1.0]).params[0]


def rate(fn, calls_per_round: int, seconds: float, repeat: int) -> float:
    """Best calls per second over ``repeat`` rounds of at least ``seconds`` each."""
    best = 0.0
    for _ in range(repeat):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn()
            n += calls_per_round
        best = max(best, n / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    params = sample_params()
    reward = load_reward_function(REWARD)
    rows = []
    with load_sandboxed(REWARD) as sandbox:
        for batch in BATCHES:
            funcs = [reward.instance() for _ in range(batch)]
            handles = [sandbox.instance() for _ in range(batch)]
            many = [reward_copy(params) for _ in range(batch)]  # one dict per car

            def in_process(funcs=funcs):
                for f in funcs:
                    call_reward(f, reward_copy(params), reward.label)

            def sandboxed(handles=handles, many=many):
                sandbox.score(handles, many)

            a = rate(in_process, batch, args.seconds, args.repeat)
            b = rate(sandboxed, batch, args.seconds, args.repeat)
            rows.append((batch, a, b))
    print(f"Reward calls per second, {REWARD}, best of {args.repeat} x {args.seconds:g} s\n")
    print("| batch | in-process calls/s | sandboxed calls/s | sandbox cost |")
    print("|------:|-------------------:|------------------:|-------------:|")
    for batch, a, b in rows:
        print(f"| {batch} | {a:,.0f} | {b:,.0f} | {a / b:.1f}x slower |")


if __name__ == "__main__":
    main()
