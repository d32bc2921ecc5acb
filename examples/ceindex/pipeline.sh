#!/usr/bin/env bash
# ceindex on real text: 300 docstrings of the Python standard library (examples/ceindex/docs,
# made by `papertools ceindex corpus`), a docstring's first sentence as the query. The packaged
# MiniLM is the dual encoder; MaxSim over MiniLM's token states (late interaction, not a dot
# product of two vectors) stands in for the cross-encoder, since no trained CE installs offline.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/ceindex
docs=examples/ceindex/docs
mkdir -p "$out"
# The demo machine is shared: one BLAS/torch thread per process is faster than two under load.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

echo "== ceindex: a corpus from installed code (here: the json package), no download"
papertools ceindex corpus --package json --test 5 --out-dir "$out/json-corpus"

echo "== ceindex: index 300 items with 120 training queries (20 CE calls each: DE top-20)"
echo "   item embeddings: free, fitted from MiniLM (trns) and MiniLM's own (de);"
echo "   10 anchor queries x 300 items for the CUR baselines"
papertools ceindex build "$docs/train.jsonl" --items "$docs/items.jsonl" -i "$out/index" \
  --de minilm --ce maxsim:minilm --k-d 20 --variant trns --variant de --cur-queries 10 \
  --epochs 20 --tune-budget 10,20,40 --seed 0 --overwrite

echo "== ceindex: search two test queries, 20 CE calls each in 4 rounds"
head -n 2 "$docs/test.jsonl" \
  | papertools ceindex search -i "$out/index" -B 20 -R 4 -k 3 -q \
  | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(repr(r["text"]), "->", ", ".join(n["id"] for n in r["neighbors"]))'

echo "== ceindex: Top-k-Recall@B against the exact CE top-k (30 test queries; plot in $out/recall.png)"
papertools ceindex eval "$docs/test.jsonl" -i "$out/index" --method axn:trns,axn:de,rnr \
  -m anncur -m adacur -B 10,20,40 -k 1,10 -R 4 --plot "$out/recall.png" -o "$out/eval.jsonl"
