"""``Racers``: the batch of cars as the envs see them, observations included.

This is the one place where the simulator, the action space, the camera, lighting
randomisation and frame stacking meet. The single-car :class:`~racerl.envs.single.RacerEnv` and
the batched :class:`~racerl.envs.vector.RacerVectorEnv` are both thin shells over it, so one car
in a batch behaves exactly like the single env under the same seed and actions.

Seeding: car ``i`` of a batch reset with seed ``s`` gets seed ``s + i`` (Gymnasium's
convention for vector envs); its k-th episode after that draws its lighting from
``numpy.random.default_rng([seed, k])``.

Several tracks: ``track`` may list tracks (DeepRacer-for-Cloud's multi-track training,
there one track per worker). Car ``i`` drives track ``i % len(track)``, with that track's
geometry, its own camera texture and light patches placed over its own room; the names of
the tracks must differ, because traces and metrics tell the tracks apart by name
(:attr:`Racers.track_name`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import gymnasium as gym
import numpy as np

from racerl.camera.front import Camera, LightingBatch
from racerl.camera.lighting import check_lighting, sample_lighting
from racerl.envs.actions import ActionSpace, load_action_space
from racerl.envs.checks import positive_int, positive_ints
from racerl.errors import TrackError
from racerl.reward.protocol import RewardSource, reward_source
from racerl.sim.batch import DEFAULT_MAX_STEPS, BatchSim
from racerl.sim.race_setup import RaceSetup, parse_object_positions
from racerl.sim.rules import EvaluationRules
from racerl.sim.vehicle import VehicleParams
from racerl.track.catalog import DEFAULT_TRACK, load_track
from racerl.track.geometry import Track

TrackSpec = str | Path | Track
"""A track as the envs take it: a name, a path to a .npy file, or a loaded track."""

OBSERVATIONS = ("camera", "state")
LOOKAHEAD_M = (0.3, 0.6, 1.0, 1.5, 2.0, 3.0)
STATE_SIZE = 5 + 2 * len(LOOKAHEAD_M)
STATE_LIMIT = 10.0


def state_observation(sim: BatchSim) -> np.ndarray:
    """(N, 17) float32 state vectors: speed, steering, offset, heading error, line ahead.

    Speed / 4 m/s, steering / 30°, signed offset from the centre line in half-widths (left
    positive), sin and cos of the heading error, and the centre line 0.3 to 3 m ahead as
    (x, y) in the car's frame divided by 3 m; all clipped to [-10, 10].
    """
    car, geo, courses = sim.car, sim.geometry, sim.courses
    half_width = np.maximum(0.5 * geo.track_width, 1e-6)
    offset = np.where(geo.is_left_of_center, 1.0, -1.0) * geo.distance_from_center / half_width
    error = car.yaw - geo.track_heading
    arc = (geo.ndist * courses.length[sim.course])[:, None] + np.asarray(LOOKAHEAD_M)[None, :]
    ahead, _ = courses.interpolate(arc, sim.course)
    dx, dy = ahead[..., 0] - car.x[:, None], ahead[..., 1] - car.y[:, None]
    c, s = np.cos(car.yaw)[:, None], np.sin(car.yaw)[:, None]
    local = np.stack([c * dx + s * dy, -s * dx + c * dy], axis=-1) / 3.0
    obs = np.concatenate([
        np.stack([car.speed / 4.0, np.degrees(car.steering) / 30.0, offset,
                  np.sin(error), np.cos(error)], axis=-1),
        local.reshape(len(car.x), -1),
    ], axis=-1)
    return np.clip(obs, -STATE_LIMIT, STATE_LIMIT).astype(np.float32)


@dataclass
class BatchStep:
    """One step of every car: arrays indexed by car (no autoreset applied)."""

    obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    status: list[str]
    params: list[dict]
    lap_time: np.ndarray
    pause_duration: np.ndarray


class Racers:
    """N cars on one track (or several) with their observations; see the module docstring.

    ``start``, ``start_offset`` and ``round_robin_step`` place each episode's start, and
    ``reverse`` and ``alternate_direction`` set its direction, as
    :class:`~racerl.sim.batch.BatchSim` describes (DeepRacer's ``CHANGE_START_POSITION``,
    ``START_POSITION_OFFSET``, ``ROUND_ROBIN_ADVANCE_DIST``, ``REVERSE_DIR`` and
    ``ALTERNATE_DRIVING_DIRECTION``).

    Obstacles and bot cars: ``race`` (a :class:`~racerl.sim.race_setup.RaceSetup`) or its
    fields as keywords (``race_type="object_avoidance", number_of_obstacles=3``;
    ``object_positions`` also as DRfC's ``"0.25,1;0.75,-1"`` text). A seeded reset restarts
    a car's object layouts from its seed.
    """

    def __init__(self, n: int, track: TrackSpec | Sequence[TrackSpec] = DEFAULT_TRACK,
                 reward_function: str | Path | Callable | RewardSource | None = None,
                 action_space: str | Path | dict | ActionSpace | None = None,
                 observation: str = "camera", rgb: bool = False, frame_stack: int = 1,
                 lighting: str = "studio", start: str = "round_robin",
                 max_steps: int | np.ndarray = DEFAULT_MAX_STEPS, reverse: bool = False,
                 vehicle: VehicleParams | None = None, camera_backend: str = "numba",
                 rules: EvaluationRules | None = None, start_offset: float = 0.0,
                 round_robin_step: float = 0.05, alternate_direction: bool = False,
                 race: RaceSetup | None = None, **race_options):
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, not {observation!r}")
        check_lighting(lighting)
        frame_stack = positive_int(frame_stack, "frame_stack")
        max_steps = (positive_int(max_steps, "max_steps") if np.ndim(max_steps) == 0
                     else positive_ints(max_steps, n, "max_steps"))
        self.n = n
        self.tracks = load_tracks(track, reverse)
        """The tracks the cars drive, in the directions they start in (car i: i % len)."""
        reward_function = reward_source(reward_function)
        self.actions = load_action_space(action_space)
        self.sim = BatchSim(self.tracks, n, reward=reward_function, vehicle=vehicle,
                            start=start, start_offset=start_offset,
                            round_robin_step=round_robin_step, max_steps=max_steps,
                            rules=rules, alternate_direction=alternate_direction,
                            race=race_setup(race, race_options))
        self.track_name = np.array([t.name for t in self.tracks], dtype=object)[self.sim.home]
        """(N,) the name of each car's track, for traces and metrics."""
        self.observation = observation
        self.lighting = lighting
        self.frame_stack = frame_stack
        self.car_seed = np.arange(n, dtype=np.int64)
        self.episodes_since_seed = np.zeros(n, dtype=np.int64)
        self.frame = np.zeros(n, dtype=np.uint64)
        if observation == "camera":
            self.camera = Camera(self.tracks, rgb=rgb, backend=camera_backend)
            self.lights = LightingBatch.studio(n)
            h, w, c = self.camera.shape
            self._stack = np.zeros((n, h, w, c * frame_stack), dtype=np.uint8)
            self.single_observation_space = gym.spaces.Box(0, 255, self._stack.shape[1:],
                                                           dtype=np.uint8)
        else:
            self.camera = None
            self.single_observation_space = gym.spaces.Box(
                -STATE_LIMIT, STATE_LIMIT, (STATE_SIZE,), dtype=np.float32)
        self.single_action_space = self.actions.gym_space()
        self._rooms: dict[int, np.ndarray] = {}

    @property
    def track(self) -> Track:
        """The track of a batch on one track (a batch on several has none: see
        :attr:`tracks`)."""
        if len(self.tracks) > 1:
            raise ValueError(f"the cars drive {len(self.tracks)} tracks; see Racers.tracks")
        return self.tracks[0]

    # -- episodes -----------------------------------------------------------------------------

    def reset(self, cars: np.ndarray, seeds: list[int | None] | None = None,
              start_ndist: np.ndarray | float | None = None) -> np.ndarray:
        """Start new episodes for ``cars``; a seed restarts that car's episode sequence;
        ``start_ndist`` (one lap fraction, or one per car) overrides the start mode."""
        cars = np.asarray(cars, dtype=np.int64)
        seeded = np.array([seeds is not None and seeds[k] is not None
                           for k in range(len(cars))], dtype=bool)
        for k in np.flatnonzero(seeded):
            self.car_seed[cars[k]] = seeds[k]
            self.episodes_since_seed[cars[k]] = 0
        # A seed restarts the round-robin starts too.
        self.sim.reset(cars, start_ndist=start_ndist, restart_cycle=seeded,
                       seeds=self.car_seed[cars])
        if self.camera is not None:
            self._new_lighting(cars)
        self.episodes_since_seed[cars] += 1
        obs = self.observe(cars, fresh=True)
        return obs

    def _new_lighting(self, cars: np.ndarray) -> None:
        if self.lighting == "studio":  # nothing to draw: studio light never changes
            self.frame[cars] = 0
            return
        for car in cars:
            seq = [int(self.car_seed[car]) & 0xFFFFFFFF, int(self.episodes_since_seed[car])]
            rng = np.random.default_rng(seq)
            light = sample_lighting(self.lighting, rng, self.room_bounds(int(car)))
            noise_seed = int(np.random.SeedSequence(seq).generate_state(1)[0])
            self.lights.set(int(car), light, noise_seed)
            self.frame[car] = 0

    def room_bounds(self, car: int = 0) -> np.ndarray:
        """(2, 2) min and max corners of the room where light patches may fall, the room
        of car ``car``'s track."""
        home = int(self.sim.home[car])
        if home not in self._rooms:
            pts = self.tracks[home].rows.reshape(-1, 2)
            self._rooms[home] = np.stack([pts.min(axis=0) - 0.5, pts.max(axis=0) + 0.5])
        return self._rooms[home]

    # -- stepping -----------------------------------------------------------------------------

    def step(self, actions: np.ndarray) -> BatchStep:
        """Apply one action per car (ids or normalised boxes) for one camera frame."""
        return self.drive(*self.actions.to_physical(actions))

    def drive(self, steering_deg: np.ndarray, speed: np.ndarray,
              hold: np.ndarray | None = None) -> BatchStep:
        """Apply physical commands (degrees, m/s) per car, e.g. from a scripted driver;
        ``hold`` keeps some cars standing (see :meth:`racerl.sim.batch.BatchSim.step`).
        A NaN or infinite command is refused before any car moves: it would turn the car's
        pose, and every params dict after it, into NaN."""
        if not (np.isfinite(steering_deg).all() and np.isfinite(speed).all()):
            self._refuse_commands(steering_deg, speed)
        result = self.sim.step(steering_deg, speed, hold=hold)
        obs = self.observe(np.arange(self.n), fresh=False)
        return BatchStep(obs, result.rewards, result.terminated, result.truncated,
                         result.status, result.params, result.lap_time, result.pause_duration)

    def _refuse_commands(self, steering_deg: np.ndarray, speed: np.ndarray) -> NoReturn:
        """Name the first car with a non-finite command."""
        steering_deg = np.broadcast_to(np.asarray(steering_deg, dtype=np.float64), (self.n,))
        speed = np.broadcast_to(np.asarray(speed, dtype=np.float64), (self.n,))
        car = int(np.flatnonzero(~(np.isfinite(steering_deg) & np.isfinite(speed)))[0])
        raise ValueError(f"car {car}: steering {steering_deg[car]} degrees, speed "
                         f"{speed[car]} m/s: commands must be finite numbers")

    def observe(self, cars: np.ndarray, fresh: bool) -> np.ndarray:
        """Observations of ``cars`` (a new array); ``fresh`` fills the frame stack (a car
        that has just been reset or placed)."""
        if self.camera is None:
            return state_observation(self.sim)[cars]
        car = self.sim.car
        everyone = len(cars) == self.n
        pick = slice(None) if everyone else cars
        lights = self.lights if everyone else self.lights.subset(cars)
        objects = self.sim.objects if everyone else self.sim.objects.subset(cars)
        frames = self.camera.render(car.x[pick], car.y[pick], car.yaw[pick], lights,
                                    self.frame[pick], texture=self.sim.home[pick],
                                    objects=objects)
        self.frame[pick] += np.uint64(1)
        if self.frame_stack == 1:
            return frames
        c = frames.shape[-1]
        if fresh:
            self._stack[pick] = np.tile(frames, (1, 1, 1, self.frame_stack))
        else:
            self._stack[pick, :, :, :-c] = self._stack[pick, :, :, c:]
            self._stack[pick, :, :, -c:] = frames
        return self._stack[pick].copy()


def race_setup(race: RaceSetup | None, options: dict) -> RaceSetup:
    """The race setup from a :class:`RaceSetup` or its fields as keywords (not both)."""
    if race is not None and options:
        raise TypeError(f"give either race= or its options ({', '.join(options)}), not both")
    if race is not None:
        return race
    fields = set(RaceSetup.__dataclass_fields__)
    unknown = sorted(set(options) - fields)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(unknown)}")
    if isinstance(options.get("object_positions"), str):
        options = {**options,
                   "object_positions": parse_object_positions(options["object_positions"])}
    return RaceSetup(**options)


def load_tracks(track: TrackSpec | Sequence[TrackSpec], reverse: bool = False) -> list[Track]:
    """The tracks of a batch, each loaded (``reverse``: the other way round); a list must
    name distinct tracks, one clear error naming the first repeated name otherwise."""
    specs = [track] if isinstance(track, str | Path | Track) else list(track)
    if not specs:
        raise ValueError("track: give at least one track")
    tracks = [load_track(spec, reverse=reverse) for spec in specs]
    names = [t.name for t in tracks]
    for k, name in enumerate(names):
        if name in names[:k]:
            raise TrackError(f"track {name!r} is listed twice: each track of a multi-track "
                             "batch needs a name of its own")
    return tracks
