#!/usr/bin/env bash
# hrl at toy sizes (a few minutes on 2 cores): Part A, a language-subgoal hierarchy on BabyAI
# UnlockPickup, step by step and scored beside flat cloning; Part B, HiHack's strategy-headed
# policy cloned from a few nhrecord games and scored in NetHack beside the symbolic expert.
# benchmarks/hrl_bench.py holds the real figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/hrl
rm -rf "$out"
mkdir -p "$out"

echo "== hrl A: 250 demonstrations by the BabyAI bot, each step's subgoal in words"
papertools hrl demos --env babyai/UnlockPickup --episodes 250 -w 2 --out-dir "$out/demos" -q
head -c 400 "$out/demos/episodes.jsonl"; echo

echo "== hrl A: the low level, conditioned on the subgoal phrase, with a finished head"
papertools hrl low "$out/demos" --out-dir "$out/low" -q | tail -n 1
papertools hrl eval-low --policy "$out/low/policy" --env babyai/UnlockPickup --episodes 100 -w 2
papertools hrl eval-low --policy "$out/low/policy" --env babyai/UnlockPickup --episodes 100 -w 2 \
  --held-out

echo "== hrl A: the high level (recurrent over segments), then the two-level agent in bench"
papertools hrl high "$out/demos" --low "$out/low/policy" --out-dir "$out/high" -q | tail -n 1
papertools bench run --env babyai/UnlockPickup --agent policy --policy "$out/high/policy" \
  --deterministic --episodes 50 --seed 1 -w 2 --out-dir "$out/eval-hierarchy" -q

echo "== hrl A: flat cloning of the same demonstrations, scored on the same games"
papertools bench bc "$out/demos" --recurrent --epochs 15 --seq-len 8 --lr 1e-3 \
  --out-dir "$out/flat" -q | tail -n 1
papertools bench run --env babyai/UnlockPickup --agent policy --policy "$out/flat/policy" \
  --deterministic --episodes 50 --seed 1 -w 2 --out-dir "$out/eval-flat" -q
papertools bench report "$out/eval-hierarchy" "$out/eval-flat" --label hierarchy --label flat

echo "== hrl A: the high level's RL stage (semi-MDP PPO, KL towards the clone), 2 seeds"
papertools hrl rl --policy "$out/high/policy" --env babyai/UnlockPickup --frames 8000 \
  --kl 0.01 --seed 0,1 -w 2 --out-dir "$out/rl" -q
papertools bench curves "$out/rl/seed-0" "$out/rl/seed-1" --plot "$out/rl_curve.png"

echo "== hrl B: 12 games by nhrecord's symbolic agent, a strategy-headed clone, NetHack scores"
papertools nhrecord record --episodes 12 --max-steps 2000 --seed 11 -w 2 \
  --out-dir "$out/games" -q
papertools hrl clone "$out/games" --model hier --games 7 --hidden 32 --head-hidden 32 \
  --epochs 1 --out-dir "$out/hier" -q | tail -n 1
papertools hrl eval --policy "$out/hier/policy" --expert --random --episodes 4 \
  --max-steps 1000 -w 2
