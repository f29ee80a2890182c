"""Leagues, racers and bundle submissions, kept in the races database (``races.sqlite``).

The league tables are added next to the race tables with ``CREATE TABLE IF NOT EXISTS``,
so a database written by an older racerl (races only) gains them when it is next opened
and keeps every race and submission. A racer's token is shown once, when the racer joins;
only its SHA-256 is stored (a token is 32 random bytes, so a plain hash is as good as a
slow one: there is nothing to guess). A bundle submission is a queue entry: ``queued``
when the upload passed its checks, ``running`` while it is driven, then ``done`` (with the
race submission it became) or ``failed`` (with the one-line reason).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass

from racerl.errors import RacerlError
from racerl.evaluate.races import Standing, connect, get_race, leaderboard
from racerl.home import check_name, racerl_home
from racerl.league.points import overall_standings, points_for

SCHEMA = """
CREATE TABLE IF NOT EXISTS leagues (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS league_races (
    league TEXT NOT NULL REFERENCES leagues(name),
    race TEXT NOT NULL UNIQUE REFERENCES races(name),
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS racers (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    joined REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bundle_submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    race TEXT NOT NULL REFERENCES races(name),
    racer TEXT NOT NULL REFERENCES racers(name),
    bundle TEXT NOT NULL,
    bundle_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    rank INTEGER,
    received REAL NOT NULL,
    started REAL,
    finished REAL
);
"""
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class LeagueError(RacerlError):
    """A league, racer or submission that does not exist, exists already, or is refused."""


class TokenError(LeagueError):
    """A racer name and token that do not match."""


def league_connect() -> sqlite3.Connection:
    """The races database with the league tables in place."""
    conn = connect()
    conn.executescript(SCHEMA)
    return conn


def bundles_dir():
    return racerl_home() / "league" / "bundles"


def racer_folder(racer: str):
    """Where a racer's evaluations are kept (the layout of a model folder's)."""
    return racerl_home() / "league" / "racers" / check_name(racer, "racer")


# -- leagues ------------------------------------------------------------------------------


def create_league(name: str, races: list[str]) -> None:
    """A league of ``races`` (existing races, in season order; more can be added later)."""
    check_name(name, "league")
    for race in races:
        get_race(race)
    with closing(league_connect()) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT INTO leagues (name, created) VALUES (?, ?)",
                         (name, time.time()))
            _add_races(conn, name, races)
            conn.execute("COMMIT")
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            raise LeagueError(f"league {name!r} exists already") from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def add_races(league: str, races: list[str]) -> None:
    """Add races to the end of a league's season."""
    get_league_races(league)
    for race in races:
        get_race(race)
    with closing(league_connect()) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            _add_races(conn, league, races)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _add_races(conn: sqlite3.Connection, league: str, races: list[str]) -> None:
    start = conn.execute("SELECT COUNT(*) FROM league_races WHERE league = ?",
                         (league,)).fetchone()[0]
    for k, race in enumerate(races):
        owner = conn.execute("SELECT league FROM league_races WHERE race = ?",
                             (race,)).fetchone()
        if owner is not None:
            raise LeagueError(f"race {race!r} is in league {owner[0]!r} already "
                              "(a race counts for one league)")
        conn.execute("INSERT INTO league_races (league, race, position) VALUES (?, ?, ?)",
                     (league, race, start + k))


def list_leagues() -> list[str]:
    with closing(league_connect()) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM leagues ORDER BY created")]


def get_league_races(league: str) -> list[str]:
    """The league's races in season order; a LeagueError when there is no such league."""
    check_name(league, "league")
    with closing(league_connect()) as conn:
        if conn.execute("SELECT 1 FROM leagues WHERE name = ?", (league,)).fetchone() is None:
            known = [r[0] for r in conn.execute("SELECT name FROM leagues ORDER BY name")]
            raise LeagueError(f"no league {league!r}; leagues: {', '.join(known) or 'none yet'}"
                              " (create one with `racerl league create`)")
        return [r[0] for r in conn.execute(
            "SELECT race FROM league_races WHERE league = ? ORDER BY position", (league,))]


# -- racers -------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def join(racer: str) -> str:
    """Register ``racer``; returns its token, which is not kept (only its hash is)."""
    check_name(racer, "racer")
    token = secrets.token_urlsafe(32)
    with closing(league_connect()) as conn:
        try:
            conn.execute("INSERT INTO racers (name, token_hash, joined) VALUES (?, ?, ?)",
                         (racer, _hash(token), time.time()))
        except sqlite3.IntegrityError:
            raise LeagueError(f"racer name {racer!r} is taken; choose another") from None
    return token


def authenticate(racer: str, token: str | None) -> str:
    """``racer`` when ``token`` is its token; a TokenError (the same for an unknown racer
    and a wrong token, so names cannot be probed) otherwise."""
    with closing(league_connect()) as conn:
        row = conn.execute("SELECT token_hash FROM racers WHERE name = ?",
                           (racer,)).fetchone()
    stored = row[0] if row is not None else _hash(secrets.token_urlsafe(32))
    if token is None or not secrets.compare_digest(stored, _hash(token)) or row is None:
        raise TokenError(f"racer {racer!r} and this token do not match (join with "
                         "`racerl league join` to get a token)")
    return racer


# -- bundle submissions ---------------------------------------------------------------------


@dataclass
class BundleSubmission:
    id: int
    race: str
    racer: str
    bundle: str
    bundle_hash: str
    state: str
    error: str | None
    rank: int | None  # the racer's place on the race board after it
    received: float
    started: float | None
    finished: float | None

    def to_json(self) -> dict:
        return asdict(self)


COLUMNS = ("id, race, racer, bundle, bundle_hash, state, error, rank, received, "
           "started, finished")


def enqueue(race: str, racer: str, data: bytes) -> BundleSubmission:
    """Keep an upload that passed its checks and queue it for evaluation."""
    from racerl.atomic import atomic_write

    digest = hashlib.sha256(data).hexdigest()
    path = bundles_dir() / f"{int(time.time() * 1000)}-{racer}-{digest[:12]}.tar.gz"
    atomic_write(path, lambda f: f.write(data))
    with closing(league_connect()) as conn:
        cursor = conn.execute(
            "INSERT INTO bundle_submissions (race, racer, bundle, bundle_hash, state, "
            "received) VALUES (?, ?, ?, ?, ?, ?)",
            (race, racer, str(path), digest, QUEUED, time.time()))
        return get_submission(cursor.lastrowid)


def get_submission(submission_id: int) -> BundleSubmission:
    with closing(league_connect()) as conn:
        row = conn.execute(f"SELECT {COLUMNS} FROM bundle_submissions WHERE id = ?",
                           (submission_id,)).fetchone()
    if row is None:
        raise LeagueError(f"no submission {submission_id}")
    return BundleSubmission(*row)


def claim_next() -> BundleSubmission | None:
    """The oldest queued submission, now marked running; None when the queue is empty."""
    with closing(league_connect()) as conn:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT id FROM bundle_submissions WHERE state = ? ORDER BY id "
                           "LIMIT 1", (QUEUED,)).fetchone()
        if row is not None:
            conn.execute("UPDATE bundle_submissions SET state = ?, started = ? WHERE id = ?",
                         (RUNNING, time.time(), row[0]))
        conn.execute("COMMIT")
    return None if row is None else get_submission(row[0])


def finish(submission_id: int, error: str | None = None,
           rank: int | None = None) -> None:
    with closing(league_connect()) as conn:
        conn.execute("UPDATE bundle_submissions SET state = ?, error = ?, rank = ?, "
                     "finished = ? WHERE id = ?",
                     (FAILED if error else DONE, error, rank, time.time(),
                      submission_id))


def interrupt_running() -> None:
    """Submissions a previous server was driving when it stopped: queue them again."""
    with closing(league_connect()) as conn:
        conn.execute("UPDATE bundle_submissions SET state = ?, started = NULL WHERE state = ?",
                     (QUEUED, RUNNING))


def recent_submissions(races: list[str], limit: int = 10) -> list[BundleSubmission]:
    if not races:
        return []
    marks = ", ".join("?" * len(races))
    with closing(league_connect()) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM bundle_submissions WHERE race IN "
                            f"({marks}) ORDER BY id DESC LIMIT ?", (*races, limit)).fetchall()
    return [BundleSubmission(*row) for row in rows]


# -- standings ------------------------------------------------------------------------------


def _row(st: Standing) -> dict:
    return {"rank": st.rank, "entrant": st.entrant, "points": points_for(st.rank),
            "total_time": st.total_time, "best_lap": st.best_lap,
            "laps_completed": st.laps_completed, "off_track": st.off_track,
            "penalty": st.penalty, "submissions": st.submissions}


def league_standings(league: str) -> dict:
    """Everything the standings page shows: each race's board with points, the overall
    table, the current race (the one submitted to last) and the latest submissions."""
    races = get_league_races(league)
    boards = {race: leaderboard(race) for race in races}
    overall = overall_standings((race, [st.entrant for st in board])
                                for race, board in boards.items())
    recent = recent_submissions(races)
    with closing(league_connect()) as conn:
        marks = ", ".join("?" * len(races))
        latest = conn.execute(f"SELECT race FROM submissions WHERE race IN ({marks}) "
                              "ORDER BY submitted DESC LIMIT 1", races).fetchone() \
            if races else None
    current = latest[0] if latest else (races[0] if races else None)
    race_info = {}
    for race in races:
        r = get_race(race)
        race_info[race] = {"name": race, "description": r.describe(), "laps": r.laps,
                           "track": r.track,
                           "leaderboard": [_row(st) for st in boards[race]]}
    return {"league": league, "races": [race_info[r] for r in races], "current": current,
            "overall": [asdict(o) for o in overall],
            "recent": [public_view(s) for s in recent]}


def public_view(s: BundleSubmission) -> dict:
    """A submission as anyone may see it (not where the server keeps the bundle)."""
    return {k: v for k, v in s.to_json().items() if k != "bundle"}
