"""Scripted behaviours for the reward lab and the reward check, driven in batches.

Each behaviour is a way a policy could learn to drive — well (centre line, race line) or
badly (weaving, hugging a border, crawling, stopping, leaving the track, driving backwards).
They run through :func:`~racerl.drive.rollout.rollout`, one car per behaviour (and per start
point), with the real simulator and the user's reward function, so what each earns is
exactly what training would pay it. The unwanted ones come in variants
(:func:`search_behaviours`): a reward may leave the default weave unpaid and pay a tighter
one. Every line that is an offset from the centre line — the centre-line drives at every
speed, crawling, every weave and every border — is followed by one batched
:class:`~racerl.drive.pursuit.LanePursuit`, so a batch of many variants is driven by a
handful of array operations per step, not a loop over cars or lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from racerl.drive.object_behaviours import ObjectBehaviour, ObjectDriver
from racerl.drive.pursuit import LanePursuit, PurePursuitDriver, RaceLineDriver
from racerl.drive.raceline import CAR_HALF_WIDTH, LaneFrame, compute_raceline, lane_frame
from racerl.drive.rollout import Commands, Controller, Episode, Keep, Routed, Trajectory, rollout
from racerl.envs.cars import Racers
from racerl.reward.protocol import RewardSource
from racerl.sim.objects import Objects
from racerl.sim.race_setup import RaceSetup
from racerl.sim.vehicle import CONTROL_DT, CarState, VehicleParams
from racerl.track.geometry import Track

SLOW, MEDIUM, FAST = 0.5, 1.0, 2.0  # m/s for the centre-line drives
ZIGZAG_SWING = 0.2  # of the track width, each side of the centre line
ZIGZAG_PERIOD = 1.2  # seconds from one swing to the next in the same direction
HUG_GAP = 0.02  # metres between the outer wheels and the border
LOOKAHEAD = 0.45  # metres: pure pursuit's default, smooth on the centre line and borders
OFF_TRACK_STEER = 15.0  # degrees steered away from the track's turn when leaving it
MAX_STEPS = 3000  # 200 s of driving: enough for a lap at crawling speed on most tracks
LINE_SPACING = 0.05  # metres between the points of the lines the lane drives follow
BATCH_SPREAD = 2.5  # the longest episode of a batch is at most this many times its shortest
ENDS_AT_ONCE = 20  # steps: standing still, reversing or leaving the track end an episode

# The search over each unwanted behaviour's parameters (see search_behaviours): weaves
# narrow and wide, quick and slow, at the medium and the slow centre-line speed; crawling
# speeds below the slow centre drive; both borders at three distances. The first value of
# each is the default behaviour's.
ZIGZAG_SWINGS = (0.2, 0.05, 0.1, 0.15, 0.3)  # of the track width, each side
ZIGZAG_PERIODS = (1.2, 0.8, 1.6, 3.0)  # seconds per full wave
ZIGZAG_SPEEDS = (MEDIUM, SLOW)  # m/s: a slow weave can be tighter, so longer per lap
CRAWL_SPEEDS: tuple[float | None, ...] = (None, 0.2, 0.3)  # m/s, None: the car's minimum
HUG_SIDES = ("left", "right")
HUG_GAPS = (HUG_GAP, 0.1, 0.2)  # metres between the outer wheels and the border

LANE_LINES = ("centre", "zigzag", "hug")  # the lines one LanePursuit drives together


@dataclass(frozen=True)
class Behaviour:
    """One scripted way to drive: ``good`` behaviours are the ones a developer wants.

    ``line`` is what the car follows: ``centre``, ``raceline``, ``zigzag`` (a weave of
    ``swing`` each side and ``period`` seconds), ``hug`` (a border, ``side``, with ``gap``
    metres to spare), ``reverse`` (the centre line the other way) or ``constant`` (a fixed
    command: ``steer_out`` degrees away from the track's turn, or ``hold`` to stand still).
    Variants of one behaviour share its ``key``; their labels name their parameters.
    """

    key: str
    label: str
    good: bool
    line: str
    speed: float | None = MEDIUM
    """Commanded m/s; None is the car's minimum speed."""
    steer_out: float = 0.0
    hold: bool = False
    turned: bool = False
    """Start facing backwards."""
    swing: float = ZIGZAG_SWING
    """A weave's swing each side of the centre line, as a fraction of the track width."""
    period: float = ZIGZAG_PERIOD
    """A weave's seconds from one swing to the next in the same direction."""
    side: str = "left"
    """The border a hugging car follows."""
    gap: float = HUG_GAP
    """Metres between a hugging car's outer wheels and its border."""
    object_mode: str = ""
    """With ``line="objects"``: how the car treats the next object ahead (see
    :mod:`racerl.drive.object_behaviours`)."""


def zigzag(swing: float = ZIGZAG_SWING, period: float = ZIGZAG_PERIOD,
           speed: float = MEDIUM) -> Behaviour:
    """The weave a reward paying for "near the centre" may not see."""
    return Behaviour("zigzag", f"zig-zag ±{swing:.0%} of the width, {period:g} s waves, "
                     f"{speed:g} m/s", False, "zigzag", speed, swing=swing, period=period)


def hug_border(side: str = "left", gap: float = HUG_GAP) -> Behaviour:
    return Behaviour("hug_border", f"hugging the {side} border {gap * 100:.0f} cm inside, "
                     f"{MEDIUM:g} m/s", False, "hug", MEDIUM, side=side, gap=gap)


def crawl(speed: float | None = None) -> Behaviour:
    label = "crawling at minimum speed" if speed is None else f"crawling at {speed:g} m/s"
    return Behaviour("crawl", label, False, "centre", speed)


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("centre_slow", f"centre line {SLOW:g} m/s", True, "centre", SLOW),
    Behaviour("centre_medium", f"centre line {MEDIUM:g} m/s", True, "centre", MEDIUM),
    Behaviour("centre_fast", f"centre line {FAST:g} m/s", True, "centre", FAST),
    Behaviour("raceline", "race line", True, "raceline", None),
    zigzag(),
    hug_border(),
    crawl(),
    # Speed 0 (the params say 0; the car model would still roll at its minimum speed, so
    # the car is held where it is).
    Behaviour("stop", "standing still", False, "constant", 0.0, hold=True),
    Behaviour("off_track", "leaving the track", False, "constant", MEDIUM,
              steer_out=OFF_TRACK_STEER),
    Behaviour("reverse", "driving in reverse", False, "reverse", turned=True),
)
"""One of each behaviour, with its default parameters (the reward check drives these)."""


def avoid(speed: float) -> Behaviour:
    """The wanted way round obstacles and bot cars: the lane away from the next one."""
    return Behaviour(f"avoid_{speed:g}", f"avoiding objects early {speed:g} m/s", True,
                     "objects", speed, object_mode="avoid")


OBJECT_BEHAVIOURS: tuple[Behaviour, ...] = (
    avoid(SLOW), avoid(MEDIUM), avoid(FAST),
    Behaviour("late_swerve", f"swerving at the last moment {MEDIUM:g} m/s", False, "objects",
              MEDIUM, object_mode="late"),
    Behaviour("crash", f"driving straight into the objects {MEDIUM:g} m/s", False, "objects",
              MEDIUM, object_mode="through"),
    Behaviour("stop_at_object", "stopping in front of the next object", False, "objects",
              MEDIUM, object_mode="stop"),
    *(b for b in BEHAVIOURS if b.key in ("stop", "off_track", "reverse")),
)
"""What the lab drives in an object-avoidance race: the centre-line and race-line drives
would crash into the boxes, so avoiding them early is the good driving."""

TAILGATE = Behaviour("tailgate", "tailgating the bot car ahead", False, "objects", FAST,
                     object_mode="tailgate")
"""Head-to-bot races add sitting behind a slow bot car instead of passing it."""


def behaviours_for(race: RaceSetup | None) -> tuple[Behaviour, ...]:
    """The behaviours of the reward check for ``race``: :data:`BEHAVIOURS` in a time trial,
    :data:`OBJECT_BEHAVIOURS` (and :data:`TAILGATE` with bot cars) among objects."""
    if race is None or not race.objects:
        return BEHAVIOURS
    return OBJECT_BEHAVIOURS + ((TAILGATE,) if race.race_type == "head_to_bot" else ())


def search_behaviours(race: RaceSetup | None = None) -> tuple[Behaviour, ...]:
    """:func:`behaviours_for` ``race`` with each searched behaviour replaced by every
    variant of its grid (the default variant first): what the reward lab drives."""
    if race is not None and race.objects:
        return behaviours_for(race)
    variants = {
        "zigzag": [zigzag(s, p, v) for v in ZIGZAG_SPEEDS for s in ZIGZAG_SWINGS
                   for p in ZIGZAG_PERIODS],
        "hug_border": [hug_border(side, g) for side in HUG_SIDES for g in HUG_GAPS],
        "crawl": [crawl(v) for v in CRAWL_SPEEDS],
    }
    return tuple(v for b in BEHAVIOURS for v in variants.get(b.key, [b]))


@dataclass
class ConstantCommands:
    """The same command every step, one per car (``hold`` cars stand still)."""

    steering: np.ndarray
    speed: np.ndarray
    hold: np.ndarray
    observation = None

    def act(self, car: CarState, obs: np.ndarray | None = None) -> Commands:
        return Commands(self.steering.copy(), self.speed.copy(), hold=self.hold.copy())


def lane_offsets(track: Track, frame: LaneFrame, b: Behaviour) -> np.ndarray:
    """The line ``b`` follows, as metres left of the centre at each point of ``frame``."""
    left, right = frame.left, frame.right
    if b.line == "zigzag":
        # Whole waves round the lap (a closed line), each as long as the car drives in one
        # period, and never closer to a border than the car's half width.
        waves = max(1, round(track.length / (b.period * (b.speed or MEDIUM))))
        swing = np.minimum(b.swing * (left + right), np.minimum(left, right) - CAR_HALF_WIDTH)
        return np.maximum(swing, 0.0) * np.sin(2 * np.pi * waves * frame.arc / track.length)
    if b.line == "hug":
        room = (left if b.side == "left" else right) - CAR_HALF_WIDTH - b.gap
        return np.maximum(room, 0.0) * (1.0 if b.side == "left" else -1.0)
    return np.zeros_like(frame.arc)


def lane_lookahead(b: Behaviour) -> float:
    """A quarter wave for a weave (a longer look-ahead would cut its swings short), capped
    at the default; the default otherwise."""
    if b.line != "zigzag":
        return LOOKAHEAD
    return float(np.clip(b.period * (b.speed or MEDIUM) / 4, 0.15, LOOKAHEAD))


def behaviour_controller(track: Track, behaviours: tuple[Behaviour, ...],
                         vehicle: VehicleParams,
                         objects: Callable[[], Objects] | None = None) -> Routed:
    """One controller for a batch of behaviours, car i driving ``behaviours[i]``: every
    centre-line, weave and border drive shares one :class:`LanePursuit`, so a search over
    many variants costs no more controller work per step than one drive. ``objects`` gives
    the simulator's objects, for the ``objects`` drives."""
    groups: dict[str, list[int]] = {}
    for i, b in enumerate(behaviours):
        groups.setdefault("lane" if b.line in LANE_LINES else b.line, []).append(i)
    routed: list[tuple[np.ndarray, Controller]] = []
    for line, cars in groups.items():
        members = [behaviours[i] for i in cars]
        speed = np.array([vehicle.min_speed if b.speed is None else b.speed for b in members])
        if line == "objects":
            if objects is None:
                raise ValueError("object behaviours need the simulator's objects")
            driver = ObjectDriver(track, lane_frame(track, spacing=LINE_SPACING), np.array(cars),
                                  [ObjectBehaviour(b.object_mode, float(s))
                                   for b, s in zip(members, speed, strict=True)],
                                  objects, vehicle)
            routed.append((np.array(cars), driver))
            continue
        routed.append((np.array(cars), _controller(track, vehicle, line, members, speed)))
    return Routed(routed)


def _controller(track: Track, vehicle: VehicleParams, line: str, members: list[Behaviour],
                speed: np.ndarray) -> Controller:
    if line == "lane":
        frame = lane_frame(track, spacing=LINE_SPACING)
        offsets = np.stack([lane_offsets(track, frame, b) for b in members])
        lookahead = np.array([lane_lookahead(b) for b in members])
        return LanePursuit(track, frame, offsets, speed, lookahead, vehicle=vehicle)
    if line == "reverse":
        return PurePursuitDriver(track, speed, line=track.reverse().waypoints, vehicle=vehicle)
    if line == "raceline":
        return RaceLineDriver(track, compute_raceline(track, vehicle), vehicle=vehicle)
    if line == "constant":
        away = -1.0 if track.is_ccw else 1.0  # steer against the turn: towards the outside
        return ConstantCommands(np.array([away * b.steer_out for b in members]), speed,
                                np.array([b.hold for b in members]))
    raise ValueError(f"behaviour line {line!r} is not one of centre, zigzag, hug, reverse, "
                     "raceline, constant")


@dataclass
class Drive:
    """One behaviour's episode from ``start`` (a fraction of the lap; 0 is the start line)
    and the steps it drove."""

    behaviour: Behaviour
    episode: Episode
    path: Trajectory
    start: float = 0.0

    @property
    def rewards(self) -> list[float]:
        """The reward of every RUN step (the PREPARE step pays nothing and is left out)."""
        return self.path.rewards[1:]

    @property
    def points(self) -> list[tuple[float, float]]:
        """The params' x, y of every RUN step."""
        return self.path.points[1:]

    @property
    def params(self) -> list[dict]:
        """The params of every RUN step (kept only when asked for)."""
        return self.path.params[1:]


def drive_behaviours(track: Track, reward: RewardSource | None = None,
                     behaviours: tuple[Behaviour, ...] = BEHAVIOURS,
                     vehicle: VehicleParams | None = None, max_steps: int = MAX_STEPS,
                     keep_params: bool = False, starts: tuple[float, ...] = (0.0,),
                     horizon: int | None = None, race: RaceSetup | None = None
                     ) -> list[Drive]:
    """Drive every behaviour for one episode from each of ``starts`` (fractions of the lap);
    ``max_steps`` bounds the slowest behaviour, ``horizon`` (RUN steps) the episodes from
    starts other than the start line, which then serve a discounted value only; ``race``
    puts obstacles or bot cars on the track. The
    drives come back start by start, each in the order of ``behaviours``.

    The cars go in batches of similar episode length (see :func:`batches`): a batch steps
    until its longest episode is done, and every car of it, finished or not, costs a params
    dict per step, so the many short drives must not wait for a crawl step by step.
    """
    vehicle = vehicle or VehicleParams()
    cars = [(b, float(s)) for s in starts for b in behaviours]
    limit = np.array([max_steps if s == 0.0 or horizon is None else min(max_steps, horizon + 1)
                      for _, s in cars])  # + 1: the PREPARE step counts
    expected = np.minimum(limit, [_expected_steps(b, track, vehicle) for b, _ in cars])
    drives: dict[int, Drive] = {}
    for batch in batches(expected):
        members = tuple(cars[i][0] for i in batch)
        at = np.array([cars[i][1] for i in batch])
        sim = Racers(len(batch), track=track, reward_function=reward, observation="state",
                     start="line", max_steps=limit[batch], vehicle=vehicle, race=race)
        controller = behaviour_controller(track, members, vehicle, lambda sim=sim: sim.sim.objects)
        result = rollout(sim, controller,
                         keep=Keep(trajectory=True, params=keep_params),
                         turned=np.array([b.turned for b in members]), starts=at)
        for i, b, e, t in zip(batch, members, result.episodes, result.trajectories,
                              strict=True):
            drives[int(i)] = Drive(b, e, t, cars[i][1])
    return [drives[i] for i in range(len(cars))]


def batches(expected: np.ndarray, spread: float = BATCH_SPREAD) -> list[np.ndarray]:
    """Car indices in batches, shortest episodes first, each batch's longest ``expected``
    episode at most ``spread`` times its shortest."""
    order = np.argsort(expected, kind="stable")
    out: list[list[int]] = []
    for i in order:
        if not out or expected[i] > spread * expected[out[-1][0]]:
            out.append([])
        out[-1].append(int(i))
    return [np.array(b) for b in out]


def _expected_steps(b: Behaviour, track: Track, vehicle: VehicleParams) -> float:
    """Roughly how many steps the behaviour's episode lasts, to batch it with its peers."""
    if b.line in ("constant", "reverse") or b.object_mode == "stop":
        return ENDS_AT_ONCE
    speed = FAST if b.line == "raceline" else max(b.speed or 0.0, vehicle.min_speed)
    return track.length / speed / CONTROL_DT
