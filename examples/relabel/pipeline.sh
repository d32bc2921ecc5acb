#!/usr/bin/env bash
# relabel at toy sizes (a few minutes on 2 cores): an original agent that lifts what it is
# pointed at, its rollouts labelled in hindsight by the contrastive labeller trained here,
# an agent cloned on the relabelled trajectories and scored beside chance, in relabel and in
# bench. benchmarks/relabel_bench.py holds the real figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/relabel
rm -rf "$out"
mkdir -p "$out"

echo "== relabel: 300 bot lifts of a pointed-at object; the original agent cloned from them"
papertools relabel collect --agent bot --point --episodes 300 -w 2 --out-dir "$out/demos" -q
papertools relabel train "$out/demos" --epochs 10 --out-dir "$out/original" -q | tail -n 1

echo "== relabel: the labeller's own pictures (another seed stream) and the contrastive labeller"
papertools relabel collect --agent bot --stream pictures --episodes 400 -w 2 \
  --out-dir "$out/pictures" -q
papertools relabel train-labeller "$out/pictures" --epochs 15 --out-dir "$out/labeller" -q \
  | tail -n 1

echo "== relabel: the original agent's rollouts under 'pick up an object', labelled by name"
papertools relabel collect --agent policy --policy "$out/original/policy" --point \
  --episodes 900 -w 2 --out-dir "$out/rollouts" -q
papertools relabel label "$out/rollouts" --mode names --labeller learned \
  --labeller-dir "$out/labeller" -o "$out/names.jsonl"
head -n 2 "$out/names.jsonl"

echo "== relabel: the relabelled dataset, an agent cloned on it, scored on held-out rooms"
papertools relabel apply "$out/rollouts" "$out/names.jsonl" --episodes 600 \
  --out-dir "$out/named" -q
papertools relabel train "$out/named" --epochs 15 --out-dir "$out/agent" -q | tail -n 1
papertools relabel eval "$out/agent/policy" --family names --episodes 100 --sample -w 2
papertools bench run --env lift/names --agent policy --policy "$out/agent/policy" \
  --episodes 20 -w 2 --out-dir "$out/bench" -q
papertools bench report "$out/bench"
