"""One typed protocol for every source of rewards: in-process or sandboxed.

The simulator, the reward check and the trainer talk to a reward function only through
:class:`RewardSource`: make one module copy per car (:meth:`~RewardSource.instance`), score
a batch of cars' params by DeepRacer's rules (:meth:`~RewardSource.score`), and release what
the source holds (:meth:`~RewardSource.close`). :class:`~racerl.reward.function.RewardFunction`
runs the user's code in this process; :class:`~racerl.reward.sandbox.SandboxedReward` runs
it in a locked-down worker and scores a batch in one round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class RewardSource(Protocol):
    """What the simulator needs from a reward function."""

    label: str
    """How errors name the function: "reward_function in /path/file.py"."""

    def instance(self) -> Callable[[dict], object]:
        """A callable with its own module state, one per car (DeepRacer runs each car in
        its own process, so module globals must not be shared between cars)."""
        ...

    def score(self, instances: Sequence[Callable[[dict], object]],
              params: Sequence[dict]) -> list[float]:
        """DeepRacer's ``float()`` of each instance called on its params (a deep copy);
        a :class:`~racerl.errors.RewardFunctionError` on the first value DeepRacer refuses."""
        ...

    def close(self) -> None:
        """Release whatever the source holds (a worker process); idempotent."""
        ...


def reward_source(source: RewardSource | str | Path | Callable | None) -> RewardSource:
    """A ready reward source: given as one, or loaded in-process from a file, an example
    name or a Python callable (``None``: DeepRacer's follow-the-centre-line example)."""
    from racerl.reward.function import DEFAULT_EXAMPLE, load_reward_function

    if isinstance(source, RewardSource):
        return source
    return load_reward_function(source if source is not None else DEFAULT_EXAMPLE)
