"""`racerl export` and `racerl drive`: the model for the car, and driving it without torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from racerl.cli.common import (
    CHECKPOINT_OPT,
    app,
    checkpoint_note,
    console,
    print_evaluation,
    user_errors,
)
from racerl.errors import RacerlError


@app.command("export")
@user_errors
def export_command(
    name: str = typer.Argument(..., help="model name or folder"),
    out: Path | None = typer.Option(None, help="folder to write (default: <model>/export)"),
    openvino: bool = typer.Option(True, "--openvino/--no-openvino",
                                  help="also write the OpenVINO IR"),
    checkpoint: str = CHECKPOINT_OPT,
    car: bool = typer.Option(False, "--car",
                             help="also the bundle the DeepRacer car's console loads: "
                                  "car/<name>.tar.gz (TensorFlow model.pb + "
                                  "model_metadata.json); needs racerl[car]"),
) -> None:
    """Export a trained model for the car: ONNX, OpenVINO IR, metadata, a .tar.gz bundle."""
    from racerl.edge.export import PARITY_TOLERANCE, export_model

    result = export_model(name, out, openvino=openvino, checkpoint=checkpoint, car=car)
    checkpoint_note(result.note)
    table = Table(title=f"Export of {name} ({result.checkpoint} checkpoint)")
    table.add_column("file")
    table.add_column("size", justify="right")
    for path in result.written:
        table.add_row(str(path), f"{path.stat().st_size / 1024:,.0f} KiB")
    console.print(table)
    for runtime, diff in result.parity.items():
        console.print(f"parity {runtime} vs torch: max abs diff {diff:.1e} "
                      f"(tolerance {PARITY_TOLERANCE:g})")
    console.print(f"bundle: {result.bundle}")
    if result.car is not None:
        from racerl.edge.car import FP16_TOLERANCE, TF_TOLERANCE

        for runtime, diff in result.car.parity.items():
            limit = FP16_TOLERANCE if runtime.endswith("fp16") else TF_TOLERANCE
            console.print(f"car parity {runtime} vs torch: max abs diff {diff:.1e} "
                          f"(tolerance {limit:g}, {result.car.frames} frames)")
        console.print(f"car bundle: {result.car.bundle} (upload it in the car's device "
                      "console: Models → Upload)")


@app.command()
@user_errors
def drive(
    bundle: str = typer.Argument(..., metavar="BUNDLE_OR_MODEL",
                                 help="export bundle (.tar.gz), export folder, or a model "
                                      "name or folder (its export/)"),
    source: str = typer.Option("sim", metavar="sim|VIDEO|IMAGE_DIR",
                               help="'sim', a video file or a folder of PNG/JPEG frames"),
    track: str | None = typer.Option(None, help="track for --source sim (default: trained on)"),
    trials: int = typer.Option(1, help="laps from the start line for --source sim"),
    runtime: str = typer.Option("onnxruntime", help="onnxruntime or openvino"),
    csv: Path | None = typer.Option(None, help="per-frame actions as CSV (video/images)"),
    checkpoint: str = typer.Option("best", help="for a model: drive the export of its best "
                                                "(the default) or last checkpoint; refused "
                                                "when its export is of the other one"),
) -> None:
    """Drive an exported model with onnxruntime (no torch): in the simulator or on frames."""
    from racerl.edge.runtime import EdgePolicy, check_export_checkpoint, load_bundle

    exported = load_bundle(bundle)
    checkpoint_note(check_export_checkpoint(exported, checkpoint))
    policy = EdgePolicy(exported, runtime=runtime)
    contract = policy.contract
    if source == "sim":
        if csv is not None:
            raise RacerlError("--csv writes per-frame actions of a video or image folder; "
                              "with --source sim the laps table is the result")
        _drive_sim(policy, track or contract.track, trials)
    else:
        if contract.observation != "camera":
            raise RacerlError(f"model {contract.model!r} drives from the state vector, not "
                              "camera frames: use --source sim")
        if contract.input_name == "STEREO_CAMERAS":
            raise RacerlError(f"model {contract.model!r} sees a stereo pair (two cameras "
                              "6 cm apart), which one camera's frames do not hold: use "
                              "--source sim")
        if len(contract.inputs) > 1:
            raise RacerlError(f"model {contract.model!r} also reads "
                              f"{', '.join(s.name for s in contract.inputs[1:])}, which camera "
                              "frames do not hold: use --source sim")
        _drive_frames(policy, Path(source), csv)
    lat = policy.latencies_ms
    table = Table(title=f"Per-frame latency, {runtime}, 1 thread")
    for col in ("frames", "p50 ms", "p99 ms", "max ms", "budget at 15 fps"):
        table.add_column(col, justify="right")
    table.add_row(str(len(lat)), f"{np.percentile(lat, 50):.3f}", f"{np.percentile(lat, 99):.3f}",
                  f"{max(lat):.3f}", "66.7 ms")
    console.print(table)


def _drive_sim(policy, track: str, trials: int) -> None:
    """Laps from the start line under DeepRacer's evaluation rules, as `racerl evaluate`
    drives them, with the runtime called on one frame at a time (a car's latency)."""
    from racerl.camera.sensors import metadata_sensors
    from racerl.envs.cars import take
    from racerl.evaluate.evaluation import EvalSettings, PolicyDriver, evaluate

    if trials < 1:
        raise RacerlError("--trials must be at least 1")
    c = policy.contract

    def one_frame_at_a_time(batch) -> np.ndarray:
        cars = len(next(iter(batch.values()))) if isinstance(batch, dict) else len(batch)
        return np.stack([np.asarray(policy(take(batch, i))) for i in range(cars)])

    driver = PolicyDriver(one_frame_at_a_time, policy.bundle.actions,
                          f"{c.model} on {policy.runtime}", observation=c.observation,
                          rgb=c.rgb, frame_stack=c.frame_stack,
                          sensors=metadata_sensors(policy.bundle.metadata))
    print_evaluation(evaluate(driver, EvalSettings(track=track, trials=trials)))


SHOWN_FRAMES = 20


def _drive_frames(policy, source: Path, csv_path: Path | None) -> None:
    from racerl.edge.frames import model_frames

    c = policy.contract
    rows = []
    for label, obs in model_frames(source, c.rgb, c.frame_stack):
        action = policy(obs)
        steer, speed = policy.physical(action)
        shown = str(action) if np.ndim(action) == 0 else \
            " ".join(f"{v:.3f}" for v in np.asarray(action))
        rows.append((label, shown, f"{steer:.2f}", f"{speed:.2f}",
                     f"{policy.latencies_ms[-1]:.3f}"))
    table = Table(title=f"{c.model} on {source} ({len(rows)} frames)")
    for col in ("frame", "action", "steering °", "speed m/s", "latency ms"):
        table.add_column(col)
    for row in rows[:SHOWN_FRAMES]:
        table.add_row(*row)
    console.print(table)
    if len(rows) > SHOWN_FRAMES:
        console.print(f"... {len(rows) - SHOWN_FRAMES} more frames (all of them with --csv)")
    if csv_path is not None:
        import csv as csv_module
        import io

        from racerl.atomic import atomic_write_text

        text = io.StringIO()
        writer = csv_module.writer(text, lineterminator="\n")
        writer.writerow(["frame", "action", "steering_angle", "speed", "latency_ms"])
        writer.writerows(rows)
        atomic_write_text(csv_path, text.getvalue())
        console.print(f"saved {csv_path}")
