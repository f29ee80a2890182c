"""Points per finishing position and a league's overall standings.

DeepRacer's league kept cumulative points per racer over a season (the 2023 AWS DeepRacer
League added "cumulative points" to its terms and conditions; the community leaderboard
drboard.breadcentric.uk computes them, see blog.deepracing.io/2023/10/11). The table itself
is in AWS's terms and conditions, which none of the sources reachable from here reproduce,
so racerl does not claim to copy it. It uses the best-known position table in motor racing
instead, Formula One's since 2010:

    position  1   2   3   4   5   6   7   8   9   10   11+
    points    25  18  15  12  10  8   6   4   2   1    0

It rewards a win clearly over a second place (unlike a linear 10..1 table), and scores only
the top ten, which is what a big screen at an event can show. Positions are the race
leaderboard's ranks (:func:`racerl.evaluate.races.leaderboard`: finished runs by total time,
then unfinished ones by laps), so an entrant who never finished can still score on a thin
board, as in DeepRacer where every ranked racer counts.

Overall standings sum a racer's points over the league's races. Ties are broken by
countback, as Formula One does: more wins first, then more second places, and so on down
the positions; a tie that survives countback is broken by name, so the order is stable
(the points shown stay equal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

POINTS = (25, 18, 15, 12, 10, 8, 6, 4, 2, 1)
"""Points for finishing positions 1, 2, ... 10; any later position scores 0."""


def points_for(rank: int) -> int:
    """The points of finishing ``rank`` (1 is the winner)."""
    if rank < 1:
        raise ValueError(f"rank {rank}: positions start at 1")
    return POINTS[rank - 1] if rank <= len(POINTS) else 0


@dataclass
class Overall:
    """One racer's season: total points, and the finishing position in each race."""

    rank: int
    racer: str
    points: int
    positions: dict[str, int] = field(default_factory=dict)  # race -> finishing position
    wins: int = 0


def overall_standings(results: Iterable[tuple[str, Sequence[str]]]) -> list[Overall]:
    """The season's table from ``(race, [entrant in finishing order])`` pairs: points
    summed, ties broken by countback (more wins, then more seconds, ...), then name."""
    season: dict[str, Overall] = {}
    for race, order in results:
        for rank, racer in enumerate(order, 1):
            entry = season.setdefault(racer, Overall(0, racer, 0))
            entry.points += points_for(rank)
            entry.positions[race] = rank
            entry.wins += rank == 1

    deepest = max((r for e in season.values() for r in e.positions.values()), default=0)

    def countback(entry: Overall) -> tuple:
        places = list(entry.positions.values())
        return (-entry.points, [-places.count(k) for k in range(1, deepest + 1)],
                entry.racer)

    ranked = sorted(season.values(), key=countback)
    for rank, entry in enumerate(ranked, 1):
        entry.rank = rank
    return ranked
