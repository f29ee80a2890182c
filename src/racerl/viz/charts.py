"""Charts for people: the DeepRacer-style training chart (``racerl plot``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from racerl.atomic import atomic_write
from racerl.sim.state import Status


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


def evaluation_chart(rows: list[dict], track, title: str, path: str | Path) -> Path:
    """Two track maps of an evaluation: the driven line coloured by commanded speed, and
    by the action taken (action index, or steering for continuous actions); the points
    where the car left the track are marked with red crosses. Saved as PNG."""
    driving = [r for r in rows if r["episode_status"] not in (Status.PREPARE, Status.PAUSE)]
    if not driving:
        raise ValueError("the evaluation trace has no driving steps")
    x = np.array([r["X"] for r in driving])
    y = np.array([r["Y"] for r in driving])
    speed = np.array([r["throttle"] for r in driving])
    actions = [r["action"] for r in driving]
    discrete = all(str(a).lstrip("-").isdigit() for a in actions)
    failed = np.array([r["episode_status"] in (Status.OFF_TRACK, Status.REVERSED)
                       for r in driving])
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.8), dpi=110)
    panels = [(axes[0], speed, "plasma", "commanded speed (m/s)")]
    if discrete:
        index = np.array([int(a) for a in actions])
        panels.append((axes[1], index, "actions", "action index"))
    else:
        steer = np.array([r["steer"] for r in driving])
        panels.append((axes[1], steer, "coolwarm", "steering angle (deg, left +)"))
    for ax, values, cmap, label in panels:
        _draw_track(ax, track)
        limits = {"vmin": -30, "vmax": 30} if cmap == "coolwarm" else {}
        ticks = None
        if cmap == "actions":  # one colour per action id, whichever ids were used
            count = int(values.max()) + 1
            cmap = plt.get_cmap("tab10" if count <= 10 else "tab20", count)
            limits = {"vmin": -0.5, "vmax": count - 0.5}
            ticks = range(count)
        points = ax.scatter(x, y, c=values, cmap=cmap, s=9, zorder=3, **limits)
        if failed.any():
            ax.scatter(x[failed], y[failed], marker="x", color="red", s=70, linewidths=2,
                       zorder=4, label=f"off track / reversed ({int(failed.sum())})")
            ax.legend(loc="upper right", fontsize=8)
        fig.colorbar(points, ax=ax, shrink=0.8, label=label, ticks=ticks)
        ax.set_title(f"coloured by {label}")
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return Path(path)


def _draw_track(ax, track) -> None:
    inner, outer = track.rows[:, 2:4], track.rows[:, 4:6]
    ring = np.concatenate([outer, inner[::-1]])
    ax.fill(ring[:, 0], ring[:, 1], color="0.85", zorder=1)
    for border in (inner, outer):
        closed = np.vstack([border, border[:1]]) if track.is_loop else border
        ax.plot(closed[:, 0], closed[:, 1], color="0.3", lw=1, zorder=2)
    ax.plot(track.rows[:, 0], track.rows[:, 1], color="0.6", lw=0.8, ls="--", zorder=2)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
