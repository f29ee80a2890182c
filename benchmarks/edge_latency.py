"""Edge latency: per-frame policy inference on one CPU thread, torch vs onnxruntime vs OpenVINO.

What is measured
    The time to turn one camera frame (batch 1, ``uint8`` 120x160x1, as the camera delivers
    it) into the action distribution, for each network racerl offers (``light``, the default;
    DeepRacer's ``shallow`` 3-layer and ``standard`` 5-layer CNNs; ``mlp`` on the 17-value
    state), in three runtimes:

    * torch: the exported graph (:class:`racerl.edge.export.PolicyGraph`, the same SB3 modules)
      called under ``torch.inference_mode`` with ``torch.set_num_threads(1)``;
    * onnxruntime: the exported ``model.onnx``, ``intra_op_num_threads=1``;
    * OpenVINO: the exported IR, ``INFERENCE_NUM_THREADS=1``, FP32.

    The last two go through :class:`racerl.edge.runtime.EdgePolicy`, exactly what ``racerl drive``
    runs, and include its input check. p50 and p99 over ``--frames`` timed calls after
    ``--warmup`` untimed ones. The export's own parity check (max |runtime - torch| on
    seeded random frames) is reported beside the times.

How
    Each network is built by racerl's own training code (one short PPO update on the oval, so
    the weights are as good as random: latency does not depend on them) in a temporary racerl
    home, exported with :func:`racerl.edge.export.export_model`, and fed real camera frames of the
    oval. The machine is often shared: rerun, or use ``--repeat``, when figures look noisy.

Target
    The default network at most 2 ms per frame (p50); the car's budget at 15 fps is 66.7 ms.

Usage
    .venv/bin/python benchmarks/edge_latency.py                  # rich table
    .venv/bin/python benchmarks/edge_latency.py --json
    .venv/bin/python benchmarks/edge_latency.py --networks light --frames 5000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

NETWORKS = ("light", "shallow", "standard", "mlp")
RUNTIMES = ("torch", "onnxruntime", "openvino")
TARGET_MS = 2.0
BUDGET_MS = 1000.0 / 15


def _frames(observation: str, count: int = 64) -> np.ndarray:
    from racerl.envs.single import make_env

    env = make_env(track="oval", observation=observation)
    obs, _ = env.reset(seed=0)
    frames = []
    for k in range(count):
        obs, _, terminated, truncated, _ = env.step(4 + (k // 8) % 2)
        frames.append(obs)
        if terminated or truncated:
            obs, _ = env.reset()
    return np.stack(frames)


def _time(call: Callable[[np.ndarray], object], frames: np.ndarray, count: int,
          warmup: int) -> np.ndarray:
    for k in range(warmup):
        call(frames[k % len(frames)])
    times = np.empty(count)
    for k in range(count):
        frame = frames[k % len(frames)]
        start = time.perf_counter()
        call(frame)
        times[k] = time.perf_counter() - start
    return times * 1e3


def measure_network(network: str, frames_count: int, warmup: int) -> dict:
    import torch

    from racerl.edge.export import PolicyGraph, export_model
    from racerl.edge.runtime import EdgePolicy, load_bundle
    from racerl.model.config import load_config_dict
    from racerl.model.folder import model_folder
    from racerl.train.trainer import load_model, train

    observation = "state" if network == "mlp" else "camera"
    config = load_config_dict({"network": network, "observation": observation,
                               "track": "oval", "n_envs": 2, "rollout_steps": 32,
                               "batch_size": 64, "num_epochs": 1, "seed": 0}, "benchmark")
    train(f"bench-{network}", config, steps=64)
    torch.set_num_threads(1)  # after train(), which uses every core
    result = export_model(f"bench-{network}")
    folder = model_folder(f"bench-{network}")
    model = load_model(config, folder.checkpoint_path, None)
    discrete = folder.action_space().__class__.__name__ == "DiscreteActions"
    graph = PolicyGraph(model, config.algorithm, discrete).eval()
    frames = _frames(observation)
    bundle = load_bundle(result.bundle)

    def torch_call(frame: np.ndarray):
        with torch.inference_mode():
            return graph(torch.from_numpy(frame[None]))

    calls = {"torch": torch_call,
             "onnxruntime": EdgePolicy(bundle, "onnxruntime", threads=1).outputs,
             "openvino": EdgePolicy(bundle, "openvino", threads=1).outputs}
    import onnx

    exported = onnx.load_from_string(bundle.files["model.onnx"])
    row = {"network": network, "input": "x".join(map(str, frames.shape[1:])),
           "parameters": int(sum(np.prod(t.dims) for t in exported.graph.initializer)),
           "parity_max_abs_diff": result.parity}
    for runtime, call in calls.items():
        batch_call = call if runtime == "torch" else (lambda f, c=call: c(f[None]))
        times = _time(batch_call, frames, frames_count, warmup)
        row[runtime] = {"p50_ms": float(np.percentile(times, 50)),
                        "p99_ms": float(np.percentile(times, 99)),
                        "mean_ms": float(times.mean())}
    return row


def measure(networks: list[str], frames: int, warmup: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="racerl-edge-bench-") as home:
        os.environ["RACERL_HOME"] = home
        rows = [measure_network(n, frames, warmup) for n in networks]
    import onnxruntime
    import openvino
    import torch

    return {"rows": rows, "frames": frames, "warmup": warmup, "threads": 1,
            "machine": f"{platform.processor() or platform.machine()}, "
                       f"{os.cpu_count()} cores",
            "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                         "openvino": openvino.get_version(), "python": sys.version.split()[0]},
            "date": time.strftime("%Y-%m-%d")}


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Per-frame policy latency, 1 CPU thread, batch 1, "
                        f"{result['frames']} frames ({result['date']})",
                  caption=f"target: light p50 <= {TARGET_MS:g} ms; the car's budget at "
                          f"15 fps is {BUDGET_MS:.1f} ms. {result['machine']}; "
                          + ", ".join(f"{k} {v}" for k, v in result["versions"].items()))
    table.add_column("network")
    table.add_column("input")
    table.add_column("weights", justify="right")
    for runtime in RUNTIMES:
        table.add_column(f"{runtime} p50 / p99 ms", justify="right")
    table.add_column("max |diff| vs torch (ort, ov)", justify="right")
    for row in result["rows"]:
        parity = row["parity_max_abs_diff"]
        table.add_row(row["network"], row["input"], f"{row['parameters']:,}",
                      *(f"{row[r]['p50_ms']:.3f} / {row[r]['p99_ms']:.3f}" for r in RUNTIMES),
                      ", ".join(f"{parity[r]:.1e}" for r in ("onnxruntime", "openvino")))
    Console(width=None if sys.stdout.isatty() else 140).print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument("--frames", type=int, default=2000, help="timed frames per runtime")
    parser.add_argument("--warmup", type=int, default=100, help="untimed frames first")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    result = measure(args.networks, args.frames, args.warmup)
    if args.json:
        import json

        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
