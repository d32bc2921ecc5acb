#!/usr/bin/env python
"""Run every benchmarks/*_bench.py in turn (``make bench``), forwarding their output.

Usage: python benchmarks/run.py [--quick] [--strict] [NAME ...]

--quick and --strict are passed to each script; NAMEs (e.g. ``lintseq``) pick the scripts whose
name contains them. Each script runs with this interpreter, prints its figures on stdout and its
progress on stderr, and writes benchmarks/results/<name>.json. The exit status is 1 when a
script fails (with --strict, also when a goal is not met).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run the papertools benchmarks.")
    parser.add_argument("--quick", action="store_true", help="fast smoke run of each benchmark")
    parser.add_argument("--strict", action="store_true", help="fail when a goal is not met")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="run only the benchmarks whose file name contains NAME")
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("*_bench.py"))
    if args.names:
        scripts = [s for s in scripts if any(n in s.stem for n in args.names)]
    if not scripts:
        print("benchmarks: nothing to run", file=sys.stderr)
        return 1
    forwarded = [flag for flag, on in (("--quick", args.quick), ("--strict", args.strict)) if on]
    summary = []
    for script in scripts:
        print(f"== {script.name} {' '.join(forwarded)}".rstrip(), file=sys.stderr, flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *forwarded], cwd=HERE.parent)
        summary.append((script.name, code, time.perf_counter() - started))
    print("\n== benchmarks", file=sys.stderr)
    for name, code, seconds in summary:
        print(f"   {name:<32} {'ok' if code == 0 else f'FAILED (exit {code})':<18} "
              f"{seconds:6.0f} s", file=sys.stderr)
    return 1 if any(code for _, code, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
