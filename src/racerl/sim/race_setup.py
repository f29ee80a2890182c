"""What shares the track with the car: DeepRacer's race types and their object settings.

A time trial has an empty track. Object avoidance puts static boxes in the lanes
(``NUMBER_OF_OBSTACLES`` … in the simapp's ``markov/agent_ctrl/obstacles_agent_ctrl.py``);
head-to-bot sends bot cars round the lanes (``markov/agent_ctrl/bot_cars_agent_ctrl.py``);
head-to-model puts several racers, each driven by its own model, on one track, each an
object of the others (the simapp's multi-agent evaluation, one agent per
``MODEL_S3_PREFIX``: ``markov/evaluation_worker.py``).
:class:`RaceSetup` holds every setting under its DeepRacer-for-Cloud name (``DR_OA_*``,
``DR_H2B_*`` in DRfC's ``defaults/template-run.env``, whose defaults it takes), checked once
here so that the simulator can trust it.

Defaults, where DRfC and the simapp differ (the simapp's are what an unset key gives):
``NUMBER_OF_OBSTACLES`` DRfC 6 / simapp 0, ``NUMBER_OF_BOT_CARS`` DRfC 3 / simapp 0 (a race
type with nothing in it would be a time trial), ``PENALTY_SECONDS`` for bot cars DRfC 5.0 /
simapp 2.0. racerl takes DRfC's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

MAX_RACERS = 8
"""Racers sharing one track in a head-to-model race at most (DeepRacer races two)."""
START_GAP = 0.75
"""Metres between head-to-model racers on the grid: racer k starts ``k * START_GAP`` behind
the start line (simapp ``track_geom/utils.py`` ``get_start_positions`` with
``START_POS_OFFSET`` = 0.75 from ``track_geom/constants.py``)."""
DONE_CONDITIONS = ("any", "all")
MATCH_FIELDS = ("racers", "done_condition")
"""The settings of head-to-model races only, which are raced and never trained (DeepRacer
trains no multi-agent runs): a training config has every other field."""

MAX_OBJECTS = 32
"""Objects per car at most: the console offers 1-6 boxes and 1-6 bot cars; every object costs
each camera ray a test, so far more would only slow training to a crawl."""


class RaceType(StrEnum):
    """DeepRacer's ``RACE_TYPE``, spelt as racerl's options spell it."""

    TIME_TRIAL = "time_trial"
    OBJECT_AVOIDANCE = "object_avoidance"
    HEAD_TO_BOT = "head_to_bot"
    HEAD_TO_MODEL = "head_to_model"


@dataclass(frozen=True)
class RaceSetup:
    """The race type and its object settings (DRfC's names, lower case; DRfC's defaults)."""

    race_type: str = RaceType.TIME_TRIAL
    """``time_trial`` (empty track), ``object_avoidance`` (static boxes), ``head_to_bot``
    (bot cars driving the lanes) or ``head_to_model`` (racers, each its own driver)."""
    number_of_obstacles: int = 6
    """Boxes on the track in object avoidance (``DR_OA_NUMBER_OF_OBSTACLES``); ignored when
    ``object_positions`` is given."""
    min_distance_between_obstacles: float = 2.0
    """Percent of the track length (the simapp reads it as a percentage) between obstacles:
    where the first one stands and the least gap when they are randomised."""
    randomize_obstacle_locations: bool = False
    """Draw new obstacle places and lanes every episode; otherwise evenly spaced, lanes
    alternating from the inner one."""
    is_obstacle_bot_car: bool = False
    """Parked cars (a bot car's footprint and looks) instead of boxes."""
    object_positions: tuple[tuple[float, int], ...] = ()
    """Fixed obstacles as (lap fraction, lane) pairs, lane 1 inner and -1 outer; DRfC writes
    them ``"0.23,-1;0.46,1"`` (:func:`parse_object_positions`)."""
    number_of_bot_cars: int = 3
    """Bot cars in head-to-bot (``DR_H2B_NUMBER_OF_BOT_CARS``)."""
    bot_car_speed: float = 0.2
    """m/s the bot cars drive, measured along the centre line as the simapp does."""
    min_distance_between_bot_cars: float = 2.0
    """Metres (not percent, unlike obstacles: the simapp's bot code takes metres): where the
    first bot starts and the least gap when they are randomised."""
    randomize_bot_car_locations: bool = False
    """Draw new bot car starts and lanes every episode; otherwise evenly spaced, lanes
    alternating from the inner one."""
    is_lane_change: bool = False
    """Bots change lanes, each at its own random times."""
    lower_lane_change_time: float = 3.0
    """Seconds, the shortest wait between two lane changes."""
    upper_lane_change_time: float = 5.0
    """Seconds, the longest wait between two lane changes."""
    lane_change_distance: float = 1.0
    """Metres along the track that one lane change takes."""
    bot_car_penalty: float = 5.0
    """Seconds every bot car stops after a bot runs into the racer from behind (the simapp's
    ``PENALTY_SECONDS``, DRfC's ``DR_H2B_BOT_CAR_PENALTY``)."""

    racers: int = 2
    """Cars racing each other in head-to-model, each driven by its own model or driver: the
    batch's cars in consecutive groups of this many share one track. Racer k starts
    ``k * START_GAP`` metres behind the line, in the outer lane when k is even and the inner
    one when odd (simapp ``rollout_agent_ctrl.py``: ``_start_lane_``)."""
    done_condition: str = "any"
    """Head-to-model: ``any`` ends every racer's episode when the first one's ends (a
    finished race, or a mistake past the last reset); ``all`` lets each racer drive on
    until its own episode ends, a finished one leaving the track. The simapp's
    ``DONE_CONDITION``, whose default is ``any``."""

    def __post_init__(self) -> None:
        if self.race_type not in tuple(RaceType):
            raise ValueError(f"race_type must be one of {', '.join(RaceType)}, "
                             f"not {self.race_type!r}")
        object.__setattr__(self, "race_type", RaceType(self.race_type))
        object.__setattr__(self, "object_positions", tuple(
            (float(f), int(lane)) for f, lane in self.object_positions))
        for name in ("number_of_obstacles", "number_of_bot_cars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                    or not 0 <= value <= MAX_OBJECTS:
                raise ValueError(f"{name} must be a whole number from 0 to {MAX_OBJECTS}, "
                                 f"not {value!r}")
        if len(self.object_positions) > MAX_OBJECTS:
            raise ValueError(f"object_positions lists {len(self.object_positions)} "
                             f"obstacles; at most {MAX_OBJECTS}")
        for fraction, lane in self.object_positions:
            if not 0.0 <= fraction <= 1.0 or lane not in (1, -1):
                raise ValueError(f"object_positions: ({fraction}, {lane}) is not a lap "
                                 "fraction in [0, 1] and a lane 1 (inner) or -1 (outer)")
        for name in ("min_distance_between_obstacles", "min_distance_between_bot_cars",
                     "lower_lane_change_time", "upper_lane_change_time", "bot_car_penalty"):
            if not 0.0 <= getattr(self, name) < np.inf:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)!r}")
        if isinstance(self.racers, bool) or not isinstance(self.racers, int | np.integer) \
                or not 2 <= self.racers <= MAX_RACERS:
            raise ValueError(f"racers must be a whole number from 2 to {MAX_RACERS}, "
                             f"not {self.racers!r}")
        if self.done_condition not in DONE_CONDITIONS:
            raise ValueError(f"done_condition must be 'any' or 'all', "
                             f"not {self.done_condition!r}")
        if not 0.0 < self.bot_car_speed < np.inf:
            raise ValueError(f"bot_car_speed must be positive, not {self.bot_car_speed!r}")
        if not 0.0 < self.lane_change_distance < np.inf:
            raise ValueError(f"lane_change_distance must be positive, "
                             f"not {self.lane_change_distance!r}")
        if self.lower_lane_change_time > self.upper_lane_change_time:
            raise ValueError(f"lower_lane_change_time ({self.lower_lane_change_time}) is "
                             f"above upper_lane_change_time ({self.upper_lane_change_time})")

    @property
    def obstacles(self) -> int:
        """Static obstacles per car (fixed positions win over the number, as in the simapp)."""
        if self.race_type != RaceType.OBJECT_AVOIDANCE:
            return 0
        return len(self.object_positions) or self.number_of_obstacles

    @property
    def bot_cars(self) -> int:
        """Bot cars per car."""
        return self.number_of_bot_cars if self.race_type == RaceType.HEAD_TO_BOT else 0

    @property
    def racers_per_world(self) -> int:
        """Cars sharing one world: the racers of a head-to-model race, 1 otherwise."""
        return self.racers if self.race_type == RaceType.HEAD_TO_MODEL else 1

    @property
    def objects(self) -> int:
        """M, the objects each car's world holds: its obstacles, bot cars and the other
        racers."""
        return self.obstacles + self.bot_cars + self.racers_per_world - 1


def parse_object_positions(text: str) -> tuple[tuple[float, int], ...]:
    """DRfC's ``OBJECT_POSITIONS`` text, ``"progress,lane;progress,lane"`` (progress a lap
    fraction, lane 1 inner or -1 outer), as (fraction, lane) pairs; empty text, none."""
    pairs = []
    for item in filter(None, (part.strip() for part in str(text).split(";"))):
        try:
            fraction, lane = item.split(",")
            pairs.append((float(fraction), int(lane)))
        except ValueError:
            raise ValueError(f"object_positions: {item!r} is not 'progress,lane' (a lap "
                             "fraction and 1 or -1)") from None
    return tuple(pairs)
