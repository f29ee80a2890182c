"""``BatchSim``: N cars on one track or several, stepped together under DeepRacer's rules.

State is two structs of arrays: the cars' poses and actuators
(:class:`~racerl.sim.vehicle.CarState`) and their episode counters
(:class:`~racerl.sim.state.EpisodeState`). Only this class writes them: other packages move
cars through :meth:`BatchSim.reset`, :meth:`BatchSim.place`, :meth:`BatchSim.park` and the
``hold`` argument of :meth:`BatchSim.step`, and read the arrays. One step is a few NumPy
operations for the whole batch plus one batched reward call (the reward source scores every
RUN car of the step at once). The order inside a step follows reference section 2.5: params and
episode rules describe the car *before* the action moves it, the physics then advances one
camera frame (1/15 s), and the reward function is called with those params.

Episode rules (reference section 8): the first step after a reset is a PREPARE step (zero
command, ``steps`` = 1.0, reward 0, reward function not called); then RUN steps until the
first of, in this priority, ``lap_complete`` (progress ≥ 100), ``crashed``, ``off_track``
(no wheel centre on the road), ``immobilized`` (15 RUN steps moving ≤ 0.3 mm) or
``reversed`` (15 RUN steps of falling progress); ``max_steps`` (one limit, or one per car)
truncates.

Tracks: car i drives ``tracks[i % T]`` (T tracks), each track in the direction it was
loaded in; it is car j = i // T of its track. On one track, j = i. A batch may be a slice of
a larger one (``first_car``, rollout workers in other processes): its car i is then car
``first_car + i`` of the whole, with that car's track and start points.

Start positions (reference 8.1): ``start="round_robin"`` (training, DeepRacer's
``CHANGE_START_POSITION``) starts episode k of car j at
``(start_offset + (k + j) * round_robin_step) mod 1`` of the lap (``START_POSITION_OFFSET``,
``ROUND_ROBIN_ADVANCE_DIST``), so one car cycles through DeepRacer's 20 start points 5 %
apart and the cars of a track spread over them: car j goes on as a DeepRacer worker would
from its j-th episode. ``start="line"`` (evaluation) always starts at ``start_offset``
(0: the line).

Directions: with ``alternate_direction`` (``ALTERNATE_DRIVING_DIRECTION``) a car's episodes
alternate between its track's direction and the other, episode k of car j turned round
when k + j is odd, as a worker flips ``REVERSE_DIR`` after every training episode. Every
track and direction the batch drives is one entry of :attr:`BatchSim.courses` (a
:class:`~racerl.track.trackset.TrackSet`), and :attr:`BatchSim.course` says which one each
car is on: each geometry query is one batched call per course.

Evaluation and race rules (reference section 9) are switched on by passing
:class:`~racerl.sim.rules.EvaluationRules`: then off-track, reversed and immobilized put
the car back in a lane (:func:`~racerl.sim.rules.reset_pose`) and freeze it from the next
step until the penalty is served, at least one step even for a 0 s penalty (status
``pause``, reward 0 and no reward call, the clock running), until the reset budget is
spent. A lap completed while paused counts. When ``laps`` > 1 (a continuous race) every lap
restarts the lap timer and only the last one ends the episode as ``lap_complete``, the
earlier ones keep their step's status (``in_progress``). ``time_up`` exists only where
``race_duration`` is set: the episode ends on the first step whose race time exceeds it.

Objects (``race``, a :class:`~racerl.sim.race_setup.RaceSetup`): each car has its own world
of static obstacles and bot cars, :attr:`BatchSim.objects`, laid out at each of its episode
starts and the bots moved every step (:class:`~racerl.sim.traffic.Traffic`); a time trial has
none (M = 0) and steps exactly as before. A RUN car whose crash footprint has a corner inside
an object's is ``crashed`` (``is_crashed`` True), which ends a training episode. Into a bot
car only counts when the car is behind the bot (its lap fraction smaller, simapp
``rollout_agent_ctrl.py`` ``_check_for_episode_termination``); when the bot ran into the car
from behind the car drives on and every bot of its world stops for ``bot_car_penalty``
(``bot_cars_agent_ctrl.py`` ``judge_action``). Under evaluation rules a crash costs
``collision_penalty`` seconds: after an obstacle the car is put back at its current progress,
moved ``reset_behind_dist`` behind an obstacle within 1 m, in the other lane (simapp
``_judge_action_at_run_phase``, "reset first and then pause"); after a bot car it is frozen
where it is.

Head-to-model (``race.race_type == "head_to_model"``): the cars in consecutive groups of
``race.racers`` share one world on one track, each the other's object (``RACER``), so each
sees the others in its params, its camera and its lidar. Racer k of a group starts
``k * START_GAP`` (0.75 m) behind the start, outer lane for even k and inner for odd, its
progress counted from the start (negative until it crosses it), as the simapp's
``get_start_positions`` and ``_start_lane_`` place DeepRacer's agents. Two racers
touching: the one behind, by lap fraction from the start, is ``crashed`` and the one ahead
drives on (``_check_for_episode_termination``), and under evaluation rules the crashed one
is frozen where it is. ``race.done_condition`` ``any`` (the simapp's default) ends every
racer of a group on the step the first one's episode ends, the others ``truncated``;
``all`` lets the others drive on while a finished racer, parked, leaves the track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from racerl.reward.function import DEFAULT_EXAMPLE, load_reward_function
from racerl.reward.protocol import RewardSource
from racerl.sim.contacts import NO_CONTACT
from racerl.sim.objects import Objects
from racerl.sim.obstacles import lane_poses
from racerl.sim.params import ParamsBatch, as_pylist, build_params, progress_value
from racerl.sim.race_setup import START_GAP, RaceSetup, RaceType
from racerl.sim.rules import EvaluationRules, reset_pose
from racerl.sim.state import PENALISED, TERMINAL, EpisodeState, Status
from racerl.sim.traffic import Traffic
from racerl.sim.vehicle import CONTROL_DT, CarState, VehicleParams, advance, clip_commands
from racerl.track.geometry import Track
from racerl.track.trackset import TrackSet

IMMOBILIZED_DISTANCE = 0.0003  # metres per step (reference 8.3)
RULE_COUNT = 15  # consecutive RUN steps for immobilized and reversed (reference 8.3)
DEFAULT_MAX_STEPS = 100_000
START_MODES = ("round_robin", "line")


@dataclass
class StepResult:
    """What one :meth:`BatchSim.step` produced, one entry per car."""

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    status: list[Status]
    params: list[dict]
    lap_time: np.ndarray  # seconds on lap_complete, NaN otherwise
    pause_duration: np.ndarray  # penalty seconds still to serve after this step


class BatchSim:
    """Step N cars at once on one track or several (car i on ``track[i % len(track)]``).
    Cars are reset individually by the caller."""

    def __init__(self, track: Track | Sequence[Track], n_cars: int = 1,
                 reward: RewardSource | None = None, vehicle: VehicleParams | None = None,
                 start: str = "round_robin", start_offset: float = 0.0,
                 round_robin_step: float = 0.05, max_steps: int | np.ndarray = DEFAULT_MAX_STEPS,
                 rules: EvaluationRules | None = None, alternate_direction: bool = False,
                 first_car: int = 0, race: RaceSetup | None = None):
        if start not in START_MODES:
            raise ValueError(f"start must be 'round_robin' or 'line', not {start!r}")
        tracks = [track] if isinstance(track, Track) else list(track)
        if not 1 <= len(tracks) <= n_cars:
            raise ValueError(f"{n_cars} car(s) cannot drive {len(tracks)} tracks: every "
                             "track needs at least one car")
        if not (0.0 <= start_offset <= 1.0 and 0.0 <= round_robin_step <= 1.0):
            raise ValueError(f"start_offset ({start_offset}) and round_robin_step "
                             f"({round_robin_step}) are lap fractions in [0, 1]")
        self.tracks = tuple(tracks)
        """The tracks in the directions they were given; car i is on track i % len."""
        self.alternate_direction = alternate_direction
        self.courses = TrackSet([*tracks, *(t.reverse() for t in tracks)]
                                if alternate_direction else tracks)
        """Every track and direction a car may drive (the turned-round ones last)."""
        whole = first_car + np.arange(n_cars)  # each car's number in the whole batch
        self.home = whole % len(tracks)
        """Each car's track, an index into :attr:`tracks`."""
        self.slot = whole // len(tracks)
        """Each car's number among the cars on its track (its place in the start cycle)."""
        self.course = self.home.copy()
        """Each car's current track and direction, an index into :attr:`courses`."""
        self.n = n_cars
        self.vehicle = vehicle or VehicleParams()
        self.start = start
        self.start_offset = start_offset
        self.round_robin_step = round_robin_step
        self.max_steps = max_steps
        self.rules = rules
        self.reward: RewardSource = reward or load_reward_function(DEFAULT_EXAMPLE)
        self.reward_fns = [self.reward.instance() for _ in range(n_cars)]
        self._waypoints = [[tuple(p) for p in t.waypoints.tolist()] for t in self.courses]
        self.car = CarState.zeros(n_cars)
        self.state = EpisodeState.zeros(n_cars)
        self.race = race or RaceSetup()
        self._check_head_to_model(first_car)
        self.traffic = Traffic(self.race, n_cars, self.courses)
        self.parked = np.zeros(n_cars, dtype=bool)
        """Cars taken out of the run (:meth:`park`): not on the track for other racers."""
        self.geometry = self.courses.measure(self.car.model_point(), self.course)
        self.reset()
        self.state.episodes_started[:] = 0  # placing the cars is not an episode yet

    def _check_head_to_model(self, first_car: int) -> None:
        """A head-to-model batch is whole groups of racers on one track, one direction."""
        k = self.race.racers_per_world
        if k == 1:
            return
        if self.n % k or first_car % k:
            raise ValueError(f"a head-to-model batch races groups of {k} cars: {self.n} "
                             f"car(s) from car {first_car} do not make whole groups "
                             "(head-to-model races are raced, not trained: racerl race "
                             "create --type head-to-model, or evaluate_match)")
        if len(self.courses) > 1:
            raise ValueError("head-to-model racers share one track in one direction: give "
                             "one track and no alternate_direction")

    @property
    def objects(self) -> Objects:
        """The obstacles and bot cars of every car's world, (N, M) arrays (M = 0 in a time
        trial); read them, :class:`~racerl.sim.traffic.Traffic` moves them."""
        return self.traffic.objects

    @property
    def track(self) -> Track:
        """The one track every car drives; a batch of several tracks or directions has
        none (see :attr:`courses` and :meth:`track_of`)."""
        if len(self.courses) > 1:
            raise ValueError(f"the cars drive {len(self.courses)} tracks or directions: "
                             "ask track_of(car) for a car's")
        return self.courses[0]

    def track_of(self, car: int) -> Track:
        """The track (in its direction) car ``car`` drives in its current episode."""
        return self.courses[int(self.course[car])]

    # -- moving cars --------------------------------------------------------------------------

    def next_start(self, car: np.ndarray) -> np.ndarray:
        """Start fraction of each given car's next episode."""
        if self.start == "line":
            return np.full(len(car), self.start_offset % 1.0)
        k = self.state.episodes_started[car] + self.slot[car]
        return (self.start_offset + k * self.round_robin_step) % 1.0

    def reset(self, cars: np.ndarray | list[int] | None = None,
              start_ndist: np.ndarray | float | None = None,
              restart_cycle: np.ndarray | bool = False, seeds: np.ndarray | None = None
              ) -> None:
        """Put the given cars (default: all) at their start pose, standing, in PREPARE, and
        lay out their worlds' objects afresh.

        ``restart_cycle`` (one flag, or one per car) starts the round-robin start cycle over,
        as a seeded reset does; ``seeds`` (one per given car) then also restart those cars'
        object layouts from that seed.
        """
        idx = self._cars(cars)
        if len(idx) == 0:
            return
        restart = np.broadcast_to(restart_cycle, idx.shape)
        self.state.episodes_started[idx[restart]] = 0
        if seeds is not None:
            self.traffic.reseed(idx[restart], np.asarray(seeds)[restart])
        if self.alternate_direction:  # episode k of car j turned round when k + j is odd
            turned = (self.state.episodes_started[idx] + self.slot[idx]) % 2 == 1
            self.course[idx] = self.home[idx] + len(self.tracks) * turned
        if start_ndist is None:
            start = self.next_start(idx)
        else:
            start = np.broadcast_to(np.asarray(start_ndist, dtype=np.float64), idx.shape) % 1.0
        self.state.episodes_started[idx] += 1
        self.traffic.lay_out(idx, self.course[idx])
        self.parked[idx] = False
        self._start_episode(idx, start)
        self._follow()

    def place(self, cars: np.ndarray | list[int], xy: np.ndarray, yaw: np.ndarray) -> None:
        """Move cars to base_link points ``xy`` (M, 2) with headings ``yaw`` (radians),
        standing, without starting a new episode (its counters keep running)."""
        idx = self._cars(cars)
        self._set_pose(idx, np.reshape(np.asarray(xy, dtype=np.float64), (len(idx), 2)),
                       np.broadcast_to(np.asarray(yaw, dtype=np.float64), idx.shape))
        self._update_geometry(idx)
        self._follow()

    def park(self, cars: np.ndarray | list[int]) -> None:
        """Take cars out of the run: back to their start in PREPARE, so the reward function
        is not called for them again until the caller drives them on."""
        idx = self._cars(cars)
        self._start_episode(idx, self.state.start_ndist[idx].copy())
        self.parked[idx] = True
        self._follow()

    def _cars(self, cars: np.ndarray | list[int] | None) -> np.ndarray:
        return np.arange(self.n) if cars is None else np.asarray(cars, dtype=np.int64)

    def _start_episode(self, idx: np.ndarray, start: np.ndarray) -> None:
        """Cars standing at lap fractions ``start``, episode counters cleared, measured."""
        self.state.reset(idx)
        self.state.start_ndist[idx] = start
        if self.race.racers_per_world > 1:
            xy, yaw = self._grid_poses(idx, start)
        else:
            xy, yaw = self.courses.pose_at(start, self.course[idx])
        self._set_pose(idx, xy, yaw)
        self._update_geometry(idx)

    def _grid_poses(self, idx: np.ndarray, start: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Head-to-model start poses: racer k ``k * START_GAP`` behind ``start``, in the
        outer lane for even k and the inner lane for odd k (module docstring)."""
        racer = self.traffic.racer[idx]
        length = self.courses.length[self.course[idx]]
        dist = (start * length - racer * START_GAP) % length
        xy, yaw = lane_poses(self.courses, self.course[idx], dist[:, None],
                             (racer % 2 == 0)[:, None])
        return xy[:, 0], yaw[:, 0]

    def _follow(self) -> None:
        """Every car's fellow racers where those cars are now (head-to-model)."""
        if self.race.race_type == RaceType.HEAD_TO_MODEL:
            self.traffic.follow(self.car.x, self.car.y, self.car.yaw, self.car.speed,
                                self.course, self.parked)

    def _set_pose(self, idx: np.ndarray, xy: np.ndarray, yaw: np.ndarray) -> None:
        """Cars standing at base_link points ``xy`` with headings ``yaw`` (not measured)."""
        self.car.x[idx], self.car.y[idx], self.car.yaw[idx] = xy[:, 0], xy[:, 1], yaw
        self.car.speed[idx] = 0.0
        self.car.steering[idx] = 0.0

    # -- stepping -----------------------------------------------------------------------------

    def step(self, steering_deg: np.ndarray, speed: np.ndarray,
             hold: np.ndarray | None = None) -> StepResult:
        """Apply one commanded (steering in degrees, speed in m/s) per car for one frame.

        ``hold`` (bool per car) keeps those cars where they stand this step, whatever they
        command: a car that brakes to a standstill, which the 0.1 m/s command floor of the
        real car cannot express (the reward lab's "standing still").
        """
        steering_deg = np.broadcast_to(np.asarray(steering_deg, dtype=np.float64), (self.n,))
        speed = np.broadcast_to(np.asarray(speed, dtype=np.float64), (self.n,))
        st = self.state
        prepare = st.steps == 0
        st.steps += 1
        paused = ~prepare & st.paused  # serving a penalty: frozen at the reset pose
        active = ~prepare & ~paused

        # 1. Where the car is now (before the action moves it): params and rules.
        point = self.car.model_point()
        geo = self.geometry
        before = st.prev_progress.copy()
        raw = self._raw_progress(geo.ndist)
        course = self.course
        wheels = self.courses.on_track(self.car.wheel_positions(), course)
        all_on = wheels.all(axis=1)
        off_track = ~wheels.any(axis=1)
        lap = raw >= 100.0
        moved = np.hypot(self.car.x - st.last_x, self.car.y - st.last_y)
        st.immobile_count = np.where(active & (moved <= IMMOBILIZED_DISTANCE),
                                     st.immobile_count + 1, 0)
        st.reverse_count = np.where(active & (raw < st.prev_progress), st.reverse_count + 1, 0)
        final, time_up = self._episode_ends(lap, prepare)
        crashed, contact = self._crashes(active, geo.ndist)
        status = self._status(prepare, final, off_track, paused, time_up, crashed)
        progress = [progress_value(r) for r in as_pylist(raw)]
        # Remembered for the next step's wrap and reverse rules, also when this step's failure
        # resets the car: DeepRacer keeps the failing step's progress (rollout_agent_ctrl.py,
        # judge_action: prev_progress is set from the step's metrics after the reset).
        st.prev_progress = np.where(lap, 0.0, raw)
        batch = ParamsBatch(
            x=as_pylist(point[:, 0]), y=as_pylist(point[:, 1]),
            heading=as_pylist(np.degrees(self.car.yaw)),
            distance_from_center=as_pylist(geo.distance_from_center),
            projection_distance=as_pylist(geo.ndist * self.courses.length[course]),
            progress=progress, steps=as_pylist(st.steps.astype(np.float64)),
            speed=as_pylist(speed), steering_angle=as_pylist(steering_deg),
            track_width=as_pylist(geo.track_width),
            closest_waypoints=np.stack([geo.prev_waypoint, geo.next_waypoint], 1).tolist(),
            is_left_of_center=as_pylist(geo.is_left_of_center),
            all_wheels_on_track=as_pylist(all_on), is_offtrack=as_pylist(off_track),
            is_crashed=as_pylist(status == Status.CRASHED), sim_time=as_pylist(st.sim_time),
        )
        params = build_params(batch, [self._waypoints[c] for c in course.tolist()],
                              as_pylist(self.courses.length[course]),
                              as_pylist(self.courses.reversed[course]))
        object_keys = self.traffic.params(course, geo.ndist, self.car.x, self.car.y,
                                          self.car.yaw)
        if object_keys is not None:
            for car_params, keys in zip(params, object_keys, strict=True):
                car_params.update(keys)
        reset = self._penalised(status, active, time_up)
        previous_pose = np.stack([st.last_x, st.last_y], axis=-1)  # NaN right after a reset

        # 2. One camera frame of physics for the cars that drive; PREPARE cars stand still
        # (zero command), paused, held and reset cars are frozen.
        steer_cmd, speed_cmd = clip_commands(steering_deg, speed, self.vehicle)
        frozen = paused | reset if hold is None else paused | reset | np.asarray(hold, bool)
        st.last_x, st.last_y = self.car.x.copy(), self.car.y.copy()
        advance(self.car, np.where(prepare, 0.0, steer_cmd), np.where(prepare, 0.0, speed_cmd),
                self.vehicle, active=~frozen)
        if hold is not None:
            self.car.speed[np.asarray(hold, bool)] = 0.0
        st.sim_time += CONTROL_DT
        self._serve_pauses(paused)
        if reset.any():
            self._reset_to_lane(np.flatnonzero(reset), status, before, previous_pose, raw,
                                contact)
        self.traffic.advance(np.arange(self.n), self.course, st.sim_time)
        self._update_geometry()
        self._follow()

        # 3. The reward function sees the params of step 1 (RUN steps only), all cars of
        # the step in one call of the reward source (one round trip for the sandbox).
        rewards = np.zeros(self.n)
        cars = np.flatnonzero(active)
        if len(cars):
            rewards[cars] = self.reward.score([self.reward_fns[i] for i in cars],
                                              [params[i] for i in cars])

        terminated = np.array([s in TERMINAL for s in status]) & ~reset
        truncated = ~terminated & ((st.steps >= self.max_steps) | time_up)
        if self.race.racers_per_world > 1 and self.race.done_condition == "any":
            k = self.race.racers_per_world
            group_done = (terminated | truncated).reshape(-1, k).any(axis=1)
            truncated |= ~terminated & np.repeat(group_done, k)
        lap_time = np.where(lap, st.lap_clock(), np.nan)
        if self.rules is not None:
            st.laps_done += lap
            st.lap_start = np.where(lap, st.steps, st.lap_start)
        return StepResult(rewards, terminated, truncated, status.tolist(), params, lap_time,
                          st.pause_left.copy())

    def _episode_ends(self, lap: np.ndarray, prepare: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Per car: whether this step's lap is the episode's last, and whether the race time
        is up (evaluation rules only).

        A lap counts in every phase, a paused car's too (a reset close before the line can
        put the car's model point past it), as DeepRacer's EpisodeCompleteResetRule counts
        every step with progress >= 100 (simapp ``markov/reset/rules/
        episode_complete_reset_rule.py``); in a continuous race only the lap that brings
        the count to ``laps`` ends the episode, the earlier ones are ``in_progress``.
        """
        if self.rules is None:
            return lap, np.zeros(self.n, dtype=bool)
        final = lap & (self.state.laps_done + 1 >= self.rules.laps)
        if self.rules.race_duration is None:
            return final, np.zeros(self.n, dtype=bool)
        # The race time of this step is its params' sim_time, counted in whole steps (a sum of
        # 1/15 s is not exact); "strictly greater" as in simapp race_time_rule.py.
        race_time = (self.state.steps - 1) * CONTROL_DT
        return final, ~prepare & (race_time > self.rules.race_duration + 1e-9)

    def _crashes(self, active: np.ndarray, ndist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per car: whether it crashed this step, and the object it touches (``NO_CONTACT``
        if none). Only RUN cars crash (the simapp checks crashes in its RUN phase). A car
        touching a bot car is the one crashed only when it is behind the bot (its lap
        fraction below the bot's front point's); otherwise the bot ran into it, and every bot
        of its world stops for ``bot_car_penalty`` (module docstring)."""
        contact = np.where(active, self.traffic.contacts(self.car.x, self.car.y, self.car.yaw),
                           NO_CONTACT)
        touched = contact != NO_CONTACT
        if not touched.any():
            return touched, contact
        bot = touched & self.traffic.is_bot(contact)
        racer = touched & self.traffic.is_racer(contact)
        crashed = touched & ~bot & ~racer
        if racer.any():  # the one behind by lap fraction from the start is crashed
            cars = np.flatnonzero(racer)
            other = self.traffic.racer_car(cars, contact[cars])
            start = self.state.start_ndist
            mine = (ndist[cars] - start[cars]) % 1.0
            theirs = (ndist[other] - start[other]) % 1.0
            crashed[cars[mine < theirs]] = True
        if bot.any():
            cars = np.flatnonzero(bot)
            o = self.objects
            j = contact[cars]
            front = np.stack([o.x[cars, j] + 0.14 * np.cos(o.yaw[cars, j]),
                              o.y[cars, j] + 0.14 * np.sin(o.yaw[cars, j])], axis=-1)
            bot_ndist = self.courses.measure(front, self.course[cars]).ndist
            behind = ndist[cars] < bot_ndist
            crashed[cars[behind]] = True
            rammed = np.zeros(self.n, dtype=bool)
            rammed[cars[~behind]] = True
            self.traffic.bots.pause(rammed)
        return crashed, contact

    def _serve_pauses(self, paused: np.ndarray) -> None:
        """One step of the penalty served by the paused cars; those whose penalty is served
        (or was 0 s) drive again from the next step. DeepRacer counts the penalty down in sim
        time and leaves PAUSE at the first step that finds it at or below zero, so even a 0 s
        penalty costs one pause step (rollout_agent_ctrl.py, _judge_action_at_pause_phase;
        it then logs the small negative remainder, racerl 0)."""
        st = self.state
        st.pause_left[paused] -= CONTROL_DT
        served = paused & (st.pause_left <= 1e-9)
        st.paused[served] = False
        st.pause_left[served] = 0.0

    def _penalised(self, status: np.ndarray, active: np.ndarray, time_up: np.ndarray
                   ) -> np.ndarray:
        """Cars whose failure this step is forgiven for a reset and a penalty (rules only):
        RUN cars with resets left, unless the race time is up (the time-up ends the episode
        first, simapp rollout_agent_ctrl.py _check_for_episode_termination)."""
        if self.rules is None:
            return np.zeros(self.n, dtype=bool)
        failed = np.isin(status, PENALISED)
        return active & failed & ~time_up & (self.state.resets_used < self.rules.resets)

    def _reset_to_lane(self, cars: np.ndarray, status: np.ndarray, before: np.ndarray,
                       previous_pose: np.ndarray, raw: np.ndarray, contact: np.ndarray
                       ) -> None:
        """Put failed cars back in a lane at their previous step's progress, choosing the lane
        nearer to their previous step's pose (their own if unknown), and start the pause.
        A car that crashed into an obstacle goes back at this step's progress, near its own
        pose; one that crashed into a bot car stays where it is (simapp
        ``_judge_action_at_run_phase``), as does one that crashed into another racer.
        Obstacles near the reset point move it (rules.py).
        The remembered progress stays the failing step's (see :meth:`step`)."""
        st = self.state
        here = np.stack([self.car.x[cars], self.car.y[cars]], axis=-1)
        near = previous_pose[cars]
        unknown = np.isnan(near).any(axis=1)
        near[unknown] = here[unknown]
        progress = before[cars]
        crash = status[cars] == Status.CRASHED
        near[crash] = here[crash]
        progress = np.where(crash, raw[cars], progress)
        ndist = st.start_ndist[cars] + progress / 100.0
        xy, yaw = np.empty((len(cars), 2)), np.empty(len(cars))
        obstacles = self.traffic.obstacle_centres(cars)
        for course, group in self.courses.groups(self.course[cars]):
            track = self.courses[course]
            xy[group], yaw[group] = reset_pose(track, ndist[group] * track.length, near[group],
                                               obstacles=obstacles[group],
                                               behind=self.rules.reset_behind_dist)
        stay = crash & self.traffic.is_car(contact[cars])
        xy[stay] = here[stay]
        yaw[stay] = self.car.yaw[cars][stay]
        self._set_pose(cars, xy, yaw)  # measured with the whole batch at the step's end
        st.immobile_count[cars] = 0
        st.reverse_count[cars] = 0
        st.last_x[cars] = np.nan
        st.last_y[cars] = np.nan
        st.resets_used[cars] += 1
        failures = status[cars]
        penalty = np.zeros(len(cars))
        for failure in PENALISED:  # four kinds, each for all its cars at once
            hit = failures == failure
            st.failures(failure)[cars[hit]] += 1
            penalty[hit] = self.rules.penalty(failure)
        st.penalty_time[cars] += penalty
        st.pause_left[cars] = penalty
        st.paused[cars] = True

    def _update_geometry(self, cars: np.ndarray | None = None) -> None:
        """Measure the cars' current model points; the next step's params reuse this."""
        point = self.car.model_point()
        if cars is None:
            self.geometry = self.courses.measure(point, self.course)
        else:
            fresh = self.courses.measure(point[cars], self.course[cars])
            for name, value in vars(fresh).items():
                getattr(self.geometry, name)[cars] = value

    def _raw_progress(self, ndist: np.ndarray) -> np.ndarray:
        """Progress in percent from the episode's start, with DeepRacer's wrap rules (2.4)."""
        st = self.state
        raw = 100.0 * (ndist - st.start_ndist)
        raw = np.where(raw <= 0.0, raw + 100.0, raw)
        raw = np.where(st.prev_progress > raw + 50.0, raw + 100.0, raw)
        raw = np.where(raw > st.prev_progress + 50.0, raw - 100.0, raw)
        return raw

    def _status(self, prepare: np.ndarray, final: np.ndarray, off_track: np.ndarray,
                paused: np.ndarray, time_up: np.ndarray, crashed: np.ndarray) -> np.ndarray:
        """The first rule that fires, in DeepRacer's priority order (reference 8.3; simapp
        ``markov/metrics/constants.py`` EpisodeStatus.get_episode_status takes the first true
        rule in the order lap_complete, crashed, off_track, immobilized, time_up, reversed).
        A paused car reports ``pause`` unless its episode ends on the step."""
        st = self.state
        codes = np.full(self.n, Status.IN_PROGRESS, dtype=object)
        codes[paused] = Status.PAUSE
        codes[prepare] = Status.PREPARE
        codes[st.reverse_count >= RULE_COUNT] = Status.REVERSED
        codes[time_up] = Status.TIME_UP
        codes[st.immobile_count >= RULE_COUNT] = Status.IMMOBILIZED
        codes[off_track & ~paused] = Status.OFF_TRACK
        codes[crashed] = Status.CRASHED
        codes[final] = Status.LAP_COMPLETE
        return codes
