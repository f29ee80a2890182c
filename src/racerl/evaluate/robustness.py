"""The sim-to-real robustness report: the same evaluation under every lighting preset.

A model trained in one light can fail in another (sun on part of the track, shadows, a dim
hall). ``racerl robustness`` evaluates a model under each preset of :mod:`racerl.camera.lighting`
with the same trials and seeds, reports completion and lap time per preset, and saves a
grid of what the car's camera saw under each, so a user sees *why* it failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

from racerl.camera.lighting import PRESETS
from racerl.camera.topdown import caption_font
from racerl.evaluate.evaluation import Driver, EvalSettings, Summary, evaluate

SNAPSHOT_STEP = 45  # the frame shown in the grid: 3 s into the first trial


@dataclass
class PresetResult:
    preset: str
    summary: Summary
    statuses: list[str]
    snapshot: np.ndarray  # (120, 160) grey frame the driver saw

    def to_json(self) -> dict:
        return {"preset": self.preset, **asdict(self.summary), "statuses": self.statuses}


def robustness(driver: Driver, settings: EvalSettings,
               presets: tuple[str, ...] = PRESETS) -> list[PresetResult]:
    """Evaluate ``driver`` under each lighting preset with otherwise equal settings."""
    results = []
    for preset in presets:
        run = evaluate(driver, replace(settings, lighting=preset), keep_frames=True)
        frames = run.trajectories[0].frames
        results.append(PresetResult(preset, run.summary(), [t.status for t in run.trials],
                                    frames[min(SNAPSHOT_STEP, len(frames) - 1)]))
    return results


def robustness_grid(results: list[PresetResult], title: str, zoom: int = 2) -> np.ndarray:
    """What the car saw under each preset, labelled with how it drove there."""
    w, h = 160 * zoom, 120 * zoom
    cols = min(3, len(results))
    rows = int(np.ceil(len(results) / cols))
    label_h, title_h = 22, 26
    canvas = Image.new("RGB", (cols * w, title_h + rows * (h + label_h)), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((6, 5), title, fill=(255, 255, 255), font=caption_font(14))
    for k, result in enumerate(results):
        x, y = (k % cols) * w, title_h + (k // cols) * (h + label_h)
        frame = Image.fromarray(result.snapshot).resize((w, h), Image.NEAREST).convert("RGB")
        canvas.paste(frame, (x, y + label_h))
        s = result.summary
        lap = f"best {s.best_lap:.2f} s" if s.best_lap is not None else "no lap"
        draw.rectangle([x, y, x + w - 1, y + label_h - 1], fill=_verdict_colour(s))
        draw.text((x + 5, y + 4), f"{result.preset}: {s.laps}/{s.trials} laps, "
                  f"{s.off_track} off track, {lap}", fill=(255, 255, 255),
                  font=caption_font(12))
    return np.asarray(canvas)


def _verdict_colour(s: Summary) -> tuple[int, int, int]:
    """Green: clean laps; amber: laps only thanks to resets; red: laps not finished."""
    if s.laps < s.trials:
        return (150, 30, 30)
    return (20, 100, 45) if s.off_track == 0 else (170, 110, 0)
