"""Races and their leaderboards, in one SQLite file under the racerl home.

A race fixes everything that decides a lap time — track, number of laps, lighting, seed,
penalties and what shares the track — so every submission is driven under the same
conditions and the times compare. A race is DeepRacer's continuous race: one episode of
``laps`` laps from the start line, off-track costs the penalty (the car is reset and frozen,
the clock runs). ``object-avoidance`` races put boxes on the track and ``head-to-bot`` races
bot cars (:class:`~racerl.sim.race_setup.RaceSetup`, laid out from the race's seed, so every
entrant meets the same ones); a crash costs ``collision_penalty`` seconds, and the
leaderboard counts collisions. The leaderboard ranks each entrant's best submission:
finished races by total time (penalties included), ties by best lap; unfinished ones after,
by laps completed.

A ``head-to-model`` race is raced in matches: two entrants on the track at once, each the
other's object (:mod:`racerl.evaluate.head_to_model`), one submission row each, naming the
opponent and whether it won. With the simapp's default done condition ``any`` the race ends
when the first car finishes its laps, so the loser has no total time. Its leaderboard ranks
by matches won, then as above.

Submissions evaluate first and only then write one row in one transaction, so a failed
evaluation records nothing, and SQLite's locking (WAL, a busy timeout) lets several
processes submit at once. ``submit_parallel`` drives many models' races at once as Ray
tasks and records them here, in this process, one after another.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from racerl.camera.lighting import check_lighting
from racerl.errors import RacerlError
from racerl.evaluate.evaluation import Entrant, EvalSettings, EvaluationRun, evaluate
from racerl.evaluate.head_to_model import MatchResult, evaluate_match
from racerl.evaluate.records import save_evaluation
from racerl.home import check_name, racerl_home
from racerl.sim.race_setup import RaceSetup, parse_object_positions
from racerl.sim.rules import EvaluationRules

RACE_TYPES = ("time-trial", "object-avoidance", "head-to-bot", "head-to-model")
HEAD_TO_MODEL = "head-to-model"
ALIASES = {"head-to-head": HEAD_TO_MODEL}
"""Other names of a race type (DRfC's docs call head-to-model races head-to-head)."""
MAX_LAPS = 20
SCHEMA = """
CREATE TABLE IF NOT EXISTS races (
    name TEXT PRIMARY KEY,
    track TEXT NOT NULL,
    type TEXT NOT NULL,
    laps INTEGER NOT NULL,
    lighting TEXT NOT NULL,
    off_track_penalty REAL NOT NULL,
    seed INTEGER NOT NULL,
    created REAL NOT NULL,
    race_duration REAL,
    max_resets INTEGER NOT NULL DEFAULT 10000,
    reverse_direction INTEGER NOT NULL DEFAULT 0,
    collision_penalty REAL NOT NULL DEFAULT 1.0,
    objects TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    race TEXT NOT NULL REFERENCES races(name),
    entrant TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    identity TEXT NOT NULL,
    settings TEXT NOT NULL,
    lap_times TEXT NOT NULL,
    laps_completed INTEGER NOT NULL,
    total_time REAL,
    best_lap REAL,
    off_track INTEGER NOT NULL,
    penalty REAL NOT NULL,
    evaluation TEXT NOT NULL,
    submitted REAL NOT NULL,
    collisions INTEGER NOT NULL DEFAULT 0,
    opponent TEXT NOT NULL DEFAULT '',
    won INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS submissions_by_race ON submissions(race);
"""
ADDED_RACE_COLUMNS = {
    "race_duration": "REAL",
    "max_resets": "INTEGER NOT NULL DEFAULT 10000",
    "reverse_direction": "INTEGER NOT NULL DEFAULT 0",
    "collision_penalty": "REAL NOT NULL DEFAULT 1.0",
    "objects": "TEXT NOT NULL DEFAULT '{}'",
}
"""Race settings added after the first racerl release: a database written before them gets
the columns (with the values its races were driven under) when it is next opened."""
ADDED_SUBMISSION_COLUMNS = {"collisions": "INTEGER NOT NULL DEFAULT 0",
                            "opponent": "TEXT NOT NULL DEFAULT ''",
                            "won": "INTEGER NOT NULL DEFAULT 0"}
"""Submission results added later, migrated the same way (time trials had none)."""
OBJECT_OPTIONS = {
    "object-avoidance": ("number_of_obstacles", "min_distance_between_obstacles",
                         "randomize_obstacle_locations", "is_obstacle_bot_car",
                         "object_positions"),
    "head-to-bot": ("number_of_bot_cars", "bot_car_speed", "min_distance_between_bot_cars",
                    "randomize_bot_car_locations", "is_lane_change", "lower_lane_change_time",
                    "upper_lane_change_time", "lane_change_distance", "bot_car_penalty"),
    HEAD_TO_MODEL: ("done_condition",),
}
"""The RaceSetup settings each race type takes (stored with the race, as JSON)."""


class RaceError(RacerlError):
    """A race that does not exist, exists already, or cannot be run."""


@dataclass(frozen=True)
class Race:
    name: str
    track: str
    type: str
    laps: int
    lighting: str
    off_track_penalty: float
    seed: int
    created: float
    race_duration: float | None = None
    """Seconds of race time after which a submission ends ``time_up`` (DeepRacer's virtual
    events); None: no limit."""
    max_resets: int = 10_000
    """Resets a submission may take before a mistake ends it (DRfC DR_EVAL_MAX_RESETS)."""
    reverse_direction: bool = False
    """The track is raced the other way round (DRfC DR_EVAL_REVERSE_DIRECTION)."""
    collision_penalty: float = 1.0
    """Seconds frozen after a crash (DeepRacer's console races: 1, 2 or 3; default 1)."""
    objects: str = "{}"
    """The object settings of its type as JSON (see :data:`OBJECT_OPTIONS`), ``{}`` for a
    time trial."""

    def race_setup(self) -> RaceSetup:
        """The obstacles or bot cars every submission meets."""
        if self.type == "time-trial":
            return RaceSetup()
        return RaceSetup(race_type=self.type.replace("-", "_"), **json.loads(self.objects))

    def settings(self) -> EvalSettings:
        """The evaluation every submission to this race gets."""
        rules = EvaluationRules(off_track_penalty=self.off_track_penalty, laps=self.laps,
                                race_duration=self.race_duration, resets=self.max_resets,
                                collision_penalty=self.collision_penalty)
        return EvalSettings(track=self.track, trials=1, lighting=self.lighting,
                            seed=self.seed, rules=rules, reverse=bool(self.reverse_direction),
                            race=self.race_setup())

    def describe(self) -> str:
        """The race's settings in one line, as the CLI shows them."""
        extra = "".join((
            f", {self.race_duration:g} s race time" if self.race_duration else "",
            f", at most {self.max_resets} resets" if self.max_resets != 10_000 else "",
            ", reversed" if self.reverse_direction else "",
            self._objects_text()))
        laps = f"{self.laps} lap" + ("s" if self.laps != 1 else "")
        return (f"{self.type}, {laps} on {self.track}, {self.lighting} light, "
                f"off-track penalty {self.off_track_penalty:g} s{extra}")

    def _objects_text(self) -> str:
        if self.type == "time-trial":
            return ""
        race = self.race_setup()
        if self.type == HEAD_TO_MODEL:
            ends = ("the first car to finish ends it" if race.done_condition == "any"
                    else "every car races to its finish")
            return (f", two models at once ({ends}), "
                    f"collision penalty {self.collision_penalty:g} s")
        count = race.obstacles or race.bot_cars
        noun = ("parked car" if race.is_obstacle_bot_car else "box") if race.obstacles \
            else "bot car"
        plural = "" if count == 1 else ("es" if noun == "box" else "s")
        what = f"{count} {noun}{plural}" + ("" if race.obstacles else
                                             f" at {race.bot_car_speed:g} m/s"
                                             + (" changing lanes" if race.is_lane_change
                                                else ""))
        return f", {what}, collision penalty {self.collision_penalty:g} s"


@dataclass(frozen=True)
class Standing:
    rank: int
    entrant: str
    model_hash: str
    laps_completed: int
    total_time: float | None
    best_lap: float | None
    off_track: int
    penalty: float
    lap_times: list[float]
    submissions: int
    evaluation: str
    collisions: int = 0
    wins: int | None = None
    """Matches won (head-to-model races; None for the other types)."""


def database_path() -> Path:
    return racerl_home() / "races.sqlite"


def connect(path: Path | None = None) -> sqlite3.Connection:
    """A connection with the schema in place, waiting up to 60 s for other writers."""
    path = path or database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=60000")
    conn.executescript(SCHEMA)
    have = {row[1] for row in conn.execute("PRAGMA table_info(races)")}
    for column, kind in ADDED_RACE_COLUMNS.items():
        if column not in have:
            conn.execute(f"ALTER TABLE races ADD COLUMN {column} {kind}")
    have = {row[1] for row in conn.execute("PRAGMA table_info(submissions)")}
    for column, kind in ADDED_SUBMISSION_COLUMNS.items():
        if column not in have:
            conn.execute(f"ALTER TABLE submissions ADD COLUMN {column} {kind}")
    return conn


def create_race(name: str, track: str, race_type: str = "time-trial", laps: int = 3,
                lighting: str = "studio", off_track_penalty: float = 1.0,
                seed: int = 0, race_duration: float | None = None,
                max_resets: int = 10_000, reverse_direction: bool = False,
                collision_penalty: float = 1.0, objects: dict | None = None) -> Race:
    """Register a race; its settings never change afterwards. ``objects`` holds the
    settings of an object-avoidance or head-to-bot race (:data:`OBJECT_OPTIONS`, their
    names as TrainConfig spells them; the rest take DRfC's defaults)."""
    from racerl.track.catalog import load_track

    if race_type in ALIASES:
        raise RaceError(f"race type {race_type!r} is called {ALIASES[race_type]!r} here "
                        f"(--type {ALIASES[race_type]})")
    if race_type not in RACE_TYPES:
        raise RaceError(f"race type {race_type!r}: use one of {', '.join(RACE_TYPES)}")
    check_name(name, "race")  # the rule model names follow
    if not 1 <= laps <= MAX_LAPS:
        raise RaceError(f"--laps {laps}: a race has 1 to {MAX_LAPS} laps")
    check_lighting(lighting, "--lighting")
    if not 0.0 <= off_track_penalty <= 60.0:
        raise RaceError(f"--off-track-penalty {off_track_penalty}: use 0 to 60 seconds")
    if race_duration is not None and not 0.0 < race_duration <= 3600.0:
        raise RaceError(f"--duration {race_duration}: use more than 0 and at most 3600 seconds")
    if max_resets < 0:
        raise RaceError(f"--max-resets {max_resets}: use 0 (a mistake ends the race) or more")
    if not 0.0 <= collision_penalty <= 60.0:
        raise RaceError(f"--collision-penalty {collision_penalty}: use 0 to 60 seconds")
    stored = _object_settings(race_type, objects or {})
    load_track(track)  # a clear error now rather than at the first submission
    race = Race(name, track, race_type, laps, lighting, float(off_track_penalty), seed,
                time.time(), None if race_duration is None else float(race_duration),
                int(max_resets), bool(reverse_direction), float(collision_penalty), stored)
    with closing(connect()) as conn:
        try:
            conn.execute("INSERT INTO races (name, track, type, laps, lighting, "
                         "off_track_penalty, seed, created, race_duration, max_resets, "
                         "reverse_direction, collision_penalty, objects) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (race.name, race.track, race.type, race.laps, race.lighting,
                          race.off_track_penalty, race.seed, race.created,
                          race.race_duration, race.max_resets, int(race.reverse_direction),
                          race.collision_penalty, race.objects))
        except sqlite3.IntegrityError:
            raise RaceError(f"race {name!r} exists already "
                            f"(database {database_path()})") from None
    return race


def _object_settings(race_type: str, objects: dict) -> str:
    """The object settings of a race type as stored JSON, checked by building the setup."""
    allowed = OBJECT_OPTIONS.get(race_type, ())
    extra = sorted(set(objects) - set(allowed))
    if extra:
        flags = ", ".join("--" + name.replace("_", "-") for name in extra)
        raise RaceError(f"{flags}: not a setting of a {race_type} race")
    if isinstance(objects.get("object_positions"), str):
        try:
            objects = {**objects,
                       "object_positions": parse_object_positions(objects["object_positions"])}
        except ValueError as exc:
            raise RaceError(f"--object-positions: {exc}") from None
    if race_type == "time-trial":
        return "{}"
    try:
        RaceSetup(race_type=race_type.replace("-", "_"), **objects)
    except ValueError as exc:
        raise RaceError(f"{race_type} race: {exc}") from None
    return json.dumps({k: (list(map(list, v)) if k == "object_positions" else v)
                       for k, v in objects.items()}, sort_keys=True)


def get_race(name: str) -> Race:
    with closing(connect()) as conn:
        row = conn.execute(f"SELECT {RACE_COLUMNS} FROM races WHERE name = ?",
                           (name,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM races ORDER BY name")]
            raise RaceError(f"no race {name!r}; races: {', '.join(known) or 'none yet'} "
                            "(create one with `racerl race create`)")
    return _race(row)


RACE_COLUMNS = ("name, track, type, laps, lighting, off_track_penalty, seed, created, "
                "race_duration, max_resets, reverse_direction, collision_penalty, objects")


def _race(row: tuple) -> Race:
    *head, reverse, collision_penalty, objects = row
    return Race(*head, bool(reverse), collision_penalty, objects)


def list_races() -> list[Race]:
    with closing(connect()) as conn:
        return [_race(row) for row in
                conn.execute(f"SELECT {RACE_COLUMNS} FROM races ORDER BY created")]


def submit(race_name: str, entrant: Entrant) -> tuple[EvaluationRun, Standing]:
    """Drive the race with ``entrant``, record it; returns the run and the entrant's
    standing (its best submission's place) on the board."""
    race = get_race(race_name)
    if race.type == HEAD_TO_MODEL:
        raise RaceError(f"{race_name} is a head-to-model race: two entrants race at once "
                        f"(racerl race submit {race_name} MODEL_A MODEL_B)")
    run = evaluate(entrant.driver, race.settings())
    return run, record_submission(race, entrant, run)


def submit_match(race_name: str, entrants: list[Entrant]
                 ) -> tuple[MatchResult, list[Standing]]:
    """Race two entrants against each other in a head-to-model race and record both runs
    in one transaction; the match and each entrant's standing after it."""
    race = get_race(race_name)
    if race.type != HEAD_TO_MODEL:
        raise RaceError(f"{race_name} is a {race.type} race: each entrant races alone "
                        "(a match needs a head-to-model race)")
    if len(entrants) != 2:
        raise RaceError(f"a head-to-model match is two entrants, not {len(entrants)}")
    if entrants[0].name == entrants[1].name:
        raise RaceError(f"{entrants[0].name} cannot race itself: name two entrants")
    match = evaluate_match([e.driver for e in entrants], race.settings())
    winner = match.winner
    with closing(connect()) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for k, (who, run) in enumerate(zip(entrants, match.runs, strict=True)):
                _insert_submission(conn, race, who, run, opponent=entrants[1 - k].name,
                                   won=k == winner)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    board = {s.entrant: s for s in leaderboard(race.name)}
    return match, [board[e.name] for e in entrants]


def submit_parallel(race_name: str, entrants: list[Entrant], checkpoint: str = "best",
                    address: str | None = None) -> list[tuple[EvaluationRun, Standing]]:
    """Drive the race with many models at once as Ray tasks
    (:mod:`racerl.evaluate.parallel`), then record each run as :func:`submit` does, in the
    order given; the runs are the ones a sequential submission drives, lap for lap."""
    from racerl.evaluate.parallel import evaluate_models

    race = get_race(race_name)
    if race.type == HEAD_TO_MODEL:
        raise RaceError(f"{race_name} is a head-to-model race: race its matches one at a "
                        "time, without --parallel")
    scripted = [e.name for e in entrants if "model" not in e.identity]
    if scripted:
        raise RaceError(f"--parallel races models; submit {', '.join(scripted)} on its own")
    runs = evaluate_models([e.folder for e in entrants], race.settings(), checkpoint, address)
    return [(run, record_submission(race, entrant, run))
            for entrant, run in zip(entrants, runs, strict=True)]


def record_submission(race: Race, entrant: Entrant, run: EvaluationRun) -> Standing:
    """Keep ``run`` with the entrant's evaluations and put it on the board in one
    transaction; the entrant's standing after it."""
    with closing(connect()) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            submission = _insert_submission(conn, race, entrant, run)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    for standing in leaderboard(race.name):
        if standing.entrant == entrant.name:
            return standing
    raise RaceError(f"submission {submission} to {race.name!r} is missing from the board")


def _insert_submission(conn: sqlite3.Connection, race: Race, entrant: Entrant,
                       run: EvaluationRun, opponent: str = "", won: bool = False) -> int:
    """Keep ``run`` with the entrant's evaluations and insert its row (inside the caller's
    transaction); the submission's id."""
    identity = {**entrant.identity, "race": race.name}
    if opponent:
        identity["opponent"] = opponent
    folder = save_evaluation(entrant.folder, run, identity)
    summary = run.summary()
    laps = [t.lap_time for t in run.trials if t.lap_time is not None]
    cursor = conn.execute(
        "INSERT INTO submissions (race, entrant, model_hash, identity, settings, "
        "lap_times, laps_completed, total_time, best_lap, off_track, penalty, "
        "evaluation, submitted, collisions, opponent, won) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (race.name, entrant.name, entrant.identity["model_hash"],
         json.dumps(entrant.identity), json.dumps(run.settings.describe()),
         json.dumps(laps), len(laps),
         float(sum(laps)) if len(laps) == race.laps else None,
         min(laps) if laps else None, summary.off_track, summary.penalty,
         str(folder), time.time(), summary.collisions, opponent, int(won)))
    return int(cursor.lastrowid)


RANKED = """
SELECT entrant, model_hash, laps_completed, total_time, best_lap, off_track, penalty,
       lap_times, evaluation, collisions,
       COUNT(*) OVER (PARTITION BY entrant) AS tries,
       ROW_NUMBER() OVER (PARTITION BY entrant ORDER BY {order}) AS nth
FROM submissions WHERE race = ?
"""
ORDER = ("total_time IS NULL, total_time, laps_completed DESC, best_lap IS NULL, best_lap, "
         "submitted")


def last_match(race_name: str) -> tuple[str, str] | None:
    """The newest match of a head-to-model race as (winner, loser), None before the first:
    every match records exactly one winning row, and that row names the opponent it beat."""
    with closing(connect()) as conn:
        row = conn.execute("SELECT entrant, opponent FROM submissions WHERE race = ? "
                           "AND opponent != '' AND won = 1 ORDER BY id DESC LIMIT 1",
                           (race_name,)).fetchone()
    return None if row is None else (row[0], row[1])


def leaderboard(race_name: str) -> list[Standing]:
    """Each entrant's best submission, best first (in a head-to-model race, the most
    matches won first)."""
    race = get_race(race_name)
    query = (f"SELECT * FROM ({RANKED.format(order=ORDER)}) WHERE nth = 1 "
             "ORDER BY total_time IS NULL, total_time, laps_completed DESC, "
             "best_lap IS NULL, best_lap, entrant")
    with closing(connect()) as conn:
        rows = conn.execute(query, (race_name,)).fetchall()
        wins = dict(conn.execute("SELECT entrant, SUM(won) FROM submissions WHERE race = ? "
                                 "GROUP BY entrant", (race_name,)).fetchall())
    if race.type == HEAD_TO_MODEL:  # a stable sort keeps the time order among equal wins
        rows.sort(key=lambda row: -wins[row[0]])
    return [Standing(rank, entrant, digest, laps, total, best, off, penalty,
                     json.loads(lap_times), tries, evaluation, collisions,
                     int(wins[entrant]) if race.type == HEAD_TO_MODEL else None)
            for rank, (entrant, digest, laps, total, best, off, penalty, lap_times,
                       evaluation, collisions, tries, _) in enumerate(rows, 1)]
