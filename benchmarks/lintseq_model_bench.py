#!/usr/bin/env python
"""LintSeq models (issue 3): fine-tuning and generation throughput on this machine's CPU.

Data: HumanEval's 164 programs as LintSeq training strings (one edit sequence each, seed 0,
``lintseq sample | lintseq format``); model: a fresh ``gpt2-tiny`` (about 3M parameters) with a
byte-level BPE trained on the data.

1. finetune tokens/s (non-padding tokens through forward and backward): batches of 16 against
   batches of 1 (the unbatched loop), same examples.
2. generate tokens/s (new tokens, KV cache on): 20 samples per problem generated together
   (``--batch-size 20``) against one at a time (``--batch-size 1``), same problems and
   settings (temperature 0.8, top-p 0.95, up to 128 new tokens).

The ratios say what batching buys here. On a GPU, where present, the same script reports the
same figures with ``--device cuda``.

Usage: python benchmarks/lintseq_model_bench.py [--quick] [--device auto] [--output PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import common
from papertools.core.jsonl import write_json

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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--strict", action="store_true", help="(no goals here; accepted)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    examples, problems = training_examples()
    n_problems = 2 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        batched = bench_finetune(examples, tmp / "b16", 16, args.device,
                                 epochs=1 if args.quick else 2)
        single = bench_finetune(examples[: 24 if args.quick else 64], tmp / "b1", 1, args.device)
        gen_batched = bench_generate(tmp / "b16", problems[:n_problems], 20, 20, args.device)
        gen_single = bench_generate(tmp / "b16", problems[:n_problems], 1, 20, args.device)
    from papertools.core.models import resolve_device

    result = {
        "mode": "quick" if args.quick else "full",
        "device": str(resolve_device(args.device)),
        "machine": common.machine_info(("torch", "transformers", "tokenizers")),
        "finetune": {"batched": batched, "unbatched": single,
                     "ratio": batched["tokens_per_s"] / single["tokens_per_s"]},
        "generate": {"batched": gen_batched, "unbatched": gen_single,
                     "ratio": gen_batched["tokens_per_s"] / gen_single["tokens_per_s"]},
    }
    out = Path(args.output) if args.output else (
        Path(tempfile.gettempdir()) / "papertools-bench" / "lintseq_model.quick.json"
        if args.quick else RESULTS)
    write_json(out, result)
    f, g = result["finetune"], result["generate"]
    print(f"\nlintseq models ({result['mode']}): gpt2-tiny ({batched['parameters']:,} parameters), "
          f"device {result['device']}, {result['machine']['cpu_count']} CPUs")
    print(f"1. finetune  {f['batched']['tokens_per_s']:9.0f} tokens/s (batch 16)   "
          f"{f['unbatched']['tokens_per_s']:9.0f} tokens/s (batch 1)   ratio {f['ratio']:.1f}x")
    print(f"2. generate  {g['batched']['tokens_per_s']:9.0f} tokens/s (20 together) "
          f"{g['unbatched']['tokens_per_s']:9.0f} tokens/s (one at a time)   ratio "
          f"{g['ratio']:.1f}x")
    print(f"total {time.perf_counter() - started:.0f} s; results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
