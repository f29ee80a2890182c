"""Connecting to Ray: a local Ray starts on demand and runs racerl's code in its workers."""

import pytest

from racerl.train.cluster import ClusterError, connect, disconnect


def test_local_ray_starts_and_imports_racerl():
    ray = connect(num_cpus=1)
    try:
        @ray.remote
        def track_length() -> float:
            from racerl.track.catalog import load_track
            return load_track("oval").length

        from racerl.track.catalog import load_track
        assert ray.get(track_length.remote()) == pytest.approx(load_track("oval").length)
    finally:
        disconnect()


def test_unreachable_cluster_is_one_clear_error():
    with pytest.raises(ClusterError, match="cannot start or join the Ray cluster"):
        connect(address="127.0.0.1:1")
