"""``racerl/DeepRacer-v0`` in Gymnasium's registry, without importing Gymnasium early.

``import racerl`` must stay light (the car runtime loads neither Gymnasium nor the
simulator), yet ``gymnasium.make("racerl/DeepRacer-v0")`` must work after it, whichever of
the two was imported first. So :func:`register_with_gymnasium` registers at once when
Gymnasium is already loaded, and otherwise adds an import hook that registers the moment
Gymnasium finishes loading, then removes itself.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

ENV_ID = "racerl/DeepRacer-v0"


def register() -> None:
    """Register the env and its vector version (idempotent)."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="racerl.envs.single:RacerEnv",
                           vector_entry_point="racerl.envs.vector:RacerVectorEnv")


def register_with_gymnasium() -> None:
    """Register now if Gymnasium is loaded, else as soon as something imports it."""
    if "gymnasium" in sys.modules:
        register()
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Finds Gymnasium the normal way, and wraps its loader to register afterwards."""

    def find_spec(self, fullname: str, path, target=None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)  # one use: the next import of anything is untouched
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenRegister(spec.loader)
        return spec


class _ThenRegister(importlib.abc.Loader):
    """Gymnasium's own loader, plus :func:`register` once the module has run."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        register()

    def __getattr__(self, name: str):  # resource readers and the like
        return getattr(self._loader, name)
