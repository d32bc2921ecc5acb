#!/usr/bin/env bash
# EmbedDistill on real text: Python docstrings (examples/distill/small: 400 documents, 328
# training and 72 held-out queries, made by make_data.py), the packaged MiniLM as teacher, a
# 1-layer, 64-wide student cut from it. A demonstration of the commands at toy scale (one epoch
# on a few hundred queries, so the figures are far below the paper's);
# benchmarks/distill_bench.py runs the full set with a larger student.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/distill
data=examples/distill/small
mkdir -p "$out"
rm -rf "$out/student0" "$out/ablation" "$out/student"

echo "== distill: a student query tower cut from MiniLM (1 of 6 layers, 64 of 384 wide, pruned vocabulary)"
papertools distill student --teacher minilm --layers 1 --hidden 64 --max-positions 128 \
  --vocab-from "$data/corpus.jsonl.gz" --vocab-from "$data/train.jsonl.gz" \
  --out-dir "$out/student0" > "$out/student0.json"

echo "== distill: generated queries (perturbations of the training queries; no labels)"
papertools distill gen-queries "$data/train.jsonl.gz" -n 1 --exclude "$data/test.jsonl.gz" \
  -o "$out/generated.jsonl"
head -n 2 "$out/generated.jsonl"

echo "== distill: the paper's ablation, each step added in turn (table and $out/ablation/ablation.png)"
papertools distill ablate --corpus "$data/corpus.jsonl.gz" --train "$data/train.jsonl.gz" \
  --test "$data/test.jsonl.gz" --student "$out/student0" --generated "$out/generated.jsonl" \
  --epochs 1 --hard-negatives 1 --doc-max-length 48 --out-dir "$out/ablation" \
  --cache-dir "$out/cache" \
  -o "$out/ablation.jsonl"

echo "== distill: embed held-out queries with the final student (its projection included)"
papertools distill encode "$data/test.jsonl.gz" --model "$out/ablation/querygen" \
  --text-field query -q -o "$out/test_embeddings.jsonl"
python3 -c 'import json, sys; r = json.loads(open(sys.argv[1]).readline()); print(r["id"], len(r["embedding"]), "dimensions")' \
  "$out/test_embeddings.jsonl"
