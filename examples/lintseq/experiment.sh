#!/usr/bin/env bash
# The LintSeq experiment end to end, small enough for a CPU: the same small GPT-2 fine-tuned
# twice on the same instruction data, once on whole programs (the baseline) and once on LintSeq
# edit sequences (s=5 per program, epochs divided by 5 so both see the same number of example
# passes, as the paper does); n=20 samples per held-out problem from each; pass@k of both.
# Not part of `make demo`. See examples/lintseq/README.md.
#
#   bash examples/lintseq/experiment.sh [DIR]       (default: examples/out/lintseq-experiment)
#
# Stages (each is skipped when its output exists, so a stopped run resumes where it stopped;
# fine-tuning itself resumes from its last checkpoint):
#   a. tasks.py generate        -> train.jsonl, heldout.jsonl
#   b. lintseq sample, format   -> edits.jsonl, editseq.train.jsonl, baseline.train.jsonl
#   c. lintseq finetune (x2)    -> model-{baseline,editseq}/, train-log.{baseline,editseq}.jsonl
#   d. lintseq generate (x2)    -> samples.{baseline,editseq}.jsonl
#   e. lintseq eval (x2), passk-plot -> results.{baseline,editseq}.jsonl, passk.png, and a table
#
# Settings (environment variables; the defaults are the README's run). DIR remembers them in
# settings.txt and refuses to mix runs with different ones.
SEED=${SEED:-0}                  # every stage's seed
TRAIN=${TRAIN:-3000}             # training programs
HELDOUT=${HELDOUT:-100}          # held-out problems
S=${S:-5}                        # edit sequences per program (the paper's 5)
EPOCHS=${EPOCHS:-10}             # baseline epochs (the paper's 10); edit sequences get EPOCHS/S
MODEL_CONFIG=${MODEL_CONFIG:-gpt2-tiny}
LR=${LR:-1e-3}                   # peak learning rate; see the README (the paper's 3e-4 is for
                                 # pretrained models: from scratch, 2 epochs of edits underfit)
BATCH_SIZE=${BATCH_SIZE:-16}
SAVE_EVERY=${SAVE_EVERY:-200}    # steps between checkpoints (a stopped run resumes from the last)
N=${N:-20}                       # samples per held-out problem
TEMPERATURE=${TEMPERATURE:-0.8}
TOP_P=${TOP_P:-0.95}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-256}
WORKERS=${WORKERS:-2}            # processes for lintseq sample and eval
set -euo pipefail
if [ $((EPOCHS % S)) -ne 0 ]; then
  echo "experiment: EPOCHS ($EPOCHS) must be a multiple of S ($S)," \
       "so that both models see the same number of example passes" >&2
  exit 2
fi
EDIT_EPOCHS=$((EPOCHS / S))

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${1:-$root/examples/out/lintseq-experiment}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# papertools and python from the repository's venv when there is one, else from PATH.
if [ -x "$root/.venv/bin/papertools" ]; then
  PATH="$root/.venv/bin:$PATH"
fi
if ! command -v papertools > /dev/null; then
  echo "experiment: papertools is not installed (make install)" >&2
  exit 1
fi
python=$(command -v python3 || command -v python)

settings="seed=$SEED train=$TRAIN heldout=$HELDOUT s=$S epochs=$EPOCHS/$EDIT_EPOCHS"
settings+=" model=$MODEL_CONFIG lr=$LR batch=$BATCH_SIZE n=$N temperature=$TEMPERATURE"
settings+=" top_p=$TOP_P max_new_tokens=$MAX_NEW_TOKENS"
if [ -f "$dir/settings.txt" ] && [ "$(cat "$dir/settings.txt")" != "$settings" ]; then
  echo "experiment: $dir holds a run with other settings:" >&2
  echo "  there: $(cat "$dir/settings.txt")" >&2
  echo "  now:   $settings" >&2
  echo "use another DIR, or empty this one to start again" >&2
  exit 2
fi
echo "$settings" > "$dir/settings.txt"
echo "== lintseq experiment in $dir"
echo "   $settings"

start=$SECONDS
stage_start=$SECONDS
done_stage() { echo "   ($(( SECONDS - stage_start )) s)"; stage_start=$SECONDS; }
skip() { echo "== $1: done already ($2)"; }
need() {  # need SUBCOMMAND: fail with a clear message when a stage's command is missing
  if ! papertools lintseq "$1" --help > /dev/null 2>&1; then
    echo "experiment: this stage needs 'papertools lintseq $1', which this installation lacks" >&2
    exit 1
  fi
}

# a. The task data -------------------------------------------------------------------------
if [ -s "$dir/train.jsonl" ] && [ -s "$dir/heldout.jsonl" ]; then
  skip "a. tasks" "train.jsonl, heldout.jsonl"
else
  echo "== a. tasks: $TRAIN training programs and $HELDOUT held-out problems (seed $SEED)"
  "$python" "$here/tasks.py" generate --out-dir "$dir" --train "$TRAIN" --heldout "$HELDOUT" \
    --seed "$SEED"
  done_stage
fi

# b. Training strings: LintSeq edit sequences and the whole-program baseline ------------------
if [ -s "$dir/edits.jsonl" ]; then
  skip "b. lintseq sample" "edits.jsonl"
else
  echo "== b. lintseq sample: $S edit sequences per program ($WORKERS workers)"
  papertools lintseq sample "$dir/train.jsonl" -n "$S" -w "$WORKERS" --seed "$SEED" --strict \
    -o "$dir/edits.jsonl"
  papertools lintseq stats "$dir/edits.jsonl"
  done_stage
fi
if [ -s "$dir/editseq.train.jsonl" ] && [ -s "$dir/baseline.train.jsonl" ]; then
  skip "b. lintseq format" "editseq.train.jsonl, baseline.train.jsonl"
else
  echo "== b. lintseq format: edit-sequence and baseline training strings"
  papertools lintseq format "$dir/edits.jsonl" -o "$dir/editseq.train.jsonl"
  papertools lintseq format --baseline "$dir/train.jsonl" -o "$dir/baseline.train.jsonl"
  wc -l "$dir/baseline.train.jsonl" "$dir/editseq.train.jsonl"
  done_stage
fi

# c. Fine-tune the same model twice: EPOCHS on programs, EPOCHS/S on S times as many sequences
for arm in baseline editseq; do
  epochs=$EPOCHS
  [ "$arm" = editseq ] && epochs=$EDIT_EPOCHS
  log="$dir/train-log.$arm.jsonl"  # written when training has finished
  if [ -s "$log" ]; then
    skip "c. finetune $arm" "$(basename "$log")"
    continue
  fi
  need finetune
  resume=()
  [ -d "$dir/model-$arm" ] && resume=(--resume)
  echo "== c. finetune $arm: $MODEL_CONFIG from scratch, $epochs epochs on $arm.train.jsonl" \
       "${resume[*]}"
  papertools lintseq finetune "$dir/$arm.train.jsonl" --out-dir "$dir/model-$arm" \
    --init-config "$MODEL_CONFIG" --epochs "$epochs" --lr "$LR" --batch-size "$BATCH_SIZE" \
    --save-every "$SAVE_EVERY" --seed "$SEED" "${resume[@]}" -o "$log"
  tail -n 1 "$log"
  done_stage
done

# d. n samples per held-out problem from each model ------------------------------------------
for arm in baseline editseq; do
  samples="$dir/samples.$arm.jsonl"
  if [ -s "$samples" ]; then
    skip "d. generate $arm" "$(basename "$samples")"
    continue
  fi
  need generate
  echo "== d. generate $arm: $N samples per held-out problem" \
       "(temperature $TEMPERATURE, top-p $TOP_P)"
  papertools lintseq generate "$dir/heldout.jsonl" --model "$dir/model-$arm" -n "$N" \
    --temperature "$TEMPERATURE" --top-p "$TOP_P" --max-tokens "$MAX_NEW_TOKENS" \
    --seed "$SEED" -o "$samples"
  done_stage
done

# e. pass@k of both, and the two curves on one plot ------------------------------------------
for arm in baseline editseq; do
  results="$dir/results.$arm.jsonl"
  if [ -s "$results" ]; then
    skip "e. eval $arm" "$(basename "$results")"
    continue
  fi
  need eval
  echo "== e. eval $arm: run every sample against its problem's tests ($WORKERS workers)"
  papertools lintseq eval --problems "$dir/heldout.jsonl" "$dir/samples.$arm.jsonl" --label "$arm" \
    -w "$WORKERS" -o "$results"
  done_stage
done
if [ -s "$dir/passk.png" ]; then
  skip "e. passk-plot" "passk.png"
else
  need passk-plot
  papertools lintseq passk-plot "$dir/results.baseline.jsonl" "$dir/results.editseq.jsonl" \
    --plot "$dir/passk.png"
fi

# The table: pass@k from the summary records; what the samples looked like --------------------
"$python" - "$dir" <<'EOF'
import json
import sys
from collections import defaultdict
from pathlib import Path

folder = Path(sys.argv[1])
ks = ["1", "5", "10", "20"]


def read(name):
    with (folder / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


template = {p["task_id"]: p.get("template", "?") for p in read("heldout.jsonl")}
print(f"\n{'model':<10}" + "".join(f"{'pass@' + k:>9}" for k in ks)
      + f"{'solved':>9}{'distinct':>10}{'empty':>7}{'malformed':>11}")
by_template = defaultdict(dict)
for arm in ("baseline", "editseq"):
    results = read(f"results.{arm}.jsonl")
    summary = next((r for r in results if r.get("summary")), None)
    if summary is None:
        sys.exit(f"experiment: results.{arm}.jsonl has no summary record")
    passk = summary.get("pass_at_k", {})
    problems = [r for r in results if not r.get("summary")]
    solved = sum(1 for r in problems if r.get("correct", 0) > 0)
    samples = read(f"samples.{arm}.jsonl")
    programs = defaultdict(set)
    for s in samples:
        programs[s["task_id"]].add((s.get("program") or "").strip())
    distinct = sum(len(v) for v in programs.values()) / max(1, len(programs))
    empty = sum(1 for s in samples if not (s.get("program") or "").strip())
    malformed = sum(1 for s in samples if s.get("malformed_edits"))
    cells = "".join(f"{passk[k]:>9.3f}" if k in passk else f"{'-':>9}" for k in ks)
    print(f"{arm:<10}{cells}{f'{solved}/{len(problems)}':>9}{distinct:>10.1f}{empty:>7}"
          f"{malformed:>11}")
    per = defaultdict(list)
    for r in problems:
        per[template.get(r["task_id"], "?")].append(r.get("correct", 0) / max(1, r.get("n", 1)))
    for name, values in per.items():
        by_template[name][arm] = sum(values) / len(values)
print("\nsolved: problems with a passing sample; distinct: different programs among a problem's"
      "\nsamples (mean); empty: samples without a program; malformed: samples with a malformed"
      "\nedit. Mean pass@1 per template: by_template.tsv")
with (folder / "by_template.tsv").open("w", encoding="utf-8") as fh:
    fh.write("template\tbaseline_pass@1\teditseq_pass@1\n")
    for name in sorted(by_template):
        row = by_template[name]
        fh.write(f"{name}\t{row.get('baseline', 0):.3f}\t{row.get('editseq', 0):.3f}\n")
EOF
echo
echo "== done in $(( SECONDS - start )) s: $dir/passk.png, $dir/results.{baseline,editseq}.jsonl"
