"""A batch spread over several tracks: each car sees its own track, lit over its own room,
and the env says which track each car drives."""

from __future__ import annotations

import numpy as np
import pytest

from racerl.envs.cars import Racers
from racerl.envs.sb3 import to_sb3
from racerl.envs.vector import make_vec_env
from racerl.errors import TrackError


@pytest.mark.parametrize("lighting", ["studio", "random"])
def test_each_car_sees_what_a_batch_on_its_own_track_sees(lighting):
    mixed = Racers(4, track=["oval", "loop"], lighting=lighting, start="line")
    oval = Racers(2, track="oval", lighting=lighting, start="line")
    loop = Racers(2, track="loop", lighting=lighting, start="line")
    seeds = [5, 6, 7, 8]
    frames = [mixed.reset(np.arange(4), seeds=seeds)]
    alone = [(oval.reset(np.arange(2), seeds=seeds[0::2]),
              loop.reset(np.arange(2), seeds=seeds[1::2]))]
    for _ in range(3):
        frames.append(mixed.drive(np.full(4, 5.0), np.full(4, 1.0)).obs)
        alone.append((oval.drive(np.full(2, 5.0), np.full(2, 1.0)).obs,
                      loop.drive(np.full(2, 5.0), np.full(2, 1.0)).obs))
    for got, (on_oval, on_loop) in zip(frames, alone, strict=True):
        np.testing.assert_array_equal(got[0::2], on_oval)
        np.testing.assert_array_equal(got[1::2], on_loop)
    assert len(mixed.camera.textures) == 2
    assert not np.array_equal(mixed.room_bounds(0), mixed.room_bounds(1))


def test_the_vector_env_and_its_sb3_view_name_each_cars_track():
    venv = make_vec_env(3, track=["oval", "loop"], observation="state", seed=0)
    venv.reset()
    _, _, _, _, info = venv.step(np.zeros(3, dtype=np.int64))
    assert list(info["track"]) == ["oval", "loop", "oval"]
    env = to_sb3(make_vec_env(2, track=["oval", "loop"], observation="state", seed=0))
    env.reset()
    _, _, _, infos = env.step(np.zeros(2, dtype=np.int64))
    assert [i["track"] for i in infos] == ["oval", "loop"]
    with pytest.raises(ValueError, match="drive 2 tracks"):
        venv.racers.track  # noqa: B018 - several tracks, no one track


def test_a_track_listed_twice_is_refused_by_name():
    with pytest.raises(TrackError, match="track 'oval' is listed twice"):
        Racers(2, track=["oval", "oval"], observation="state")
