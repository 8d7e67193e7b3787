#!/usr/bin/env bash
# Reproduce the shipped real-x4 weights: srresnet-x4 fine-tuned (MSE) on the LR of downscaled photos saved as JPEG
# (scripts/real_x4.toml), the model `srgan upscale` takes for JPEG inputs.
# Usage: scripts/train_shipped_real.sh [DATA_DIR] [RUN_DIR]   (re-running resumes where it stopped; MAX_TIME=2h stops
# cleanly after that much wall time). Ship with
#   .venv/bin/python scripts/ship_weights.py RUN_DIR DATA_DIR --name real-x4 --weights RUN_DIR/generator.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-data}
RUN=${2:-runs/real_x4}
make setup
[ -d "$DATA/holdout" ] || .venv/bin/python scripts/prepare_data.py "$DATA"
# The LR of each patch is a pure function of (seed, step), so a resumed run replays exactly. Validation on the held-out
# whole photos (clean inputs) watches that clean inputs keep their quality.
.venv/bin/srgan train --phase srresnet --data "$DATA/train" --val "$DATA/holdout" --out "$RUN" \
  --init src/srgan/weights/srresnet_x4.safetensors --config scripts/real_x4.toml \
  --scale 4 --blocks 16 --channels 64 --batch 16 --patch 96 --seed 5 --lr 1e-4 --steps 11355 --milestones 8000 \
  --gamma 0.1 --workers 1 --save-every 10m --keep 3 --log-every 50 --preview-every 1000 --val-every 1000 \
  ${MAX_TIME:+--max-time "$MAX_TIME"}
