#!/usr/bin/env bash
# Reproduce the shipped real-x4 weights: srresnet-x4 fine-tuned on realistic degradations (blur, resize, noise,
# JPEG; the chain of scripts/real_x4.toml), the model `srgan upscale` takes for JPEG inputs.
# Usage: scripts/train_shipped_real.sh [DATA_DIR] [RUN_DIR]   (re-running resumes the run where it stopped;
# MAX_TIME=2h stops it cleanly after that much wall time)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-data}
RUN=${2:-runs/real_x4}
make setup
[ -d "$DATA/holdout" ] || .venv/bin/python scripts/prepare_data.py "$DATA"
# MSE fine-tuning (the SRResNet phase) from the shipped srresnet-x4, at the paper's lr with one ×0.1 decay. The
# LR of each patch is a pure function of (seed, step), so a resumed stage replays exactly. Validation on the held-out
# whole photos (clean inputs) watches that clean inputs keep their quality.
train() {
  .venv/bin/srgan train --phase srresnet --init src/srgan/weights/srresnet_x4.safetensors --config scripts/real_x4.toml \
    --data "$DATA/train" --val "$DATA/holdout" --out "$RUN" \
    --scale 4 --blocks 16 --channels 64 --batch 16 --patch 96 --seed 0 --lr 1e-4 --gamma 0.1 \
    --workers 1 --save-every 10m --keep 3 --log-every 50 --preview-every 1000 --val-every 500 \
    ${MAX_TIME:+--max-time "$MAX_TIME"} "$@"
}
train --steps 4031 --milestones 3300
