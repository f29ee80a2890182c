"""Head-to-model: several drivers on one track at once, each an object of the others.

A match puts each driver's car in one world of a head-to-model batch
(:class:`~racerl.sim.race_setup.RaceSetup` ``race_type="head_to_model"``): racer k is driver
k, starting ``0.75 * k`` m behind the line, and every racer sees the others in its params
(``objects_*``), its camera and its lidar. A race (``laps`` > 1) is one world; an evaluation
of ``trials`` trials drives that many worlds side by side, each a heat of its own.

One batch renders one kind of observation, so every driver that looks must see the same
sensors in the same colours (grey or RGB); frame stacks may differ (each driver gets its own
newest frames), and a state-vector driver or a scripted one races beside camera models.
The result is one :class:`~racerl.evaluate.evaluation.EvaluationRun` per driver, as a solo
evaluation gives it, and the finishing order of each heat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from racerl.camera.sensors import Sensors
from racerl.drive.rollout import Commands, Controller, Keep, Routed, rollout
from racerl.envs.cars import Observation, Racers, state_observation
from racerl.errors import RacerlError
from racerl.evaluate.evaluation import Driver, EvalSettings, EvaluationRun, trace_rows
from racerl.reward.function import DEFAULT_EXAMPLE
from racerl.sim.race_setup import MAX_RACERS, RaceSetup, RaceType
from racerl.sim.vehicle import CarState


@dataclass
class MatchResult:
    """What a match produced: each driver's run (their order), and per heat the finishing
    order as driver indices, winner first."""

    runs: list[EvaluationRun]
    places: list[list[int]]

    @property
    def wins(self) -> list[int]:
        """Heats each driver won."""
        return [sum(order[0] == k for order in self.places) for k in range(len(self.runs))]

    @property
    def winner(self) -> int:
        """The driver who won the most heats (the first of them on a tie)."""
        wins = self.wins
        return wins.index(max(wins))


def match_setup(settings: EvalSettings, racers: int) -> RaceSetup:
    """The head-to-model setup for ``racers`` drivers, with the settings' done condition."""
    race = settings.race
    if race.race_type == RaceType.HEAD_TO_MODEL:
        return replace(race, racers=racers)
    if race.race_type != RaceType.TIME_TRIAL:
        raise RacerlError(f"a head-to-model match has no {race.race_type} objects: its "
                          "racers are each other's objects")
    return RaceSetup(race_type=RaceType.HEAD_TO_MODEL, racers=racers)


def evaluate_match(drivers: Sequence[Driver], settings: EvalSettings,
                   keep_frames: bool = False) -> MatchResult:
    """Drive ``drivers`` against each other under ``settings`` (see the module docstring);
    ``keep_frames`` keeps every car's camera frames (for a video)."""
    k = len(drivers)
    if not 2 <= k <= MAX_RACERS:
        raise RacerlError(f"a head-to-model match needs 2 to {MAX_RACERS} drivers, not {k}")
    race = match_setup(settings, k)
    look = _shared_view(drivers)
    see_camera = look is not None or keep_frames
    heats = 1 if settings.continuous else settings.trials
    sensors = look.sensors if look is not None and look.sensors is not None else None
    cars = Racers(heats * k, track=settings.track, reward_function=DEFAULT_EXAMPLE,
                  observation="camera" if see_camera else "state",
                  rgb=bool(look is not None and look.rgb),
                  frame_stack=max((d.frame_stack for d in drivers
                                   if d.observation == "camera"), default=1),
                  lighting=settings.lighting,
                  **(sensors.metadata() if sensors is not None else {}),
                  start="line", rules=settings.rules, reverse=settings.reverse, race=race)
    cars_of = [np.arange(i, heats * k, k) for i in range(k)]  # driver i is racer i of each heat
    routed = Routed([(mine, _Sees(driver.controller(cars.track, cars.sim.vehicle), driver,
                                  cars, mine))
                     for driver, mine in zip(drivers, cars_of, strict=True)],
                    observation=cars.observation)
    # Every racer of a heat races in the same light: heat h's cars all take seed + h.
    seeds = [settings.seed + car // k for car in range(heats * k)]
    result = rollout(cars, routed, seeds=seeds,
                     keep=Keep(trajectory=True, frames=keep_frames, params=True))
    runs = []
    for driver, mine in zip(drivers, cars_of, strict=True):
        episodes = [e for e in result.episodes if e.car in mine]
        if not settings.continuous:
            episodes = [replace(e, trial=e.car // k + 1) for e in episodes]
        paths = [result.trajectories[c] for c in mine]
        rows = [row for h, path in enumerate(paths)
                for row in trace_rows(path, None if settings.continuous else h)]
        runs.append(EvaluationRun(driver.label, replace(settings, race=race), episodes,
                                  rows, paths))
    places = [_finishing_order([r.trials for r in runs], h, settings.continuous)
              for h in range(heats)]
    return MatchResult(runs, places)


def _shared_view(drivers: Sequence[Driver]) -> Driver | None:
    """The one camera view every looking driver shares (None: nobody looks at a camera); a
    clear error when two drivers need different sensors or colours."""
    def view(driver: Driver) -> tuple[list[str], bool]:
        return (driver.sensors or Sensors()).names, driver.rgb  # None: the front camera

    lookers = [d for d in drivers if d.observation == "camera"]
    for other in lookers[1:]:
        first = lookers[0]
        mine, theirs = view(first), view(other)
        if mine != theirs:
            def seen(names: list[str], rgb: bool) -> str:
                return " + ".join(names) + (" in RGB" if rgb else " in grey")
            raise RacerlError(f"{first.label} sees {seen(*mine)} and {other.label} "
                              f"{seen(*theirs)}: the racers of one head-to-model match must "
                              "see the same sensors in the same colours")
    return lookers[0] if lookers else None


def _finishing_order(trials: list[list], heat: int, continuous: bool) -> list[int]:
    """Driver indices of one heat, winner first: more laps completed, then the shorter
    total time of those laps (penalties included), then more progress on the last lap."""
    def key(k: int) -> tuple:
        mine = trials[k] if continuous else [e for e in trials[k] if e.trial == heat + 1]
        laps = [e.lap_time for e in mine if e.lap_time is not None]
        unfinished = [e.progress for e in mine if e.lap_time is None]
        return (-len(laps), sum(laps), -(unfinished[-1] if unfinished else 100.0))
    return sorted(range(len(trials)), key=key)


class _Sees:
    """One driver's controller in a match, handed the observation it was trained on: its own
    newest frames of the shared stack, the state vector, or nothing (a scripted driver)."""

    def __init__(self, inner: Controller, driver: Driver, cars: Racers, mine: np.ndarray):
        self.inner, self.driver, self.cars, self.mine = inner, driver, cars, mine
        self.observation = cars.observation

    def act(self, car: CarState, obs: Observation | None) -> Commands:
        want = self.driver.observation
        if want is None:
            return self.inner.act(car, None)
        if want == "state":
            return self.inner.act(car, state_observation(self.cars.sim)[self.mine])
        channels = self.cars.camera.shape[-1] * self.driver.frame_stack
        if isinstance(obs, dict):
            camera = self.cars.sensors.camera
            return self.inner.act(car, {**obs, camera: obs[camera][..., -channels:]})
        return self.inner.act(car, obs[..., -channels:])
