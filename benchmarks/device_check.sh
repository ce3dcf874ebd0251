#!/usr/bin/env bash
# The GPU path end to end on one GPU, in at most 8 minutes: bf16 vs fp32 accuracy, fp32/bf16/fp16
# latency, int8 on the CPU of a GPU-trained model, then (last: they may not fit) the default study
# on cuda (40 % of the time left) and packing 1-8 workers per GPU (the rest). Prints one table that
# opens with the GPU, compute capability, autocast dtype used, torch, commit, date and load, and
# gives each section's share of the 8 minutes; writes JSON (default benchmarks/results/device_check.json).
#
#   benchmarks/device_check.sh                 # on a machine with a GPU
#   benchmarks/device_check.sh --cpu-smoke     # every section on the CPU, same studies and workers, tiny sizes
#   benchmarks/device_check.sh --out /tmp/dc.json
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
# The GPU run stops its own sections at 450 s; this is the hard stop. The smoke run has no
# deadline (it measures what each section costs), only a generous guard.
LIMIT=480
for arg in "$@"; do [ "$arg" = "--cpu-smoke" ] && LIMIT=3600; done
exec timeout --signal=TERM --kill-after=10 "$LIMIT" "$PYTHON" benchmarks/device_check.py "$@"
