"""``Traffic``: the objects of every car's world, laid out, moved and touched in batches.

:class:`~racerl.sim.batch.BatchSim` owns one. Each car drives in its own world with the
same race setup (:class:`~racerl.sim.race_setup.RaceSetup`): the static obstacles first,
then the bot cars, the order in which the simapp registers them (``rollout_worker.py``:
obstacles before bot cars), which is the order of the params' object lists. A world is laid
out afresh at every episode start of its car (obstacles ``reset_agent`` recomputes the poses;
randomised ones differ per episode), from the car's seed and its episode number since that
seed, so a seeded car sees the same layouts whatever the other cars do.

Head-to-model: the batch's cars in consecutive groups of ``racers_per_world`` share one
world, and each car's last objects are the other racers of its group in racer order (the
simapp registers the agents first, racecar_0, racecar_1, …, and leaves each agent itself
out of its object list: ``track_data.py`` ``get_object_reward_params``). They follow the
cars' poses (:meth:`Traffic.follow`); a racer whose episode is over (parked) is not present.
"""

from __future__ import annotations

import numpy as np

from racerl.sim.bots import BotCars
from racerl.sim.contacts import NO_CONTACT, first_contact
from racerl.sim.object_params import ObjectTrackPlaces, object_params
from racerl.sim.objects import (
    BOX_HEIGHT,
    BOX_LENGTH,
    BOX_WIDTH,
    CAR_HEIGHT,
    CAR_LENGTH,
    CAR_WIDTH,
    Kind,
    Objects,
)
from racerl.sim.obstacles import lane_poses, spaced, uniforms
from racerl.sim.race_setup import RaceSetup
from racerl.track.trackset import TrackSet

STREAM_OBSTACLES = 1


class Traffic:
    """Obstacles and bot cars of N worlds (see the module docstring)."""

    def __init__(self, setup: RaceSetup, n: int, courses: TrackSet):
        self.setup = setup
        self.courses = courses
        self.n_obstacles = setup.obstacles
        m = setup.objects
        self.n_bots = setup.bot_cars
        self.first_racer = self.n_obstacles + self.n_bots
        """The column of each car's first fellow racer (head-to-model)."""
        self.objects = Objects.empty(n, m)
        """The (N, M) objects; only :class:`Traffic` writes them."""
        parked = setup.is_obstacle_bot_car
        size = np.array([CAR_LENGTH, CAR_WIDTH, CAR_HEIGHT] if parked
                        else [BOX_LENGTH, BOX_WIDTH, BOX_HEIGHT])
        car = np.array([CAR_LENGTH, CAR_WIDTH, CAR_HEIGHT])
        sizes = np.array([size] * self.n_obstacles + [car] * (m - self.n_obstacles)
                         ).reshape(m, 3)
        self.objects.length[:], self.objects.width[:], self.objects.height[:] = sizes.T
        self.objects.kind[:, :self.n_obstacles] = Kind.BOT_CAR if parked else Kind.BOX
        self.objects.kind[:, self.n_obstacles:self.first_racer] = Kind.BOT_CAR
        self.objects.kind[:, self.first_racer:] = Kind.RACER
        self.objects.present[:] = True
        k = setup.racers_per_world
        racer = np.arange(n) % k
        self.racer = racer
        """Each car's racer number in its world (0 outside head-to-model)."""
        others = np.array([[s for s in range(k) if s != r] for r in range(k)],
                          dtype=np.int64).reshape(k, k - 1)
        self.mates = (np.arange(n) - racer)[:, None] + others[racer]
        """(N, K - 1) the batch index of each car's fellow racers, in racer order."""
        self.bots = BotCars(setup, n) if setup.bot_cars else None
        self.places = ObjectTrackPlaces.zeros(n, m)
        """Where the objects lie on their cars' tracks (for the params)."""
        self.seed = np.arange(n, dtype=np.uint64)
        """Each world's seed (its car's)."""
        self.episode = np.zeros(n, dtype=np.int64)
        """Layouts drawn since the seed was set."""

    @property
    def empty(self) -> bool:
        """A time trial: nothing on the track."""
        return self.objects.count == 0

    def reseed(self, cars: np.ndarray, seeds: np.ndarray) -> None:
        """Start the worlds of ``cars`` over from ``seeds`` (a seeded reset)."""
        self.seed[cars] = np.asarray(seeds).astype(np.uint64)
        self.episode[cars] = 0

    def lay_out(self, cars: np.ndarray, course: np.ndarray) -> None:
        """Fresh obstacles and bot cars for the worlds of ``cars`` (at an episode start),
        on their courses ``course`` (the course of each car of ``cars``)."""
        if self.empty or len(cars) == 0:
            return
        seed, episode = self.seed[cars], self.episode[cars]
        length = self.courses.length[course]
        k = self.n_obstacles
        if k:
            dist, outer = self._obstacle_places(length, seed, episode)
            xy, yaw = lane_poses(self.courses, course, dist, outer)
            self.objects.x[cars, :k], self.objects.y[cars, :k] = xy[..., 0], xy[..., 1]
            self.objects.yaw[cars, :k] = yaw
        if self.bots is not None:
            self.bots.reset(cars, length, seed, episode)
            self._place_bots(cars, course, np.zeros(len(cars)))
        self._measure(cars, course, np.arange(self.objects.count))
        self.episode[cars] += 1

    def _obstacle_places(self, length: np.ndarray, seed: np.ndarray, episode: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        s = self.setup
        if s.object_positions:  # fixed: lap fraction and lane, 1 inner, -1 outer
            fraction = np.array([f for f, _ in s.object_positions])
            outer = np.array([lane == -1 for _, lane in s.object_positions])
            return (fraction[None, :] * length[:, None],
                    np.broadcast_to(outer, (len(length), len(outer))).copy())
        first = s.min_distance_between_obstacles / 100.0 * length  # a percentage in the simapp
        draws = uniforms(seed, episode, STREAM_OBSTACLES, 3 * self.n_obstacles)
        return spaced(length, self.n_obstacles, first, s.randomize_obstacle_locations, draws)

    def advance(self, cars: np.ndarray, course: np.ndarray, t: np.ndarray) -> None:
        """Move the bot cars of ``cars`` (on ``course``) to episode time ``t``."""
        if self.bots is None or len(cars) == 0:
            return
        self.bots.schedule(cars, t, self.seed[cars], self.episode[cars] - 1)
        self._place_bots(cars, course, t)
        self._measure(cars, course, np.arange(self.n_obstacles, self.objects.count))

    def _measure(self, cars: np.ndarray, course: np.ndarray, columns: np.ndarray) -> None:
        """Measure objects ``columns`` of ``cars`` (on ``course``) on the track."""
        rows, cols = cars[:, None], columns[None, :]
        points = np.stack([self.objects.x[rows, cols], self.objects.y[rows, cols]], axis=-1)
        geo = self.courses.measure(points.reshape(-1, 2), np.repeat(course, len(columns)))
        shape = (len(cars), len(columns))
        self.places.ndist[rows, cols] = geo.ndist.reshape(shape)
        self.places.distance_from_center[rows, cols] = geo.distance_from_center.reshape(shape)
        self.places.is_left_of_center[rows, cols] = geo.is_left_of_center.reshape(shape)

    def _place_bots(self, cars: np.ndarray, course: np.ndarray, t: np.ndarray) -> None:
        k = self.n_obstacles
        xy, yaw = self.bots.poses(self.courses, course, t, cars)
        self.objects.x[cars, k:], self.objects.y[cars, k:] = xy[..., 0], xy[..., 1]
        self.objects.yaw[cars, k:] = yaw
        self.objects.speed[cars, k:] = self.setup.bot_car_speed

    def follow(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, speed: np.ndarray,
               course: np.ndarray, parked: np.ndarray) -> None:
        """Put every car's fellow racers where those cars now are (the racers' base_link
        poses and speeds), absent where a racer is parked (its episode over)."""
        if self.mates.shape[1] == 0:
            return
        cols = slice(self.first_racer, None)
        o, mates = self.objects, self.mates
        o.x[:, cols], o.y[:, cols], o.yaw[:, cols] = x[mates], y[mates], yaw[mates]
        o.speed[:, cols] = speed[mates]
        o.present[:, cols] = ~parked[mates]
        self._measure(np.arange(len(x)), course, np.arange(self.first_racer, o.count))

    def contacts(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray) -> np.ndarray:
        """(N,) the first object each car's footprint touches, ``NO_CONTACT`` if none."""
        if self.empty:
            return np.full(len(x), NO_CONTACT)
        return first_contact(x, y, yaw, self.objects)

    def is_bot(self, index: np.ndarray) -> np.ndarray:
        """Whether object indices (``NO_CONTACT`` allowed) are bot cars."""
        return (index >= self.n_obstacles) & (index < self.first_racer)

    def is_car(self, index: np.ndarray) -> np.ndarray:
        """Whether object indices (``NO_CONTACT`` allowed) are cars that drive (bot cars or
        other racers), not obstacles."""
        return index >= self.n_obstacles

    def is_racer(self, index: np.ndarray) -> np.ndarray:
        """Whether object indices (``NO_CONTACT`` allowed) are fellow racers."""
        return index >= self.first_racer

    def racer_car(self, cars: np.ndarray, index: np.ndarray) -> np.ndarray:
        """The batch index of the racer that is object ``index`` of each of ``cars``."""
        return self.mates[cars, index - self.first_racer]

    def obstacle_centres(self, cars: np.ndarray) -> np.ndarray:
        """(len(cars), K, 2) the static obstacles of those worlds (reset rule)."""
        k = self.n_obstacles
        return np.stack([self.objects.x[cars, :k], self.objects.y[cars, :k]], axis=-1)

    def params(self, course: np.ndarray, model_ndist: np.ndarray, x: np.ndarray,
               y: np.ndarray, yaw: np.ndarray) -> list[dict] | None:
        """The object keys of every car's params, None in a time trial (the defaults)."""
        if self.empty:
            return None
        speed = self.setup.bot_car_speed if self.bots is not None else None
        return object_params(self.objects, self.places, self.courses.length[course],
                             model_ndist, x, y, yaw, speed, own_entry=self.racer)
