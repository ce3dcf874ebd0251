#!/usr/bin/env bash
# The GPU path end to end on one GPU, in at most 8 minutes: the default study on cuda, bf16 vs
# fp32 accuracy, packing 1-8 workers per GPU, fp32/bf16/fp16 latency, int8 on the CPU of a
# GPU-trained model. Prints one table; writes JSON (default benchmarks/results/device_check.json).
#
#   benchmarks/device_check.sh                 # on a machine with a GPU
#   benchmarks/device_check.sh --cpu-smoke     # the same code paths on the CPU, tiny sizes
#   benchmarks/device_check.sh --out /tmp/dc.json
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
# The script stops its own sections at 450 s; this is the hard stop.
exec timeout --signal=TERM --kill-after=10 480 "$PYTHON" benchmarks/device_check.py "$@"
