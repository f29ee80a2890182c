"""Many evaluations at once, as Ray tasks: one task per model, each on its own CPU.

An evaluation is a pure function of the model's weights and the settings (the simulator is
deterministic and every random draw is seeded by the settings), so where it runs changes
nothing: a task loads the model from its folder, drives :func:`~racerl.evaluate.evaluation.
evaluate` exactly as the sequential path does and returns the whole
:class:`~racerl.evaluate.evaluation.EvaluationRun`; the caller records it. A local Ray is
started on demand (one task per core); with an address the tasks run on that cluster, where
every node must see the model folders at the same path (``RACERL_HOME`` on a shared
filesystem).
"""

from __future__ import annotations

import os
from pathlib import Path

from racerl.errors import RacerlError
from racerl.evaluate.evaluation import EvalSettings, EvaluationRun, evaluate, model_entrant
from racerl.home import racerl_home
from racerl.train.cluster import connect


def _drive(home: str, folder: str, checkpoint: str, settings: EvalSettings) -> EvaluationRun:
    """One evaluation in a Ray worker: the model by its folder's absolute path."""
    os.environ["RACERL_HOME"] = home  # for anything the model's config finds by name
    who = model_entrant(folder, checkpoint)
    return evaluate(who.driver, settings)


def evaluate_models(folders: list[Path], settings: EvalSettings | list[EvalSettings],
                    checkpoint: str = "best", address: str | None = None
                    ) -> list[EvaluationRun]:
    """Evaluate each model folder under ``settings`` (one for all, or one per model) as
    Ray tasks at once; the runs come back in the order of ``folders``."""
    per_model = settings if isinstance(settings, list) else [settings] * len(folders)
    ray = connect(address)
    task = ray.remote(num_cpus=1)(_drive)
    home = str(racerl_home().expanduser().resolve())
    refs = [task.remote(home, str(Path(folder).expanduser().resolve()), checkpoint, s)
            for folder, s in zip(folders, per_model, strict=True)]
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:  # racerl's own errors read as they would here
        if isinstance(exc.cause, RacerlError):
            raise exc.cause from None
        raise
