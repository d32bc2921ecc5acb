#!/usr/bin/env bash
# nhrecord: the symbolic agent plays NetHackChallenge; games are recorded as NLE writes them
# (ttyrec + xlogfile) with the strategy labels in a sidecar, read back through NLE's
# TtyrecDataset, summarized, and turned into step records for diffhist.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/nhrecord
rm -rf "$out"
mkdir -p "$out"

echo "== nhrecord: record 4 games of up to 2,000 steps on 2 workers"
papertools nhrecord record --episodes 4 --max-steps 2000 --seed 0 -w 2 --out-dir "$out/games"

echo "== nhrecord: an interrupted run is continued with --resume (games 0-3 are skipped)"
papertools nhrecord record --episodes 5 --max-steps 2000 --seed 0 --out-dir "$out/games" --resume

echo "== nhrecord: summary (score and depth distributions, strategies; plot in $out/stats.png)"
papertools nhrecord stats "$out/games" --plot "$out/stats.png"

echo "== nhrecord: NLE's TtyrecDataset with the strategies joined in (first rows of game 0)"
papertools nhrecord load "$out/games" --game 0 --limit 3

echo "== nhrecord: minibatches in Python (what hrl and pretrain read)"
python3 - "$out/games" <<'PY'
import sys
import numpy as np
from papertools.core.nethack.dataset import open_dataset
ds = open_dataset(sys.argv[1], batch_size=4, seq_length=32)
mb = next(iter(ds))
print({k: v.shape for k, v in mb.items()})
print("strategies of lane 0:", np.unique(mb["strategies"][0]).tolist())
PY

echo "== nhrecord: step records piped into diffhist (diff history of one short game)"
papertools nhrecord record --max-steps 200 --seed 1 --json -q | tee "$out/steps.jsonl" \
  | papertools diffhist encode > "$out/steps.diff.jsonl"
wc -c "$out/steps.jsonl" "$out/steps.diff.jsonl"
