#!/usr/bin/env bash
# pretrain at toy sizes (a few minutes on 2 cores): observation-only demonstrations of a
# MultiRoom level, the contrastive encoder and the progress model pre-trained on them, the
# exploitability checks, and PPO from scratch beside PPO with both pre-trained parts, at equal
# frames. benchmarks/pretrain_bench.py runs the real study (tasks x arms x seeds).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/pretrain
rm -rf "$out"
mkdir -p "$out"

echo "== pretrain: 150 solver demonstrations of MultiRoom-N2-S4, observations only"
papertools pretrain demos multiroom --episodes 150 --observations-only -w 2 \
  --out-dir "$out/demos" -q
papertools pretrain demos multiroom --episodes 30 --observations-only --seed 1 \
  --out-dir "$out/held-out" -q

echo "== pretrain: the encoder (InfoNCE over geometric offsets) and the progress model"
papertools pretrain encoder "$out/demos" --steps 300 --out-dir "$out/encoder" -q | tail -n 1
papertools pretrain reward "$out/demos" --steps 300 --out-dir "$out/reward" -q | tail -n 1

echo "== pretrain: can the progress reward be farmed? (held-out demonstrations)"
papertools pretrain check "$out/reward" "$out/held-out" --episodes 4

echo "== pretrain: PPO from scratch and with both parts, 30k frames each"
papertools pretrain rl multiroom --arm scratch --frames 30000 --out-dir "$out/scratch" -q \
  | tail -n 1
papertools pretrain rl multiroom --arm both --encoder "$out/encoder" --progress "$out/reward" \
  --frames 30000 --out-dir "$out/both" -q | tail -n 1
papertools bench run --env minigrid/MultiRoom-N2-S4 --agent policy \
  --policy "$out/both/policy" --episodes 20 -w 2 --out-dir "$out/bench" -q
papertools bench report "$out/bench"
