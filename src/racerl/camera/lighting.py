"""Lighting randomisation: how a room's light changes what the camera sees.

A model trained under one light often fails under another: sun falling on half the track,
shadows, a dim hall, a warm evening light. The camera applies, per car and per episode:

* ``gain``: colour cast, one multiplier per RGB channel (times overall brightness);
* ``contrast`` and ``gamma``: a tone curve, applied through a 256-entry table per car;
* ``patches``: sun patches (brighter) and shadows (darker) on the ground, soft-edged
  ellipses fixed in *world* coordinates, so the car drives through them;
* ``noise``: sensor noise, standard deviation in grey levels;
* ``blur``: a 3x3 blur, like a slightly soft lens.

Named presets serve evaluation (``studio`` is no change at all); ``random`` draws every
effect from wide ranges for training. Draws are seeded: the same seed gives the same light.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racerl.errors import RacerlError

MAX_PATCHES = 6
PATCH_FIELDS = 7  # centre x, centre y, radius x, radius y, angle, strength, softness
PRESETS = ("studio", "sunny", "dim", "evening", "patchy", "random")


class LightingError(RacerlError, ValueError):
    """A lighting preset name that does not exist."""


def check_lighting(preset: object, where: str = "lighting") -> str:
    """``preset`` when it names a preset; otherwise an error naming ``where`` (a setting or
    an option) and the presets there are. Every place that takes a preset asks here."""
    if preset not in PRESETS:
        raise LightingError(f"{where} {preset!r}: presets are {', '.join(PRESETS)}")
    return preset


@dataclass
class Lighting:
    """Lighting of one car for one episode (see the module docstring)."""

    gain: np.ndarray  # (3,) RGB multipliers
    contrast: float = 1.0
    gamma: float = 1.0
    patches: np.ndarray | None = None  # (K, 7), K <= MAX_PATCHES
    noise: float = 0.0
    blur: bool = False

    @classmethod
    def studio(cls) -> Lighting:
        return cls(gain=np.ones(3))

    def tone_table(self) -> np.ndarray:
        """256-entry uint8 tone curve: gamma, then contrast around mid-grey."""
        v = np.arange(256, dtype=np.float64) / 255.0
        v = v ** (1.0 / self.gamma)
        v = (v - 0.5) * self.contrast + 0.5
        return np.clip(np.floor(v * 255.0 + 0.5), 0, 255).astype(np.uint8)

    def patch_array(self) -> np.ndarray:
        """Patches padded to (MAX_PATCHES, 7); unused rows have strength 0."""
        out = np.zeros((MAX_PATCHES, PATCH_FIELDS))
        out[:, 2:4] = 1.0
        out[:, 6] = 0.5
        if self.patches is not None and len(self.patches):
            out[: len(self.patches)] = self.patches[:MAX_PATCHES]
        return out


def _patches(rng: np.random.Generator, bounds: np.ndarray, count: int, strength: tuple,
             size: tuple) -> np.ndarray:
    """``count`` soft ellipses inside ``bounds`` ((2, 2): min, max corners of the room)."""
    lo, hi = bounds
    out = np.empty((count, PATCH_FIELDS))
    out[:, 0] = rng.uniform(lo[0], hi[0], count)
    out[:, 1] = rng.uniform(lo[1], hi[1], count)
    out[:, 2] = rng.uniform(*size, count)
    out[:, 3] = out[:, 2] * rng.uniform(0.3, 1.0, count)
    out[:, 4] = rng.uniform(0.0, np.pi, count)
    out[:, 5] = rng.uniform(*strength, count) * rng.choice([-1.0, 1.0], count)
    out[:, 6] = rng.uniform(0.15, 0.6, count)
    return out


def sample_lighting(preset: str, rng: np.random.Generator, bounds: np.ndarray) -> Lighting:
    """Draw the lighting of one episode from a named preset."""
    if preset == "studio":
        return Lighting.studio()
    if preset == "sunny":
        patches = _patches(rng, bounds, 4, (0.5, 0.9), (0.8, 2.5))
        patches[:, 5] = np.abs(patches[:, 5])  # sunlight: only brighter
        return Lighting(gain=np.array([1.15, 1.12, 1.0]) * rng.uniform(1.05, 1.2),
                        contrast=rng.uniform(1.2, 1.4), gamma=rng.uniform(1.1, 1.3),
                        patches=patches, noise=1.0)
    if preset == "dim":
        return Lighting(gain=np.full(3, rng.uniform(0.35, 0.5)), contrast=rng.uniform(0.6, 0.8),
                        gamma=rng.uniform(0.8, 0.95), noise=rng.uniform(4.0, 7.0), blur=True)
    if preset == "evening":
        patches = _patches(rng, bounds, 3, (0.3, 0.6), (1.0, 3.0))
        patches[:, 5] = -np.abs(patches[:, 5])  # long shadows
        return Lighting(gain=np.array([1.0, 0.78, 0.55]) * rng.uniform(0.6, 0.75),
                        contrast=rng.uniform(0.85, 1.0), gamma=0.9, patches=patches, noise=3.0)
    if preset == "patchy":
        return Lighting(gain=np.ones(3), contrast=1.1,
                        patches=_patches(rng, bounds, MAX_PATCHES, (0.4, 0.8), (0.4, 1.5)),
                        noise=1.5)
    if preset == "random":
        count = int(rng.integers(0, MAX_PATCHES + 1))
        return Lighting(gain=rng.uniform(0.8, 1.2, 3) * rng.uniform(0.45, 1.35),
                        contrast=rng.uniform(0.6, 1.5), gamma=rng.uniform(0.7, 1.4),
                        patches=_patches(rng, bounds, count, (0.2, 0.8), (0.4, 2.5)),
                        noise=rng.uniform(0.0, 6.0), blur=bool(rng.random() < 0.3))
    raise ValueError(f"unknown lighting preset {preset!r}; presets: {', '.join(PRESETS)}")
