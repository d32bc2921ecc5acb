#!/usr/bin/env bash
# BALROG's way, offline: reference agents and the random floor on every game family, an LLM
# agent through a local OpenAI-compatible server (a tiny random-weight model: it shows the
# harness, prompting and invalid-output mapping, not play), a leaderboard and its plot.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/bench
rm -rf "$out"
mkdir -p "$out"
export PAPERTOOLS_CACHE="${PAPERTOOLS_CACHE:-$HOME/.cache/papertools}"  # TextWorld games

echo "== bench: the environments"
papertools bench envs | grep -v '^    ' 

echo "== bench: reference agents (BabyAI bot, TextWorld plan, Baba Is AI planner, Boxoban solutions, nhrecord's symbolic agent), 2 workers"
papertools bench run --env babyai,textworld,babaisai/goto_win,babaisai/two_room-break_stop-goto_win,minihack \
  --agent bot --episodes 2 --textworld-games 1 -w 2 --out-dir "$out/bot" -q
papertools bench run --env nle --agent bot --episodes 2 --max-steps 2000 --out-dir "$out/bot-nle" -q

echo "== bench: the random agent on all six families (one short episode per task)"
papertools bench run --env babyai,crafter,textworld,babaisai/goto_win,babaisai/make_win,minihack,nle \
  --agent random --episodes 1 --max-steps 50 --textworld-games 1 --out-dir "$out/random" -q

echo "== bench: resume skips finished episodes"
papertools bench run --env babyai,crafter,textworld,babaisai/goto_win,babaisai/make_win,minihack,nle \
  --agent random --episodes 1 --max-steps 50 --textworld-games 1 --out-dir "$out/random" --resume

echo "== bench: the naive agent through a local OpenAI-compatible server (tiny model)"
url_file="$out/server_url"
rm -f "$url_file"
papertools bench serve --model "$out/tiny" --tiny --port 0 --for 900 > "$url_file" &
server=$!
# the server prints its URL once the model is loaded: on a busy machine that can take a minute
for _ in $(seq 1500); do
  [ -s "$url_file" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
if [ ! -s "$url_file" ]; then
  echo "pipeline: bench serve printed no URL within 5 minutes (or failed)" >&2
  kill "$server" 2>/dev/null || true
  exit 1
fi
papertools bench run --env babyai/goto,babaisai/goto_win --agent naive --client openai \
  --model tiny --base-url "$(cat "$url_file")" --max-tokens 6 --episodes 1 --max-steps 5 --history 2 \
  --out-dir "$out/naive" -q
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true

echo "== bench: leaderboard (progression x100, mean ± standard error) and $out/leaderboard.png"
papertools bench report "$out/bot" "$out/bot-nle" "$out/random" "$out/naive" --plot "$out/leaderboard.png" \
  | tee "$out/leaderboard.md"

echo "== bench: the first steps of one episode"
papertools bench replay "$out/bot" --episode babaisai/env/goto_win/0 --max-chars 160 | head -n 12
