"""``papertools lintseq``: the command-line front end (options and help only).

The algorithm lives in sample.py (its linter calls made cheap in fastlint.py); apply.py, training.py
and stats.py hold the other stages.
"""

from __future__ import annotations

import contextlib
import functools
import time

import click

from papertools.core import options
from papertools.core.errors import Diagnostics, InputError, field
from papertools.core.jsonl import open_output, read_records, record_id
from papertools.core.progress import note, progress

TOOL = "lintseq"

RECORDS = """\
sample reads records with a program (--code-field, default "program") and optionally an
instruction (--instruction-field, default "instruction") and an "id". It writes one record per
sequence: the input's fields, plus "id" ("<source id>:<sample>"), "source_id" (the input's "id",
or "<file stem>:<line>"), "sample" (0-based), "instruction" (a string, "" when absent), "edits"
(a list of insertion-only zero-context diffs, the first one from the empty file), "n_edits",
"n_lines" (lines of the normalised program) and "lint_calls" (linter calls made for the
sequence). --rejects PATH gets each rejected input record with a "reject" field (the reason).

apply reads "edits" and writes the record with the replayed program in --code-field. With
--check, the replayed program is compared with the normalised program of the record (or of the
--source record whose "id" is the record's "source_id").

format reads "instruction" and "edits" (or, with --baseline, the program) and writes "id",
"source_id" (when present), and "prompt" and "completion" (or "text" with --text).

stats reads sequences (and records with a "reject" field) and writes one JSON record with
--json.

finetune reads "prompt" and "completion" (or one "text") and writes log records: "step",
"epoch", "loss" (mean over the tokens since the last record), "lr", "tokens", "tokens_per_s";
the model, tokenizer, DIR/log.jsonl and DIR/papertools.json (what it was trained on, and the
prompt format, "edits" or "program") go to --out-dir.

generate reads "task_id" (or "id") and the instruction (--instruction-field) and writes one
record per sample: "id" ("<task_id>:<sample>"), "task_id", "sample", "program", "completion"
(the generated text), "format", "n_edits" (edits applied), "malformed_edits".

eval reads --problems records, HumanEval-style (task_id, prompt, test, entry_point) or
MBPP-style (task_id, test_list, optional test_setup_code and test_imports; other fields such as
instruction are ignored), and sample records with task_id, an optional integer "sample", and
"program" (the whole program) or "completion" (appended to the HumanEval prompt; for MBPP the
whole program; program wins when both are present). It writes one record per problem with
samples, in problems-file order: "id" (task_id as a string), "task_id", "n", "correct",
"pass_at_k" ({"k": value} for k <= n), "results" ([{"sample", "passed", "status" (passed,
failed, timeout, memory, error), "detail"}]), then one summary record {"id": "summary",
"summary": true, "label", "problems", "samples", "pass_at_k" (mean over the problems with
n >= k), "statuses"}. passk-plot reads each file's last record with "summary": true.

Normalisation: the text inside ```python fences is kept when there are any, "\\r\\n" becomes
"\\n", and the whole program is stripped of leading and trailing whitespace; nothing inside it
changes. Replaying a sequence gives the normalised program exactly."""

SEE_ALSO = ["papertools(1)", "papertools-jsonl(7)"]


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Synthetic edit sequences for code LMs (LintSeq, Piterbarg, Pinto and Fergus, 2024).

    LintSeq rewrites each program as a sequence of insertion-only edits, each of which leaves
    the program free of linter errors, by sampling deletions backwards with a linter. Training a
    code LM on these sequences instead of whole programs is the paper's method.

    \b
    Examples:
      papertools lintseq sample examples/lintseq/programs.jsonl -n 2 -q | papertools lintseq apply --check -q
      papertools lintseq sample examples/lintseq/programs.jsonl -n 2 -q | papertools lintseq format
    """


cli.records = RECORDS
cli.see_also = SEE_ALSO


@cli.command()
@options.inputs
@options.output
@click.option("-n", "--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Edit sequences per program (the paper trains on 5).")
@options.alias("-s", to="samples", new="-n/--samples", type=click.IntRange(min=1))
@options.seed
@click.option("--linter", type=click.Choice(["pyflakes", "pylint", "none"]), default="pyflakes",
              show_default=True,
              help="pyflakes in-process; pylint as the released code (errors, W0311, W0231); "
                   "none: the paper's linter-free random-chunk ablation.")
@options.field_name("code", "program", "Field holding the program.")
@options.field_name("instruction", "instruction", "Field holding the instruction (optional).")
@click.option("--allow-initial-errors", is_flag=True,
              help="Sample programs that already have linter errors, ignoring those errors.")
@click.option("--rejects", metavar="PATH", type=click.Path(dir_okay=False),
              help="Also write rejected records, with a 'reject' field, to PATH.")
@options.strict
@options.on_error
@options.parallel
@options.quiet
@click.pass_context
def sample(ctx, files, output, samples, seed, linter, code_field, instruction_field,
           allow_initial_errors, rejects, strict, on_error, workers, engine, quiet):
    """Sample edit sequences from programs (backward sampling with a linter).

    For each program, each sequence deletes a random line (deeper lines more likely) with its
    indented block, then every line the linter now flags, until the program is clean; rounds
    repeat until it is empty. Reversed, the rounds are insertion-only diffs from the empty file to
    the program. A program with a syntax error, with linter errors of its own (unless
    --allow-initial-errors), or with nothing to sample is a reject: reported on stderr and
    skipped (exit 0; --strict makes it an error). Output is identical for any --workers and
    --engine at a given --seed.

    \b
    Examples:
      papertools lintseq sample examples/lintseq/programs.jsonl -n 3 --seed 1 > /dev/null
      papertools lintseq sample examples/lintseq/humaneval.jsonl -n 5 -w 2 -o /tmp/edits.jsonl
      papertools lintseq sample examples/lintseq/programs.jsonl --linter none -q | head -n 1
    """
    from .sample import SampleConfig, sample_record
    from papertools.core.parallel import ordered_map

    diag = Diagnostics(TOOL, on_error=on_error, strict=strict, quiet=quiet)
    config = SampleConfig(samples=samples, seed=seed, linter=linter,
                          allow_initial_errors=allow_initial_errors, code_field=code_field,
                          instruction_field=instruction_field)
    started, programs, lint_calls = time.perf_counter(), 0, 0
    work = functools.partial(sample_record, config)
    items = read_records(files, diag)
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open_output(output, tool=TOOL))
        reject_writer = stack.enter_context(open_output(rejects, tool=TOOL)) if rejects else None
        pairs = ordered_map(_with_item(work), items, workers=workers, engine=engine, chunk_size=4)
        for item, result in progress(pairs, desc="lintseq sample", unit="prog", quiet=quiet):
            if result.error is not None:
                diag.bad(result.error)
                continue
            if result.reject is not None:
                diag.reject(result.reject, item.place)
                if reject_writer is not None:
                    reject_writer.write({**item.record, "id": _safe_id(item),
                                         "reject": result.reject})
                continue
            programs += 1
            lint_calls += result.counters.lint_calls
            out.write_lines(result.lines)
        sequences = out.count
    seconds = time.perf_counter() - started
    per = f", {lint_calls / programs:.1f} linter calls per program" if programs and linter != "none" \
        else ""
    note(TOOL, f"{programs} programs, {sequences} sequences, {diag.reject_count} rejects"
               f"{per}, {seconds:.1f} s", quiet=quiet)
    ctx.exit(diag.exit_code())


def _with_item(work):
    return functools.partial(_pair, work)


def _pair(work, item):
    return item, work(item)


def _safe_id(item) -> str:
    try:
        return record_id(item)
    except InputError:
        return item.default_id


@cli.command()
@options.inputs
@options.output
@click.option("--check", is_flag=True,
              help="Compare each replayed program with the record's own program (or --source's) "
                   "and report the first mismatching line; exit 1 if any differ.")
@click.option("--source", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=False),
              help="With --check: take the expected programs from FILE, joined on source_id = id.")
@options.field_name("code", "program", "Field to compare with and to write the program to.")
@options.on_error
@options.quiet
@click.pass_context
def apply(ctx, files, output, check, source, code_field, on_error, quiet):
    """Replay edit sequences into programs.

    Each record's "edits" are applied in order from the empty file; the program is written to
    --code-field. An edit that does not apply is bad input (file, line and edit number). With
    --check, every mismatch is reported on stderr and the exit status is 1.

    \b
    Examples:
      papertools lintseq sample examples/lintseq/programs.jsonl | papertools lintseq apply --check -q
      papertools lintseq sample examples/lintseq/programs.jsonl -q > /tmp/seqs.jsonl
      papertools lintseq apply /tmp/seqs.jsonl --check --source examples/lintseq/programs.jsonl -q
    """
    from papertools.core.diff import DiffError

    from .apply import first_mismatch, replay
    from .sample import normalize_program

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    expected_by_id = None
    if source:
        expected_by_id = {}
        for item in read_records([source]):
            expected_by_id[record_id(item)] = normalize_program(
                field(item.record, code_field, str, place=item.place))
    checked = 0
    with open_output(output, tool=TOOL) as out:
        for item in progress(read_records(files, diag), desc="lintseq apply", quiet=quiet):
            record, place = item.record, item.place
            try:
                edits = field(record, "edits", list, place=place)
                for k, edit in enumerate(edits, 1):
                    if not isinstance(edit, str):
                        raise InputError(f"edit {k} is not a string", place.file, place.line,
                                         "edits")
                try:
                    program = replay(edits)
                except DiffError as err:
                    raise InputError(str(err), place.file, place.line, "edits") from None
                if check:
                    if expected_by_id is not None:
                        key = field(record, "source_id", str, place=place)
                        if key not in expected_by_id:
                            raise InputError(f"source_id {key!r} is not an id in {source}",
                                             place.file, place.line, "source_id")
                        expected = expected_by_id[key]
                    else:
                        expected = normalize_program(field(record, code_field, str, place=place))
            except InputError as err:
                diag.bad(err)
                continue
            if check:
                checked += 1
                mismatch = first_mismatch(expected, program)
                if mismatch:
                    diag.check_failed(mismatch, place)
            out.write({**record, code_field: program})
    if check:
        note(TOOL, f"checked {checked} sequences, {diag.failed_checks} mismatched",
             quiet=quiet and not diag.failed_checks)
    ctx.exit(diag.exit_code())


@cli.command("format")
@options.inputs
@options.output
@click.option("--baseline", is_flag=True,
              help="The baseline's strings: prompt = instruction + newline, completion = program.")
@click.option("--text", "as_text", is_flag=True,
              help="Write one 'text' field (prompt + completion) instead of the two.")
@options.field_name("code", "program", "With --baseline: field holding the program.")
@options.field_name("instruction", "instruction", "Field holding the instruction (optional).")
@options.on_error
@options.quiet
@click.pass_context
def format_(ctx, files, output, baseline, as_text, code_field, instruction_field, on_error, quiet):
    """Turn edit sequences into the paper's training strings.

    prompt = instruction + "\\n<|diff|>"; completion = the edits joined by "\\n<|diff|>", ending
    with two empty edits ("\\n<|diff|>\\n<|diff|>"). prompt + completion is the released
    training string without its EOS token (the trainer appends its tokenizer's). --baseline
    writes the whole-program twin (run it on the source programs, one record per program).

    \b
    Examples:
      papertools lintseq sample examples/lintseq/programs.jsonl -n 2 -q | papertools lintseq format
      papertools lintseq format --baseline examples/lintseq/programs.jsonl --text
    """
    from .sample import normalize_program
    from .training import baseline_pair, edit_pair

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    with open_output(output, tool=TOOL) as out:
        for item in progress(read_records(files, diag), desc="lintseq format", quiet=quiet):
            record, place = item.record, item.place
            try:
                instruction = field(record, instruction_field, str, place=place, required=False,
                                    default="")
                if baseline:
                    program = normalize_program(field(record, code_field, str, place=place))
                    prompt, completion = baseline_pair(instruction, program)
                else:
                    edits = field(record, "edits", list, place=place)
                    if not all(isinstance(e, str) for e in edits):
                        raise InputError("expected an array of strings", place.file, place.line,
                                         "edits")
                    prompt, completion = edit_pair(instruction, edits)
                rid = record_id(item)
            except InputError as err:
                diag.bad(err)
                continue
            row = {"id": rid}
            if isinstance(record.get("source_id"), str):
                row["source_id"] = record["source_id"]
            if as_text:
                row["text"] = prompt + completion
            else:
                row["prompt"], row["completion"] = prompt, completion
            out.write(row)
    ctx.exit(diag.exit_code())


@cli.command()
@options.inputs
@options.as_json(help="Write the figures as one JSON record instead of the table.")
@options.plot(help="Also draw histograms of edits per sequence and lines per edit to PNG.")
@options.on_error
@options.quiet
@click.pass_context
def stats(ctx, files, as_json, plot, on_error, quiet):
    """Counts and distributions of edit sequences.

    Programs, sequences and rejects; edits per sequence, lines and hunks per edit, lines per
    program, and linter calls per sequence and per program (mean, min, p50, p90, max). Records
    with a "reject" field (sample --rejects) count as rejects.

    \b
    Examples:
      papertools lintseq sample examples/lintseq/programs.jsonl -n 2 -q | papertools lintseq stats
      papertools lintseq sample examples/lintseq/programs.jsonl -q | papertools lintseq stats --json
    """
    from .stats import EditStats, format_table
    from .stats import plot as draw

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    acc = EditStats()
    for item in progress(read_records(files, diag), desc="lintseq stats", quiet=quiet):
        record, place = item.record, item.place
        try:
            if "reject" in record:
                acc.add_reject(record_id(item))
                continue
            edits = field(record, "edits", list, place=place)
            source_id = record.get("source_id")
            if not isinstance(source_id, str):
                source_id = record_id(item)
            n_lines = record.get("n_lines") if isinstance(record.get("n_lines"), int) else None
            calls = record.get("lint_calls") if isinstance(record.get("lint_calls"), int) else None
            if not all(isinstance(e, str) for e in edits):
                raise InputError("expected an array of strings", place.file, place.line, "edits")
        except InputError as err:
            diag.bad(err)
            continue
        acc.add_sequence(source_id, edits, n_lines, calls)
    result = acc.result()
    if as_json:
        with open_output(None) as out:
            out.write(result)
    else:
        click.echo(format_table(result))
    if plot:
        draw(acc, plot)
    ctx.exit(diag.exit_code())


@cli.command()
@options.inputs
@options.out_dir(required=True, help="Where the model, tokenizer, checkpoints and log go.")
@click.option("--model", metavar="DIR", help="Start from this local Hugging Face model directory "
                                             "(or a hub id already in the cache).")
@click.option("--init-config", metavar="PRESET|FILE",
              help="Start from a fresh model: gpt2-tiny (~3M parameters), gpt2-mini (~11M), "
                   "gpt2-test, or a config.json; trains a BPE tokenizer on the data.")
@click.option("--epochs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Passes over the data (released: 10 for programs, 10/s for s sequences each).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=3e-4,
              show_default=True, help="Peak learning rate (linear warm-up, then linear decay).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--grad-accum", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batches per optimiser step.")
@click.option("--max-length", type=click.IntRange(min=8), default=512, show_default=True,
              help="Tokens per example (longer ones are cut).")
@click.option("--warmup-ratio", type=click.FloatRange(0, 1), default=0.001, show_default=True)
@click.option("--weight-decay", type=click.FloatRange(min=0), default=0.01, show_default=True)
@click.option("--reduce-loss", type=click.Choice(["mean", "sum"]), default="mean",
              show_default=True, help="Token mean, or the sum as the released scripts.")
@click.option("--vocab-size", type=click.IntRange(min=300), default=2048, show_default=True,
              help="With --init-config: the trained tokenizer's vocabulary.")
@click.option("--save-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Steps between checkpoints (0: at the end of every epoch only).")
@click.option("--log-every", type=click.IntRange(min=1), default=10, show_default=True,
              help="Steps between log records.")
@options.resume(help="Continue the run in --out-dir from its checkpoint.")
@options.device
@click.option("--dtype", default="auto", show_default=True,
              help="auto (bfloat16 on GPUs that have it, else float32), float32, bfloat16, ...")
@options.seed
@options.output
@options.on_error
@options.quiet
@click.pass_context
def finetune(ctx, files, out_dir, model, init_config, epochs, lr, batch_size, grad_accum,
             max_length, warmup_ratio, weight_decay, reduce_loss, vocab_size, save_every,
             log_every, resume, device, dtype, seed, output, on_error, quiet):
    """Fine-tune a causal LM on training strings (prompt/completion records).

    The paper's recipe in one process: loss masked on the prompt (the instruction and its
    separator), <|diff|> added to the tokenizer as one token and the embeddings resized, AdamW,
    a linear schedule with warm-up. Records come from 'lintseq format' (with or without
    --baseline) or carry one "text" field (trained whole). The model is saved to --out-dir
    (load it with --model DIR); one log record per --log-every steps (step, epoch, loss, lr,
    tokens, tokens_per_s) goes to standard output and to DIR/log.jsonl. Checkpoints are atomic;
    Ctrl-C saves one and --resume continues exactly where the run stopped (the same data and
    settings but --device, --save-every and --log-every). On several GPUs:
    torchrun --nproc_per_node N $(which papertools) lintseq finetune ...

    \b
    Examples:
      papertools lintseq format examples/lintseq/programs.jsonl --baseline -o /tmp/base.jsonl
      papertools lintseq finetune /tmp/base.jsonl --init-config gpt2-test --out-dir /tmp/ft-demo --epochs 1 --max-length 128 --resume -q > /dev/null
    """
    from .finetune import Example, FinetuneConfig
    from .finetune import finetune as run_finetune

    if bool(model) == bool(init_config):
        raise click.UsageError("give exactly one of --model DIR and --init-config PRESET|FILE")
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    examples = []
    for item in read_records(files, diag):
        record, place = item.record, item.place
        try:
            if "prompt" not in record and isinstance(record.get("text"), str):
                examples.append(Example("", record["text"]))
            else:
                examples.append(Example(field(record, "prompt", str, place=place),
                                        field(record, "completion", str, place=place)))
        except InputError as err:
            diag.bad(err)
    config = FinetuneConfig(
        out_dir=out_dir, model=model, init_config=init_config, epochs=epochs, lr=lr,
        batch_size=batch_size, grad_accum=grad_accum, max_length=max_length,
        warmup_ratio=warmup_ratio, weight_decay=weight_decay, reduce_loss=reduce_loss,
        vocab_size=vocab_size, seed=seed, device=device, dtype=dtype, save_every=save_every,
        log_every=log_every, resume=resume)
    from papertools.core.progress import enabled

    with open_output(output, tool=TOOL) as out:  # log records: here and in DIR/log.jsonl
        summary = run_finetune(config, examples, out.write, enabled(quiet))
    note(TOOL, f"trained {summary['parameters']:,} parameters on {summary['examples']} examples "
               f"({summary['format']} format), {summary['steps']} steps, "
               f"{summary['tokens']:,} tokens in {summary['seconds']:.0f} s; model in {out_dir}",
         quiet=quiet or summary.get("rank", 0) != 0)
    ctx.exit(diag.exit_code())


@cli.command()
@options.inputs
@click.option("--model", required=True, metavar="DIR", help="A model from 'lintseq finetune' (or "
                                                            "any causal LM directory).")
@click.option("-n", "--samples", "num_samples", type=click.IntRange(min=1), default=20,
              show_default=True, help="Samples per problem.")
@options.alias("--num-samples", to="num_samples", new="-n/--samples", type=click.IntRange(min=1))
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True,
              help="0 decodes greedily.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95,
              show_default=True)
@click.option("--min-p", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True, help="0 turns min-p sampling off.")
@click.option("--max-tokens", "max_new_tokens", type=click.IntRange(min=1), default=256,
              show_default=True, help="Largest completion per sample (new tokens).")
@options.alias("--max-new-tokens", to="max_new_tokens", new="--max-tokens",
               type=click.IntRange(min=1))
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Samples generated together (the samples depend on it).")
@click.option("--format", "fmt", type=click.Choice(["auto", "edits", "program"]), default="auto",
              show_default=True, help="Prompt format; auto: the one the model was trained on.")
@options.field_name("instruction", "instruction", "Field holding the instruction.")
@options.device
@click.option("--dtype", default="auto", show_default=True)
@options.seed
@options.parallel
@options.output
@options.on_error
@options.quiet
@click.pass_context
def generate(ctx, files, model, num_samples, temperature, top_p, min_p, max_new_tokens,
             batch_size, fmt, instruction_field, device, dtype, seed, workers, engine, output,
             on_error, quiet):
    """Sample programs from a fine-tuned model, by edits or whole.

    For each problem record ("task_id" or "id", and the instruction), the prompt is built as
    'lintseq format' builds it; an edit-sequence model's output is decoded by applying its edits
    (tolerantly, as the released decoder: malformed hunks are skipped and counted). Writes one
    record per sample: id, task_id, sample, program, completion (the raw text), format, n_edits,
    malformed_edits. Ready for 'lintseq eval'.

    \b
    Examples:
      papertools lintseq format examples/lintseq/programs.jsonl --baseline -o /tmp/base.jsonl
      papertools lintseq finetune /tmp/base.jsonl --init-config gpt2-test --out-dir /tmp/gen-demo --epochs 1 --max-length 128 --resume -q > /dev/null
      papertools lintseq generate examples/lintseq/programs.jsonl --model /tmp/gen-demo -n 2 --max-tokens 32 -q
    """
    import os

    from papertools.core.parallel import ordered_map, resolve_engine

    from .generate import GenerateConfig, check_config, generate_record

    threads = 0
    if resolve_engine(engine, workers) != "inline":
        threads = max(1, (os.cpu_count() or 1) // workers)
    config = GenerateConfig(model=model, n=num_samples, temperature=temperature, top_p=top_p,
                            min_p=min_p, max_new_tokens=max_new_tokens, batch_size=batch_size,
                            seed=seed, format=fmt, instruction_field=instruction_field,
                            device=device, dtype=dtype, threads=threads)
    check_config(config)
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    started, problems, new_tokens, malformed = time.perf_counter(), 0, 0, 0
    with open_output(output, tool=TOOL) as out:
        results = ordered_map(functools.partial(generate_record, config), read_records(files, diag),
                              workers=workers, engine=engine, chunk_size=1)
        for result in progress(results, desc="lintseq generate", unit="problem", quiet=quiet):
            if isinstance(result, InputError):
                diag.bad(result)
                continue
            rows, tokens = result
            problems += 1
            new_tokens += tokens
            for row in rows:
                malformed += row["malformed_edits"]
                out.write(row)
        samples = out.count
    seconds = time.perf_counter() - started
    note(TOOL, f"{problems} problems, {samples} samples, {malformed} malformed edits, "
               f"{new_tokens:,} new tokens, {new_tokens / max(seconds, 1e-9):,.0f} tokens/s",
         quiet=quiet)
    ctx.exit(diag.exit_code())


# -- lintseq eval and passk-plot (issue 3): appended here; the library is evaluate.py ----------


@cli.command("eval")
@options.inputs
@click.option("--problems", metavar="FILE", required=True,
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Problems: HumanEval-style (task_id, prompt, test, entry_point) or MBPP-style "
                   "(task_id, test_list[, test_setup_code, test_imports]) JSONL, plain or .gz.")
@options.list_option("-k", "--top-k", "ks", convert=int, minimum=1, metavar="K[,K...]",
                     help="Report pass@k for these k (only k <= n).  [default: every k from 1 "
                          "to n]")
@options.alias("--k", to="ks", new="-k/--top-k", multiple=True,
               callback=options.list_callback(int, 1))
@click.option("--timeout", metavar="SECONDS", type=click.FloatRange(min=0, min_open=True),
              default=10.0, show_default=True, help="Wall-clock limit per sample.")
@click.option("--memory-mb", metavar="MIB", type=click.IntRange(min=16), default=1024,
              show_default=True, help="Address-space limit per process of a sample.")
@click.option("--python", "python", metavar="PATH", type=click.Path(dir_okay=False),
              help="Interpreter the samples run under.  [default: /usr/bin/python3 if present]")
@click.option("--label", metavar="NAME", help="Name of this run in the summary record and plots.")
@options.plot(help="Also draw this run's pass@k curve (k on a log axis) to PNG.")
@options.output
@options.parallel
@options.on_error
@options.quiet
@click.pass_context
def eval_(ctx, files, problems, ks, timeout, memory_mb, python, label, plot, output, workers,
          engine, on_error, quiet):
    """Run samples against their problems' tests in a sandbox, and report pass@k.

    Each sample record (task_id, optional "sample" number, and "program", a whole program, or
    "completion", appended to the problem's prompt, or for MBPP the whole program) is joined
    on task_id with --problems and run: HumanEval: program + test + "check(entry_point)";
    MBPP: test_setup_code + program + the assert lines. Samples run concurrently (--workers), each in its own process: as user
    nobody, in PID, mount, network, IPC and UTS namespaces of the sandbox's own, with a root
    file system of read-only system files (/usr, /etc) and a fresh tmpfs /tmp as working
    directory (no /work, /root, /home or caller's /tmp), no network (a loopback that is down),
    a wall-clock --timeout after which every process of the sample is killed, RLIMIT_AS
    --memory-mb per process, limits on processes (32), file size (64 MiB), open files, no core
    dumps. Not stopped: kernel exploits (no seccomp), reading world-readable system files, CPU
    use of every core until the timeout, total memory beyond the per-process limit. Without
    root the samples run as the current user with the limits only (a warning says so). Details:
    the papertools.cli.lintseq.sandbox docstring.

    Output: one record per problem with samples, in --problems order: "id", "task_id", "n",
    "correct", "pass_at_k" {"k": value} and "results" [{"sample", "passed", "status"
    (passed, failed = AssertionError, timeout, memory, error), "detail" (last line of
    stderr)}]; then a summary record {"id": "summary", "summary": true, "label", "problems",
    "samples", "pass_at_k" (mean over problems with n >= k), "statuses"}. pass@k is the
    unbiased estimator of Chen et al. (2021), exact. Failing samples are the measurement:
    exit 0. Bad problem or sample records (a problem neither HumanEval nor MBPP, a sample
    without program or completion, an unknown task_id) are errors naming file and line.

    \b
    Examples:
      papertools lintseq eval --problems examples/lintseq/eval_problems.jsonl examples/lintseq/eval_samples.jsonl
      papertools lintseq eval --problems examples/lintseq/eval_mbpp.jsonl examples/lintseq/eval_mbpp_samples.jsonl -k 1 -w 2 --label mbpp
      papertools lintseq eval --problems examples/lintseq/eval_problems.jsonl examples/lintseq/eval_samples.jsonl -q --plot /tmp/passk.png -o /tmp/eval.jsonl
    """
    from papertools.cli.lintseq import sandbox
    from papertools.core.jsonl import display_name
    from papertools.core.parallel import ordered_map

    from .evaluate import EvalConfig, jobs, load_problems, plot_curves, problem_record, \
        run_job, summary_line, summary_record

    started = time.perf_counter()
    ks = sorted(set(ks)) or None
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    table = load_problems(problems, diag)
    mode = sandbox.isolation(python)
    if not mode.isolated:
        click.echo(f"papertools {TOOL}: warning: samples run without isolation ({mode.reason}): "
                   "as the current user, with time, memory, process and file-size limits "
                   "only; no network or file-system isolation", err=True)
    config = EvalConfig(timeout=timeout, memory_mb=memory_mb, python=python)
    results: dict = {}
    work = functools.partial(run_job, config)
    todo = jobs(files, table, display_name(problems), diag)
    done = ordered_map(work, todo, workers=workers, engine=engine, chunk_size=1)
    for result in progress(done, desc="lintseq eval", unit="sample", quiet=quiet):
        results.setdefault(result["task_id"], []).append(result)
    records = [problem_record(task_id, results[task_id], ks) for task_id in table
               if task_id in results]
    summary = summary_record(records, ks, label)
    with open_output(output, tool=TOOL) as out:
        for record in records:
            out.write(record)
        out.write(summary)
    if plot:
        curve = {int(k): v for k, v in summary["pass_at_k"].items()}
        plot_curves([(label or "pass@k", curve)], plot, title=label)
    note(TOOL, summary_line(summary, time.perf_counter() - started), quiet=quiet)
    ctx.exit(diag.exit_code())


@cli.command("passk-plot")
@click.argument("files", nargs=-1, required=True, metavar="EVAL.jsonl...",
                type=click.Path(dir_okay=False, allow_dash=True))
@options.plot(help="Image to write (PNG; the suffix picks the format).")
@options.alias("-o", "--output", to="plot", new="--plot", type=click.Path(dir_okay=False))
@click.option("--title", metavar="TEXT", help="Title of the plot.  [default: pass@k]")
@options.on_error
@options.quiet
@click.pass_context
def passk_plot(ctx, files, plot, title, on_error, quiet):
    """Overlay the pass@k curves of several lintseq eval outputs.

    Reads the summary record of each file (its pass@k curve, and its label, else the file
    name's stem, for the legend), draws every curve on one plot (k on a log axis, pass@k from
    0 to 1) and prints the curves side by side on stderr, one row per k. This is the paper's
    comparison: the edit-sequence model against the whole-program baseline.

    \b
    Examples:
      papertools lintseq passk-plot <(papertools lintseq eval -q --label edits --problems examples/lintseq/eval_problems.jsonl examples/lintseq/eval_samples.jsonl) <(papertools lintseq eval -q --label baseline --problems examples/lintseq/eval_problems.jsonl examples/lintseq/eval_samples_baseline.jsonl) --plot /tmp/passk_compare.png
    """
    from .evaluate import curve_table, plot_curves, read_curve

    if not plot:
        raise click.UsageError("give --plot PNG (the image to write)")
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    curves = []
    for path in files:
        try:
            curve = read_curve(path, diag)
        except InputError as err:
            diag.bad(err)
            continue
        if curve is None:
            note(TOOL, f"{path}: no records (empty input): no curve", quiet=quiet)
        else:
            curves.append(curve)
    if curves:
        plot_curves(curves, plot, title=title)
        if not quiet:
            click.echo(curve_table(curves), err=True)
    else:
        note(TOOL, f"no curves: no plot in {plot}", quiet=quiet)
    ctx.exit(diag.exit_code())
