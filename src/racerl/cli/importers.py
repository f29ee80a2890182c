"""`racerl import ...`: settings from other DeepRacer tools become racerl's.

``racerl import drfc DIR`` prints what becomes of every setting of a DeepRacer-for-Cloud
run (run.env, system.env, custom_files/), writes the config with copies of the reward
function and the model metadata beside it, and prints the ``racerl train`` and ``racerl
evaluate`` lines to use; its last line is the config's path, for scripts. The work is
:mod:`racerl.model.drfc`'s; the track check is here because the track catalog is what
says how to add DeepRacer's track files. (The module is not called ``import``: that is a
Python keyword.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from racerl.cli.common import app, console, user_errors

if TYPE_CHECKING:
    from racerl.model.drfc import DrfcImport

import_app = typer.Typer(help="Bring a model's settings over from other DeepRacer tools.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("drfc")
@user_errors
def import_drfc(
    folder: Path = typer.Argument(..., help="the DeepRacer-for-Cloud folder: run.env (and "
                                            "system.env) with custom_files/ beneath, or "
                                            "beside the custom files themselves"),
    out: Path | None = typer.Option(None, help="config YAML to write (default: "
                                               "./<model name>.yaml)"),
    name: str | None = typer.Option(None, help="model name for racerl train (default: "
                                               "DR_LOCAL_S3_MODEL_PREFIX)"),
    force: bool = typer.Option(False, "--force", help="replace existing output files"),
) -> None:
    """Turn a DeepRacer-for-Cloud run into a racerl config, saying what becomes of each setting."""
    from racerl.model.drfc import read_drfc, write_drfc_import
    from racerl.track.catalog import resolve_track

    imp = read_drfc(folder, name, out)
    for track in imp.tracks:
        resolve_track(track)  # an unknown track: the catalog's word on adding DeepRacer's
    path = write_drfc_import(imp, force)
    console.print(drfc_table(imp))
    console.print(f"train:    {escape(imp.train_command(path))}", highlight=False,
                  soft_wrap=True)
    console.print(f"evaluate: {escape(imp.evaluate_command())}", highlight=False,
                  soft_wrap=True)
    for line in imp.race_commands():  # a HEAD_TO_MODEL run: DRfC's head-to-model evaluation
        console.print(f"race:     {escape(line)}", highlight=False, soft_wrap=True)
    console.print(str(path), highlight=False, soft_wrap=True)


def drfc_table(imp: DrfcImport) -> Table:
    """Every DRfC setting read, file by file: its value, what takes it in racerl, and why
    where nothing does (those rows dimmed)."""
    from racerl.model.drfc import MAPPED

    table = Table(title=f"DeepRacer-for-Cloud settings of {imp.files.folder} in racerl",
                  expand=True)
    for column, ratio in (("DRfC setting", 8), ("racerl field", 5), ("value", 5),
                          ("note", 8)):
        table.add_column(column, overflow="fold", ratio=ratio)
    source = None
    for row in imp.rows:
        if row.source != source:
            if source is not None:
                table.add_section()
            source = row.source
            table.add_row(f"[bold]{escape(source)}[/]")
        setting = f"{row.key}={row.drfc_value}" if row.drfc_value else f"{row.key}="
        style = None if row.status == MAPPED or row.field is not None else "dim"
        table.add_row(escape(setting), escape(row.field or "-"),
                      escape("-" if row.value is None else _shown(row.value)),
                      escape(row.describe()), style=style)
    return table


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
