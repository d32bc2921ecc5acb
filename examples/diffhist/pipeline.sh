#!/usr/bin/env bash
# Diff history on real NetHack games: four short games played on the real NLE
# (examples/diffhist/episodes.jsonl.gz, made by make_episodes.py), observations as the paper's
# five text blocks.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/diffhist
mkdir -p "$out"

echo "== diffhist: encode the histories as diffs, and decode them back exactly"
papertools diffhist encode examples/diffhist/episodes.jsonl.gz -o "$out/encoded.jsonl"
papertools diffhist decode "$out/encoded.jsonl" -q | cmp - <(zcat examples/diffhist/episodes.jsonl.gz)
echo "decoded stream is byte-identical to the input"

echo "== diffhist: one step as a diff (episode nle-1, step 1)"
sed -n 2p "$out/encoded.jsonl" | python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["obs_diff"])'

echo "== diffhist: how much shorter is diff history? (plot in $out/ratio.png)"
papertools diffhist stats "$out/encoded.jsonl" --plot "$out/ratio.png"

echo "== diffhist: training windows of 16 steps, and their full-observation twins"
papertools diffhist windows --steps 16 --seed 0 "$out/encoded.jsonl" -o "$out/windows.jsonl"
papertools diffhist windows --steps 16 --seed 0 --full "$out/encoded.jsonl" -o "$out/windows-full.jsonl"
python3 - "$out/windows.jsonl" "$out/windows-full.jsonl" <<'PY'
import json, sys
diff, full = ([json.loads(line) for line in open(path)] for path in sys.argv[1:])
chars = lambda rows: sum(len(r["prompt"]) + len(r["completion"]) for r in rows)
print(f"{len(diff)} windows; characters: diff {chars(diff):,}, full {chars(full):,} "
      f"({chars(full) / chars(diff):.1f}x)")
PY

echo "== diffhist: the prompt for each game's next action, within 1,024 tokens"
papertools diffhist prompt --max-prompt-tokens 1024 "$out/encoded.jsonl" -o "$out/prompts.jsonl"
python3 -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line); print(r["id"], "history", r["history"], "steps,", r["tokens"], "tokens")' "$out/prompts.jsonl"
