#!/usr/bin/env bash
# `make demo`: every tool's example pipeline on the data shipped in examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
for pipeline in examples/*/pipeline.sh; do
  bash "$pipeline"
  echo
done
echo "outputs are in examples/out/"
