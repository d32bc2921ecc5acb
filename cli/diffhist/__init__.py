"""``papertools diffhist``: diff-compressed interaction histories (the command-line front end).

The library is core/history.py (the diff-history format: diffs, prompts, training windows, shared
with bench's diff-history agent); steps.py reads step records, windowing.py picks each episode's
training windows, prompting.py builds the prompts of a stream, compression.py measures it.
"""

from __future__ import annotations

import sys
import time

import click

from papertools.core import options
from papertools.core.errors import Diagnostics, PapertoolsError, field
from papertools.core.jsonl import dumps, open_output, read_records
from papertools.core.progress import note, progress

from papertools.core import history
from .steps import episodes, read_steps

TOOL = "diffhist"

RECORDS = """\
Every command reads step records: "episode" (a string), "step" (an integer, increasing within an
episode; gaps are allowed; episodes may interleave), "obs" (the observation text) and "action" (the word for the
action taken after seeing obs; null or absent on a last step), optionally "done" (true on an
episode's last step) and any other fields.

encode writes each record with "obs" replaced, in place, by "obs_diff" (the zero-context unified
diff from the episode's previous obs, header lines dropped) and "obs_full" (true on an episode's
first step, where obs_diff is the whole obs); "tty" and "obs_blocks" are dropped unless --keep
names them. decode restores "obs" and drops "obs_diff" and "obs_full". windows, prompt and stats
read either form.

windows writes one record per window: "id" ("<episode>:<first step>"), "episode", "start",
"steps", "prompt", "completion", "label_spans" ([start, end) character spans of the completion
that a masked loss trains on: each <|action|>, its action and the <|observation|> after it).

prompt writes one record per episode (or per step with --all-steps): "id", "episode", "step",
"prompt" (ending with <|action|>), "history" (steps of history kept), "tokens" (its length in
the counting tokenizer's tokens).

stats writes, with --json, one record per episode ("episode", "steps", "chars_full",
"chars_diff", "tokens_full", "tokens_diff", "ratio") and a last {"id": "summary", ...} record
with the totals and "tokenizer" (what the tokens were counted with)."""


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Diff history for LM agents (Piterbarg, Pinto and Fergus, 2023).

    An agent's history is kept as the first observation in full and, for every later step, a
    zero-context unified diff against the observation before it; for NetHack this makes
    histories several times shorter, so an LM sees more of them. diffhist encodes and decodes
    step records, cuts training windows in the paper's format, builds prompts that fit a token
    budget, and measures the compression.

    \b
    Examples:
      papertools diffhist encode examples/diffhist/episodes.jsonl.gz | papertools diffhist decode | head -c 300
      papertools diffhist stats examples/diffhist/episodes.jsonl.gz
    """


cli.records = RECORDS
cli.see_also = ["papertools(1)", "papertools-nhrecord(1)", "papertools-bench(1)",
                "papertools-jsonl(7)"]

paper_option = click.option(
    "--paper", is_flag=True,
    help="Split observations as the released code does (text.strip().splitlines()); decoding "
         "is then exact up to that normalisation. Default: exact lines.")


def _diag(on_error, quiet, strict=False):
    return Diagnostics(TOOL, on_error=on_error, strict=strict, quiet=quiet)


@cli.command()
@options.inputs
@options.output
@paper_option
@options.list_option("--keep", metavar="FIELD",
                     help="Keep these bulky fields (tty, obs_blocks) instead of dropping them.")
@options.on_error
@options.quiet
@click.pass_context
def encode(ctx, files, output, paper, keep, on_error, quiet):
    """Replace each step's observation by its diff against the previous one.

    The first step of an episode keeps its whole observation (obs_full true). By default lines
    are the observation split on newlines exactly, so decode gives back every observation byte
    for byte; --paper diffs text.strip().splitlines() as the released code does.

    \b
    Examples:
      papertools diffhist encode examples/diffhist/episodes.jsonl.gz -o /tmp/encoded.jsonl
      papertools diffhist encode --paper examples/diffhist/episodes.jsonl.gz | head -n 2 | cut -c 1-200
    """
    from .steps import StepReader

    diag = _diag(on_error, quiet)
    drop = {"tty", "obs_blocks"} - set(keep)
    reader = StepReader(paper)
    encoder = history.Encoder(paper)
    started, count = time.perf_counter(), 0
    with open_output(output, tool=TOOL) as out:
        for item in progress(read_records(files, diag), desc="diffhist encode", unit="step",
                             quiet=quiet):
            try:
                step = reader.read(item, need_obs=False)
                obs = field(item.record, "obs", str, place=item.place)
            except PapertoolsError as err:
                diag.bad(err)
                continue
            diff, full = encoder.encode(step.episode, obs)
            if step.done:
                encoder.end(step.episode)
            record = {}
            for key, value in item.record.items():
                if key == "obs":
                    record["obs_diff"] = diff
                    record["obs_full"] = full
                elif key not in drop:
                    record[key] = value
            out.write_line(dumps(record))
            count += 1
    note(TOOL, f"encoded {count} steps in {time.perf_counter() - started:.1f} s", quiet=quiet)
    ctx.exit(diag.exit_code())


@cli.command()
@options.inputs
@options.output
@paper_option
@options.on_error
@options.quiet
@click.pass_context
def decode(ctx, files, output, paper, on_error, quiet):
    """Restore each step's observation from encoded records (the inverse of encode).

    A diff that does not apply to the episode's previous observation, a step out of order, or
    an episode that starts with a diff is an error naming the file and line. Give --paper when
    the stream was encoded with --paper.

    \b
    Examples:
      papertools diffhist encode examples/diffhist/episodes.jsonl.gz | papertools diffhist decode -q | cmp - <(zcat examples/diffhist/episodes.jsonl.gz) && echo identical
    """
    diag = _diag(on_error, quiet)
    count = 0
    with open_output(output, tool=TOOL) as out:
        for step in read_steps(progress(read_records(files, diag), desc="diffhist decode",
                                        unit="step", quiet=quiet), diag, paper):
            record = {}
            for key, value in step.item.record.items():
                if key == "obs_diff":
                    record["obs"] = step.obs
                elif key != "obs_full":
                    record[key] = value
            out.write_line(dumps(record))
            count += 1
    note(TOOL, f"decoded {count} steps", quiet=quiet)
    ctx.exit(diag.exit_code())


@cli.command()
@options.inputs
@options.output
@click.option("--steps", "k", type=click.IntRange(min=1), default=64, show_default=True,
              help="Steps per window (the released LangHack data uses 64).")
@options.alias("-k", to="k", new="--steps", type=click.IntRange(min=1))
@click.option("--stride", type=click.IntRange(min=1), default=None,
              help="Steps between window starts (default: --steps, so windows do not overlap).")
@click.option("--max-per-episode", type=click.IntRange(min=1), default=None,
              help="At most this many windows per episode, chosen at random (--seed).")
@click.option("--full", is_flag=True,
              help="The full-observation twin for the ablation: the same windows (same input "
                   "and --seed), with whole observations instead of diffs.")
@click.option("--instruction", default=history.INSTRUCTION, show_default=True,
              help="The prompt's first line.")
@paper_option
@options.seed
@options.strict
@options.on_error
@options.quiet
@click.pass_context
def windows(ctx, files, output, k, stride, max_per_episode, full, instruction, paper, seed,
            strict, on_error, quiet):
    """Cut training examples from episodes: windows of k steps in the paper's format.

    prompt = the instruction, a blank line, the window's first observation in full, a blank line;
    completion = <|action|>a0, <|observation|> and the diff to the next observation, ..., ending
    with <|action|> and the window's last action. Windows tile each episode from a random offset
    (seeded by --seed and the episode); steps without an action (an episode's last) end it. An
    episode shorter than k steps is a reject (exit 0 unless --strict).

    \b
    Examples:
      papertools diffhist windows --steps 8 examples/diffhist/episodes.jsonl.gz -o /tmp/windows.jsonl
      papertools diffhist windows --steps 8 --full examples/diffhist/episodes.jsonl.gz -o /tmp/windows-full.jsonl
    """
    from .windowing import episode_windows

    diag = _diag(on_error, quiet, strict)
    made = 0
    with open_output(output, tool=TOOL) as out:
        for steps in episodes(read_steps(read_records(files, diag), diag, paper)):
            for record in episode_windows(steps, k, stride or k, seed, max_per_episode, diag,
                                          full=full, paper=paper, instruction=instruction):
                out.write(record)
                made += 1
    note(TOOL, f"{made} windows of {k} steps", quiet=quiet)
    ctx.exit(diag.exit_code())


def _token_counter(tokenizer: str | None):
    """(count function, description) for --tokenizer."""
    if not tokenizer:
        return history.approx_tokens, "approx (UTF-8 bytes / 4)"
    from papertools.core.models import load_tokenizer

    tok = load_tokenizer(tokenizer)
    return (lambda text: len(tok(text, add_special_tokens=False)["input_ids"])), tokenizer


tokenizer_option = click.option(
    "--tokenizer", metavar="DIR",
    help="Count tokens with this local Hugging Face tokenizer (a directory or a cached hub id). "
         "Default: one token per 4 UTF-8 bytes, GPT-2's average on English.")


@cli.command()
@options.inputs
@options.output
@click.option("--max-prompt-tokens", "max_tokens", type=click.IntRange(min=1), default=None,
              help="Keep the longest history whose prompt fits in this many tokens.")
@options.alias("--max-tokens", to="max_tokens", new="--max-prompt-tokens",
               type=click.IntRange(min=1))
@click.option("--history", "max_history", type=click.IntRange(min=0), default=None,
              help="At most this many steps of history (the released rollout uses 2).")
@tokenizer_option
@click.option("--all-steps", is_flag=True, help="A prompt for every step, not only each "
                                                "episode's last.")
@click.option("--instruction", default=history.INSTRUCTION, show_default=True,
              help="The prompt's first line (use the one the model was trained with).")
@paper_option
@options.on_error
@options.quiet
@click.pass_context
def prompt(ctx, files, output, max_tokens, max_history, tokenizer, all_steps, instruction,
           paper, on_error, quiet):
    """Build the prompt for the next action: the longest diff history that fits a budget.

    The oldest observation kept is written in full, each later step as <|action|>a followed by
    <|observation|> and the diff; the prompt ends with <|action|>, where the model writes the
    next action (read it up to the next <|observation|>, as the paper's rollout does).

    \b
    Examples:
      papertools diffhist prompt --max-prompt-tokens 1024 examples/diffhist/episodes.jsonl.gz | head -n 1 | cut -c 1-300
      papertools diffhist prompt --history 2 --all-steps examples/diffhist/episodes.jsonl.gz -o /tmp/prompts.jsonl
    """
    from .prompting import prompts

    diag = _diag(on_error, quiet)
    count, what = _token_counter(tokenizer)
    made = 0
    with open_output(output, tool=TOOL) as out:
        for record in prompts(read_steps(read_records(files, diag), diag, paper), count,
                              all_steps=all_steps, instruction=instruction,
                              max_tokens=max_tokens, max_history=max_history, paper=paper):
            out.write(record)
            made += 1
    note(TOOL, f"{made} prompts (tokens counted by {what})", quiet=quiet)
    ctx.exit(diag.exit_code())


@cli.command()
@options.inputs
@options.as_json(help="JSONL records on standard output instead of the table.")
@options.plot(help="Draw the compression ratio against history length to PNG.")
@tokenizer_option
@paper_option
@options.on_error
@options.quiet
@click.pass_context
def stats(ctx, files, as_json, plot, tokenizer, paper, on_error, quiet):
    """Measure how much shorter diff history is than full history.

    Per episode and overall: characters and tokens of the full observations and of the diff
    history (first observation whole, then diffs), and the ratio full / diff. Reads raw or
    encoded step records.

    \b
    Examples:
      papertools diffhist stats examples/diffhist/episodes.jsonl.gz
      papertools diffhist stats --json --plot /tmp/ratio.png examples/diffhist/episodes.jsonl.gz | tail -n 1
    """
    from .compression import format_table, measure, plot as draw, summarize

    diag = _diag(on_error, quiet)
    count, what = _token_counter(tokenizer)
    rows, curves = measure(episodes(read_steps(read_records(files, diag), diag, paper)), count,
                           paper)
    summary = summarize(rows, what)
    out = sys.stdout.buffer  # click.get_binary_stream is deprecated (removed in Click 9)
    if as_json:
        for row in rows:
            out.write(dumps({"id": row["episode"], **row}))
        out.write(dumps(summary))
    else:
        out.write(format_table(rows, summary).encode())
    if plot and curves:
        draw(curves, plot, what)
        note(TOOL, f"plot in {plot}", quiet=quiet)
    elif plot:
        note(TOOL, f"no steps in the input: no plot in {plot}", quiet=quiet)
    ctx.exit(diag.exit_code())
