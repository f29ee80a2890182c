"""Sim-trace files read back as written: raw rows for a resumed run, typed rows for charts."""

from __future__ import annotations

from racerl.model.simtrace import (
    COLUMNS,
    read_partial_block,
    read_simtrace,
    read_simtrace_rows,
    training_trace_path,
    write_simtrace,
)


def _row(episode: int, step: int) -> list:
    return [episode, step, 1.5, -2.25, 90.0, -10.0, 1.2, "[-10.0 1.2]" if step else 3, 0.75,
            step == 2, True, 12.5, 7, 17.7, 0.0666, "in_progress", 0.0]


def test_raw_rows_come_back_as_the_text_written(tmp_path):
    rows = [_row(0, 1), _row(0, 2)]
    path = write_simtrace(tmp_path / "0-iteration.csv", rows)
    raw = read_simtrace_rows(path)
    assert raw == [[str(v) for v in row] for row in rows]
    write_simtrace(tmp_path / "again.csv", raw)
    assert (tmp_path / "again.csv").read_text() == path.read_text()


def test_typed_rows_have_numbers_as_numbers(tmp_path):
    path = write_simtrace(tmp_path / "t.csv", [_row(3, 0), _row(3, 2)])
    rows = read_simtrace(path)
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["episode"] == 3.0 and isinstance(rows[0]["steps"], float)
    assert rows[1]["X"] == 1.5 and rows[1]["tstamp"] == 0.0666
    assert rows[0]["done"] is False and rows[1]["done"] is True
    assert rows[1]["all_wheels_on_track"] is True
    assert rows[0]["action"] == "3" and rows[1]["action"] == "[-10.0 1.2]"
    assert rows[0]["episode_status"] == "in_progress"


def test_typed_rows_match_the_evaluation_reader(tmp_path):
    from racerl.evaluate.records import read_trace

    path = tmp_path / "evaluation-simtrace" / "0-iteration.csv"
    path.parent.mkdir()
    write_simtrace(path, [_row(0, 0), _row(0, 1), _row(1, 2)])
    assert read_simtrace(path) == read_trace(tmp_path)


def test_partial_block_keeps_only_counted_episodes(tmp_path):
    write_simtrace(training_trace_path(tmp_path, 1), [_row(5, 0), _row(6, 0), _row(7, 0)])
    rows = read_partial_block(tmp_path, 7, 5)  # episodes 5 and 6 ended; 7 was cut short
    assert [int(r[0]) for r in rows] == [5, 6]
    assert read_partial_block(tmp_path, 10, 5) == []  # a whole block: a fresh file follows
    assert read_partial_block(tmp_path, 12, 5) == []  # no file yet


def test_deepracer_spells_every_status_for_people():
    from racerl.model.deepracer_metrics import STATUS_LABELS
    from racerl.sim.state import Status

    assert set(STATUS_LABELS) == {str(s) for s in Status}
