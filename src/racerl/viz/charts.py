"""Charts for people: the DeepRacer-style training chart (``racerl plot``) and the maps of
an evaluation."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from racerl.atomic import atomic_write
from racerl.model.best_checkpoint import evaluation_summaries, training_episodes
from racerl.sim.state import Status


def iteration_table(metrics: list[dict]) -> dict[str, np.ndarray]:
    """Per DeepRacer iteration: mean reward, mean progress and share of completed laps of
    the training episodes (evaluation laps are left out)."""
    metrics = training_episodes(metrics)
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


def training_chart(metrics: list[dict], title: str, path: str | Path,
                   best_evaluation: int | None = None) -> Path:
    """Reward (left axis) and progress / laps completed (right axis) per iteration, as PNG.

    A run that evaluated during training gets each evaluation's mean completion % on the
    right axis too, and a second panel of its lap times (mean and best of the finished
    trials); ``best_evaluation`` (its number) marks the one the best checkpoint holds.
    """
    table = iteration_table(metrics)
    evaluations = evaluation_summaries(metrics)
    if evaluations:
        fig, (ax, laps_ax) = plt.subplots(2, 1, figsize=(9, 7.6), dpi=110, sharex=True,
                                          gridspec_kw={"height_ratios": [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    it = table["iteration"]
    ax.plot(it, table["reward"], color="tab:green", marker="o", ms=3, label="mean reward")
    ax.set_xlabel("iteration (DeepRacer: a block of training episodes)")
    ax.set_ylabel("mean episode reward", color="tab:green")
    right = ax.twinx()
    right.plot(it, table["progress"], color="tab:blue", marker="o", ms=3,
               label="mean progress %")
    right.plot(it, table["laps"], color="tab:orange", linestyle="--", label="laps completed %")
    if evaluations:
        right.plot([e.iteration for e in evaluations], [e.completion for e in evaluations],
                   color="tab:purple", marker="s", ms=4, linestyle=":",
                   label="evaluation completion %")
    right.set_ylim(0, 105)
    right.set_ylabel("percent")
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper left")
    ax.grid(alpha=0.3)
    episodes = len(training_episodes(metrics))
    counted = f", {len(evaluations)} evaluations" if evaluations else ""
    ax.set_title(f"{title}: {episodes} training episodes{counted}")
    if evaluations:
        ax.set_xlabel("")
        _lap_time_panel(laps_ax, evaluations, best_evaluation)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return Path(path)


def _lap_time_panel(ax, evaluations, best_evaluation: int | None) -> None:
    """Each evaluation's mean and best lap time (finished trials only), the best checkpoint
    starred."""
    timed = [e for e in evaluations if e.mean_lap is not None]
    ax.plot([e.iteration for e in timed], [e.mean_lap for e in timed], color="tab:purple",
            marker="s", ms=4, label="evaluation mean lap")
    ax.plot([e.iteration for e in timed], [e.best_lap for e in timed], color="tab:purple",
            linestyle="none", marker="v", ms=4, alpha=0.6, label="evaluation best lap")
    best = [e for e in evaluations if e.evaluation == best_evaluation]
    if best:
        e = best[0]
        y = e.mean_lap if e.mean_lap is not None else (max(t.mean_lap for t in timed)
                                                       if timed else 0.0)
        ax.plot([e.iteration], [y], color="gold", marker="*", ms=16, markeredgecolor="black",
                linestyle="none", label=f"best checkpoint (evaluation {e.evaluation})")
    if not timed:
        ax.text(0.5, 0.5, "no evaluation lap finished yet", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
    ax.set_xlabel("iteration (DeepRacer: a block of training episodes)")
    ax.set_ylabel("lap time (s)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)


def saved_evaluation_chart(about: dict, rows: list[dict], path: str | Path) -> Path:
    """:func:`evaluation_chart` of a saved evaluation (its ``evaluation.json`` summary and
    its trace), on the track and in the direction it was driven, titled with its result."""
    from racerl.track.catalog import load_track

    settings, s = about["settings"], about["summary"]
    best = "-" if s["best_lap"] is None else f"{s['best_lap']:.2f}"
    title = (f"{about['driver']} on {settings['track']} ({settings['lighting']} light): "
             f"{s['laps']}/{s['trials']} laps, best {best} s, {s['off_track']} off track "
             f"— evaluation {about['id']}")
    track = load_track(settings["track"], reverse=settings.get("reverse_direction", False))
    return evaluation_chart(rows, track, title, path)


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
