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
(filled in as the commands land)

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
"top_share"}])."""

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
    import sys

    from papertools.core.jsonl import RecordWriter
    from papertools.core.progress import note

    from .latent import LatentConfig, evaluate_codes, learn_latent

    out = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())

    def echo(record):
        out.write(record)
        out.stream.flush()

    config = LatentConfig(codes=codes, segment=segment, rounds=rounds, epochs=epochs, seed=seed)
    summary = learn_latent(dataset, out_dir, config, resume=resume, progress=not quiet,
                           log=echo)
    note(TOOL, f"{summary['chunks']} chunks, usage {summary['usage']}; dataset in "
               f"{summary['dataset']}, low level in {summary['policy']}", quiet=quiet)
    if report_label:
        echo(evaluate_codes(out_dir, dataset))


# ---- Part B: HiHack on NetHack (clone, eval) ----
