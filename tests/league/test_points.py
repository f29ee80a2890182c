"""Points per finishing position and the season's table."""

import pytest

from racerl.league.points import POINTS, overall_standings, points_for


def test_points_table_scores_the_top_ten_only():
    assert [points_for(k) for k in range(1, 12)] == [25, 18, 15, 12, 10, 8, 6, 4, 2, 1, 0]
    assert sum(POINTS) == 101
    with pytest.raises(ValueError):
        points_for(0)


def test_season_sums_points_over_races():
    table = overall_standings([("r1", ["ann", "bob", "cy"]), ("r2", ["bob", "ann"])])
    assert [(o.racer, o.points, o.rank, o.wins) for o in table] == [
        ("ann", 43, 1, 1), ("bob", 43, 2, 1), ("cy", 15, 3, 0)]  # 43 each: one win each
    assert table[0].positions == {"r1": 1, "r2": 2}


def test_equal_points_go_to_more_wins_then_the_name():
    # ann, y1 and z1 score 25 with a win; bea scores 25 too, as 3rd (15) and 5th (10).
    table = overall_standings([("r1", ["ann", "x1"]), ("r2", ["y1", "y2", "bea"]),
                               ("r3", ["z1", "z2", "z3", "z4", "bea"])])
    assert {o.racer: o.points for o in table}["bea"] == 25
    assert [o.racer for o in table][:4] == ["ann", "y1", "z1", "bea"]


def test_countback_goes_down_the_places():
    # 36 points each without a win: sam as 2nd twice; uma as 2nd, 3rd, 9th and 10th
    # (18 + 15 + 2 + 1). Countback: sam has two 2nd places, uma one.
    table = overall_standings([
        ("r1", ["a", "sam"]), ("r2", ["b", "sam"]),
        ("r3", ["c", "uma"]), ("r4", ["d", "e", "uma"]),
        ("r5", ["f", "g", "h", "i", "j", "k", "l", "m", "uma"]),
        ("r6", ["n", "o", "p", "q", "r", "s", "t", "u", "v", "uma"])])
    points = {o.racer: o.points for o in table}
    assert points["sam"] == points["uma"] == 36
    order = [o.racer for o in table]
    assert order.index("sam") < order.index("uma")
