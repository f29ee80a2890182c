"""Charts for people: the DeepRacer-style training chart (``racerl plot``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from racerl.atomic import atomic_write


def iteration_table(metrics: list[dict]) -> dict[str, np.ndarray]:
    """Per DeepRacer iteration: mean reward, mean progress and share of completed laps."""
    if not metrics:
        return {"iteration": np.array([]), "reward": np.array([]), "progress": np.array([]),
                "laps": np.array([])}
    iters = np.array([m["iteration"] for m in metrics])
    out = {"iteration": np.unique(iters)}
    for key, name in (("reward", "reward"), ("progress", "progress"),
                      ("completed_lap", "laps")):
        values = np.array([float(m[key]) for m in metrics])
        out[name] = np.array([values[iters == i].mean() for i in out["iteration"]])
    out["laps"] = out["laps"] * 100.0
    return out


def training_chart(metrics: list[dict], title: str, path: str | Path) -> Path:
    """Reward (left axis) and progress / laps completed (right axis) per iteration, as PNG."""
    table = iteration_table(metrics)
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    it = table["iteration"]
    ax.plot(it, table["reward"], color="tab:green", marker="o", ms=3, label="mean reward")
    ax.set_xlabel("iteration (DeepRacer: a block of training episodes)")
    ax.set_ylabel("mean episode reward", color="tab:green")
    right = ax.twinx()
    right.plot(it, table["progress"], color="tab:blue", marker="o", ms=3,
               label="mean progress %")
    right.plot(it, table["laps"], color="tab:orange", linestyle="--", label="laps completed %")
    right.set_ylim(0, 105)
    right.set_ylabel("percent")
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper left")
    ax.grid(alpha=0.3)
    episodes = len(metrics)
    ax.set_title(f"{title}: {episodes} training episodes")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return Path(path)
