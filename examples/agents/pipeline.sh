#!/usr/bin/env bash
# Agents that learn, on the native games: the BabyAI bot's demonstrations cloned into a policy
# that bench scores beside the bot and the random floor, and PPO over seeds with its learning
# curve. Small budgets (about a minute on 2 cores): benchmarks/bc_bench.py and agents_bench.py
# hold the real figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/agents
rm -rf "$out"
mkdir -p "$out"

echo "== agents: 300 demonstrations by the BabyAI bot on GoToLocal (seed 0), 2 workers"
papertools bench collect --env babyai/GoToLocal --agent bot --episodes 300 -w 2 \
  --out-dir "$out/demos" -q

echo "== agents: behavioural cloning, with the bot's subgoal as an auxiliary label"
papertools bench bc "$out/demos" --recurrent --epochs 15 --seq-len 8 --lr 1e-3 \
  --aux-label subgoal=0.5 --out-dir "$out/bc" -q | tail -n 1

echo "== agents: the clone, the bot and random actions on 50 other games (seed 1)"
for agent in policy bot random; do
  papertools bench run --env babyai/GoToLocal --agent "$agent" \
    $([ "$agent" = policy ] && echo --policy "$out/bc/policy") \
    --episodes 50 --seed 1 -w 2 --out-dir "$out/eval-$agent" -q
done
papertools bench report "$out/eval-policy" "$out/eval-bot" "$out/eval-random" \
  --label clone --label bot --label random

echo "== agents: PPO on MiniGrid Empty-5x5, 2 seeds as units on 2 workers, and their curve"
papertools bench ppo --env minigrid/Empty-5x5 --frames 20000 --envs 8 --seed 0,1 -w 2 \
  --out-dir "$out/ppo" -q
papertools bench curves "$out/ppo/seed-0" "$out/ppo/seed-1" --plot "$out/ppo_curve.png"

echo "== agents: the trajectory format: one episode record"
head -n 1 "$out/demos/episodes.jsonl"
