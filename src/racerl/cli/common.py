"""What every command shares: the typer app, the consoles, the one-line error handler and
the evaluation table (printed by train, evaluate, race and drive alike)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from racerl.errors import RacerlError

app = typer.Typer(help="racerl: train and race DeepRacer cars locally.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console(width=None if sys.stdout.isatty() else 120)  # tables uncut in pipes
err_console = Console(stderr=True)


def user_errors(func):
    """Print a RacerlError as one readable line and exit 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RacerlError as exc:
            # escape(): a message may hold brackets ("racerl[export]", a list) that rich
            # would otherwise read as markup and drop.
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def sandbox_notice() -> None:
    """Say what the reward sandbox guarantees on this machine, loudly when it is not much.

    The library's :class:`~racerl.reward.sandbox.SandboxWarning` says the same, so it is
    silenced here to say it once.
    """
    import warnings

    from racerl.reward.isolation import isolation
    from racerl.reward.sandbox import SandboxWarning

    warnings.filterwarnings("ignore", category=SandboxWarning)
    found = isolation()
    if found.confined:
        err_console.print(f"sandbox: {found.describe()}", highlight=False, soft_wrap=True,
                          style="dim")
    else:
        err_console.print(f"[bold yellow]warning:[/] the reward sandbox is "
                          f"{escape(found.describe())}", highlight=False, soft_wrap=True)


def print_evaluation(run, folder: Path | None = None) -> None:
    """The per-trial table of an evaluation (per lap for a race) and its totals."""
    settings = run.settings
    kind = "lap" if settings.continuous else "trial"
    where = f"{settings.track}, reversed" if settings.reverse else settings.track
    table = Table(title=f"Evaluation of {run.driver} on {where} "
                        f"({settings.lighting} light, seed {settings.seed}, "
                        f"off-track penalty {settings.rules.off_track_penalty:g} s)")
    objects = settings.race.objects > 0  # collisions only matter where there is something
    for col in (kind, "status", "lap time s", "off track", *(["collisions"] * objects),
                "penalty s", "completion %"):
        table.add_column(col, justify="left" if col == "status" else "right")
    for t in run.trials:
        table.add_row(str(t.trial), t.status, seconds(t.lap_time), str(t.off_track),
                      *([str(t.crashed)] * objects), f"{t.penalty:.1f}", f"{t.progress:.1f}")
    s = run.summary()
    table.add_section()
    table.add_row("total", f"{s.laps}/{s.trials} laps", seconds(s.total_time),
                  str(s.off_track), *([str(s.collisions)] * objects), f"{s.penalty:.1f}",
                  f"{s.completion:.1f}")
    console.print(table)
    console.print(f"best lap {seconds(s.best_lap)} s, mean lap {seconds(s.mean_lap)} s"
                  + (f"; saved in {folder}" if folder else ""), highlight=False)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def pick_entrant(model: str | None, driver: str | None, speed: float,
                 checkpoint: str = "best"):
    """The entrant of a command, saying which checkpoint drives when it is not the one
    asked for (a model with no best checkpoint)."""
    from racerl.evaluate.evaluation import entrant

    who = entrant(model, driver, speed, checkpoint)
    checkpoint_note(who.note)
    return who


def checkpoint_note(note: str | None) -> None:
    if note is not None:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)


MODEL_ARG = typer.Argument(None, help="model name or folder (or use --driver)")
DRIVER_OPT = typer.Option(None, help="a scripted driver instead of a model: centerline "
                                      "(at --speed) or raceline (the track's limit)")
SPEED_OPT = typer.Option(1.0, help="speed of the scripted centre-line driver, m/s")
CHECKPOINT_OPT = typer.Option("best", help="the model's weights: best (its best evaluation "
                                            "during training; the last if it has none) or "
                                            "last (the latest)")


class LivePanel:
    """A rich Live panel while a long job runs in a terminal; in a pipe or a log there is no
    panel and :meth:`show` says so, so that the caller prints plain lines instead."""

    def __init__(self):
        self.live = None

    def __enter__(self):
        if console.is_terminal:
            from rich.live import Live

            self.live = Live(console=console, refresh_per_second=2)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def show(self, renderable) -> bool:
        """Redraw the panel with ``renderable``; False where there is no panel."""
        if self.live is None:
            return False
        self.live.update(renderable)
        return True
