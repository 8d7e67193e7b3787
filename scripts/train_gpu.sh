#!/usr/bin/env bash
# One call on a lent GPU, in the order the developers' guide asks: the GPU tests, the training throughput table
# (benchmarks/train_step.py --device cuda), then srresnet-x4 trained on with patches made on the device, then what
# time is left for the inference benchmark (benchmarks/upscale.py, issue 18's numbers). Each step has its own time
# limit inside BUDGET seconds (default 570), so what a step printed comes back even when a later one overruns.
#
# The GPU machine gets the checkout alone (64 MiB at most), so the data travel in .gpu/ (ignored by git; `carry`):
#   .gpu/site   imagecodecs with only its PNG and deflate codecs (the GPU image has none; the whole wheel is 26 MB)
#   .gpu/train  the training photos that fit: see "Training on a lent GPU" in the srresnet-x4 model card
#   .gpu/val    held-out photos for the validation curve (PSNR-Y against steps)
# and Set5/Set14 in shared/benchmarks. Environment: OUT (results, default gpu_out), BATCH (128), LR (4e-4),
# TRAIN_SECONDS (230), INIT (the shipped srresnet-x4), DRY=1 (a few seconds of everything, on any device).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-gpu_out}
mkdir -p "$out"
export PYTHONPATH=$PWD/.gpu/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
budget=${BUDGET:-570}
batch=${BATCH:-128}
train_seconds=${TRAIN_SECONDS:-230}
init=${INIT:-src/srgan/weights/srresnet_x4.safetensors}
bench=shared/benchmarks
[ -d "$bench" ] || bench=../shared/benchmarks
dry=${DRY:-}
left() { echo $((budget - SECONDS)); }

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$out/gpu.txt"

# 1. the GPU tests (skipped without CUDA)
timeout 75 python3 -m pytest -p no:cacheprovider -q tests/test_cuda.py 2>&1 | tail -n 15 | tee "$out/test_cuda.log"

# 2. training throughput: the old recipe against patches made on the device, fp32 and bf16, growing batches
if [ -n "$dry" ]; then step_args=(--warmup 1 --steps 1); else step_args=(); fi
[ -n "$dry" ] || timeout 110 python3 benchmarks/train_step.py --device auto "${step_args[@]}" 2>&1 | tee "$out/train_step.md"
# steps that fit in the training time at this batch: the measured bf16 rate of this batch (else 8,000 patches/s)
rate=$(grep -E "^  srresnet bf16 device $batch: " "$out/train_step.md" | awk '{print $5}')
steps=$(python3 -c "print(max(20, int(float('${rate:-8000}' or 8000) * $train_seconds / $batch)))")
[ -n "$dry" ] && { steps=6; batch=4; }

# 3. srresnet-x4 trained on: lr 4e-4 (the shipped run's last stage), x0.25 at 60% and 85% of the steps
run=gpu_runs/srresnet_x4
timeout $((train_seconds + 60)) python3 -m srgan.cli train --phase srresnet --out "$run" --init "$init" \
    --data .gpu/train --val .gpu/val --scale 4 --blocks 16 --channels 64 --patch 96 --seed 1 \
    --batch "$batch" --lr "${LR:-4e-4}" --gamma 0.25 --steps "$steps" \
    --milestones $((steps * 60 / 100 + 1)) $((steps * 85 / 100 + 1)) --precision bf16 --loader device \
    --log-every $((steps / 40 + 1)) --val-every $((steps / 12 + 1)) --preview-every 1000000000 \
    --save-every 1000000000 --max-time "$train_seconds" 2>&1 | tail -n 80 | tee "$out/train.log"
if [ ! -f "$run/generator.safetensors" ] && [ "$(left)" -gt 120 ]; then  # the device loader failed: CPU workers
    timeout $(($(left) - 60)) python3 -m srgan.cli train --phase srresnet --out "$run-workers" --init "$init" \
        --data .gpu/train --val .gpu/val --batch "$batch" --lr "${LR:-4e-4}" --gamma 0.25 --steps "$steps" \
        --milestones $((steps * 60 / 100 + 1)) --precision bf16 --loader workers --workers 14 --seed 1 \
        --max-time $(($(left) - 90)) 2>&1 | tail -n 40 | tee "$out/train_workers.log"
    run=$run-workers
fi
cp "$run"/generator.safetensors "$run"/generator_best.safetensors "$run"/metrics.jsonl "$out"/ 2>/dev/null

# 4. the inference benchmark with what is left (issue 18: default path against the graph, a folder end to end)
if [ "$(left)" -gt 40 ]; then
    if [ -n "$dry" ]; then up_args=(--sizes 64x48 --photo-size 64x48 --photos 2 --rounds 1 --jobs 1 --repeat 1)
    else up_args=(--sizes 1920x1080 --repeat 3 --profile --photos 16 --rounds 1 --jobs 8); fi
    timeout $(($(left) - 5)) python3 benchmarks/upscale.py --device auto --benchmarks "$bench" "${up_args[@]}" \
        2>&1 | tee "$out/upscale.md"
fi
echo "done after $SECONDS s"
