"""``papertools pretrain``: a representation and a progress reward learned offline from
observation-only demonstrations, plugged into online PPO (Mazoure, Bruce, Precup, Fergus and
Anand, 2023; the progress model of Bruce et al.'s ELE) (options and help only).

The library: data.py (observation-only datasets and the geometric pair sampler), offline.py
(the contrastive encoder and the progress model), checks.py (is the progress reward
exploitable?), demos.py (observation-only demonstrations for the study's tasks), online.py
(PPO arms: scratch, pre-trained encoder frozen or fine-tuned, progress reward, both), study.py
(tasks x arms x seeds, the table and the curves).
"""

from __future__ import annotations

import click

from papertools.core import options

TOOL = "pretrain"

RECORDS = """\
(each part adds the records its commands write)"""

SEE_ALSO = ["papertools(1)", "papertools-bench(1)", "papertools-nhrecord(1)"]


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Offline pre-training from observation-only demonstrations (Mazoure et al., 2023).

    (the coordinator writes this text and its Examples block when the parts merge)
    """


cli.see_also = SEE_ALSO


# ---- Part O: offline pre-training (encoder, reward, check) ----


# ---- Part N: online RL and the study (demos, rl, study) ----

_TASK_NAMES = ("keycorridor", "multiroom", "multiroom4")  # demos.TASKS (not imported here:
_DEFAULT_TASKS = ("keycorridor", "multiroom")  # --help stays light); demos.DEFAULT_TASKS
_ARM_NAMES = ("scratch", "encoder-frozen", "encoder-finetune", "progress", "both")  # online.ARMS


@cli.command()
@click.argument("task", type=click.Choice(_TASK_NAMES))
@click.option("--episodes", type=click.IntRange(min=1), required=True,
              help="Demonstrations to record (each one the demonstrator solved).")
@click.option("--observations-only", is_flag=True,
              help="Write every action as -1 and every reward as 0 (the format keeps the "
                   "arrays; pre-training never reads them anyway).")
@options.out_dir(required=True, help="The trajectory dataset folder (new, or resumed).")
@options.resume(help="Continue in --out-dir, recording only the episodes not yet there.")
@options.seed
@options.parallel
@options.quiet
def demos(task, episodes, observations_only, out_dir, resume, seed, workers, engine, quiet):
    """Record observation-only demonstrations of a study task.

    keycorridor (babyai/KeyCorridorS3R3) is played by the BabyAI bot, multiroom and
    multiroom4 (minigrid/MultiRoom-N2-S4, N4-S5) by a breadth-first path solver over the full
    grid that opens the doors on its way; only solved episodes are kept. The dataset is bench collect's
    trajectory format (obs/image, obs/direction; the mission in the episode record), the same
    for any --workers; demonstration seeds are 2**24 and above, never an online run's.

    \b
    Examples:
      papertools pretrain demos multiroom --episodes 3 --out-dir "$(mktemp -d)/demos"
      papertools pretrain demos keycorridor --episodes 2 --observations-only --out-dir "$(mktemp -d)/d" -q
    """
    import time

    from papertools.core.progress import counter, note

    from .demos import record_demos

    started = time.perf_counter()
    with counter(desc="pretrain demos", unit="ep", quiet=quiet) as bar:
        summary = record_demos(task, episodes, out_dir, seed=seed, resume=resume,
                               observations_only=observations_only, workers=workers,
                               engine=engine, on_episode=lambda r: bar.update(1))
    note(TOOL, f"{summary['new']} demonstrations ({summary['steps']} steps) recorded into "
               f"{out_dir} in {time.perf_counter() - started:.1f} s", quiet=quiet)


@cli.command()
@click.argument("task", type=click.Choice(_TASK_NAMES))
@click.option("--arm", type=click.Choice(_ARM_NAMES), default="scratch", show_default=True,
              help="scratch; the pre-trained torso frozen or fine-tuned; the progress reward; "
                   "both.")
@click.option("--encoder", metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="A pretrain encoder run folder (or its policy/): the torso's start.")
@click.option("--progress", metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="A pretrain reward run folder (or its progress/): the progress model.")
@click.option("--alpha", type=float, default=0.003, show_default=True,
              help="The progress reward's weight: r = r_task + alpha * f(s_t-k, s_t).")
@click.option("--k", type=click.IntRange(min=1), default=8, show_default=True,
              help="The progress reward's look-back in steps (from the episode's start "
                   "when shorter).")
@click.option("--both-encoder", type=click.Choice(["frozen", "finetune"]), default="finetune",
              show_default=True, help="The both arm's torso.")
@click.option("--frames", type=click.IntRange(min=1), default=None,
              help="Environment frames (default: the task's study budget).")
@click.option("--n-envs", type=click.IntRange(min=1), default=8, show_default=True,
              help="PPO's environments.")
@click.option("--n-steps", type=click.IntRange(min=1), default=128, show_default=True,
              help="Steps per environment per update.")
@options.out_dir(required=True, help="The run folder (RUN/policy at the end).")
@options.resume(help="Continue the run in --out-dir from its last checkpoint (exact).")
@options.seed
@options.quiet
def rl(task, arm, encoder, progress, alpha, k, both_encoder, frames, n_envs, n_steps, out_dir,
       resume, seed, quiet):
    """Train PPO on a study task in one arm.

    Every arm builds the same BabyAI policy and plays the same frames; they differ in where
    the torso starts (--encoder: pretrain encoder's policy folder), whether it learns, and the
    reward (--progress: r_task plus alpha times the progress model's prediction between the
    observation k steps back and the current one; the logged success and return stay the
    task's). The run folder is core.training's: log.jsonl (also on standard output: frames,
    success, return per update), checkpoints, exact --resume, RUN/policy at the end.

    \b
    Examples:
      papertools pretrain rl multiroom --arm scratch --frames 512 --n-envs 2 --n-steps 64 --out-dir "$(mktemp -d)/run" -q | tail -n 1
    """
    import time

    from papertools.core.jsonl import stdout_log
    from papertools.core.progress import note

    from .online import OnlineConfig, run_arm

    config = OnlineConfig(frames=frames, n_envs=n_envs, n_steps=n_steps, alpha=alpha, k=k,
                          both_encoder=both_encoder)
    started = time.perf_counter()
    summary = run_arm(task, arm, seed, {"run": out_dir, "encoder": encoder,
                                        "progress": progress}, config, resume=resume,
                      echo=stdout_log())
    success = summary.get("success")
    note(TOOL, f"{arm} on {task}: {summary['frames']} frames, success "
               f"{'n/a' if success is None else f'{success:.2f}'} over the last episodes; "
               f"policy in {out_dir}/policy ({time.perf_counter() - started:.0f} s)",
         quiet=quiet)


@cli.command()
@options.list_option("--tasks", "tasks", default=_DEFAULT_TASKS, choices=_TASK_NAMES,
                     metavar="TASK[,TASK...]", help="The study's tasks.")
@options.list_option("--arms", "arms", default=_ARM_NAMES, choices=_ARM_NAMES,
                     metavar="ARM[,ARM...]", help="The arms to run.")
@options.list_option("--seeds", "seeds", convert=int, default=(0, 1, 2, 3, 4),
                     metavar="N[,N...]", help="Seeds of every arm.")
@click.option("--demos", type=click.IntRange(min=1), default=200, show_default=True,
              help="Demonstrations per task the main arms pre-train on.")
@options.list_option("--demo-sizes", "demo_sizes", convert=int, metavar="N[,N...]",
                     help="Data-size sweep: also the both arm pre-trained on N demonstrations "
                          "(both-nN), e.g. 50,200,1000.")
@click.option("--alpha", type=float, default=0.003, show_default=True,
              help="The progress reward's weight.")
@options.list_option("--alphas", "alphas", convert=float, metavar="A[,A...]",
                     help="Alpha sweep: also the progress arm at each (progress-aA).")
@click.option("--k", type=click.IntRange(min=1), default=8, show_default=True,
              help="The progress reward's look-back in steps.")
@click.option("--both-encoder", type=click.Choice(["frozen", "finetune"]), default="finetune",
              show_default=True, help="The both arm's torso.")
@click.option("--frames", type=click.IntRange(min=1), default=None,
              help="Environment frames per run (default: each task's budget).")
@click.option("--quick", is_flag=True, help="The smoke size: multiroom, 2 seeds, 20 demos, "
              "2,048 frames (minutes; the figures mean nothing).")
@options.out_dir(required=True, help="The study folder (TASK/demos-N, TASK/encoder-N, "
                 "TASK/progress-N, TASK/ARM/seed-N, curves, summary.jsonl).")
@options.resume(help="Continue the study in --out-dir: finished units are kept, interrupted "
                "runs continue exactly.")
@options.as_json(help="Write one JSON record per task and arm instead of the table.")
@options.parallel
@options.quiet
def study(tasks, arms, seeds, demos, demo_sizes, alpha, alphas, k, both_encoder, frames, quick,
          out_dir, resume, as_json, workers, engine, quiet):
    """Run the study: tasks x arms x seeds, with the table and the curves.

    Per task: record --demos demonstrations, pre-train the encoder and the progress model on
    them once, then train every arm for every seed at equal frames (units through --workers
    or Ray, resumable). The table gives per task and arm the frames to the task's success
    threshold (IQM over seeds with a 95% bootstrap interval; a seed that never reaches it
    counts its budget; "reached" says how many did) and the final success; TASK/curves.png
    draws every arm's success against frames.

    \b
    Examples:
      papertools pretrain study --quick --arms scratch --out-dir "$(mktemp -d)/study" -q
    """
    import sys

    from papertools.core.jsonl import RecordWriter
    from papertools.core.progress import counter, note

    from .study import StudyConfig, run_study, table

    config = StudyConfig(tasks=tuple(tasks), arms=tuple(arms), seeds=tuple(seeds), demos=demos,
                         demo_sizes=tuple(demo_sizes or ()), alpha=alpha,
                         alphas=tuple(alphas or ()), k=k, both_encoder=both_encoder,
                         frames=frames)
    if quick:
        config = config.quick()
    with counter(desc="pretrain study", unit="unit", quiet=quiet) as bar:
        out = run_study(config, out_dir, workers=workers, engine=engine, resume=resume,
                        on_unit=lambda r: bar.update(1))
    if as_json:
        writer = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())
        for row in out["rows"]:
            writer.write(row)
    else:
        click.echo(table(out["rows"]))
    note(TOOL, "curves: " + ", ".join(out["curves"].values()), quiet=quiet)
