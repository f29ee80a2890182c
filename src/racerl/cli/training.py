"""`racerl train`: the training run with its live view, then the evaluation laps."""

from __future__ import annotations

from pathlib import Path

import typer

from racerl.cli.common import (
    LivePanel,
    app,
    checkpoint_note,
    console,
    print_evaluation,
    sandbox_notice,
    user_errors,
)
from racerl.errors import RacerlError
from racerl.track import DEFAULT_TRACK


@app.command("train")
@user_errors
def train_command(
    name: str = typer.Option(..., help="model name, not a path: letters, digits, '-', '_', "
                                        "'.' (the model is $RACERL_HOME/models/NAME)"),
    track: list[str] | None = typer.Option(
        None, help=f"track name or .npy (default {DEFAULT_TRACK}); repeat to train on "
                   "several tracks at once"),
    reverse_direction: bool = typer.Option(False, "--reverse-direction",
                                           help="drive the track the other way round"),
    alternate_driving_direction: bool = typer.Option(
        False, "--alternate-driving-direction", help="turn round after every episode"),
    race_type: str | None = typer.Option(
        None, help="time_trial, object_avoidance (boxes) or head_to_bot (bot cars)"),
    number_of_obstacles: int | None = typer.Option(None, help="boxes in object_avoidance"),
    object_positions: str | None = typer.Option(
        None, help="fixed boxes, 'progress,lane;...' (lane 1 inner, -1 outer)"),
    randomize_obstacle_locations: bool = typer.Option(
        False, "--randomize-obstacle-locations", help="new box places every episode"),
    number_of_bot_cars: int | None = typer.Option(None, help="bot cars in head_to_bot"),
    bot_car_speed: float | None = typer.Option(None, help="bot car speed, m/s"),
    is_lane_change: bool = typer.Option(False, "--is-lane-change",
                                        help="bot cars change lanes at random times"),
    reward: str | None = typer.Option(None, help="reward function file or example name"),
    config: Path | None = typer.Option(None, help="YAML file of TrainConfig settings"),
    minutes: float | None = typer.Option(None, help="train for this many minutes"),
    steps: int | None = typer.Option(None, help="train for this many env steps"),
    clone: str | None = typer.Option(None, help="start from this model's trained weights"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run"),
    from_previous: bool = typer.Option(
        False, "--from-previous", help="with --resume: continue from the checkpoint before "
        "the latest (e.g. when the latest is damaged); the latest is moved aside, not deleted"),
    preset: str | None = typer.Option(None, help="'deepracer': the console's PPO defaults"),
    lighting: str | None = typer.Option(None, help="lighting preset ('random' to randomise)"),
    n_envs: int | None = typer.Option(None, help="cars driving at once"),
    workers: int | None = typer.Option(
        None, help="Ray rollout workers sharing the cars, each a simulator in a process of "
                   "its own (racerl[ray]; default 1: all in this process)"),
    address: str | None = typer.Option(
        None, help="the Ray cluster to run the rollout workers on (ray://head:10001, "
                   "head:6379 or auto; default: a local Ray started for --workers > 1)"),
    seed: int | None = typer.Option(None, help="random seed"),
    sandbox: bool = typer.Option(False, "--sandbox",
                                 help="run the reward function in a sandboxed process"),
    trials: int = typer.Option(3, help="evaluation laps of the best checkpoint after "
                                       "training (0: none)"),
    force: bool = typer.Option(False, "--force",
                               help="replace a model of the same name (never other files)"),
) -> None:
    """Train a model with PPO or SAC, then drive evaluation laps."""
    from racerl.model.config import TrainConfig, layered_config
    from racerl.model.folder import (
        model_folder,
        named_model_folder,
        restore_previous_checkpoint,
        training_lock,
    )
    from racerl.train.trainer import train

    if minutes is None and steps is None:
        raise RacerlError("give a budget: --minutes M or --steps N")
    tracks = (track[0] if len(track) == 1 else list(track)) if track else None
    overrides = {k: v for k, v in (("track", tracks), ("lighting", lighting),
                                   ("n_envs", n_envs), ("workers", workers),
                                   ("seed", seed),
                                   ("sandbox_reward", sandbox or None),
                                   ("reverse_direction", reverse_direction or None),
                                   ("alternate_driving_direction",
                                    alternate_driving_direction or None),
                                   ("race_type", race_type),
                                   ("number_of_obstacles", number_of_obstacles),
                                   ("object_positions", object_positions),
                                   ("randomize_obstacle_locations",
                                    randomize_obstacle_locations or None),
                                   ("number_of_bot_cars", number_of_bot_cars),
                                   ("bot_car_speed", bot_car_speed),
                                   ("is_lane_change", is_lane_change or None))
                 if v is not None}
    if resume and (clone or config or preset or overrides or reward or force):
        raise RacerlError("--resume continues a run with its own settings; it takes only "
                          "--name, a budget (--minutes or --steps), --from-previous and "
                          "--address")
    if from_previous and not resume:
        raise RacerlError("--from-previous goes with --resume")
    cfg = None
    if not resume:
        base = model_folder(clone).config() if clone else TrainConfig()
        flags = {**overrides, "reward": reward} if reward is not None else overrides
        cfg = layered_config(base, preset, config, flags)
        if clone and reward is None:
            reward = str(model_folder(clone).reward_path)
    if from_previous:
        target = named_model_folder(name)
        with training_lock(target):  # not under a run of this model that is still going
            aside = restore_previous_checkpoint(target)
        console.print(f"continuing from the previous checkpoint; the replaced one is kept in "
                      f"{aside}", highlight=False)
    if cfg is not None and cfg.sandbox_reward:
        sandbox_notice()
    live = _LiveView(minutes)
    with live:
        result = train(name, cfg, minutes=minutes, steps=steps, clone=clone, resume=resume,
                       reward=reward, force=force, on_iteration=live.update, address=address)
    console.print(f"training stopped: {result.stop_reason}; model saved in {result.folder.root}")
    best = result.progress.best_evaluation
    if best is not None:
        console.print(f"best checkpoint: evaluation #{best.evaluation} at {best.num_timesteps:,} "
                      f"steps, {best.describe()}", highlight=False)
    if trials > 0:
        _print_trials(name, trials)


class _LiveView(LivePanel):
    """A live rich table while training in a terminal; one line per update otherwise."""

    def __init__(self, minutes: float | None):
        super().__init__()
        self.minutes = minutes

    def update(self, progress) -> None:
        from racerl.train.trainer import progress_table, summary_line

        if not self.show(progress_table(progress, self.minutes)):
            console.print(summary_line(progress), highlight=False, soft_wrap=True)


def _print_trials(name: str, trials: int) -> None:
    from racerl.evaluate.evaluation import EvalSettings, evaluate, model_entrant
    from racerl.evaluate.records import save_evaluation

    who = model_entrant(name)
    checkpoint_note(who.note)
    for track in who.tracks:
        run = evaluate(who.driver, EvalSettings(track=track, trials=trials, race=who.race))
        folder = save_evaluation(who.folder, run, who.identity)
        print_evaluation(run, folder)
