#!/usr/bin/env bash
# Reduce, Reuse, Recycle on the paper's 2D compositions, with the small energy models shipped in
# examples/compose_sample/models/ (made by make_models.sh): product ring x bar, mixture of the
# left and right bars, negation of the small box within the big box. Reverse diffusion with the
# summed scores (the baseline) against annealed MCMC; figures against the exact composed
# densities, plots in examples/out/compose_sample/*.png. About a minute on one CPU core.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=examples/out/compose_sample
models=examples/compose_sample/models
mkdir -p "$out"
cs="papertools compose-sample"
common=(-n 300 --levels 40 --seed 0 -q)

echo "== compose-sample: exact samples of the three compositions"
$cs toy "ring + bar" -n 1000 -o "$out/exact_product.jsonl"
$cs toy "left_bar | right_bar" -n 1000 -o "$out/exact_mixture.jsonl"
$cs toy "1.3*box - 0.3*small_box" -n 1000 -o "$out/exact_negation.jsonl"

echo "== compose-sample: train a model for 100 steps, then resume to 200 (checkpoints)"
rm -rf "$out/ring_model"
$cs train --toy ring --out-dir "$out/ring_model" --steps 100 --batch-size 128 --hidden 32 \
  --layers 2 --log-every 50 --save-every 50 -q > /dev/null
$cs train --toy ring --out-dir "$out/ring_model" --steps 200 --batch-size 128 --hidden 32 \
  --layers 2 --log-every 50 --save-every 50 --resume -q

echo "== compose-sample: product ring + bar: reverse diffusion, ULA, HMC (acceptance on stderr)"
for s in reverse ula hmc; do
  $cs sample "ring + bar" -m ring=$models/ring -m bar=$models/bar --sampler $s "${common[@]}" \
    -o "$out/product_$s.jsonl"
done
cat "$out"/product_{reverse,ula,hmc}.jsonl | $cs eval --plot "$out/product.png" -o "$out/product_eval.jsonl"

echo "== compose-sample: mixture left_bar | right_bar with MALA (energies only)"
$cs sample "left | right" -m left=$models/left_bar -m right=$models/right_bar --sampler mala \
  "${common[@]}" --stats "$out/mixture_stats.jsonl" -o "$out/mixture_mala.jsonl"
$cs eval "$out/mixture_mala.jsonl" --plot "$out/mixture.png" -o "$out/mixture_eval.jsonl"

echo "== compose-sample: negation 1.3*box - 0.3*small_box: reverse diffusion against HMC"
for s in reverse hmc; do
  $cs sample "1.3*box - 0.3*small" -m box=$models/box -m small=$models/small_box --sampler $s \
    "${common[@]}" -o "$out/negation_$s.jsonl"
done
cat "$out"/negation_{reverse,hmc}.jsonl | $cs eval --plot "$out/negation.png" -o "$out/negation_eval.jsonl"

echo "== compose-sample: a score-parameterised model cannot take a Metropolis test"
$cs train --toy bar --param score --out-dir "$out/bar_score" --steps 20 --hidden 16 --layers 1 \
  --resume -q > /dev/null
if $cs sample "a + a" -m a="$out/bar_score" --sampler hmc -n 4 -q 2> "$out/refused.txt"; then
  echo "unexpected success" >&2; exit 1
fi
tail -n 1 "$out/refused.txt"
