#!/usr/bin/env bash
# Issue 18's GPU checks in one call on a lent GPU: the GPU tests (tests/test_cuda.py), then benchmarks/upscale.py
# on the GPU (network table, default path against the graph, where one default-path call spends its time, a folder
# of 1920x1080 photos end to end against compute only). Extra arguments go to upscale.py and win over the defaults
# here (e.g. `--device cpu --sizes 64x48 --photo-size 64x48 --photos 2 --rounds 1` to try the script on a CPU).
# Logs go to $OUT (default gpu_out in the repository). Exit status: the tests' if they failed, else the benchmark's.
#
# What the call needs beside the tracked files (benchmarks/README.md, "On the next lent GPU"): Set5 and Set14 in
# shared/benchmarks in the repository (../shared beside the checkout does not travel), and the imagecodecs wheel in
# .whl (the GPU image has no imagecodecs); both are installed or found here when present.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-gpu_out}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
[ -d .gpu/site ] && export PYTHONPATH=$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}  # scripts/prepare_gpu_data.sh
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
bench=shared/benchmarks
[ -d "$bench" ] || bench=../shared/benchmarks
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm --format=csv | tee "$out/gpu.txt"
fi
# Each step under its own time limit, so that what it printed is in $OUT even when it overruns (9 min together).
timeout 120 python3 -m pytest -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$out/test_cuda.log"
tests=${PIPESTATUS[0]}
# 32 photos: the encoding of the last one is not overlapped with anything, and with 6 photos that tail alone would
# hold end to end near half of compute only. --jobs 8 is srgan's default on 16 CPUs (at most 8), 15 all but one.
timeout 420 python3 benchmarks/upscale.py --device cuda --sizes 256x192 1920x1080 --repeat 5 --benchmarks "$bench" \
    --profile --photos 32 --rounds 2 --jobs 8 15 "$@" 2>&1 | tee "$out/upscale.md"
bench_status=${PIPESTATUS[0]}
exit $((tests ? tests : bench_status))
