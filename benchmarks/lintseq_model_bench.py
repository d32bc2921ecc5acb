#!/usr/bin/env python
"""LintSeq models (issue 3): fine-tuning and generation throughput on this machine's CPU.

Data: HumanEval's 164 programs as LintSeq training strings (one edit sequence each, seed 0,
``lintseq sample | lintseq format``); model: a fresh ``gpt2-tiny`` (about 3.8M parameters) with a
byte-level BPE trained on the data.

1. finetune tokens/s (non-padding tokens through forward and backward): batches of 16 against
   batches of 1 (the unbatched loop), the same work on both sides: the same examples (all 164;
   ``--quick``: the first 24), the same epochs (2; ``--quick``: 1), so the same tokenizer, the
   same parameter count and the same tokens (checked: ``finetune.same_work``).
2. generate tokens/s (new tokens, KV cache on): 20 samples per problem generated together
   (``--batch-size 20``) against one at a time (``--batch-size 1``), same problems and
   settings (temperature 0.8, top-p 0.95, up to 128 new tokens).

The ratios say what batching buys here. On a GPU, where present, the same script reports the
same figures with ``--device cuda``.

Usage: python benchmarks/lintseq_model_bench.py [--quick] [--device auto] [--output PATH]
Results: benchmarks/results/lintseq_model.json (``--quick``: a temporary folder).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import common

ROOT = common.ROOT
DATA = ROOT / "examples" / "lintseq" / "humaneval.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "lintseq_model.json"


def log(message: str) -> None:
    common.log("lintseq_model_bench", message)


def training_examples():
    from papertools.cli.lintseq.finetune import Example
    from papertools.cli.lintseq.sample import SampleConfig, sample_record
    from papertools.cli.lintseq.training import edit_pair
    from papertools.core.jsonl import loads, read_records

    examples, problems = [], []
    for item in read_records([str(DATA)]):
        result = sample_record(SampleConfig(samples=1), item)
        for line in result.lines:
            row = loads(line)
            examples.append(Example(*edit_pair(row["instruction"], row["edits"])))
        problems.append(item)
    return examples, problems


def bench_finetune(examples, folder: Path, batch: int, device: str, epochs: int = 1) -> dict:
    from papertools.cli.lintseq.finetune import FinetuneConfig, finetune

    config = FinetuneConfig(out_dir=str(folder), init_config="gpt2-tiny", epochs=epochs,
                            batch_size=batch, max_length=512, device=device, log_every=10**9)
    summary = finetune(config, examples, lambda row: None)
    rate = summary["tokens"] / summary["seconds"]
    log(f"finetune batch {batch}: {summary['tokens']} tokens in {summary['seconds']:.1f} s")
    return dict(batch_size=batch, examples=len(examples), tokens=summary["tokens"],
                seconds=summary["seconds"], tokens_per_s=rate, parameters=summary["parameters"])


def bench_generate(model_dir: Path, problems, batch: int, n: int, device: str) -> dict:
    from papertools.cli.lintseq.generate import GenerateConfig, generate_record, load

    config = GenerateConfig(model=str(model_dir), n=n, max_new_tokens=128, batch_size=batch,
                            device=device)
    load(config)  # load outside the timed region
    started, tokens, samples = time.perf_counter(), 0, 0
    for item in problems:
        rows, new = generate_record(config, item)
        tokens += new
        samples += len(rows)
    seconds = time.perf_counter() - started
    log(f"generate batch {batch}: {tokens} new tokens in {seconds:.1f} s")
    return dict(batch_size=batch, problems=len(problems), samples=samples, new_tokens=tokens,
                seconds=seconds, tokens_per_s=tokens / seconds)


def main(argv=None) -> int:
    device = argparse.ArgumentParser(add_help=False)
    device.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    args, mode, out = common.parse_args(__doc__, RESULTS, argv, parents=[device])
    started = time.perf_counter()
    busy = common.busy_cpus()
    examples, problems = training_examples()
    n_problems = 2 if args.quick else 5
    # the same work on both sides: same examples and epochs, hence the same BPE tokenizer
    # (trained on the examples), the same parameters and the same tokens
    train = examples[:24] if args.quick else examples
    epochs = 1 if args.quick else 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        batched = bench_finetune(train, tmp / "b16", 16, args.device, epochs=epochs)
        single = bench_finetune(train, tmp / "b1", 1, args.device, epochs=epochs)
        gen_batched = bench_generate(tmp / "b16", problems[:n_problems], 20, 20, args.device)
        gen_single = bench_generate(tmp / "b16", problems[:n_problems], 1, 20, args.device)
    from papertools.core.models import resolve_device

    same_work = (batched["tokens"] == single["tokens"]
                 and batched["parameters"] == single["parameters"]
                 and batched["examples"] == single["examples"])
    result = {
        "benchmark": "lintseq_model",
        "mode": mode,
        "command": f"python benchmarks/lintseq_model_bench.py{' --quick' if args.quick else ''}"
                   f" --device {args.device}",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": str(resolve_device(args.device)),
        "machine": common.machine_info(("torch", "transformers", "tokenizers")),
        "finetune": {"batched": batched, "unbatched": single, "epochs": epochs,
                     "same_work": same_work,
                     "ratio": batched["tokens_per_s"] / single["tokens_per_s"]},
        "generate": {"batched": gen_batched, "unbatched": gen_single,
                     "ratio": gen_batched["tokens_per_s"] / gen_single["tokens_per_s"]},
    }
    result["machine"]["busy_cpus_at_start"] = busy
    result["machine"]["load_average_1min_at_start"] = os.getloadavg()[0] \
        if hasattr(os, "getloadavg") else None
    result["total_seconds"] = time.perf_counter() - started
    result["results_path"] = str(out)
    common.write_results(out, result)
    f, g = result["finetune"], result["generate"]
    print(f"\nlintseq models ({result['mode']}): gpt2-tiny ({batched['parameters']:,} parameters), "
          f"device {result['device']}, {result['machine']['cpu_count']} CPUs")
    print(f"1. finetune, {len(train)} examples x {epochs} epoch(s) on each side "
          f"({batched['tokens']:,} tokens; same work: {'yes' if same_work else 'NO'})")
    print(f"   {f['batched']['tokens_per_s']:9.0f} tokens/s (batch 16)   "
          f"{f['unbatched']['tokens_per_s']:9.0f} tokens/s (batch 1)   ratio {f['ratio']:.1f}x")
    print(f"2. generate, {n_problems} problems x 20 samples, up to 128 new tokens")
    print(f"   {g['batched']['tokens_per_s']:9.0f} tokens/s (20 together) "
          f"{g['unbatched']['tokens_per_s']:9.0f} tokens/s (one at a time)   ratio "
          f"{g['ratio']:.1f}x   (the new tokens differ: sampling draws other tokens)")
    common.print_footer(result)
    if not same_work:
        log("ERROR: the two finetune rows did not do the same work")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
