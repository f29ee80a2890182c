"""`racerl sweep`: a grid of settings trained as one model per combination on Ray Tune, with
a live table of every trial and, at the end, the trials ranked by their evaluations."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from racerl.cli.common import LivePanel, app, console, seconds, user_errors
from racerl.errors import RacerlError


@app.command("sweep")
@user_errors
def sweep_command(
    name: str = typer.Option(..., help="sweep name; its trials are the models NAME-01, "
                                        "NAME-02, ..."),
    track: list[str] | None = typer.Option(None, help="track name or .npy; repeat to train "
                                                      "every trial on several tracks"),
    reward: list[str] | None = typer.Option(None, help="reward function file or example "
                                                       "name; repeat to sweep over several"),
    grid: list[str] | None = typer.Option(None, help="KEY=V1,V2: the values of one "
                                                     "TrainConfig setting; repeat per key"),
    config: Path | None = typer.Option(None, help="YAML file of TrainConfig settings every "
                                                  "trial starts from"),
    preset: str | None = typer.Option(None, help="a training preset every trial starts from "
                                                 "('racing', 'deepracer')"),
    minutes: float | None = typer.Option(None, help="each trial trains this many minutes"),
    steps: int | None = typer.Option(None, help="each trial trains this many env steps"),
    address: str | None = typer.Option(None, help="Ray cluster to run on (ray://head:10001, "
                                                  "or auto on a cluster node); default: a "
                                                  "local Ray on this machine"),
    cpus_per_trial: float = typer.Option(1.0, help="CPUs Ray gives each trial (trials run "
                                                   "side by side on the rest)"),
    early_stop: bool = typer.Option(True, "--early-stop/--no-early-stop",
                                    help="ASHA: stop trials whose evaluations trail the "
                                         "others'"),
    resume: bool = typer.Option(False, "--resume", help="finish an interrupted sweep with "
                                                        "its own settings"),
) -> None:
    """Train every combination of a grid of settings, then rank the trials."""
    from racerl.model.config import TrainConfig, layered_config
    from racerl.train.sweep import load_plan, parse_grid, plan_sweep
    from racerl.train.sweep_runner import run_sweep

    if resume:
        if track or reward or grid or config or preset or minutes or steps:
            raise RacerlError("--resume finishes a sweep with its own settings; it takes only "
                              "--name, --address and --early-stop/--no-early-stop")
        plan = load_plan(name)
    else:
        tracks = (track[0] if len(track) == 1 else list(track)) if track else None
        flags = {"track": tracks} if tracks is not None else {}
        base = layered_config(TrainConfig(), preset, config, flags)
        plan = plan_sweep(name, base, parse_grid(grid or []), list(reward or []),
                          minutes, steps, cpus_per_trial)
    view = _LiveSweep()
    with view:
        outcome = run_sweep(plan, address, early_stop, on_update=view.update)
    print_ranking(outcome)


class _LiveSweep(LivePanel):
    """A live table of every trial in a terminal; a line per change of a trial otherwise."""

    def __init__(self):
        super().__init__()
        self.seen: dict[str, tuple] = {}

    def update(self, progress) -> None:
        if self.show(progress_table(progress)):
            return
        for row in progress.rows.values():
            state = (row.status, row.evaluations)
            if self.seen.get(row.name) != state:
                self.seen[row.name] = state
                console.print(f"{row.name}  {row.status:13s}  {row.steps:9,d} steps  "
                              f"{row.evaluations:3d} evaluations  best {row.completion:5.1f} %"
                              f"  best lap {seconds(row.best_lap)} s", highlight=False,
                              soft_wrap=True)


def progress_table(progress) -> Table:
    """Every trial while the sweep runs."""
    table = Table(title=f"racerl sweep {progress.plan.name}")
    for col in ("trial", "settings", "status", "steps", "evaluations", "best %",
                "best lap s"):
        table.add_column(col, justify="left" if col in ("trial", "settings", "status")
                         else "right")
    for row in progress.rows.values():
        table.add_row(row.name, row.settings.replace(" ", "\n"), row.status, f"{row.steps:,}",
                      str(row.evaluations), f"{row.completion:.1f}", seconds(row.best_lap))
    return table


def print_ranking(outcome) -> None:
    """The trials ranked by best evaluation lap, then completion; failed ones with their
    errors."""
    plan = outcome.plan
    budget = f"{plan.steps:,} steps" if plan.steps is not None else f"{plan.minutes:g} min"
    table = Table(title=f"Sweep {plan.name}: {len(plan.trials)} trials of {budget}, "
                        "ranked by best evaluation lap, then completion")
    for col in ("#", "model", "settings", "status", "env steps", "evaluations",
                "best lap s", "completion %", "best checkpoint"):
        table.add_column(col, justify="left" if col in ("model", "settings", "status",
                                                        "best checkpoint") else "right",
                         overflow="fold")
    for rank, r in enumerate(outcome.results, 1):
        table.add_row(str(rank), r.trial.name, r.trial.describe("\n"), r.status, f"{r.steps:,}",
                      str(r.evaluations), seconds(r.best_lap), f"{r.completion:.1f}",
                      r.best_checkpoint or "-")
    console.print(table)
    for r in outcome.results:
        if r.error:
            console.print(f"[red]{r.trial.name} failed:[/] {escape(r.error)}",
                          highlight=False, soft_wrap=True)
    unfinished = [r.trial.name for r in outcome.results
                  if r.status in ("interrupted", "not started")]
    if unfinished:
        console.print(f"{', '.join(unfinished)} did not finish: go on with racerl sweep "
                      f"--name {plan.name} --resume", highlight=False, soft_wrap=True)
    total = sum(r.steps for r in outcome.results)
    console.print(f"{total:,} env steps in {outcome.seconds / 60:.1f} min; the trials are "
                  f"models: racerl evaluate {outcome.results[0].trial.name}",
                  highlight=False)
