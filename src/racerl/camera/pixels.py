"""What a camera frame is: DeepRacer's network image size and its grey conversion.

Kept apart from the renderer (which compiles Numba kernels) so that the car runtime, which
turns real pictures into frames, shares these numbers without loading the simulator.
"""

from __future__ import annotations

import numpy as np

FRAME_WIDTH, FRAME_HEIGHT = 160, 120  # reference section 4: the network's input image
LUMA_ARRAY = np.array([0.2989, 0.5870, 0.1140])  # DeepRacer's grey conversion (Y of RGB)
