"""The objects struct: shapes and footprint corners."""

import numpy as np

from racerl.sim.objects import BOX_LENGTH, BOX_WIDTH, Kind, Objects


def test_empty_objects_have_no_present_object():
    objects = Objects.empty(3, 2)
    assert objects.count == 2
    assert objects.x.shape == (3, 2)
    assert not objects.present.any()
    assert Objects.empty(4).count == 0


def test_corners_of_a_turned_box():
    objects = Objects.empty(1, 1)
    objects.x[:] = 1.0
    objects.y[:] = 2.0
    objects.yaw[:] = np.pi / 2  # length now along +y
    objects.length[:] = BOX_LENGTH
    objects.width[:] = BOX_WIDTH
    objects.kind[:] = Kind.BOX
    corners = objects.corners()[0, 0]
    expected = [[0.8, 2.25], [0.8, 1.75], [1.2, 1.75], [1.2, 2.25]]  # left is -x
    np.testing.assert_allclose(corners, expected, atol=1e-12)


def test_subset_keeps_the_chosen_cars():
    objects = Objects.empty(3, 1)
    objects.x[:, 0] = [0.0, 1.0, 2.0]
    assert objects.subset(np.array([2, 0])).x[:, 0].tolist() == [2.0, 0.0]
