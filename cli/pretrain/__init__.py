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
encoder (stdout and RUN/log.jsonl): {"step", "loss", "accuracy", "valid_loss",
  "valid_accuracy"}; RUN/policy: a policy folder whose policy.json has "pretrained":
  {"objective": "infonce", "gamma", "at_end", "temperature", "steps", "batch_size",
  "dataset", "valid_accuracy"}; RUN/heads.pt: the projection heads.
reward (stdout and RUN/log.jsonl): {"step", "loss", "valid_loss", "valid_spearman"};
  RUN/progress: progress.json and model.safetensors (core.learn.progress).
check --json: one record per check: {"check": "reversed" | "oscillation" | "random" |
  "transfer", "value", "reference", "pass", "measure", ...the check's settings}.
demos writes a trajectory dataset folder (bench collect's format, the observation arrays the
  task's online env gives; --observations-only: every action -1 and every reward 0), seeds
  from a stream the online runs never use.
rl writes a PPO run folder (bench ppo's): settings.json (PPO's configuration; "init_from",
  "freeze_torso" and "progress" when the arm uses them), log.jsonl (one record per update, also on stdout: "update", "frames",
  "episodes", "success", "return" (the task's, without the progress bonus), "length", "fps",
  "lr", "policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac"), checkpoint/ while
  it runs, finished.json and policy/ (bench run --agent policy plays it).
study writes WORK/study.json, per task demos-N/, encoder-N/, progress-N/, ARM/seed-S/ (rl's run
  folders with result.json), curves.jsonl and curves.png, and WORK/summary.jsonl: one row per
  task and arm: "task", "env", "arm", "threshold", "budget", "seeds", "reached",
  "frames_to_threshold", "frames_low", "frames_high" (IQM and 95% interval over seeds; a seed
  that never reaches the threshold counts the budget), "final_success", "success_low",
  "success_high"; --json prints those rows."""

SEE_ALSO = ["papertools(1)", "papertools-bench(1)", "papertools-nhrecord(1)"]


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Offline pre-training from observation-only demonstrations (Mazoure et al., 2023).

    Two models are learned separately from demonstrations that hold observations only (the
    loader never reads actions or rewards), then plugged into online PPO. encoder trains the
    online policy's own torso by InfoNCE over pairs (s_t, s_t+D) of one episode, D drawn from
    a geometric law, in-batch negatives; reward trains a progress model regressing
    symlog(t_j - t_i) between two frames of one episode (Bruce et al.'s ELE), whose
    prediction over the last k steps, times alpha, is added to the task reward online; check
    asks whether that reward can be farmed (reversed pairs, oscillation, random play, another
    level). demos records the study's tasks' demonstrations, rl trains one arm (scratch, the
    pre-trained encoder frozen or fine-tuned, the progress reward, both) and study runs tasks
    x arms x seeds at equal frames, with frames-to-threshold and curves. Pre-trained models
    and agents are run folders, loaded by path; bench run --agent policy plays the agents.

    \b
    Examples:
      d=$(mktemp -d) && papertools pretrain demos multiroom --episodes 8 --observations-only --out-dir $d/demos -q && papertools pretrain encoder $d/demos --steps 4 --batch-size 8 --out-dir $d/enc -q >/dev/null && papertools pretrain rl multiroom --arm encoder-frozen --encoder $d/enc --frames 512 --n-envs 2 --n-steps 64 --out-dir $d/run -q | tail -n 1
    """


cli.see_also = SEE_ALSO


# ---- Part O: offline pre-training (encoder, reward, check) ----


# the online policy the torso is built as
_POLICY_OPTIONS = options._compose(
    click.option("--policy", "policy_kind", default="auto", show_default=True,
                 type=click.Choice(["auto", "babyai", "nethack", "crafter"]),
                 help="The policy kind whose torso is trained (auto: from the dataset's "
                      "observation keys)."),
    click.option("--recurrent", is_flag=True,
                 help="The online policy has an LSTM core (BabyAI, Crafter); the core is not "
                      "pre-trained, but the folder must match the online policy."),
    click.option("--policy-kwargs", "policy_kwargs", metavar="JSON", default="{}",
                 help="More constructor arguments of the policy, as a JSON object (the same "
                      "as online, so the torso loads there)."))


def _kwargs(policy_kwargs: str, recurrent: bool) -> dict:
    import json

    try:
        kwargs = json.loads(policy_kwargs)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--policy-kwargs") from None
    if not isinstance(kwargs, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--policy-kwargs")
    if recurrent:
        kwargs["recurrent"] = True
    return kwargs


_DATASET = click.argument("dataset", metavar="DATASET", type=click.Path(file_okay=False))


def _run_options(product: str):
    """The run folder's options: --out-dir (``product`` at the end), --resume, --seed,
    --device, --quiet."""
    return options._compose(
        options.out_dir(required=True, help=f"The run folder ({product} at the end)."),
        options.resume(help="Continue the run in --out-dir from its last checkpoint (exact)."),
        options.seed,
        options.device(help="Where the network trains: auto, cpu, cuda, cuda:N."),
        options.quiet)


_TRAINING_OPTIONS = options._compose(
    click.option("--steps", type=click.IntRange(min=1), default=1000, show_default=True,
                 help="Optimiser steps."),
    click.option("--batch-size", type=click.IntRange(min=2), default=64, show_default=True,
                 help="Pairs per step."),
    click.option("--lr", type=float, default=1e-3, show_default=True,
                 help="AdamW's learning rate."),
    click.option("--valid-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
                 show_default=True,
                 help="Share of the episodes held out for the validation figures."),
    click.option("--log-every", type=click.IntRange(min=1), default=50, show_default=True,
                 help="Steps between log records (each with the validation figures)."),
    click.option("--save-every", type=click.IntRange(min=0), default=200, show_default=True,
                 help="Steps between checkpoints (0: at the end only)."))


@cli.command()
@_DATASET
@click.option("--gamma", type=click.FloatRange(0, 1, max_open=True), default=0.9,
              show_default=True,
              help="Positives lie D ~ Geometric(1 - gamma) frames ahead (mean 1 / (1 - gamma)).")
@click.option("--at-end", type=click.Choice(["resample", "truncate"]), default="resample",
              show_default=True,
              help="An offset past the episode's end: draw it again, or take the last frame.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=0.1,
              show_default=True, help="InfoNCE's temperature over cosine scores.")
@click.option("--projection-dim", type=click.IntRange(min=1), default=64, show_default=True,
              help="Width of the two projection heads' outputs.")
@_TRAINING_OPTIONS
@_POLICY_OPTIONS
@_run_options("RUN/policy")
def encoder(dataset, gamma, at_end, temperature, projection_dim, steps, batch_size, lr,
            valid_fraction, log_every, save_every, policy_kind, recurrent, policy_kwargs,
            out_dir, resume, seed, device, quiet):
    """Pre-train the online policy's torso by InfoNCE over geometric pairs.

    DATASET is a trajectory dataset folder (bench collect's format; only its observations
    are read, never actions or rewards). The torso is the per-frame encoder of the policy
    the online agent uses (built from the dataset's environment's spaces); two projection
    heads score each anchor frame against the positives of the batch, the anchor's own one
    lying D ~ Geometric(1 - gamma) frames later in its episode and the rest serving as
    negatives. Log records (stdout and RUN/log.jsonl): step, loss, accuracy (the positive
    scored highest; chance is 1 / batch size), valid_loss and valid_accuracy on held-out
    episodes. At the end RUN/policy is a policy folder (its core and heads untrained) that
    the online arms load the torso from.

    \b
    Examples:
      d=$(mktemp -d) && papertools bench collect --env babyai/GoToLocal --episodes 6 --out-dir $d/demos -q && papertools pretrain encoder $d/demos --steps 4 --batch-size 8 --log-every 2 --out-dir $d/enc -q
    """
    from papertools.core.jsonl import stdout_log
    from papertools.core.progress import note

    from .offline import EncoderConfig, train_encoder

    config = EncoderConfig(gamma=gamma, at_end=at_end, batch_size=batch_size, steps=steps,
                           lr=lr, temperature=temperature, projection_dim=projection_dim,
                           policy=policy_kind, policy_kwargs=_kwargs(policy_kwargs, recurrent),
                           seed=seed, valid_fraction=valid_fraction, device=device,
                           log_every=log_every, save_every=save_every)
    summary = train_encoder(dataset, out_dir, config, resume=resume, log=stdout_log(),
                            progress=not quiet)
    note(TOOL, f"encoder: {summary['steps']} steps, valid accuracy "
               f"{summary.get('valid_accuracy')} (chance {summary['chance']}); torso in "
               f"{out_dir}/policy", quiet=quiet)


@cli.command()
@_DATASET
@click.option("--max-gap", type=click.IntRange(min=1), default=64, show_default=True,
              help="The largest gap j - i between the two frames of a training pair.")
@click.option("--reversed-fraction", type=click.FloatRange(0, 1), default=0.0,
              show_default=True,
              help="Share of pairs shown backwards with target -symlog(gap) (beyond the "
                   "paper: teaches that going back is negative progress).")
@click.option("--hidden", type=click.IntRange(min=1), default=128, show_default=True,
              help="Width of the MLP over (e_a, e_b, e_b - e_a).")
@_TRAINING_OPTIONS
@_POLICY_OPTIONS
@_run_options("RUN/progress")
def reward(dataset, max_gap, reversed_fraction, hidden, steps, batch_size, lr, valid_fraction,
           log_every, save_every, policy_kind, recurrent, policy_kwargs, out_dir, resume, seed,
           device, quiet):
    """Train the progress model: symlog of the steps between two frames of a demonstration.

    DATASET as for encoder (observations only). A torso of the online policy's kind (its
    own weights) embeds both frames and an MLP over (e_a, e_b, e_b - e_a) regresses
    symlog(j - i) by mean squared error, pairs drawn uniformly with 0 < j - i <= --max-gap.
    Log records: step, loss, valid_loss and valid_spearman (the rank correlation of the
    predictions with the true gaps on held-out episodes). At the end RUN/progress is the
    progress folder the online arms read (their bonus: alpha * f(s_t-k, s_t)).

    \b
    Examples:
      d=$(mktemp -d) && papertools bench collect --env babyai/GoToLocal --episodes 6 --out-dir $d/demos -q && papertools pretrain reward $d/demos --steps 4 --batch-size 8 --log-every 2 --out-dir $d/rew -q
    """
    from papertools.core.jsonl import stdout_log
    from papertools.core.progress import note

    from .offline import ProgressConfig, train_progress

    config = ProgressConfig(max_gap=max_gap, reversed_fraction=reversed_fraction,
                            batch_size=batch_size, steps=steps, lr=lr, hidden=hidden,
                            policy=policy_kind, policy_kwargs=_kwargs(policy_kwargs, recurrent),
                            seed=seed, valid_fraction=valid_fraction, device=device,
                            log_every=log_every, save_every=save_every)
    summary = train_progress(dataset, out_dir, config, resume=resume, log=stdout_log(),
                             progress=not quiet)
    note(TOOL, f"reward: {summary['steps']} steps, valid Spearman "
               f"{summary.get('valid_spearman')}; model in {out_dir}/progress", quiet=quiet)


@cli.command()
@click.argument("progress_dir", metavar="PROGRESS_DIR", type=click.Path(file_okay=False))
@_DATASET
@click.option("--env", "env_name", metavar="ENV",
              help="Where random play happens [default: the dataset's environment].")
@click.option("--no-random", is_flag=True, help="Skip the random-play check.")
@click.option("--other", metavar="DATASET", type=click.Path(file_okay=False),
              help="Another level's demonstrations: does the model transfer there?")
@click.option("--lookback", "k", type=click.IntRange(min=1), default=8, show_default=True,
              help="The shaping's window: the bonus compares s_t with s_t-k.")
@click.option("--alpha", type=float, default=1.0, show_default=True,
              help="The shaping's scale (the bonus is alpha * f).")
@click.option("--pairs", type=click.IntRange(min=2), default=1024, show_default=True,
              help="Pairs drawn for the reversed and transfer figures.")
@click.option("--episodes", type=click.IntRange(min=1), default=8, show_default=True,
              help="Episodes of random play.")
@click.option("--max-steps", type=click.IntRange(min=1),
              help="Step limit of a random episode [default: the game's].")
@options.seed
@options.as_json(help="One JSONL record per check on stdout instead of the table.")
@options.quiet
def check(progress_dir, dataset, env_name, no_random, other, k, alpha, pairs, episodes,
          max_steps, seed, as_json, quiet):
    """Is a progress reward exploitable? Reversed pairs, oscillation, random play, transfer.

    PROGRESS_DIR is a pretrain reward run folder (or its progress/ folder); DATASET holds
    demonstrations of the same task (better: held-out ones). Each check compares what some
    behaviour earns with what the demonstrations earn: reversed pairs must score below 0;
    stepping back and forth between two frames must earn at most a tenth of the
    demonstrations' bonus per step; random play at most half; on --other's demonstrations
    the rank correlation with the true gaps must stay positive and at least half the own
    one. A record per check: check, value, reference, pass, measure (what the value is).
    A fail is a finding, not an error: the exit status is 0 either way.

    \b
    Examples:
      d=$(mktemp -d) && papertools bench collect --env babyai/GoToLocal --episodes 6 --out-dir $d/demos -q && papertools pretrain reward $d/demos --steps 4 --batch-size 8 --out-dir $d/rew -q >/dev/null && papertools pretrain check $d/rew $d/demos --episodes 1 --max-steps 10 --pairs 32 --json
    """
    from papertools.core.jsonl import stdout_log
    from papertools.core.learn.progress import load_progress

    from .checks import exploitability

    from papertools.core.progress import note

    model = load_progress(progress_dir)
    results = exploitability(model, dataset, env="" if no_random else env_name, other=other,
                             k=k, alpha=alpha, pairs=pairs, episodes=episodes,
                             max_steps=max_steps, seed=seed)
    if as_json:
        log = stdout_log()
        for record in results.values():
            log(record)
    else:
        click.echo("| check | value | reference | pass |")
        click.echo("|---|---:|---:|---|")
        for r in results.values():
            ref = "" if r["reference"] is None else f"{r['reference']:.4f}"
            click.echo(f"| {r['check']} | {r['value']:.4f} | {ref} | "
                       f"{'yes' if r['pass'] else 'no'} |")
    passed = sum(1 for r in results.values() if r["pass"])
    note(TOOL, f"{passed} of {len(results)} checks pass", quiet=quiet)


# ---- Part N: online RL and the study (demos, rl, study) ----

_TASK_NAMES = ("doorkey", "keycorridor", "multiroom", "multiroom4", "mazewalk",
               "staircase")  # demos.TASKS (not imported here:
_DEFAULT_TASKS = ("doorkey", "multiroom")  # --help stays light); demos.DEFAULT_TASKS
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

    keycorridor (babyai/KeyCorridorS3R3) is played by the BabyAI bot; doorkey
    (minigrid/DoorKey-6x6), multiroom and multiroom4 (minigrid/MultiRoom-N2-S4, N4-S5) by a
    breadth-first path solver over the full grid that opens the doors on its way (fetching
    the key first where a locked door bars it); mazewalk (minihack/MiniHack-MazeWalk-9x9-v0) by a
    maze solver that sees only what the agent has seen and explores towards the stairs down;
    staircase (nle/NetHackStaircase-v0: reach the stairs down) by nhrecord's symbolic agent.
    Only solved episodes are kept. The dataset is bench collect's trajectory format, holding
    the observation arrays the task's online env gives (obs/image and obs/direction, the
    mission in the episode record; on mazewalk and staircase obs/glyphs, obs/blstats and
    obs/message), the same for any --workers; demonstration seeds are 2**24 and above, never
    an online run's.

    \b
    Examples:
      papertools pretrain demos multiroom --episodes 3 --out-dir "$(mktemp -d)/demos"
      papertools pretrain demos doorkey --episodes 2 --observations-only --out-dir "$(mktemp -d)/d" -q
      papertools pretrain demos keycorridor --episodes 2 --observations-only --out-dir "$(mktemp -d)/d" -q
      papertools pretrain demos mazewalk --episodes 2 --observations-only --out-dir "$(mktemp -d)/d" -q
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
@click.option("--lookback", "k", type=click.IntRange(min=1), default=8, show_default=True,
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

    Every arm builds the same policy (BabyAI's on the MiniGrid tasks, NetHack's on mazewalk
    and staircase) and plays the same frames; they differ in where the torso starts
    (--encoder: pretrain encoder's policy folder), whether it learns, and the reward
    (--progress: r_task plus alpha times the progress model's prediction between the
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
                     help="Data-size sweep: also every pre-trained arm of --arms with models "
                          "pre-trained on N demonstrations (ARM-nN), e.g. 50,200,1000.")
@click.option("--alpha", type=float, default=0.003, show_default=True,
              help="The progress reward's weight.")
@options.list_option("--alphas", "alphas", convert=float, metavar="A[,A...]",
                     help="Alpha sweep: also the progress arm at each (progress-aA).")
@click.option("--lookback", "k", type=click.IntRange(min=1), default=8, show_default=True,
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
    threshold (the first update at which the success rate of the last 50 or more episodes
    reaches it; IQM over seeds with a 95% bootstrap interval; a seed that never reaches it
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


cli.records = RECORDS
