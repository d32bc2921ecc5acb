#!/usr/bin/env bash
# Trains the small 2D energy models shipped in examples/compose_sample/models/ (used by the help
# examples, the demo and the benchmark). The paper's notebook trains width 128 x 4 blocks for
# 15,001 steps at batch 1000; that takes about an hour per model on one CPU core, so these are
# width 64 x 2 blocks, 12,000 steps at batch 512 (about five minutes each). Only model.pt and
# log.jsonl are kept (checkpoint.pt holds the optimiser state for --resume).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/compose_sample/models
mkdir -p "$out"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(ring bar left_bar right_bar box small_box)
for name in "${names[@]}"; do
  rm -rf "$out/$name"
  OMP_NUM_THREADS=1 papertools compose-sample train --toy "$name" --out-dir "$out/$name" \
    --steps 12000 --batch-size 512 --hidden 64 --layers 2 --save-every 0 --log-every 2000 \
    --seed 0 -q > /dev/null
  rm -f "$out/$name/checkpoint.pt"
  echo "trained $name"
done
