"""``papertools hrl``: hierarchical agents whose subgoals are language, and HiHack's
strategy-headed policy (options and help only).

The library: language.py (the BabyAI bot's subgoals as words, paraphrases), demos.py
(demonstrations with subgoal labels and segments), low.py (the subgoal-conditioned low level),
high.py (the subgoal-choosing high level and the two-level agent), smdp.py (the high level's
RL stage), latent.py (subgoals without language), hihack.py (NetHack: flat and strategy-headed
cloning), study.py (arms x seeds). The policies bench loads live in core/learn.
"""

from __future__ import annotations

import click

from papertools.core import options

TOOL = "hrl"

RECORDS = """\
high writes a run folder: settings.json (the configuration, "dataset", "low", digests of the
data and of the low level's weights), log.jsonl (one record per epoch, also on standard
output: "epoch", "frames" (segment starts trained on so far), "loss", "accuracy",
"valid_loss", "valid_accuracy", "valid_segments", "valid_unseen" (validation segments whose
subgoal never occurs in training)), checkpoint/, finished.json ("epochs", "frames",
"classes", "train_episodes", "valid_episodes", "valid_accuracy", "policy") and policy/: the
two-level agent, kind "hierarchy" (policy.json's kwargs: "subgoals", "low_kind",
"low_kwargs", "high_kwargs", "max_segment", "sample_high"; model.safetensors: "low.*",
"finished_head.*", "high.*"), which bench run --agent policy plays.

rl writes a run folder (one per seed, DIR/seed-N, with several): settings.json, log.jsonl (one
record per update: "update", "frames" (environment steps), "episodes", "segments" (so far),
"success", "return", "length" (the episodes that ended in the update; null when none),
"segment_length", "fps", "lr", "policy_loss", "value_loss", "entropy", "kl" (KL of the high
level from its cloned prior), "clipfrac"), checkpoint/, finished.json ("frames", "episodes",
"segments", "updates", "seconds", "fps", "success" and "return" over the last 100 episodes,
"policy") and policy/ (the hierarchy with the trained high level). With several seeds each
run's summary, with "run" and "seed", is a record on standard output."""

SEE_ALSO = ["papertools(1)", "papertools-bench(1)", "papertools-nhrecord(1)"]


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Hierarchical agents with language subgoals (Ahuja et al., 2023) and HiHack's
    strategy-headed policy (Piterbarg, Pinto and Fergus, 2023).
    """


# ---- Part A: demonstrations and the low level (demos, low, eval-low) ----


# ---- Part A: the high level, the two-level agent and its RL stage (high, rl) ----


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--low", "low_dir", required=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False),
              help="The low level's policy folder (hrl low writes RUN/policy).")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True,
              help="Passes over the training episodes' segment starts.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Episodes per optimiser step.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="AdamW's learning rate.")
@click.option("--valid-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True, help="Episodes held out for validation.")
@click.option("--recurrent", is_flag=True,
              help="An LSTM carried from one segment to the next.")
@click.option("--max-segment", type=click.IntRange(min=1), default=32, show_default=True,
              help="Low-level steps after which a segment ends even if the low level has not "
                   "said finished.")
@click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
              help="Torch threads (0: torch's default).")
@options.out_dir(required=True, help="The run folder (RUN/policy: the hierarchy).")
@options.resume(help="Continue the run in --out-dir from its last checkpoint (exact).")
@options.seed
@options.device(help="Where the high level trains: auto, cpu, cuda, cuda:N.")
@options.quiet
def high(dataset, low_dir, epochs, batch_size, lr, valid_fraction, recurrent, max_segment,
         threads, out_dir, resume, seed, device, quiet):
    """Clone the high level: the subgoal named where each segment starts.

    The high level (a BabyAI network reading the grid and the task's mission) is trained on
    the segment starts of DATASET (hrl demos: the "subgoal" and "start" labels) to name the
    segment's subgoal, one of the subgoal strings seen in training. The run folder holds
    settings.json, log.jsonl (one record per epoch, also on standard output), checkpoints and
    RUN/policy: the two-level agent (the low level of --low and this high level), which bench
    run --agent policy plays and hrl rl trains further.

    \b
    Examples:
      d=$(mktemp -d) && papertools hrl demos --env babyai/UnlockPickup --episodes 8 --out-dir $d/demos -q && papertools hrl low $d/demos --epochs 1 --out-dir $d/low -q >/dev/null && papertools hrl high $d/demos --low $d/low/policy --epochs 2 --out-dir $d/high -q | tail -n 1
    """
    import sys
    import time
    from pathlib import Path

    from papertools.core.jsonl import RecordWriter
    from papertools.core.models import resolve_device
    from papertools.core.progress import note

    from .high import HighConfig, train_high

    config = HighConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                        valid_fraction=valid_fraction, recurrent=recurrent,
                        max_segment=max_segment, seed=seed, threads=threads,
                        device=str(resolve_device(device)))
    out = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())

    def echo(record):
        out.write(record)
        out.stream.flush()

    started = time.perf_counter()
    summary = train_high(dataset, low_dir, Path(out_dir), config, resume=resume,
                         progress=not quiet, log=echo)
    note(TOOL, f"{summary.get('classes')} subgoals, validation accuracy "
               f"{summary.get('valid_accuracy', float('nan'))}; hierarchy in {out_dir}/policy "
               f"({time.perf_counter() - started:.0f} s)", quiet=quiet)


@cli.command()
@click.option("--policy", "policy_dir", required=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False),
              help="The hierarchy's policy folder (hrl high writes RUN/policy).")
@click.option("--env", "env_name", required=True, metavar="ENV/TASK",
              help="The level: babyai/UnlockPickup, babyai/KeyCorridorS3R3 ...")
@click.option("--frames", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Environment frames (low-level steps of all environments together).")
@click.option("--envs", "n_envs", type=click.IntRange(min=1), default=8, show_default=True,
              help="Environments stepped together.")
@click.option("--segments", type=click.IntRange(min=1), default=16, show_default=True,
              help="Finished segments per environment per update.")
@click.option("--kl", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of KL(high level || the cloned high level): the soft supervision "
                   "(0: none).")
@click.option("--reinit-high", is_flag=True,
              help="Start the high level from random weights (RL alone).")
@click.option("--max-segment", type=click.IntRange(min=0), default=0, show_default=True,
              help="Low-level steps after which a segment ends (0: the policy folder's).")
@click.option("--lr", type=float, default=2.5e-4, show_default=True,
              help="Adam's learning rate, annealed linearly to 0.")
@click.option("--ent-coef", type=float, default=0.01, show_default=True,
              help="Weight of the high level's entropy bonus.")
@click.option("--gamma", type=float, default=0.99, show_default=True,
              help="Discount per environment step.")
@click.option("--gae-lambda", type=float, default=0.95, show_default=True,
              help="GAE's lambda, per segment.")
@click.option("--epochs", type=click.IntRange(min=1), default=4, show_default=True,
              help="Passes over each update's segments.")
@click.option("--minibatches", type=click.IntRange(min=1), default=4, show_default=True,
              help="Minibatches per pass.")
@click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
              help="Torch threads per run (0: torch's default).")
@click.option("--arm", metavar="NAME", help="The arm's name in bench curves [default: the "
              "folder name].")
@options.out_dir(required=True, help="The run folder; with several seeds, one sub-folder "
                                     "seed-N each.")
@options.resume(help="Continue the run(s) in --out-dir from the last checkpoint (exact).")
@options.list_option("--seed", "seeds", convert=int, default=(0,), metavar="N[,N...]",
                     help="Seed(s): several make one run each, as units for --workers.")
@options.device(help="Where the high level trains: auto, cpu, cuda, cuda:N.")
@options.parallel
@options.quiet
def rl(policy_dir, env_name, frames, n_envs, segments, kl, reinit_high, max_segment, lr,
       ent_coef, gamma, gae_lambda, epochs, minibatches, threads, arm, out_dir, resume, seeds,
       device, workers, engine, quiet):
    """Train the hierarchy's high level by RL over segments (semi-MDP PPO).

    The low level is frozen; the high level chooses a subgoal whenever a segment ends and is
    credited with the segment's discounted reward, bootstrapped by the next segment's value
    discounted by gamma to the segment's length. --kl pulls it towards the cloned high level.
    log.jsonl counts environment frames, so runs compare with flat PPO at equal frames (bench
    curves). Several --seed values train one run each (DIR/seed-N), in parallel with
    --workers.

    \b
    Examples:
      d=$(mktemp -d) && papertools hrl demos --env babyai/UnlockPickup --episodes 8 --out-dir $d/demos -q && papertools hrl low $d/demos --epochs 1 --out-dir $d/low -q >/dev/null && papertools hrl high $d/demos --low $d/low/policy --epochs 1 --out-dir $d/high -q >/dev/null && papertools hrl rl --policy $d/high/policy --env babyai/UnlockPickup --frames 256 --envs 2 --segments 4 --kl 0.1 --seed 0,1 -w 2 --out-dir $d/rl -q
    """
    import sys
    import time
    from pathlib import Path

    from papertools.core.envs import resolve_task
    from papertools.core.jsonl import RecordWriter
    from papertools.core.models import resolve_device
    from papertools.core.parallel import ordered_map
    from papertools.core.progress import counter, note

    from .smdp import SMDPConfig

    env, task = resolve_task(env_name)
    base = dict(env=f"{env}/{task}", frames=frames, n_envs=n_envs, segments=segments, kl=kl,
                reinit_high=reinit_high, max_segment=max_segment, lr=lr, ent_coef=ent_coef,
                gamma=gamma, gae_lambda=gae_lambda, epochs=epochs, minibatches=minibatches,
                threads=threads, device=str(resolve_device(device)), arm=arm or "")
    out = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())
    started = time.perf_counter()
    if len(seeds) == 1:
        config = SMDPConfig(**base, seed=seeds[0])

        def echo(record):
            out.write(record)
            out.stream.flush()

        from .smdp import train_smdp

        summary = train_smdp(config, policy_dir, Path(out_dir), resume=resume,
                             progress=not quiet, log=echo)
        note(TOOL, f"{summary.get('frames', 0)} frames, {summary.get('segments', 0)} segments: "
                   f"success {summary.get('success') or 0.0:.2f} over the last episodes, "
                   f"{summary.get('fps', 0)} frames/s; policy in {out_dir}/policy "
                   f"({time.perf_counter() - started:.0f} s)", quiet=quiet)
        return
    units = [(SMDPConfig(**base, seed=s), str(policy_dir), Path(out_dir) / f"seed-{s}", resume)
             for s in seeds]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with counter(desc="hrl rl", total=len(units), unit="run", quiet=quiet) as bar:
        for summary in ordered_map(_rl_unit, units, workers=workers, engine=engine):
            out.write(summary)
            out.stream.flush()
            bar.update(1)
    note(TOOL, f"{len(units)} runs in {out_dir} ({time.perf_counter() - started:.0f} s)",
         quiet=quiet)


def _rl_unit(unit):
    """One seed of hrl rl (a worker's unit): its summary record."""
    from .smdp import train_smdp

    config, policy_dir, run_dir, resume = unit
    summary = train_smdp(config, policy_dir, run_dir, resume=resume, log=lambda record: None)
    return {"run": str(run_dir), "seed": config.seed, **{k: v for k, v in summary.items()
                                                        if not isinstance(v, dict)}}


# ---- Part A: subgoals without language (latent) and the study (study) ----


# ---- Part B: HiHack on NetHack (clone, eval) ----
