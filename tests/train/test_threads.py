"""The thread tuner: tries each count, keeps the fastest, and notices when that changes."""

from __future__ import annotations

import numba
import torch

from racerl.camera.front import CARS_PER_THREAD, render_threads
from racerl.train.threads import EXPLORE_EVERY, ThreadTuner, candidate_counts


def drive(tuner: ThreadTuner, seconds_for: dict[int, float], updates: int) -> list[int]:
    """Run ``updates`` fake updates whose duration depends on the thread count."""
    used = []
    for _ in range(updates):
        tuner.start()
        used.append(tuner.current)
        assert torch.get_num_threads() == tuner.current
        tuner.stop(seconds_for[tuner.current])
    return used


def test_candidates_are_powers_of_two_and_the_core_count():
    assert candidate_counts(1) == [1]
    assert candidate_counts(2) == [1, 2]
    assert candidate_counts(6) == [1, 2, 4, 6]


def test_the_faster_count_wins_and_the_others_are_retried_now_and_then():
    threads = torch.get_num_threads()
    try:
        tuner = ThreadTuner(available=2)
        used = drive(tuner, {2: 1.0, 1: 1.6}, 4 * EXPLORE_EVERY)  # an idle machine
        assert used[:2] == [2, 1]  # each tried once, the most threads first
        assert used.count(1) == 1 + 4  # then 2, but for one retry of 1 every EXPLORE_EVERY
        # The machine gets busy: two threads now wait on each other; one thread wins within
        # a few retries.
        used = drive(tuner, {2: 3.0, 1: 1.7}, 4 * EXPLORE_EVERY)
        assert used[-EXPLORE_EVERY:].count(1) == EXPLORE_EVERY - 1  # and one retry of 2
        assert "1 thread" in tuner.summary() and "2 threads" in tuner.summary()
    finally:
        torch.set_num_threads(threads)


def test_a_count_the_user_fixed_is_kept(monkeypatch):
    threads = torch.get_num_threads()
    try:
        tuner = ThreadTuner(available=8, fixed=3)
        assert set(drive(tuner, {3: 1.0}, 20)) == {3}
    finally:
        torch.set_num_threads(threads)


def test_small_batches_render_on_one_thread():
    assert render_threads(1) == 1
    assert render_threads(3) == 1
    assert render_threads(256) == min(numba.config.NUMBA_NUM_THREADS, 256 // CARS_PER_THREAD)
