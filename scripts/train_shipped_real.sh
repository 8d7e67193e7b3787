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
# One run in four stages, each resuming the last (Adam's state kept) with its own --steps and --milestones; the lr is
# 1e-4 times 0.1 per milestone passed, so stage 2 continues at 1e-5 and stages 3 and 4 restart at 1e-4. The LR of each patch
# is a pure function of (seed, step), so a resumed run replays exactly and a stage already passed returns at once.
# Stage 3 ends at 22,699: of the checkpoints after its decay (a run to 23,000), the one with the best held-out JPEG-75
# score (the held-out photos, not Set5/Set14, chose it). Stage 4 restarts there; its last step had the best held-out
# JPEG-75 score after its decay.
# Validation on the held-out whole photos (clean inputs) watches that clean inputs keep their quality.
train() {
  .venv/bin/srgan train --phase srresnet --data "$DATA/train" --val "$DATA/holdout" --out "$RUN" \
    --init src/srgan/weights/srresnet_x4.safetensors --config scripts/real_x4.toml \
    --scale 4 --blocks 16 --channels 64 --batch 16 --patch 96 --seed 5 --lr 1e-4 --gamma 0.1 \
    --workers 1 --save-every 10m --keep 3 --log-every 50 --preview-every 1000 --val-every 1000 \
    ${MAX_TIME:+--max-time "$MAX_TIME"} "$@"
  # A stage stopped early (MAX_TIME, a signal) must not hand its steps to the next stage's lr: stop here; re-running
  # the script goes on where it stopped. $2 is the stage's --steps (each call below starts with it).
  [ "$(cat "$RUN/latest")" = "checkpoints/step_$(printf %08d "$2").pt" ] || exit 0
}
train --steps 11355 --milestones 8000
train --steps 13615 --milestones 8000
train --steps 22699 --milestones 20000
train --steps 28380 --milestones 27200
