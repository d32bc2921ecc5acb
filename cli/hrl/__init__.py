"""``papertools hrl``: hierarchical agents whose subgoals are language, and HiHack's
strategy-headed policy (options and help only).

The library: language.py (the BabyAI bot's subgoals as words, paraphrases), demos.py
(demonstrations with subgoal labels and segments), low.py (the subgoal-conditioned low level),
high.py (the subgoal-choosing high level and the two-level agent), smdp.py (the high level's
RL stage), latent.py (subgoals without language), hihack.py (NetHack: flat and strategy-headed
cloning), study.py (arms x seeds). The policies bench loads live in core/learn.
"""

from __future__ import annotations

from pathlib import Path

import click

from papertools.core import options

TOOL = "hrl"

RECORDS = """\
demos writes a trajectory dataset folder (bench collect's format): dataset.json ("env",
"observation" {"image", "direction"}, "action_words", "labels": "subgoal" (the canonical
subgoals), "phrase" (every phrasing), "start" and "finished" (["no", "yes"]: a segment's first
and last step), "kind" ("go to", "open", "pick up", "drop", "explore"), "true_subgoal" (with
--corrupt), and "hrl": "agent", "seed", "corrupt", "exclude_pairs", "held_out_templates",
"templates"), episodes.jsonl (one record per episode: "id" ("babyai/LEVEL/N"), "env", "seed",
"attempt" (re-draws before this episode), "length", "return", "success", "mission",
"segments" [{"subgoal", "phrase", "start", "length", "true_subgoal" with --corrupt}], "file")
and episodes/ID.npz ("obs/image", "obs/direction", "actions", "rewards", "dones",
"truncated", "label/NAME").

low writes a bench bc run folder: settings.json, log.jsonl ("step", "epoch", "frames",
"loss", "accuracy"; with "valid": true "valid_loss", "valid_accuracy",
"valid_finished_accuracy"), checkpoint/, finished.json and policy/ (policy.json,
model.safetensors, aux_heads.pt: the finished head).

eval-low --json writes one record per kind: "kind", "success", "reached", "episodes",
"mean_steps", then a last record "kind": "all" with "success", "finished_precision", "fired",
"episodes", "held_out".

latent writes, under --out-dir: dataset/ (a trajectory dataset in the demonstrations' format:
the input's observations, actions and episode records; labels "subgoal" and "phrase" = the code
words "code one".."code K", "start"/"finished" = the fixed-length chunks, "kind" = ["latent"];
dataset.json "hrl": {"latent": {"codes", "segment", "rounds", "seed", "source"}}) and low/ (a
run folder: settings.json, log.jsonl with one record per round: "round", "frames" (BC frames so
far), "usage" (chunks per code), "reassigned" (the share of chunks whose code changed),
"loglik_before"/"loglik" (mean action log-likelihood per step before and after the E-step),
"m_seconds", "seconds"; codes-NN.npy, rounds/rNN/ (each round's BC run), policy/ (the final
code-conditioned low level, with aux_heads.pt)). With --report it also prints one JSON record:
"steps", "codes", "purity", "nmi", "chance_purity", "per_code" ([{"code", "steps", "top",
"top_share"}]).

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
run's summary, with "run" and "seed", is a record on standard output.

clone writes a training run folder (bench bc's): settings.json, log.jsonl (each record also on
stdout: "step", "epoch", "frames", "loss", "accuracy", "frames_per_s"; per epoch, with "valid":
true, "valid_loss", "valid_accuracy" and, for --model hier, "valid_strategy_accuracy" of the
strategy head), checkpoints, RUN/policy (kind "hihack" for hier, "nethack" for flat; bench run
--agent policy plays it) and RUN/accuracy.json: the held-out games' action accuracy, "all" and
per true strategy name, each {"accuracy", "steps"}. Its last stdout record is {"accuracy",
"model", "games", "parameters"}.

eval --json writes one record per agent ("policy", "expert": the symbolic agent that plays
nhrecord's data, "random"), all on the same games: "agent", "episodes", "median", "q1", "q3",
"mean" (in-game score), "median_ci" (bootstrap 95% interval of the median over games, seeded by
--seed), "depth" (median deepest dungeon level), "mean_steps", "steps_per_s", "scores" (one per
game, in seed order), "policy", "seed", "max_steps"."""

SEE_ALSO = ["papertools(1)", "papertools-bench(1)", "papertools-nhrecord(1)"]


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Hierarchical agents with language subgoals (Ahuja et al., 2023) and HiHack's
    strategy-headed policy (Piterbarg, Pinto and Fergus, 2023).

    Part A, on BabyAI: demos records the bot with its subgoal at every step as language
    (paraphrased; some phrasings held out), low clones a policy conditioned on the subgoal
    phrase with a "finished" head, high clones the level that names the next subgoal and
    writes the two-level agent, rl trains that level on the task reward over segments
    (semi-MDP PPO, a KL pull towards the clone), latent learns subgoals without language
    (the baseline), and study runs every arm over seeds. Part B, on NetHack: clone trains a
    flat or a strategy-headed policy on nhrecord's games, eval scores policies, the symbolic
    expert and a random agent on the same unseen games. Every trained agent is a policy folder
    that bench run --agent policy plays.

    \b
    Examples:
      d=$(mktemp -d) && papertools hrl demos --env babyai/GoToLocal --episodes 20 --out-dir $d/demos -q && papertools hrl low $d/demos --epochs 2 --out-dir $d/low -q | tail -n 1
      papertools hrl study --quick --arms flat-bc,lang-bc --seeds 0 --eval-episodes 4 --out-dir "$(mktemp -d)/study" -q
    """


cli.see_also = SEE_ALSO


# ---- Part A: demonstrations and the low level (demos, low, eval-low) ----

from .high import HighConfig as _HighConfig  # noqa: E402  (light: torch inside functions)
from .low import LowConfig as _LowConfig  # noqa: E402
from .study import StudyConfig as _StudyConfig  # noqa: E402

_LOW = _LowConfig()  # hrl low's defaults
_HIGH = _HighConfig()  # hrl high's
_STUDY = _StudyConfig()  # hrl study's


@cli.command()
@click.option("--env", "env_name", required=True, metavar="babyai/LEVEL",
              help="A BabyAI level the bot solves: babyai/UnlockPickup, "
                   "babyai/KeyCorridorS3R3, babyai/Synth.")
@click.option("--episodes", type=click.IntRange(min=1), required=True,
              help="Demonstrations to record.")
@click.option("--corrupt", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Each segment's annotation is wrong (a wrong colour, object or verb) with "
                   "this probability; label true_subgoal keeps the truth.")
@options.list_option("--exclude-pairs", metavar="PAIR[,PAIR...]",
                     help="Colour-type pairs never named in training (\"yellow key,red "
                          "ball\"; repeatable): episodes naming one are re-drawn.")
@options.out_dir(required=True, help="The trajectory dataset folder (new, or resumed).")
@options.resume(help="Continue in --out-dir, recording only the episodes not yet there.")
@options.seed
@options.parallel
@options.quiet
def demos(env_name, episodes, corrupt, exclude_pairs, out_dir, resume, seed, workers, engine,
          quiet):
    """Record the BabyAI bot's demonstrations with language subgoals.

    Every step is labelled with the bot's current subgoal in canonical words ("open the
    yellow door", "pick up the grey key", "explore"); a segment (a run of one subgoal) gets
    one phrasing drawn from four templates per kind ("get the door that is yellow open"),
    the fifth held out for evaluation. The dataset is the same for any --workers; --resume
    records only the missing episodes.

    \b
    Examples:
      papertools hrl demos --env babyai/UnlockPickup --episodes 4 --out-dir "$(mktemp -d)/demos"
      papertools hrl demos --env babyai/KeyCorridorS3R3 --episodes 2 --corrupt 0.2 --exclude-pairs "yellow key" -w 2 --out-dir "$(mktemp -d)/d" -q
    """
    import time

    from papertools.core.envs import resolve_task
    from papertools.core.progress import counter, note

    from .demos import parse_pairs, record_demos

    env, task = resolve_task(env_name)
    if env != "babyai":
        raise click.BadParameter("the bot plays BabyAI levels: babyai/LEVEL",
                                 param_hint="--env")
    pairs = parse_pairs(exclude_pairs)
    started = time.perf_counter()
    with counter(desc="hrl demos", unit="ep", quiet=quiet) as bar:
        written = record_demos(f"{env}/{task}", episodes, Path(out_dir), seed=seed,
                               corrupt=corrupt, exclude_pairs=pairs, workers=workers,
                               engine=engine, resume=resume,
                               on_episode=lambda record: bar.update(1))
    note(TOOL, f"{written} demonstrations recorded into {out_dir} in "
               f"{time.perf_counter() - started:.1f} s", quiet=quiet)


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--epochs", type=click.IntRange(min=1), default=_LOW.epochs,
              show_default=True, help="Passes over the training episodes.")
@click.option("--seq-len", type=click.IntRange(min=1), default=_LOW.seq_len,
              show_default=True, help="Steps per training window.")
@click.option("--batch-size", type=click.IntRange(min=1), default=_LOW.batch_size,
              show_default=True, help="Windows per optimiser step.")
@click.option("--lr", type=float, default=_LOW.lr, show_default=True,
              help="Adam's learning rate.")
@click.option("--finished-weight", type=click.FloatRange(min=0),
              default=_LOW.finished_weight, show_default=True,
              help="The finished head's loss weight.")
@click.option("--recurrent/--feed-forward", default=_LOW.recurrent,
              show_default=True, help="An LSTM core, reset at each segment's start.")
@click.option("--instruction-encoder", type=click.Choice(["gru", "minilm"]),
              default=_LOW.instruction_encoder, show_default=True,
              help="The phrase encoder: a word GRU trained here, or the packaged frozen MiniLM "
                   "(paraphrases never seen in training land near the ones seen).")
@click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
              help="Torch threads on the CPU (0: torch's default).")
@options.out_dir(required=True, help="The run folder (RUN/policy at the end).")
@options.resume(help="Continue the run in --out-dir from its last checkpoint (exact).")
@options.seed
@options.device(help="Where the network trains: auto, cpu, cuda, cuda:N.")
@options.quiet
def low(dataset, epochs, seq_len, batch_size, lr, finished_weight, recurrent,
        instruction_encoder, threads, out_dir, resume, seed, device, quiet):
    """Clone the low level: a policy conditioned on the subgoal phrase, with a finished head.

    Sequence BC on hrl demos' dataset: the mission the policy reads is each step's subgoal
    phrase, the recurrent state resets where a segment starts, and a head predicts the
    segment's last step ("finished"). The run folder is bench bc's (log.jsonl also on
    standard output, checkpoints at each epoch and on Ctrl-C, --resume exact); RUN/policy
    loads in bench, with aux_heads.pt holding the finished head.

    \b
    Examples:
      d=$(mktemp -d) && papertools hrl demos --env babyai/UnlockPickup --episodes 8 --out-dir $d/demos -q && papertools hrl low $d/demos --epochs 1 --out-dir $d/low -q | tail -n 1
    """
    import time

    from papertools.core.jsonl import stdout_log
    from papertools.core.progress import note

    from .low import LowConfig, train_low

    config = LowConfig(epochs=epochs, seq_len=seq_len, batch_size=batch_size, lr=lr,
                       finished_weight=finished_weight, recurrent=recurrent,
                       instruction_encoder=instruction_encoder, seed=seed, threads=threads,
                       device=device)
    started = time.perf_counter()
    summary = train_low(dataset, out_dir, config, resume=resume, progress=not quiet,
                        log=stdout_log())
    note(TOOL, f"{summary.get('epochs', epochs)} epochs on {summary.get('train_episodes')} "
               f"episodes; low level in {out_dir}/policy "
               f"({time.perf_counter() - started:.0f} s)", quiet=quiet)


@cli.command("eval-low")
@click.option("--policy", "policy_dir", required=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False),
              help="The low level's policy folder (RUN/policy of hrl low).")
@click.option("--env", "env_name", required=True, metavar="babyai/LEVEL",
              help="The level whose bot episodes give the subgoals.")
@click.option("--episodes", type=click.IntRange(min=1), default=100, show_default=True,
              help="Subgoals to try (one per bot episode).")
@click.option("--held-out", is_flag=True,
              help="Phrase each subgoal with its kind's held-out template.")
@click.option("--max-segment", type=click.IntRange(min=1), default=64, show_default=True,
              help="Steps the low level gets before it is stopped.")
@click.option("--deterministic", is_flag=True,
              help="Play the most likely action instead of sampling.")
@options.seed
@options.parallel
@options.as_json()
@options.quiet
def eval_low(policy_dir, env_name, episodes, held_out, max_segment, deterministic, seed,
             workers, engine, as_json, quiet):
    """Score the low level on subgoals in isolation, per kind.

    The bot plays each episode up to the start of one of its segments (a kind drawn
    uniformly, then a segment of it); the low level then gets that subgoal as a phrase and
    plays until its finished head fires or --max-segment steps. Success: the subgoal holds
    in the game (the object in front, the door open, the object carried or put down).
    Seeds differ from hrl demos'. Also the finished head's precision.

    \b
    Examples:
      d=$(mktemp -d) && papertools hrl demos --env babyai/UnlockPickup --episodes 8 --out-dir $d/demos -q && papertools hrl low $d/demos --epochs 1 --out-dir $d/low -q >/dev/null && papertools hrl eval-low --policy $d/low/policy --env babyai/UnlockPickup --episodes 4 --held-out -q
    """
    import sys

    from papertools.core.envs import resolve_task
    from papertools.core.jsonl import RecordWriter
    from papertools.core.progress import counter

    from .low import evaluate_low

    env, task = resolve_task(env_name)
    with counter(desc="hrl eval-low", unit="ep", total=episodes, quiet=quiet) as bar:
        result = evaluate_low(policy_dir, f"{env}/{task}", episodes, seed=seed,
                              held_out=held_out, max_segment=max_segment, workers=workers,
                              engine=engine, deterministic=deterministic,
                              on_episode=lambda record: bar.update(1))
    if as_json:
        out = RecordWriter(sys.stdout.buffer)
        for kind, figures in result["kinds"].items():
            out.write({"kind": kind, **figures})
        out.write({"kind": "all", **{k: v for k, v in result.items() if k != "kinds"}})
        return
    phrasing = "held-out" if held_out else "training"
    click.echo(f"{'kind':10s} {'success':>8s} {'reached':>8s} {'episodes':>8s} "
               f"{'steps':>6s}   ({phrasing} phrasings)")
    for kind, f in result["kinds"].items():
        click.echo(f"{kind:10s} {f['success']:8.3f} {f['reached']:8.3f} {f['episodes']:8d} "
                   f"{f['mean_steps']:6.1f}")
    precision = result["finished_precision"]
    click.echo(f"{'all':10s} {result['success']:8.3f} {'':8s} {result['episodes']:8d}")
    click.echo("finished head: fired on {:.0%} of segments, precision {}".format(
        result["fired"], "n/a" if precision is None else f"{precision:.3f}"))


# ---- Part A: the high level, the two-level agent and its RL stage (high, rl) ----


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--low", "low_dir", required=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False),
              help="The low level's policy folder (hrl low writes RUN/policy).")
@click.option("--epochs", type=click.IntRange(min=1), default=_HIGH.epochs, show_default=True,
              help="Passes over the training episodes' segment starts.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Episodes per optimiser step.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="AdamW's learning rate.")
@click.option("--valid-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True, help="Episodes held out for validation.")
@click.option("--recurrent/--feed-forward", default=_HIGH.recurrent, show_default=True,
              help="An LSTM carried from one segment to the next (a feed-forward high level "
                   "cannot tell which subgoals are done).")
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
    import time

    from papertools.core.jsonl import stdout_log
    from papertools.core.models import resolve_device
    from papertools.core.progress import note

    from .high import HighConfig, train_high

    config = HighConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                        valid_fraction=valid_fraction, recurrent=recurrent,
                        max_segment=max_segment, seed=seed, threads=threads,
                        device=str(resolve_device(device)))
    echo = stdout_log()

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
@click.option("--lr", type=float, default=None,
              help="Adam's learning rate, annealed linearly to 0 [default: 3e-05, fine-tuning a "
                   "cloned high level; 0.00025 with --reinit-high].")
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
    import time

    from papertools.core.envs import resolve_task
    from papertools.core.jsonl import stdout_log
    from papertools.core.models import resolve_device
    from papertools.core.parallel import ordered_map
    from papertools.core.progress import counter, note

    from .smdp import SMDPConfig

    env, task = resolve_task(env_name)
    base = dict(env=f"{env}/{task}", frames=frames, n_envs=n_envs, segments=segments, kl=kl,
                reinit_high=reinit_high, max_segment=max_segment, lr=lr, ent_coef=ent_coef,
                gamma=gamma, gae_lambda=gae_lambda, epochs=epochs, minibatches=minibatches,
                threads=threads, device=str(resolve_device(device)), arm=arm or "")
    echo = stdout_log()
    started = time.perf_counter()
    if len(seeds) == 1:
        config = SMDPConfig(**base, seed=seeds[0])

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
            echo(summary)
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


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--codes", type=click.IntRange(1, 20), default=8, show_default=True,
              help="K: the number of latent subgoals (code words).")
@click.option("--segment", type=click.IntRange(min=1), default=3, show_default=True,
              help="Steps per chunk (the mean language segment of UnlockPickup's bot is 2.2).")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Hard-EM rounds (clone the low level, then reassign every chunk).")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="BC passes over the demonstrations per round.")
@click.option("--report", "report_label", is_flag=True,
              help="Afterwards print how the codes align with DATASET's own subgoal labels "
                   "(purity, NMI): a diagnostic; training never reads them.")
@options.out_dir(required=True, help="Folder for dataset/ (the coded demonstrations) and low/ "
                                     "(the run folder, low/policy the low level).")
@options.resume(help="Continue in --out-dir: finished rounds are kept.")
@options.seed
@options.quiet
def latent(dataset, codes, segment, rounds, epochs, report_label, out_dir, resume, seed, quiet):
    """Learn K latent subgoals without language (hard EM over fixed-length chunks).

    The baseline hierarchy "without the supervised subgoal space": the demonstrations are cut
    into --segment-step chunks, given initial codes by k-means over a summary that uses no
    language (actions, the carried object, the cell in front), then --rounds rounds of: clone
    a low level conditioned on the code word ("code one".."code K") with a "finished" head,
    and move every chunk to the code under which that low level explains its actions best.
    Only observations, actions and the mission are read, never the input's labels. Writes
    --out-dir/dataset (the shared demonstrations format, the code words as the subgoals: hrl
    high and hrl rl train on it unchanged) and --out-dir/low (low/policy: the low level).
    Each round's figures go to low/log.jsonl and standard output.

    \b
    Examples:
      d=$(mktemp -d) && papertools bench collect --env babyai/GoToLocal --agent bot --episodes 8 --out-dir $d/demos -q && papertools hrl latent $d/demos --codes 2 --rounds 1 --epochs 1 --out-dir $d/latent --report -q
    """

    from papertools.core.jsonl import stdout_log
    from papertools.core.progress import note

    from .latent import LatentConfig, evaluate_codes, learn_latent

    echo = stdout_log()

    config = LatentConfig(codes=codes, segment=segment, rounds=rounds, epochs=epochs, seed=seed)
    summary = learn_latent(dataset, out_dir, config, resume=resume, progress=not quiet,
                           log=echo)
    note(TOOL, f"{summary['chunks']} chunks, usage {summary['usage']}; dataset in "
               f"{summary['dataset']}, low level in {summary['policy']}", quiet=quiet)
    if report_label:
        echo(evaluate_codes(out_dir, dataset))


@cli.command()
@click.option("--env", "env_name", default="babyai/UnlockPickup", show_default=True,
              metavar="babyai/LEVEL", help="The long-horizon level (one the bot solves).")
@click.option("--demos", type=click.IntRange(min=1), default=250, show_default=True,
              help="Demonstrations, shared by every arm.")
@options.list_option("--seeds", "seeds", convert=int, default=(0, 1, 2, 3, 4),
                     metavar="N[,N...]", help="Training seeds of every arm.")
@click.option("--frames", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Environment frames of every RL arm (flat PPO and the high levels' RL).")
@options.list_option("--kl", "kl", convert=float, default=(0.0, 0.01, 0.1), metavar="W[,W...]",
                     help="The soft supervision's weights (KL towards the cloned high level).")
@click.option("--codes", type=click.IntRange(min=2), default=8, show_default=True,
              help="Latent subgoals of the latent arms.")
@options.list_option("--arms", "arms", default=("flat-bc", "flat-ppo", "lang-bc", "lang-rl",
                                                "latent-bc", "latent-rl", "rl-only"),
                     metavar="ARM[,ARM...]", help="The arms to run.")
@click.option("--corrupt", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of the annotations corrupted (naive annotators).")
@options.list_option("--exclude-pairs", metavar="PAIR[,PAIR...]",
                     help="Held-out combinations: colour-type pairs (\"purple box\") that no "
                          "demonstration names; policies are also scored on episodes whose "
                          "mission names one.")
@click.option("--eval-episodes", type=click.IntRange(min=1), default=100, show_default=True,
              help="Evaluation episodes per trained policy.")
@click.option("--eval-seed", type=int, default=_STUDY.eval_seed, show_default=True,
              help="The evaluation seeds' stream (never the demonstrations').")
@click.option("--quick", is_flag=True, help="The CI size: GoToLocal, 30 demos, 2 seeds, 2,048 "
              "frames (minutes; the figures mean nothing).")
@options.out_dir(required=True, help="The study folder (demos/, ARM/seed-N/, results).")
@options.resume(help="Continue the study in --out-dir: finished units are kept.")
@options.plot(help="Also draw the RL arms' learning curves to this PNG.")
@options.as_json(help="Write one JSON record per arm instead of the table.")
@options.parallel
@options.quiet
def study(env_name, demos, seeds, frames, kl, codes, arms, corrupt, exclude_pairs,
          eval_episodes, eval_seed, quick, out_dir, resume, plot, as_json, workers, engine,
          quiet):
    """Run Part A's study: language-subgoal HRL against its baselines, arms x seeds.

    One set of bot demonstrations serves every arm. Arms: flat-bc (the flat recurrent policy
    cloned), flat-ppo (the same network by PPO for --frames), lang-bc (the language hierarchy,
    both levels cloned), lang-rl (its high level then trained by semi-MDP PPO for --frames,
    once per --kl weight: lang-rl-klW), latent-bc and latent-rl (the hierarchy over --codes
    latent subgoals learned without language), rl-only (the latent low level under a high
    level trained by RL alone). Every policy is scored greedily on --eval-episodes held-out
    episodes; the table gives the IQM of success over seeds with a 95% bootstrap interval.
    With --exclude-pairs the evaluation episodes are those whose mission names no excluded
    pair, and a second column scores as many that name one (held-out combinations).
    Units run in parallel with --workers and resume with --resume; everything lands in
    --out-dir (results.jsonl, summary.jsonl, curves.jsonl).

    \b
    Examples:
      papertools hrl study --quick --arms flat-bc,lang-bc --seeds 0 --eval-episodes 4 --out-dir "$(mktemp -d)/study" -q
    """
    import sys
    import time

    from papertools.core.jsonl import RecordWriter, dumps, write_atomic
    from papertools.core.progress import counter, note

    from .demos import parse_pairs
    from .study import StudyConfig, rl_runs, run_study, summarise

    pairs = parse_pairs(exclude_pairs)
    config = StudyConfig(env=env_name, demos=demos, seeds=tuple(seeds), frames=frames,
                         kl=tuple(kl), codes=codes, arms=tuple(arms), corrupt=corrupt,
                         exclude_pairs=pairs, eval_episodes=eval_episodes, eval_seed=eval_seed)
    if quick:
        config = config.quick()
    started = time.perf_counter()
    with counter(desc="hrl study", unit="unit", quiet=quiet) as bar:
        results = run_study(config, Path(out_dir), resume=resume, workers=workers,
                            engine=engine, on_unit=lambda r: bar.update(1))
    out = Path(out_dir)
    rows = summarise(results)
    held = {r["arm"]: r for r in summarise(results, key="heldout_success")}
    for row in rows:
        if row["arm"] in held:
            h = held[row["arm"]]
            row.update(heldout_iqm=h["iqm"], heldout_low=h["low"], heldout_high=h["high"])
    write_atomic(out / "results.jsonl", b"".join(map(dumps, results)))
    write_atomic(out / "summary.jsonl", b"".join(map(dumps, rows)))
    runs = {arm: [d for d in dirs if (d / "log.jsonl").exists()]
            for arm, dirs in rl_runs(out, config).items()}
    runs = {arm: dirs for arm, dirs in runs.items() if dirs}
    if runs:
        from papertools.core.learn.curves import aggregate, load_curves, plot_curves, write_curves

        curves = aggregate(load_curves(runs), "success", points=20)
        write_curves(curves, out / "curves.jsonl")
        if plot:
            plot_curves(curves, plot, title=f"{config.env}: success over frames")
    if as_json:
        writer = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())
        for row in rows:
            writer.write(row)
    else:
        click.echo(f"{'arm':<18} {'IQM success':>11}  {'95% interval':<15} {'mean':>6} "
                   f"{'seeds':>5} {'RL frames':>9}" + ("  held-out pairs [95% interval]"
                                                        if held else ""))
        for r in rows:
            interval = f"[{r['low']:.3f}, {r['high']:.3f}]"
            line = (f"{r['arm']:<18} {r['iqm']:>11.3f}  {interval:<15} {r['mean']:>6.3f} "
                    f"{r['seeds']:>5} {r['frames']:>9}")
            if "heldout_iqm" in r:
                line += (f"  {r['heldout_iqm']:.3f} [{r['heldout_low']:.3f}, "
                         f"{r['heldout_high']:.3f}]")
            click.echo(line)
    note(TOOL, f"{len(results)} policies scored in {out_dir} "
               f"({time.perf_counter() - started:.0f} s)", quiet=quiet)


# ---- Part B: HiHack on NetHack (clone, eval) ----


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--model", type=click.Choice(["flat", "hier"]), default="hier", show_default=True,
              help="hier: HiHack's strategy head choosing one of 13 action heads (hard "
                   "Gumbel-softmax); flat: one MLP action head, sized to the same parameters.")
@click.option("--strategy-coef", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of the strategy cross-entropy (hier; 0: the action loss alone).")
@click.option("--oracle", is_flag=True,
              help="hier: the true strategy picks the head (an offline ablation).")
@click.option("--no-straight-through", is_flag=True,
              help="hier: no action-loss gradient through the head choice (HiHack's code).")
@click.option("--sample-strategy", is_flag=True,
              help="hier: when the policy plays, sample the strategy (Gumbel) as HiHack's "
                   "evaluation does, rather than take the likeliest.")
@click.option("--games", type=click.IntRange(min=1), default=None,
              help="Train on the first N games of the training split (default: all).")
@click.option("--valid-games", type=click.IntRange(min=1), default=5, show_default=True,
              help="Games held out (the same for every --games and --seed).")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True,
              help="Passes over the training games.")
@click.option("--hidden", type=click.IntRange(min=1), default=256, show_default=True,
              help="The torso's width (and its LSTM's).")
@click.option("--head-hidden", type=click.IntRange(min=1), default=256, show_default=True,
              help="Hidden width of each strategy's action head (the flat head is matched).")
@click.option("--seq-len", type=click.IntRange(min=1), default=32, show_default=True,
              help="Steps per training window.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Windows per optimiser step.")
@click.option("--lr", type=float, default=3e-4, show_default=True, help="Adam's learning rate.")
@click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
              help="Torch threads on the CPU (0: torch's default).")
@options.out_dir(required=True, help="The run folder (RUN/policy, RUN/accuracy.json at the end).")
@options.resume(help="Continue the run in --out-dir from its last checkpoint (exact).")
@options.seed
@options.device(help="Where the network trains: auto, cpu, cuda, cuda:N.")
@options.quiet
def clone(dataset, model, strategy_coef, oracle, no_straight_through, sample_strategy, games,
          valid_games, epochs, hidden, head_hidden, seq_len, batch_size, lr, threads, out_dir,
          resume, seed, device, quiet):
    """HiHack's behavioural cloning of nhrecord's strategy-labelled NetHack games.

    DATASET is an nhrecord dataset folder (converted to a trajectory dataset in the cache on
    first use) or an already converted one. Games are split by game: --valid-games held out,
    then the first --games of the rest, so sizes nest. Loss: the action cross-entropy plus
    --strategy-coef times the strategy head's. Log records (log.jsonl, also on stdout) as
    bench bc's; at the end RUN/policy (bench run --agent policy plays it) and the held-out
    per-strategy action accuracy in RUN/accuracy.json (and the last stdout record).

    \b
    Examples:
      d=$(mktemp -d) && papertools nhrecord record --episodes 3 --max-steps 60 --out-dir $d/games -q && papertools hrl clone $d/games --model hier --games 2 --valid-games 1 --epochs 1 --hidden 16 --head-hidden 8 --out-dir $d/hier -q | tail -n 1
    """
    import time

    from papertools.core.jsonl import stdout_log
    from papertools.core.progress import note

    from . import hihack

    echo = stdout_log()

    started = time.perf_counter()
    config = hihack.CloneConfig(model=model, strategy_coef=strategy_coef, oracle=oracle,
                                straight_through=not no_straight_through,
                                eval_strategy="sample" if sample_strategy else "argmax",
                                games=games,
                                valid_games=valid_games, epochs=epochs, hidden=hidden,
                                head_hidden=head_hidden, seq_len=seq_len,
                                batch_size=batch_size, lr=lr, seed=seed, device=device,
                                threads=threads)
    summary = hihack.clone(dataset, out_dir, config, resume=resume, log=echo,
                           progress=not quiet)
    echo({"accuracy": summary["accuracy"], "model": model, "games": summary["games"],
          "parameters": summary.get("parameters")})
    note(TOOL, f"{model}: {summary['games']} games ({summary['valid_games']} held out), "
               f"held-out action accuracy {summary['accuracy']['all']['accuracy']:.3f}; "
               f"policy in {out_dir}/policy ({time.perf_counter() - started:.0f} s)",
         quiet=quiet)


@cli.command(name="eval")
@click.option("--policy", "policy_dir", type=click.Path(exists=True, file_okay=False),
              default=None, help="A policy folder (RUN/policy) to play NetHack.")
@click.option("--expert", is_flag=True,
              help="Also the symbolic agent that played the data, on the same seeds.")
@click.option("--random", "random_agent", is_flag=True,
              help="Also the uniformly random agent, on the same seeds.")
@click.option("--episodes", type=click.IntRange(min=1), default=200, show_default=True,
              help="Games per agent (each agent plays the same seeds).")
@click.option("--max-steps", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Agent steps per game (then the game is cut: truncated).")
@options.seed
@options.parallel
@options.as_json(help="One JSON record per agent (with every game's score) on stdout.")
@options.quiet
def eval_cmd(policy_dir, expert, random_agent, episodes, max_steps, seed, workers, engine,
             as_json, quiet):
    """Score agents in NetHackChallenge: median in-game score with quartiles and a bootstrap
    95% interval of the median.

    Games on seeds derived from --seed under a key recording never uses (held out from any
    nhrecord data); the policy samples its actions and sees what it was trained on (the tty
    screen). The table (or --json records: agent, median, q1, q3, mean, median_ci, depth,
    scores, ...) has a row per agent.

    \b
    Examples:
      papertools hrl eval --expert --random --episodes 2 --max-steps 30 --seed 1
    """
    import sys

    from papertools.core.jsonl import RecordWriter
    from papertools.core.progress import counter

    from . import hihack

    agents = sum([policy_dir is not None, expert, random_agent])
    if not agents:
        raise click.UsageError("give --policy, --expert or --random")
    with counter(desc="hrl eval", total=agents * episodes, unit="game", quiet=quiet) as bar:
        result = hihack.evaluate(policy_dir, episodes, seed, max_steps, workers, expert=expert,
                                 random=random_agent, engine=engine,
                                 on_game=lambda agent, game: bar.update(1))
    rows = [dict(agent=a, **result[a]) for a in hihack.AGENTS if a in result]
    if as_json:
        out = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())
        for row in rows:
            out.write(dict(row, policy=policy_dir if row["agent"] == "policy" else None,
                           seed=seed, max_steps=max_steps))
        return
    click.echo(f"{'agent':<8} {'median':>8} {'95% CI':>17} {'q1':>8} {'q3':>8} {'mean':>9} "
               f"{'depth':>5} {'steps/s':>8}")
    for r in rows:
        ci = f"[{r['median_ci'][0]:.0f}, {r['median_ci'][1]:.0f}]"
        click.echo(f"{r['agent']:<8} {r['median']:>8.1f} {ci:>17} {r['q1']:>8.1f} "
                   f"{r['q3']:>8.1f} {r['mean']:>9.1f} {r['depth']:>5.0f} "
                   f"{r['steps_per_s']:>8.0f}")


cli.records = RECORDS
