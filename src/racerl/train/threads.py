"""How many threads torch gets for training, chosen by timing rather than by guessing.

On an idle 2-core laptop the PPO updates run ~1.5x faster on two threads than on one. With
one other busy process on the same cores it turns round: torch's threads split each
operation evenly and wait for each other, so the thread that shares its core with the other
process holds up the rest, and two threads run ~1.6x *slower* than one (see
benchmarks/train_throughput.py). Which count is faster depends on what else the machine is
doing, which changes during a run, so :class:`ThreadTuner` measures it: it times every
update, keeps a running average per thread count, uses the fastest, and now and then tries
another so that it notices when the machine gets busier or quieter.
"""

from __future__ import annotations

import os

import torch

EXPLORE_EVERY = 8
"""Updates between two trials of a thread count that is not the fastest so far."""
SMOOTHING = 0.5
"""Weight of the newest timing in a thread count's running average."""


def cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def fixed_threads() -> int | None:
    """The thread count the user chose (``OMP_NUM_THREADS``, e.g. for several runs sharing a
    machine), or None to let the tuner choose."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return None


def candidate_counts(available: int) -> list[int]:
    """1, 2, 4, ... up to ``available``, and ``available`` itself."""
    counts, count = [], 1
    while count < available:
        counts.append(count)
        count *= 2
    return [*counts, available]


class ThreadTuner:
    """Chooses torch's thread count for each update by timing the updates.

    Call :meth:`start` before an update and :meth:`stop` after it. Every count is tried
    once (the most threads first), then the fastest average is used, and every
    :data:`EXPLORE_EVERY` updates the next of the others is tried again.
    """

    def __init__(self, available: int | None = None, fixed: int | None = None):
        self.fixed = fixed
        self.counts = [fixed] if fixed else candidate_counts(available or cores())[::-1]
        self.seconds: dict[int, float] = {}
        self.updates = 0
        self.explored = 0
        self.current = self.counts[0]

    def choose(self) -> int:
        """The thread count for the next update."""
        untried = [c for c in self.counts if c not in self.seconds]
        if untried:
            return untried[0]
        best = min(self.counts, key=self.seconds.__getitem__)
        others = [c for c in self.counts if c != best]
        if others and self.updates % EXPLORE_EVERY == EXPLORE_EVERY - 1:
            self.explored += 1
            return others[self.explored % len(others)]
        return best

    def start(self) -> None:
        """Set torch's threads for the update about to run."""
        self.current = self.choose()
        if torch.get_num_threads() != self.current:
            torch.set_num_threads(self.current)

    def stop(self, seconds: float) -> None:
        """Record how long the update took with the current thread count."""
        self.updates += 1
        previous = self.seconds.get(self.current)
        self.seconds[self.current] = seconds if previous is None else \
            SMOOTHING * seconds + (1 - SMOOTHING) * previous

    def summary(self) -> str:
        """One line for the log: the average update time per thread count."""
        return ", ".join(f"{c} thread{'s' if c > 1 else ''} {self.seconds[c]:.2f} s"
                         for c in sorted(self.seconds))
