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
    """


# ---- Part A: demonstrations and the low level (demos, low, eval-low) ----


# ---- Part A: the high level, the two-level agent and its RL stage (high, rl) ----


# ---- Part A: subgoals without language (latent) and the study (study) ----


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
    import sys
    import time

    from papertools.core.jsonl import RecordWriter
    from papertools.core.progress import note

    from . import hihack

    out = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())

    def echo(record):
        out.write(record)
        out.stream.flush()

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
