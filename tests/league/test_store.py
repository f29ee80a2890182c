"""Leagues in the races database: an old database gains the league tables and keeps its
races; racers' tokens check; the queue hands out each submission once."""

from __future__ import annotations

import sqlite3

import pytest

from racerl.evaluate.races import SCHEMA as RACES_SCHEMA
from racerl.evaluate.races import create_race, database_path, get_race
from racerl.league import store


def test_a_races_only_database_gains_the_league_tables(isolated_home):
    with sqlite3.connect(isolated_home / "races.sqlite") as conn:  # as an older racerl left it
        conn.executescript(RACES_SCHEMA)
        conn.execute("INSERT INTO races (name, track, type, laps, lighting, off_track_penalty,"
                     " seed, created) VALUES ('old', 'oval', 'time-trial', 1, 'studio', 1, 0, 0)")
    store.create_league("spring", ["old"])
    assert store.get_league_races("spring") == ["old"]
    assert get_race("old").laps == 1
    assert store.league_standings("spring")["overall"] == []


def test_leagues_refuse_duplicates_and_shared_races():
    create_race("r1", "oval", laps=1)
    store.create_league("a", ["r1"])
    with pytest.raises(store.LeagueError, match="exists already"):
        store.create_league("a", [])
    with pytest.raises(store.LeagueError, match="in league 'a' already"):
        store.create_league("b", ["r1"])
    assert store.list_leagues() == ["a"]  # b's insert was rolled back with its race


def test_tokens_and_the_queue():
    create_race("r1", "oval", laps=1)
    token = store.join("ann")
    assert store.authenticate("ann", token) == "ann"
    for racer, guess in (("ann", token + "x"), ("ann", None), ("bob", token)):
        with pytest.raises(store.TokenError):
            store.authenticate(racer, guess)
    first = store.enqueue("r1", "ann", b"one")
    second = store.enqueue("r1", "ann", b"two")
    assert store.claim_next().id == first.id
    assert store.claim_next().id == second.id
    assert store.claim_next() is None
    store.finish(first.id, error="broken")
    store.interrupt_running()  # a server restart: the one left running is queued again
    assert store.get_submission(first.id).state == "failed"
    assert store.get_submission(second.id).state == "queued"
    assert database_path().is_file()
