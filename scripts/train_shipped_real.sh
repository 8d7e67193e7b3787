#!/usr/bin/env bash
# Reproduce the shipped real-x4 weights: srresnet-x4 fine-tuned on realistic degradations in three stages, each from
# the last one's weights, each chain narrower (scripts/real_x4_stage{1,2,3}.toml: from blur, resize, noise and JPEG to
# the LR of a downscaled photo saved as JPEG), the model `srgan upscale` takes for JPEG inputs.
# Usage: scripts/train_shipped_real.sh [DATA_DIR] [RUN_DIR]   (re-running resumes where it stopped; MAX_TIME=2h stops
# a stage cleanly after that much wall time). Ship with
#   .venv/bin/python scripts/ship_weights.py RUN_DIR/stage3 DATA_DIR --name real-x4 \
#     --weights RUN_DIR/stage3/generator.safetensors --stages RUN_DIR/stage1 RUN_DIR/stage2
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-data}
RUN=${2:-runs/real_x4}
make setup
[ -d "$DATA/holdout" ] || .venv/bin/python scripts/prepare_data.py "$DATA"
# MSE fine-tuning (the SRResNet phase). The LR of each patch is a pure function of (seed, step), so a resumed stage
# replays exactly. Validation on the held-out whole photos (clean inputs) watches that clean inputs keep their quality.
train() {
  .venv/bin/srgan train --phase srresnet --data "$DATA/train" --val "$DATA/holdout" \
    --scale 4 --blocks 16 --channels 64 --batch 16 --patch 96 --gamma 0.1 \
    --workers 1 --save-every 10m --keep 3 --log-every 50 --preview-every 1000 --val-every 500 \
    ${MAX_TIME:+--max-time "$MAX_TIME"} "$@"
}
train --out "$RUN/stage1" --init src/srgan/weights/srresnet_x4.safetensors --config scripts/real_x4_stage1.toml \
  --seed 0 --lr 1e-4 --steps 4031 --milestones 3300
# The shipped run started stage 2 from stage 1's weights as shipped then (fp16: the real-x4 of commit 9a32603); from
# the fp32 ones here the result differs by that rounding. Stage 2 has no decay: stage 3 follows at the same lr.
train --out "$RUN/stage2" --init "$RUN/stage1/generator.safetensors" --config scripts/real_x4_stage2.toml \
  --seed 1 --lr 5e-5 --steps 3724 --milestones 3724
train --out "$RUN/stage3" --init "$RUN/stage2/generator.safetensors" --config scripts/real_x4_stage3.toml \
  --seed 2 --lr 5e-5 --steps 3600 --milestones 2477
