"""Import a DeepRacer-for-Cloud (DRfC) folder as a racerl training config.

A DRfC user keeps a run in ``run.env`` (and the machine in ``system.env``) and the model in
``custom_files/``: ``model_metadata.json`` (action space, sensor, network, algorithm),
``hyperparameters.json`` and ``reward_function.py``. :func:`read_drfc` reads all of it and
says, for every setting it finds, what racerl makes of it (:class:`Row`): the
:class:`~racerl.model.config.TrainConfig` field it sets, the ``racerl evaluate`` option it
becomes, or why racerl needs no such setting (storage, containers and video streams: racerl
runs locally) or cannot honour it yet (e-greedy exploration, a pretrained model in S3). A
HEAD_TO_MODEL run trains a time trial, as DeepRacer does, and its opponent becomes the
suggested head-to-model race (:meth:`DrfcImport.race_commands`). Nothing is dropped silently,
because a user moving a model over must be able to check each value; a setting no DRfC
version knows is listed as unknown. :func:`write_drfc_import` then writes the config YAML,
with a copy of the reward function and of the model metadata beside it, all or nothing.

The meanings and defaults follow DRfC's own files (aws-deepracer-community/deepracer-for-cloud:
``defaults/template-run.env``, ``defaults/template-system.env``, ``defaults/*.json``,
``scripts/training/prepare-config.py``, ``scripts/evaluation/prepare-config.py``,
``docs/reference.md``). Where DRfC accepts a value that racerl's config refuses (a learning
rate above racerl's range, e-greedy exploration) the row says "adjusted" or "unsupported"
and racerl's default stays, rather than the import failing on a file that works in DRfC.
Files that DRfC itself could not use (a line that is no ``KEY=value``, JSON that does not
parse, a reward file without ``reward_function``, an action space out of range, a sensor
list DeepRacer refuses) are errors naming the file and the problem.

The env files are read the way a shell reads them when DRfC's ``bin/activate.sh`` sources
them (``system.env`` first, then ``run.env``): comments, ``export``, quotes, and
``$NAME``/``${NAME}`` references to settings read before (the template's
``DR_DISPLAY_NAME=$DR_CAR_NAME``). A setting ``run.env`` leaves out keeps racerl's default,
except the track: DRfC's scripts fall back to ``LGSWide``, and so does the import.

No track file is looked up here: the track catalog loads Numba, which the model package
must not import (the car reads it). The command line resolves :attr:`DrfcImport.tracks`
before anything is written, so an unknown track gets the catalog's message on how to add
DeepRacer's track files.
"""

from __future__ import annotations

import ast
import json
import math
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from racerl.atomic import atomic_write, atomic_write_text
from racerl.camera.sensors import (
    DISCRETIZED_SECTOR_LIDAR,
    FRONT_FACING_CAMERA,
    SensorError,
    check_sensors,
)
from racerl.envs.actions import ContinuousActions, DiscreteActions, parse_action_space
from racerl.errors import ActionSpaceError, RacerlError, RewardFunctionError
from racerl.home import NAME_PATTERN, check_name
from racerl.model.config import METADATA_NETWORK, ConfigError, TrainConfig, load_config_dict
from racerl.sim.race_setup import parse_object_positions

MAPPED = "mapped"
"""A racerl setting takes the value (or racerl behaves so already, with nothing to set)."""
ADJUSTED = "adjusted"
"""racerl takes the setting but not this value: its nearest, or its default, instead."""
UNSUPPORTED = "unsupported"
"""racerl has no such feature yet: the value has no effect."""
NOT_NEEDED = "not needed"
"""The setting serves DRfC's machinery (storage, containers, streams) or is unused here."""
UNKNOWN = "unknown"
"""No DRfC version reads this setting (a typo, or something newer than this import)."""

LOCAL = "racerl runs locally"
OBSTACLES = "obstacles and bot cars for this race type"
WORLD_NAME_UNSET = "LGSWide"
"""The track DRfC's prepare-config scripts use when DR_WORLD_NAME is not set."""
RACE_TYPES = ("TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT", "HEAD_TO_MODEL")
CUSTOM_FILES = ("model_metadata.json", "hyperparameters.json", "reward_function.py")
HEAD_TO_MODEL_TRAINING = (
    "DeepRacer trains one car alone for HEAD_TO_MODEL (a time trial: the simapp's rollout "
    "worker spawns one agent, and DRfC's training prepare-config adds no objects); the "
    "second model only comes in the evaluation: racerl race create --type head-to-model, "
    "racerl race submit RACE MODEL OPPONENT")
"""Why a HEAD_TO_MODEL run.env trains a time trial: deepracer-simapp
bundle/markov/rollout_worker.py builds the single agent ``racecar`` and
bundle/markov/agent_ctrl/rollout_agent_ctrl.py says "we are not supporting multi-agent
training for now"; DRfC's scripts/training/prepare-config.py only adds obstacles or bot
cars for OBJECT_AVOIDANCE and HEAD_TO_BOT."""
OPPONENT_UNSET = "rl-deepracer-sagemaker"
"""The opponent DRfC's evaluation prepare-config uses when DR_EVAL_OPP_S3_MODEL_PREFIX is
not set."""
OPPONENT_NAMES = ("DR_EVAL_OPP_CAR_NAME", "DR_EVAL_OPP_DISPLAY_NAME", "DR_EVAL_OPP_RACER_NAME")
RACE_OPTIONS = ("max_resets", "off_track_penalty", "collision_penalty")
"""``racerl evaluate`` options a head-to-model race takes under the same name; the race
gets DRfC's value (racerl evaluate's default where run.env has none), since ``racerl race
create``'s own defaults are the console's, not DeepRacer's evaluation's."""
DEFAULT_MINUTES = 60
"""The budget the printed ``racerl train`` line suggests: DRfC trains until stopped, racerl
needs a budget (--minutes or --steps)."""


class DrfcError(RacerlError):
    """A DRfC file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Row:
    """What racerl makes of one DRfC setting."""

    source: str
    """The file it came from: ``run.env``, ``worker-2.env``, ``hyperparameters.json``..."""
    key: str
    """DRfC's name of the setting (a variable, a JSON key, or the file itself)."""
    drfc_value: str
    """The value as DRfC reads it (variables expanded), as text."""
    field: str | None
    """What takes it in racerl: a TrainConfig field, ``racerl evaluate --FLAG``,
    ``racerl train --name``; None where nothing does."""
    value: object
    """The value racerl gets (None where nothing takes it)."""
    status: str
    """:data:`MAPPED`, :data:`ADJUSTED`, :data:`UNSUPPORTED`, :data:`NOT_NEEDED` or
    :data:`UNKNOWN`."""
    note: str = ""
    """Why, for anything but a plain mapping."""

    def describe(self) -> str:
        """The note as the table shows it: the status, then the reason."""
        if self.status == MAPPED:
            return self.note
        if self.status == UNKNOWN:
            return f"unknown DRfC setting, ignored{': ' + self.note if self.note else ''}"
        return f"{self.status}: {self.note}" if self.note else self.status


@dataclass(frozen=True)
class DrfcFiles:
    """The files of a DRfC run, wherever in the folder they were found."""

    folder: Path
    run_env: Path
    system_env: Path | None
    model_metadata: Path
    hyperparameters: Path
    reward_function: Path


@dataclass
class DrfcImport:
    """A DRfC folder read and mapped onto racerl, and the files :func:`write_drfc_import`
    will write for it: see the module docstring."""

    files: DrfcFiles
    name: str
    """The model name for ``racerl train --name`` (DR_LOCAL_S3_MODEL_PREFIX by default)."""
    path: Path
    """The config YAML to write (default ``./<name>.yaml``)."""
    rows: list[Row]
    config: dict
    """The TrainConfig settings the import sets, in field order; ``reward`` and
    ``action_space`` name the copies beside :attr:`path` (:attr:`copies`)."""
    evaluation: dict = field(default_factory=dict)
    """``racerl evaluate`` options from DR_EVAL_* (option name with '_' for '-' -> value),
    those that differ from racerl evaluate's defaults, plus ``track`` and ``video`` where
    DRfC's settings need them."""
    opponent: str | None = None
    """The opponent model of a HEAD_TO_MODEL run (DR_EVAL_OPP_S3_MODEL_PREFIX, DRfC's
    default where unset; the model's own name means the centre-line driver races it); None
    for other race types."""

    @property
    def copies(self) -> dict[Path, Path]:
        """The files written beside the config (target -> the DRfC file it copies)."""
        reward, metadata = sidecar_paths(self.path)
        return {reward: self.files.reward_function, metadata: self.files.model_metadata}

    @property
    def tracks(self) -> list[str]:
        """Every track the config trains on (one per DRfC worker in a multi-config run)."""
        track = self.config["track"]
        return [track] if isinstance(track, str) else list(track)

    def train_command(self, config_path: str | Path) -> str:
        """The ``racerl train`` line that trains with the written config."""
        return shlex.join(["racerl", "train", "--name", self.name, "--config", str(config_path),
                           "--minutes", str(DEFAULT_MINUTES)])

    def evaluate_command(self) -> str:
        """The ``racerl evaluate`` line that evaluates as DRfC's DR_EVAL_* settings say."""
        args = ["racerl", "evaluate", self.name]
        for option, value in self.evaluation.items():
            flag = "--" + option.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is not False:
                args += [flag, _text(value)]
        return shlex.join(args)

    @property
    def race_name(self) -> str:
        """The head-to-model race :meth:`race_commands` creates: the model's name + ``-h2m``."""
        return f"{self.name}-h2m"

    def race_commands(self) -> list[str]:
        """For a HEAD_TO_MODEL run, the racerl lines that run DRfC's head-to-model evaluation:
        create a head-to-model race on the evaluation's track with its laps, resets and
        penalties, then race the model against the opponent. Empty for other race types
        (their evaluation is :meth:`evaluate_command`)."""
        if self.opponent is None:
            return []
        track = self.evaluation.get("track", self.tracks[0])
        create = ["racerl", "race", "create", self.race_name, "--type", "head-to-model",
                  "--track", str(track),
                  "--laps", str(self.evaluation.get("trials", EVALUATE_DEFAULTS["trials"]))]
        for option in RACE_OPTIONS:
            value = self.evaluation.get(option, EVALUATE_DEFAULTS[option])
            create += ["--" + option.replace("_", "-"), _text(value)]
        if self.evaluation.get("reverse_direction"):
            create.append("--reverse-direction")
        submit = ["racerl", "race", "submit", self.race_name, self.name]
        # a model cannot race itself (DRfC's template races the model's own prefix)
        submit += (["--driver", "centerline"] if self.opponent == self.name
                   else [self.opponent])
        return [shlex.join(create), shlex.join(submit)]


# Defaults of `racerl evaluate`'s options (src/racerl/cli/evaluation.py), to leave out of the
# printed command the flags that change nothing.
EVALUATE_DEFAULTS = {"trials": 3, "continuous": False, "max_resets": 10_000,
                     "off_track_penalty": 2.0, "collision_penalty": 5.0,
                     "reverse_direction": False, "checkpoint": "best", "lighting": "studio",
                     "reset_behind_dist": 1.0}


# -- finding and reading the files -------------------------------------------------------

def find_drfc_files(folder: str | Path) -> DrfcFiles:
    """The run's files in ``folder``: a DRfC root or experiment folder (``run.env`` with
    ``custom_files/`` beneath), a folder holding the custom files themselves beside
    ``run.env``, or ``custom_files/`` itself with ``run.env`` one level up."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DrfcError(f"{folder}: no such folder (give the DRfC folder that holds run.env "
                        "and custom_files/)")
    roots = [folder]
    if folder.name == "custom_files":
        roots.append(folder.parent)
    run_env = next((r / "run.env" for r in roots if (r / "run.env").is_file()), None)
    if run_env is None:
        raise DrfcError(f"{folder}: no run.env here (DRfC keeps the run's settings in "
                        "run.env, beside custom_files/)")
    root = run_env.parent
    system_candidates = [root / "system.env"]
    if root.parent.name == "experiments":  # DRfC's experiments/<name>/ use the root's
        system_candidates.append(root.parent.parent / "system.env")
    system_env = next((p for p in system_candidates if p.is_file()), None)
    places = [root / "custom_files", folder, root]
    found = {}
    for name in CUSTOM_FILES:
        path = next((p / name for p in places if (p / name).is_file()), None)
        if path is None:
            where = " or ".join(str(p) for p in dict.fromkeys(places))
            raise DrfcError(f"{folder}: no {name} in {where} (DRfC's custom_files/ holds "
                            f"{', '.join(CUSTOM_FILES)})")
        found[name] = path
    return DrfcFiles(folder, run_env, system_env, found["model_metadata.json"],
                     found["hyperparameters.json"], found["reward_function.py"])


@dataclass(frozen=True)
class EnvEntry:
    """One ``KEY=value`` line of an env file."""

    path: Path
    line: int
    key: str
    value: str  # quotes removed, variables expanded

    @property
    def where(self) -> str:
        return f"{self.path} line {self.line}"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_env_file(path: Path, known: dict[str, str] | None = None) -> list[EnvEntry]:
    """The ``KEY=value`` lines of a shell env file, as ``source`` would set them.

    ``known`` holds the values read before (system.env's for run.env), for ``$NAME``
    references; a name set nowhere expands to nothing, as in a shell. A line a shell would
    not take as an assignment is a :class:`DrfcError` naming the file and the line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DrfcError(f"{path}: cannot read the file ({exc})") from None
    values = dict(known or {})
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export"):].lstrip()
        key, equals, rest = line.partition("=")
        if not equals or not _NAME.fullmatch(key):
            raise DrfcError(f"{path} line {number}: expected KEY=value (no spaces around "
                            f"'='), not {raw.strip()!r}")
        value = _shell_value(rest, values, f"{path} line {number}")
        values[key] = value
        entries.append(EnvEntry(path, number, key, value))
    return entries


def _shell_value(text: str, known: dict[str, str], where: str) -> str:
    """The value of a shell assignment's right-hand side: quotes, escapes, ``$NAME``,
    ``${NAME}`` and ``${NAME:-default}``, and a trailing ``# comment``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise DrfcError(f"{where}: unterminated ' quote")
            out.append(text[i + 1:end])
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= len(text):
                    raise DrfcError(f'{where}: unterminated " quote')
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < len(text) and text[i + 1] in '"\\$`':
                    out.append(text[i + 1])
                    i += 2
                elif c == "$":
                    value, i = _expand(text, i, known, where)
                    out.append(value)
                else:
                    out.append(c)
                    i += 1
        elif c == "\\":
            out.append(text[i + 1:i + 2])
            i += 2
        elif c == "$":
            value, i = _expand(text, i, known, where)
            out.append(value)
        elif c in " \t":
            rest = text[i:].lstrip()
            if rest and not rest.startswith("#"):
                raise DrfcError(f"{where}: a space in the value ends the assignment in a "
                                f"shell; quote the value ({text.strip()!r})")
            break
        elif c == "`":
            raise DrfcError(f"{where}: command substitution (`...`) is not read; write the "
                            "value itself")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _expand(text: str, i: int, known: dict[str, str], where: str) -> tuple[str, int]:
    """The value of the ``$`` reference at ``text[i]`` and the index after it."""
    rest = text[i + 1:]
    if rest.startswith("("):
        raise DrfcError(f"{where}: command substitution $(...) is not read; write the value "
                        "itself")
    if rest.startswith("{"):
        end = rest.find("}")
        if end < 0:
            raise DrfcError(f"{where}: unterminated ${{")
        inner = rest[1:end]
        name, _, default = inner.partition(":-")
        if not _NAME.fullmatch(name):
            raise DrfcError(f"{where}: ${{{inner}}} is no variable reference this import reads")
        value = known.get(name, "")
        return (value or default if ":-" in inner else value), i + 2 + end
    match = _NAME.match(rest)
    if match is None:
        return "$", i + 1
    return known.get(match.group(), ""), i + 1 + match.end()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DrfcError(f"{path}: cannot read the file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise DrfcError(f"{path}: not valid JSON ({exc.msg} on line {exc.lineno}, "
                        f"column {exc.colno})") from None
    if not isinstance(data, dict):
        raise DrfcError(f"{path}: expected a JSON object {{...}}, not {type(data).__name__}")
    return data


def check_reward_file(path: Path) -> None:
    """Refuse a reward file that cannot work: unreadable, a syntax error, or no top-level
    ``reward_function``. The file is parsed, not run: the import runs no user code (training
    loads it, in the sandbox if the config says so)."""
    try:
        source = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RewardFunctionError(f"{path}: cannot read the file ({exc})") from None
    try:
        tree = ast.parse(source, str(path))
    except ValueError as exc:  # null bytes
        raise RewardFunctionError(f"{path}: not Python source ({exc})") from None
    except SyntaxError as exc:
        raise RewardFunctionError(f"{path}: syntax error on line {exc.lineno}: {exc.msg}") \
            from None
    bound = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    if "reward_function" not in bound:
        raise RewardFunctionError(f"{path}: the file defines no function "
                                  "'reward_function(params)' (DeepRacer calls it every step)")


# -- values --------------------------------------------------------------------------------

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0", "")


def _bool(entry: EnvEntry) -> bool:
    """A DRfC switch: True/False in any case (the simapp's str2bool), empty being off."""
    text = entry.value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DrfcError(f"{entry.where}: {entry.key} must be True or False, not {entry.value!r}")


def _float(entry: EnvEntry) -> float:
    try:
        return float(entry.value)
    except ValueError:
        raise DrfcError(f"{entry.where}: {entry.key} must be a number, not "
                        f"{entry.value!r}") from None


def _int(entry: EnvEntry) -> int:
    try:
        return int(entry.value)
    except ValueError:
        raise DrfcError(f"{entry.where}: {entry.key} must be a whole number, not "
                        f"{entry.value!r}") from None


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def model_name(text: str) -> str:
    """``text`` as a racerl model name: characters a name may not hold become '-'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).lstrip("._-")[:64]
    return name if NAME_PATTERN.fullmatch(name) else ""


# -- the mapping -----------------------------------------------------------------------------

class _Mapper:
    """Collects the rows, the config and the evaluation options while the files are read."""

    def __init__(self, files: DrfcFiles, name: str | None, out: str | Path | None):
        self.files = files
        self.given_name = name
        self.name = name or ""
        self.out = out
        self.path = Path()  # the config file, once the name is known
        self.rows: list[Row] = []
        self.config: dict = {}
        self.evaluation: dict = {}
        self.opponent: str | None = None  # DR_EVAL_OPP_S3_MODEL_PREFIX of a HEAD_TO_MODEL run
        self.env: dict[str, EnvEntry] = {}  # the value each key ends with
        self.source = ""

    def row(self, key: str, drfc_value: object, field_: str | None, value: object,
            status: str, note: str = "") -> None:
        self.rows.append(Row(self.source, key, _text(drfc_value), field_, value, status, note))

    def setting(self, key: str, drfc_value: object, name: str, value: object,
                note: str = "") -> None:
        """Set TrainConfig field ``name``, or keep racerl's default where racerl refuses the
        value (a row saying why), rather than fail on a file DRfC takes."""
        try:
            load_config_dict({name: value}, "racerl")
        except ConfigError as exc:
            default = getattr(TrainConfig(), name)
            why = str(exc).removeprefix("racerl: ")
            self.row(key, drfc_value, name, default, ADJUSTED,
                     f"racerl's {why}; racerl's default {_text(default)} instead")
            return
        self.config[name] = value
        self.row(key, drfc_value, name, value, MAPPED, note)

    def option(self, key: str, drfc_value: object, option: str, value: object,
               note: str = "") -> None:
        """A ``racerl evaluate`` option (kept for the command only where it is no default)."""
        if EVALUATE_DEFAULTS.get(option) != value:
            self.evaluation[option] = value
        flag = f"racerl evaluate --{option.replace('_', '-')}"
        self.row(key, drfc_value, flag, value, MAPPED, note)

    @property
    def race_type(self) -> str:
        entry = self.env.get("DR_RACE_TYPE")
        return entry.value if entry is not None else "TIME_TRIAL"


EnvHandler = Callable[[_Mapper, EnvEntry], None]


def _field(name: str, convert: Callable[[EnvEntry], object], note: str = "") -> EnvHandler:
    def handle(m: _Mapper, e: EnvEntry) -> None:
        m.setting(e.key, e.value, name, convert(e), note)
    return handle


def _eval_option(option: str, convert: Callable[[EnvEntry], object], note: str = "",
                 minimum: float | None = None) -> EnvHandler:
    def handle(m: _Mapper, e: EnvEntry) -> None:
        value = convert(e)
        if minimum is not None and value < minimum:
            raise DrfcError(f"{e.where}: {e.key} must be at least {minimum:g}, not {e.value!r}")
        m.option(e.key, e.value, option, value, note)
    return handle


def _status(status: str, note: str) -> EnvHandler:
    def handle(m: _Mapper, e: EnvEntry) -> None:
        m.row(e.key, e.value, None, None, status, note)
    return handle


def _world_name(m: _Mapper, e: EnvEntry) -> None:
    if not e.value.strip():
        raise DrfcError(f"{e.where}: DR_WORLD_NAME is empty (it names the track)")
    m.config["track"] = e.value.strip()
    m.row(e.key, e.value, "track", e.value.strip(), MAPPED,
          "a _cw/_ccw name drives that direction" if e.value.endswith(("_cw", "_ccw")) else "")


def _race_type(m: _Mapper, e: EnvEntry) -> None:
    kind = e.value.strip()
    if kind not in RACE_TYPES:
        raise DrfcError(f"{e.where}: DR_RACE_TYPE must be one of {', '.join(RACE_TYPES)}, "
                        f"not {e.value!r}")
    if kind == "TIME_TRIAL":
        m.row(e.key, kind, None, None, MAPPED, "racerl's default race type (time_trial)")
    elif kind == "HEAD_TO_MODEL":
        m.setting(e.key, kind, "race_type", "time_trial", HEAD_TO_MODEL_TRAINING)
    else:
        m.setting(e.key, kind, "race_type", kind.lower(),
                  "the DR_OA_* settings give its boxes" if kind == "OBJECT_AVOIDANCE"
                  else "the DR_H2B_* settings give its bot cars")


def _domain_randomization(m: _Mapper, e: EnvEntry) -> None:
    on = _bool(e)
    lighting = "random" if on else "studio"
    note = ("racerl's nearest: each episode under a random lighting preset (DRfC also "
            "changes colours)" if on else "")
    m.setting(e.key, e.value, "lighting", lighting, note)
    if on:
        m.evaluation["lighting"] = "random"


def _best_model_metric(m: _Mapper, e: EnvEntry) -> None:
    metric = e.value.strip()
    if metric in ("progress", "lap_time"):
        m.setting(e.key, metric, "best_model_metric", metric)
    else:
        m.row(e.key, metric, "best_model_metric", "progress", ADJUSTED,
              "racerl's evaluations do not run the reward function; racerl keeps the best "
              "checkpoint by progress or lap_time: progress")


def _multi_config(m: _Mapper, e: EnvEntry) -> None:
    if not _bool(e):
        m.row(e.key, e.value, "track", None, MAPPED, "off: one track")
        return
    workers = _worker_files(m.files, m.env)
    if not workers:
        why = ("DR_WORKERS is 1" if "DR_WORKERS" in m.env
               else "no worker-N.env files beside run.env")
        m.row(e.key, e.value, "track", None, MAPPED, f"{why}: one track, as in DRfC")
        return
    m.row(e.key, e.value, "track", None, MAPPED,
          f"a list of tracks: run.env's and those of {', '.join(p.name for p in workers)} "
          "(racerl spreads its n_envs cars over them); DRfC evaluates on run.env's: "
          "racerl evaluate --track")


def _legacy(new_key: str, name: str) -> EnvHandler:
    """DRfC's older name of a DR_TRAIN_* setting; prepare-config reads it only when the new
    name is not set."""
    def handle(m: _Mapper, e: EnvEntry) -> None:
        if new_key in m.env:
            m.row(e.key, e.value, None, None, NOT_NEEDED, f"older name of {new_key}, which is "
                  "set and wins")
        else:
            m.setting(e.key, e.value, name, _bool(e), f"older name of {new_key}")
    return handle


def _debug_reward(m: _Mapper, e: EnvEntry) -> None:
    if _bool(e):
        m.row(e.key, e.value, None, None, UNSUPPORTED, "racerl's evaluations log DeepRacer's "
              "built-in reward, not yours; 'racerl reward lab' scores your function on "
              "driven laps")
    else:
        m.row(e.key, e.value, None, None, NOT_NEEDED, "off (evaluations log DeepRacer's "
              "built-in reward)")


def _save_mp4(m: _Mapper, e: EnvEntry) -> None:
    if _bool(e):
        m.option(e.key, e.value, "video", f"{m.name}.mp4", "the evaluation's video")
    else:
        m.row(e.key, e.value, "racerl evaluate --video", None, MAPPED, "off: no video")


def _checkpoint(m: _Mapper, e: EnvEntry) -> None:
    which = e.value.strip().lower()
    if which in ("best", "last"):
        m.option(e.key, e.value, "checkpoint", which)
    else:
        m.row(e.key, e.value, "racerl evaluate --checkpoint", "best", ADJUSTED,
              "racerl evaluates the best or the last checkpoint: best")


def _pretrained(m: _Mapper, e: EnvEntry) -> None:
    if _bool(e):
        m.row(e.key, e.value, None, None, UNSUPPORTED, "the model to start from lives in "
              "DRfC's S3 bucket; racerl starts from one of its own models: "
              "racerl train --clone NAME")
    else:
        m.row(e.key, e.value, None, None, NOT_NEEDED, "training starts afresh (off)")


def _pretrained_detail(m: _Mapper, e: EnvEntry) -> None:
    entry = m.env.get("DR_LOCAL_S3_PRETRAINED")
    on = entry is not None and _bool(entry)
    if on:
        m.row(e.key, e.value, None, None, UNSUPPORTED, "see DR_LOCAL_S3_PRETRAINED: racerl "
              "train --clone NAME starts from a racerl model")
    else:
        m.row(e.key, e.value, None, None, NOT_NEEDED, "only with DR_LOCAL_S3_PRETRAINED=True")


def _model_prefix(m: _Mapper, e: EnvEntry) -> None:
    if m.name == e.value:
        m.row(e.key, e.value, "racerl train --name", m.name, MAPPED, "the model's name")
    elif m.given_name is not None:
        m.row(e.key, e.value, "racerl train --name", m.name, ADJUSTED,
              "the name given to racerl import instead")
    else:
        m.row(e.key, e.value, "racerl train --name", m.name, ADJUSTED,
              "a racerl model name holds only letters, digits, '-', '_' and '.'")


def _choose_name(m: _Mapper) -> str:
    """The model name: the one given, else DR_LOCAL_S3_MODEL_PREFIX, else the folder's
    name, made a valid racerl name."""
    if m.given_name is not None:
        return m.given_name
    prefix = m.env.get("DR_LOCAL_S3_MODEL_PREFIX")
    return (model_name(prefix.value if prefix else "")
            or model_name(m.files.run_env.parent.resolve().name) or "drfc")


def _positions(entry: EnvEntry) -> str:
    """DR_OA_OBJECT_POSITIONS, checked here so that a bad one names the env file."""
    text = entry.value.strip().strip('"').strip("'")
    try:
        parse_object_positions(text)
    except ValueError as exc:
        raise DrfcError(f"{entry.where}: {entry.key}: {exc}") from None
    return text


OBJECT_SETTINGS: dict[str, tuple[str, Callable[[EnvEntry], object]]] = {
    "DR_OA_NUMBER_OF_OBSTACLES": ("number_of_obstacles", _int),
    "DR_OA_MIN_DISTANCE_BETWEEN_OBSTACLES": ("min_distance_between_obstacles", _float),
    "DR_OA_RANDOMIZE_OBSTACLE_LOCATIONS": ("randomize_obstacle_locations", _bool),
    "DR_OA_IS_OBSTACLE_BOT_CAR": ("is_obstacle_bot_car", _bool),
    "DR_OA_OBJECT_POSITIONS": ("object_positions", _positions),
    "DR_H2B_NUMBER_OF_BOT_CARS": ("number_of_bot_cars", _int),
    "DR_H2B_BOT_CAR_SPEED": ("bot_car_speed", _float),
    "DR_H2B_MIN_DISTANCE_BETWEEN_BOT_CARS": ("min_distance_between_bot_cars", _float),
    "DR_H2B_RANDOMIZE_BOT_CAR_LOCATIONS": ("randomize_bot_car_locations", _bool),
    "DR_H2B_IS_LANE_CHANGE": ("is_lane_change", _bool),
    "DR_H2B_LOWER_LANE_CHANGE_TIME": ("lower_lane_change_time", _float),
    "DR_H2B_UPPER_LANE_CHANGE_TIME": ("upper_lane_change_time", _float),
    "DR_H2B_LANE_CHANGE_DISTANCE": ("lane_change_distance", _float),
    "DR_H2B_BOT_CAR_PENALTY": ("bot_car_penalty", _float),
}
"""The DR_OA_* and DR_H2B_* settings and the TrainConfig fields they become."""


def _objects(race_type: str) -> EnvHandler:
    """DR_OA_* and DR_H2B_*: obstacles and bot cars, set where the race type has them."""
    def handle(m: _Mapper, e: EnvEntry) -> None:
        if m.race_type != race_type:
            m.row(e.key, e.value, None, None, NOT_NEEDED, f"only for {race_type}")
        elif e.key in OBJECT_SETTINGS:
            name, convert = OBJECT_SETTINGS[e.key]
            m.setting(e.key, e.value, name, convert(e), OBSTACLES)
        elif e.key == "DR_OA_OBSTACLE_TYPE":
            status = NOT_NEEDED if e.value.strip() == "box_obstacle" else ADJUSTED
            m.row(e.key, e.value, None, None, status, "racerl's boxes have DeepRacer's box "
                  "size; the camera paints every box type alike")
        else:
            m.row(e.key, e.value, None, None, UNKNOWN, f"not a {race_type} setting racerl "
                                                      "knows")
    return handle


def _opponent(m: _Mapper, e: EnvEntry) -> None:
    """DR_EVAL_OPP_*: the second car of DRfC's HEAD_TO_MODEL evaluation
    (scripts/evaluation/prepare-config.py appends them to the racer's lists). Only the model
    has a racerl counterpart: the opponent of ``racerl race submit RACE MODEL OPPONENT``."""
    if m.race_type != "HEAD_TO_MODEL":
        m.row(e.key, e.value, None, None, NOT_NEEDED, "only for HEAD_TO_MODEL evaluations "
              "(an opponent model)")
    elif e.key == "DR_EVAL_OPP_S3_MODEL_PREFIX":
        m.opponent = e.value.strip() or OPPONENT_UNSET
        if m.opponent == m.name:
            m.row(e.key, e.value, "racerl race submit RACE MODEL --driver centerline",
                  "centerline", ADJUSTED, "the model itself (DRfC's template); a racerl race "
                  "needs two entrants, so the suggested race's opponent is the centre-line "
                  "driver (name another model instead to race it)")
        else:
            m.row(e.key, e.value, "racerl race submit RACE MODEL OPPONENT", m.opponent,
                  MAPPED, "the opponent model: a racerl model of that name (import or train "
                  "it first)")
    elif e.key in OPPONENT_NAMES:
        m.row(e.key, e.value, None, None, NOT_NEEDED, "no racerl counterpart: a race names "
              "each racer by its model")
    elif e.key == "DR_EVAL_OPP_CAR_BODY_SHELL_TYPE":
        m.row(e.key, e.value, None, None, NOT_NEEDED, "a body shell only changes the look; "
              "every racerl car has DeepRacer's size")
    else:
        m.row(e.key, e.value, None, None, NOT_NEEDED, f"{LOCAL} (the opponent's model "
              "files are a racerl model folder)")


ENV_SETTINGS: dict[str, EnvHandler] = {
    # The track and the race.
    "DR_WORLD_NAME": _world_name,
    "DR_RACE_TYPE": _race_type,
    "DR_ENABLE_DOMAIN_RANDOMIZATION": _domain_randomization,
    # Training (scripts/training/prepare-config.py).
    "DR_TRAIN_CHANGE_START_POSITION": _field("change_start_position", _bool),
    "DR_TRAIN_REVERSE_DIRECTION": _field("reverse_direction", _bool),
    "DR_TRAIN_ALTERNATE_DRIVING_DIRECTION": _field("alternate_driving_direction", _bool),
    "DR_TRAIN_START_POSITION_OFFSET": _field("start_position_offset", _float),
    "DR_TRAIN_ROUND_ROBIN_ADVANCE_DIST": _field("round_robin_advance_dist", _float),
    "DR_TRAIN_MULTI_CONFIG": _multi_config,
    "DR_TRAIN_MIN_EVAL_TRIALS": _field("eval_trials", _int, "laps per evaluation while "
                                                           "training"),
    "DR_TRAIN_BEST_MODEL_METRIC": _best_model_metric,
    "DR_TRAIN_MAX_STEPS_PER_ITERATION": _status(
        NOT_NEEDED, "racerl's iterations have a fixed size (n_envs x rollout_steps steps), "
                    "so memory is bounded"),
    "DR_TRAIN_RTF": _status(NOT_NEEDED, "racerl's simulator runs as fast as it can, with no "
                                        "real-time factor"),
    "DR_CHANGE_START_POSITION": _legacy("DR_TRAIN_CHANGE_START_POSITION",
                                        "change_start_position"),
    "DR_ALTERNATE_DRIVING_DIRECTION": _legacy("DR_TRAIN_ALTERNATE_DRIVING_DIRECTION",
                                              "alternate_driving_direction"),
    # Evaluation (scripts/evaluation/prepare-config.py).
    "DR_EVAL_NUMBER_OF_TRIALS": _eval_option("trials", _int, minimum=1),
    "DR_EVAL_IS_CONTINUOUS": _eval_option("continuous", _bool, "the trials as laps of one "
                                                              "episode"),
    "DR_EVAL_MAX_RESETS": _eval_option("max_resets", _int, minimum=0),
    "DR_EVAL_OFF_TRACK_PENALTY": _eval_option("off_track_penalty", _float, "seconds",
                                              minimum=0),
    "DR_EVAL_COLLISION_PENALTY": _eval_option("collision_penalty", _float, "seconds",
                                              minimum=0),
    "DR_EVAL_REVERSE_DIRECTION": _eval_option("reverse_direction", _bool),
    "DR_EVAL_CHECKPOINT": _checkpoint,
    "DR_EVAL_SAVE_MP4": _save_mp4,
    "DR_EVAL_RESET_BEHIND_DIST": _eval_option("reset_behind_dist", _float,
                                              "metres (matters only with obstacles)",
                                              minimum=0),
    "DR_EVAL_DEBUG_REWARD": _debug_reward,
    "DR_EVAL_RTF": _status(NOT_NEEDED, "racerl's simulator runs as fast as it can, with no "
                                       "real-time factor"),
    # The car's looks and names.
    **dict.fromkeys(("DR_CAR_NAME", "DR_DISPLAY_NAME", "DR_RACER_NAME"), _status(
        NOT_NEEDED, "a name for DeepRacer's video and leaderboards (racerl: the model name)")),
    **dict.fromkeys(("DR_CAR_COLOR", "DR_CAR_BODY_SHELL_TYPE"), _status(
        NOT_NEEDED, "the car's looks in Gazebo; racerl's camera sees only the track")),
    # The run's bookkeeping.
    "DR_RUN_ID": _status(NOT_NEEDED, "keeps DRfC's jobs on one machine apart; each racerl "
                                     "model has its own folder"),
    "DR_LOCAL_S3_MODEL_PREFIX": _model_prefix,
    "DR_LOCAL_S3_PRETRAINED": _pretrained,
    "DR_LOCAL_S3_PRETRAINED_PREFIX": _pretrained_detail,
    "DR_LOCAL_S3_PRETRAINED_CHECKPOINT": _pretrained_detail,
    # The machine (system.env).
    "DR_WORKERS": _status(NOT_NEEDED, "racerl drives n_envs cars (32 by default) at once"),
    "DR_EXPERIMENT_NAME": _status(NOT_NEEDED, "racerl reads the folder it is given"),
    "DR_QUIET_ACTIVATE": _status(NOT_NEEDED, "DRfC's shell set-up"),
    "CUDA_VISIBLE_DEVICES": _status(NOT_NEEDED, "racerl trains on the device its config "
                                                "names (device: cpu, cuda or auto)"),
    "DR_CLOUD": _status(NOT_NEEDED, LOCAL),
    **dict.fromkeys(("DR_HOST_X", "DR_DISPLAY"), _status(NOT_NEEDED, f"{LOCAL} (no X server)")),
    "DR_ENABLE_EXTRA_KVS_OVERLAY": _status(NOT_NEEDED, f"{LOCAL} (no stream)"),
}
"""What each DRfC env setting becomes, by name (prefixes: :data:`ENV_PREFIXES`)."""

ENV_PREFIXES: dict[str, EnvHandler] = {
    "DR_OA_": _objects("OBJECT_AVOIDANCE"),
    "DR_H2B_": _objects("HEAD_TO_BOT"),
    "DR_EVAL_OPP_": _opponent,
    "DR_LOCAL_S3_": _status(NOT_NEEDED, f"{LOCAL} (no S3 bucket)"),
    "DR_UPLOAD_": _status(NOT_NEEDED, f"{LOCAL} (racerl export makes the car's model file)"),
    "DR_AWS_": _status(NOT_NEEDED, LOCAL),
    "DR_MINIO_": _status(NOT_NEEDED, LOCAL),
    "DR_REMOTE_MINIO_": _status(NOT_NEEDED, LOCAL),
    "DR_DROA_": _status(NOT_NEEDED, LOCAL),
    "DR_SIMAPP_": _status(NOT_NEEDED, f"{LOCAL} (no containers)"),
    "DR_SAGEMAKER_": _status(NOT_NEEDED, f"{LOCAL} (no containers; the GPU: device)"),
    "DR_ROBOMAKER_": _status(NOT_NEEDED, f"{LOCAL} (no containers; the GPU: device)"),
    "DR_COACH_": _status(NOT_NEEDED, f"{LOCAL} (no containers)"),
    "DR_ANALYSIS_": _status(NOT_NEEDED, f"{LOCAL} (no containers; the model folder has "
                                        "DeepRacer's logs for log analysis)"),
    "DR_DOCKER_": _status(NOT_NEEDED, f"{LOCAL} (no containers)"),
    "DR_GAZEBO_": _status(NOT_NEEDED, f"{LOCAL} (no Gazebo)"),
    "DR_GUI_": _status(NOT_NEEDED, f"{LOCAL} (a live table shows the training)"),
    "DR_KINESIS_": _status(NOT_NEEDED, f"{LOCAL} (no stream; racerl evaluate --video)"),
    "DR_CAMERA_": _status(NOT_NEEDED, f"{LOCAL} (no stream; racerl evaluate --video)"),
    "DR_WEBVIEWER_": _status(NOT_NEEDED, f"{LOCAL} (no stream; racerl evaluate --video)"),
    "DR_CLOUD_WATCH_": _status(NOT_NEEDED, f"{LOCAL} (the model folder keeps the logs)"),
    "DR_TELEGRAF_": _status(NOT_NEEDED, f"{LOCAL} (metrics: training_metrics.json)"),
}
"""Handlers of whole families of DRfC settings, by the start of their names."""


def _env_handler(key: str) -> EnvHandler | None:
    if key in ENV_SETTINGS:
        return ENV_SETTINGS[key]
    return next((h for prefix, h in ENV_PREFIXES.items() if key.startswith(prefix)), None)


# Settings a DRfC worker-N.env may set for its own worker (prepare-config.py, multi config).
WORKER_KEYS = ("DR_WORLD_NAME", "DR_RACE_TYPE", "DR_CAR_COLOR", "DR_CAR_BODY_SHELL_TYPE",
               "DR_TRAIN_ALTERNATE_DRIVING_DIRECTION", "DR_TRAIN_CHANGE_START_POSITION",
               "DR_TRAIN_ROUND_ROBIN_ADVANCE_DIST", "DR_ENABLE_DOMAIN_RANDOMIZATION",
               "DR_TRAIN_START_POSITION_OFFSET", "DR_TRAIN_REVERSE_DIRECTION",
               "DR_CAMERA_MAIN_ENABLE", "DR_CAMERA_SUB_ENABLE", "DR_ENABLE_EXTRA_KVS_OVERLAY")


def _worker_files(files: DrfcFiles, env: dict[str, EnvEntry]) -> list[Path]:
    """The worker-N.env files a DRfC multi-config run reads: workers 2..DR_WORKERS (the
    first worker runs run.env), or, without DR_WORKERS, those beside run.env."""
    folder = files.run_env.parent
    workers = env.get("DR_WORKERS")
    if workers is not None:
        count = _int(workers)
        paths = [folder / f"worker-{i}.env" for i in range(2, count + 1)]
        for path in paths:
            if not path.is_file():
                raise DrfcError(f"{path}: missing (DR_TRAIN_MULTI_CONFIG is True and "
                                f"DR_WORKERS is {count}: DRfC reads worker-2.env to "
                                f"worker-{count}.env beside run.env)")
        return paths
    found = {int(m.group(1)): p for p in folder.glob("worker-*.env")
             if (m := re.fullmatch(r"worker-(\d+)\.env", p.name)) and int(m.group(1)) >= 2}
    return [found[i] for i in sorted(found)]


def _read_workers(m: _Mapper) -> None:
    """Each worker's track joins the list; its other settings must match run.env's, as
    racerl applies one value of each to every track. Worker files DRfC would not read are
    listed as such."""
    multi = m.env.get("DR_TRAIN_MULTI_CONFIG")
    workers = _worker_files(m.files, m.env) if multi is not None and _bool(multi) else []
    for path in sorted(m.files.run_env.parent.glob("worker-*.env")):
        if path not in workers:
            m.source = path.name
            m.row(path.name, "(file)", None, None, NOT_NEEDED, "not read: DRfC reads "
                  "worker-N.env only with DR_TRAIN_MULTI_CONFIG=True and N <= DR_WORKERS")
    tracks = [m.config["track"]]
    for path in workers:
        m.source = path.name
        for e in parse_env_file(path, {k: v.value for k, v in m.env.items()}):
            if e.key == "DR_WORLD_NAME":
                name = e.value.strip()
                if not name:
                    raise DrfcError(f"{e.where}: DR_WORLD_NAME is empty (it names the track)")
                if name in tracks:
                    m.row(e.key, name, "track", name, MAPPED, "already in the list: racerl "
                          "trains each track once, spreading its cars over the tracks")
                else:
                    tracks.append(name)
                    m.row(e.key, name, "track", name, MAPPED, "added to the list of tracks")
            elif e.key.startswith(("DR_OA_", "DR_H2B_")):
                _env_handler(e.key)(m, e)
            elif e.key in WORKER_KEYS:
                main = m.env.get(e.key)
                if main is not None and main.value == e.value:
                    m.row(e.key, e.value, None, None, NOT_NEEDED, "the same as run.env's")
                else:
                    was = main.value if main is not None else "unset"
                    m.row(e.key, e.value, None, None, UNSUPPORTED, "racerl applies one value "
                          f"to every track: run.env's ({was})")
            else:
                m.row(e.key, e.value, None, None, UNKNOWN, "not a per-worker setting")
    if len(tracks) > 1:
        m.config["track"] = tracks
        m.evaluation = {"track": tracks[0], **m.evaluation}  # DRfC evaluates run.env's


def _read_env(m: _Mapper) -> None:
    """system.env then run.env, as DRfC's activate.sh sources them: run.env's value wins."""
    entries: list[EnvEntry] = []
    known: dict[str, str] = {"DR_DIR": str(m.files.run_env.parent)}
    for path in (m.files.system_env, m.files.run_env):
        if path is not None:
            read = parse_env_file(path, known)
            known.update({e.key: e.value for e in read})
            entries += read
    m.env = {e.key: e for e in entries}
    m.name = _choose_name(m)
    m.path = Path(m.out).expanduser() if m.out is not None else Path(f"{m.name}.yaml")
    if m.path.suffix.lower() not in (".yaml", ".yml"):
        raise DrfcError(f"{m.path}: name the config file .yaml or .yml")
    if "DR_WORLD_NAME" not in m.env:
        m.source = m.files.run_env.name
        m.config["track"] = WORLD_NAME_UNSET
        m.row("DR_WORLD_NAME", "(not set)", "track", WORLD_NAME_UNSET, MAPPED,
              "DRfC's track when run.env sets none")
    for e in entries:
        m.source = e.path.name
        final = m.env[e.key]
        if final is not e:
            m.row(e.key, e.value, None, None, NOT_NEEDED,
                  f"set again in {final.path.name} line {final.line}, which wins")
            continue
        handler = _env_handler(e.key)
        if handler is None:
            m.row(e.key, e.value, None, None, UNKNOWN)
        else:
            handler(m, e)


# -- custom_files ----------------------------------------------------------------------------

LEGACY_CAMERAS = ("observation", "LEFT_CAMERA")
"""simapp's older names of the single front camera (its v1 ``observation`` and
``LEFT_CAMERA``: the same camera topic and embedder as FRONT_FACING_CAMERA)."""
NETWORKS = {v: k for k, v in METADATA_NETWORK.items()}
"""model_metadata.json's neural_network -> racerl's network (racerl's own exports too)."""
ALGORITHMS = {"clipped_ppo": "ppo", "sac": "sac"}


def _read_metadata(m: _Mapper) -> None:
    path = m.files.model_metadata
    m.source = path.name
    meta = _read_json(path)
    try:
        actions = parse_action_space(meta, str(path))
    except ActionSpaceError as exc:
        raise DrfcError(str(exc)) from None
    kind = meta.get("action_space_type", "discrete")
    algorithm = meta.get("training_algorithm", "clipped_ppo")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise DrfcError(f"{path}: training_algorithm must be clipped_ppo or sac, not "
                        f"{algorithm!r}")
    if "neural_network" not in meta:
        m.config["network"] = "shallow"
        m.row("neural_network", "(not set)", "network", "shallow", MAPPED,
              "DeepRacer's network when the file names none: the 3-layer CNN")
    for key, value in meta.items():
        if key == "action_space":
            copy = sidecar_paths(m.path)[1].name
            m.config["action_space"] = copy
            m.row(key, _describe_actions(actions), "action_space", copy, MAPPED,
                  "a copy of model_metadata.json beside the config")
        elif key == "action_space_type":
            m.row(key, value, "action_space", kind, MAPPED)
        elif key == "training_algorithm":
            m.setting(key, value, "algorithm", ALGORITHMS[value],
                      "DeepRacer's clipped PPO" if value == "clipped_ppo" else "")
        elif key == "neural_network":
            _network(m, value, path)
        elif key == "sensor":
            _sensors(m, value, meta.get("lidar_config"), path)
        elif key == "lidar_config":
            m.row(key, value, "lidar_config", m.config.get("lidar_config"), MAPPED,
                  "DISCRETIZED_SECTOR_LIDAR's bins" if "lidar_config" in m.config else
                  "no DISCRETIZED_SECTOR_LIDAR among the sensors: not used, as in DeepRacer")
        elif key == "version":
            m.row(key, value, None, None, NOT_NEEDED, "the file layout's version (racerl "
                  "reads every version)")
        else:
            m.row(key, value, None, None, UNKNOWN, "not a model_metadata.json key")
    if algorithm == "sac" and isinstance(actions, DiscreteActions):
        raise DrfcError(f"{path}: training_algorithm sac needs a continuous action space "
                        "(action_space_type: continuous), as in DeepRacer")


def _describe_actions(actions: DiscreteActions | ContinuousActions) -> str:
    if isinstance(actions, ContinuousActions):
        return (f"continuous: steering {actions.steering_low:g}..{actions.steering_high:g} "
                f"deg, speed {actions.speed_low:g}..{actions.speed_high:g} m/s")
    pairs = ", ".join(f"({s:g}, {v:g})" for s, v in zip(actions.steering, actions.speed,
                                                         strict=True))
    return f"{actions.n} discrete (steering deg, speed m/s): {pairs}"


def _network(m: _Mapper, value: object, path: Path) -> None:
    """The network (set directly: whether it suits the observation is checked once both
    are read)."""
    if isinstance(value, str) and value in NETWORKS:
        name = NETWORKS[value]
        note = {"shallow": "DeepRacer's 3-layer CNN ('light' trains faster on a CPU)",
                "standard": "DeepRacer's 5-layer CNN"}.get(name, "")
        m.config["network"] = name
        m.row("neural_network", value, "network", name, MAPPED, note)
    elif value == "DEEP_CONVOLUTIONAL_NETWORK_DEEP":
        m.config["network"] = "standard"
        m.row("neural_network", value, "network", "standard", ADJUSTED, "racerl has "
              "DeepRacer's 3- and 5-layer CNNs, not the deep one: the 5-layer 'standard'")
    else:
        raise DrfcError(f"{path}: neural_network {value!r} is none of "
                        f"{', '.join(NETWORKS)}, DEEP_CONVOLUTIONAL_NETWORK_DEEP")


def _sensors(m: _Mapper, value: object, lidar_config: object, path: Path) -> None:
    """The sensor list, checked as DeepRacer checks it (one camera, at most one lidar),
    with the legacy camera names read as the front camera; ``lidar_config`` goes with a
    DISCRETIZED_SECTOR_LIDAR (DeepRacer reads its counts with int())."""
    sensors = [value] if isinstance(value, str) else value
    if not isinstance(sensors, list) or not all(isinstance(s, str) for s in sensors):
        raise DrfcError(f"{path}: sensor must be a list of sensor names, not {value!r}")
    shown = ", ".join(sensors)
    if sensors == ["RACERL_STATE"]:
        m.config["observation"] = "state"
        m.row("sensor", shown, "observation", "state", MAPPED, "racerl's state vector")
        return
    names = [FRONT_FACING_CAMERA if s in LEGACY_CAMERAS else s for s in sensors]
    if isinstance(lidar_config, dict):
        lidar_config = {k: _whole_count(v) if k != "clipping_dist" else v
                        for k, v in lidar_config.items()}
    if DISCRETIZED_SECTOR_LIDAR not in names:
        lidar_config = None  # DeepRacer reads it only for that sensor
    try:
        checked = check_sensors(names, lidar_config, str(path))
    except SensorError as exc:
        raise DrfcError(str(exc)) from None
    m.config["observation"] = "camera"
    if checked.names != [FRONT_FACING_CAMERA]:
        m.config["sensor"] = checked.names
    if lidar_config is not None:
        m.config["lidar_config"] = checked.lidar_config.to_json()
    seen = [f"{checked.camera}: grey 160x120 x {checked.camera_channels}"]
    if checked.lidar:
        seen.append(f"{checked.lidar}: {checked.lidar_size} values")
    legacy = [s for s in sensors if s in LEGACY_CAMERAS]
    note = "; ".join(seen)
    if legacy:
        note += f" ({', '.join(legacy)}: DeepRacer's older name of the front camera)"
    m.row("sensor", shown, "sensor", checked.names, ADJUSTED if legacy else MAPPED, note)


def _whole_count(value: object) -> object:
    """A count as DeepRacer's ``int()`` reads it ("8" and 8.0 are 8); anything else as it
    is, for the sensor check to refuse by name."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _number(path: Path, key: str, value: object, whole: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        what = "a whole number" if whole else "a number"
        raise DrfcError(f"{path}: {key} must be {what}, not {value!r}")
    if whole:
        if value != int(value):
            raise DrfcError(f"{path}: {key} must be a whole number, not {value!r}")
        return int(value)
    return float(value)


HYPERPARAMETERS = {"batch_size": ("batch_size", True), "num_epochs": ("num_epochs", True),
                   "lr": ("learning_rate", False), "beta_entropy": ("entropy", False),
                   "discount_factor": ("discount_factor", False),
                   "sac_alpha": ("sac_alpha", False), "stack_size": ("frame_stack", True),
                   "num_episodes_between_training": ("num_episodes_between_training", True)}
"""hyperparameters.json keys that are TrainConfig fields: key -> (field, whole number)."""


def _read_hyperparameters(m: _Mapper) -> None:
    path = m.files.hyperparameters
    m.source = path.name
    params = _read_json(path)
    algorithm = m.config.get("algorithm", "ppo")
    exploration = str(params.get("exploration_type", "categorical")).strip().lower()
    greedy = exploration in ("e-greedy", "e_greedy", "epsilon_greedy")
    budget = "racerl trains for a budget (racerl train --minutes M or --steps N)"
    for key, value in params.items():
        if key in HYPERPARAMETERS:
            name, whole = HYPERPARAMETERS[key]
            number = _number(path, key, value, whole)
            note = ""
            if key == "sac_alpha" and algorithm != "sac":
                note = "used by SAC only"
            elif key == "beta_entropy" and algorithm == "sac":
                note = "used by PPO only (SAC's is sac_alpha)"
            elif key == "num_episodes_between_training":
                note = ("episodes per sim-trace file; the policy updates every n_envs x "
                        "rollout_steps steps")
            m.setting(key, value, name, number, note)
        elif key == "loss_type":
            if str(value).strip().lower() in ("mean squared error", "mean_squared_error", "mse"):
                m.row(key, value, None, "mean squared error", MAPPED, "racerl's value loss")
            else:
                m.row(key, value, None, "mean squared error", ADJUSTED, "racerl's value "
                      "loss (stable-baselines3's) is the mean squared error")
        elif key == "exploration_type":
            if greedy:
                m.row(key, value, None, None, UNSUPPORTED, "racerl explores by sampling the "
                      "policy's actions (categorical), not e-greedy")
            elif exploration in ("categorical", "additive_noise"):
                m.row(key, value, None, None, MAPPED, "racerl's training samples its "
                      "actions from the policy too")
            else:
                m.row(key, value, None, None, UNSUPPORTED, "no such exploration type; racerl "
                      "samples actions from the policy")
        elif key in ("e_greedy_value", "epsilon_steps"):
            if greedy:
                m.row(key, value, None, None, UNSUPPORTED, "e-greedy exploration is not in "
                      "racerl")
            else:
                m.row(key, value, None, None, NOT_NEEDED, "used only by e-greedy exploration")
        elif key == "term_cond_max_episodes":
            m.row(key, value, None, None, UNSUPPORTED, f"{budget}, not episodes")
        elif key == "term_cond_avg_score":
            m.row(key, value, None, None, UNSUPPORTED, f"{budget}, not a score")
        else:
            m.row(key, value, None, None, UNKNOWN, "not a DeepRacer hyperparameter")


def _read_reward(m: _Mapper) -> None:
    path = m.files.reward_function
    m.source = path.name
    check_reward_file(path)
    copy = sidecar_paths(m.path)[0].name
    m.config["reward"] = copy
    m.row("reward_function", path.name, "reward", copy, MAPPED,
          "a copy beside the config; runs unchanged")


# -- the import ------------------------------------------------------------------------------

SOURCE_ORDER = ("run.env", "system.env", "worker-", "hyperparameters.json",
                "model_metadata.json", "reward_function.py")


def read_drfc(folder: str | Path, name: str | None = None,
              out: str | Path | None = None) -> DrfcImport:
    """Read the DRfC run in ``folder`` (see :func:`find_drfc_files`) and map every setting;
    ``name`` is the model name (default: DR_LOCAL_S3_MODEL_PREFIX, else the folder's name),
    ``out`` the config file to write (default ``./<name>.yaml``).

    Raises :class:`DrfcError` (or the reward's and action space's own errors) naming the
    file and the problem. Writes nothing.
    """
    if name is not None:
        check_name(name, "model")
    files = find_drfc_files(folder)
    m = _Mapper(files, name, out)
    _read_env(m)
    _read_workers(m)
    _read_metadata(m)  # before the hyperparameters: their notes depend on the algorithm
    _read_hyperparameters(m)
    _read_reward(m)
    config = {f.name: m.config[f.name] for f in fields(TrainConfig) if f.name in m.config}
    load_config_dict(config, f"{files.folder}: the imported settings")
    rows = sorted(m.rows, key=_source_rank)  # stable: file order within each file
    opponent = m.opponent
    if m.race_type == "HEAD_TO_MODEL" and opponent is None:
        opponent = OPPONENT_UNSET
    return DrfcImport(files, m.name, m.path, rows, config, m.evaluation, opponent)


def _source_rank(row: Row) -> int:
    return next(i for i, s in enumerate(SOURCE_ORDER) if row.source.startswith(s))


def _yaml_header(imp: DrfcImport) -> str:
    return "\n".join([
        f"# racerl training config imported from DeepRacer-for-Cloud's "
        f"{imp.files.folder.resolve()}",
        "# by racerl import drfc. Settings not listed keep racerl's defaults; relative paths",
        "# are found beside this file.",
        f"# Train:    {imp.train_command(imp.path)}",
        f"# Evaluate: {imp.evaluate_command()}",
        ""])


def sidecar_paths(config_path: Path) -> tuple[Path, Path]:
    """Where the copies of the reward function and the model metadata go: beside the
    config, named after it."""
    stem = config_path.stem
    return (config_path.with_name(f"{stem}_reward_function.py"),
            config_path.with_name(f"{stem}_model_metadata.json"))


def write_drfc_import(imp: DrfcImport, force: bool = False) -> Path:
    """Write the config YAML at ``imp.path`` and, beside it, the copies of the reward
    function and the model metadata that it names by relative path (racerl finds them
    beside the config from any working directory). All three or none: existing files are
    refused unless ``force``, and a failed write removes what this call wrote."""
    targets = [*imp.copies, imp.path]
    existed = {target for target in targets if target.exists()}
    if existed and not force:
        raise DrfcError(f"{min(existed)}: exists; --force replaces it")
    text = _yaml_header(imp) + yaml.safe_dump(imp.config, sort_keys=False)
    contents = {target: source.read_bytes() for target, source in imp.copies.items()}
    written: list[Path] = []
    try:
        for target, data in contents.items():
            atomic_write(target, lambda f, data=data: f.write(data))
            written.append(target)
        atomic_write_text(imp.path, text)
    except BaseException:
        for target in written:
            if target not in existed:
                target.unlink(missing_ok=True)
        raise
    return imp.path
