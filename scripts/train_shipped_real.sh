#!/usr/bin/env bash
# Reproduce the shipped real-x4 weights: srresnet-x4 fine-tuned (MSE) on the LR of downscaled photos saved as JPEG
# (scripts/real_x4.toml), the model `srgan upscale` takes for JPEG inputs.
# Usage: scripts/train_shipped_real.sh [DATA_DIR] [RUN_DIR]   (re-running resumes where it stopped; MAX_TIME=2h stops
# cleanly after that much wall time). Ship the last stage's run with
#   .venv/bin/python scripts/ship_weights.py RUN_DIR_p192 DATA_DIR --name real-x4 \
#     --weights RUN_DIR_p192/generator.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-data}
RUN=${2:-runs/real_x4}
make setup
[ -d "$DATA/train_scaled" ] || .venv/bin/python scripts/prepare_data.py "$DATA"
# Stages 1-4 are one run, each stage resuming the last (Adam's state kept) with its own --steps and --milestones; the
# lr is 1e-4 times 0.1 per milestone passed, so stage 2 continues at 1e-5 and stages 3 and 4 restart at 1e-4. The LR of
# each patch is a pure function of (seed, step), so a resumed run replays exactly and a stage already passed returns at
# once.
# Stage 3 ends at 22,699: of the checkpoints after its decay (a run to 23,000), the one with the best held-out JPEG-75
# score (the held-out photos, not Set5/Set14, chose it). Stage 4 restarts there; its last step had the best held-out
# JPEG-75 score after its decay. Stages 5 and 6 are a new run (its own Adam, seed 6) from stage 4's generator on the
# photos and their 1/2 and 1/3 copies (DATA/train_scaled, made by prepare_data.py): a cycle at 1e-4 decayed at 3,500,
# then a restart at 1e-4 decayed at 6,600, ending at 7,600, the checkpoint after a decay with the best held-out
# JPEG-75 score in a run that went on to 9,800 (a third, shorter cycle scored lower on the held-out photos, as did a
# longer one from 7,299 to 12,000 and 2,000 more steps at 1e-5 from 7,600). This last choice scores the held-out
# photos by the PSNR-Y of their mean MSE, not the mean PSNR-Y, in which one smooth photo near 41 dB swung by up to 0.9
# dB between checkpoints (the model card has both).
# Stage 7 is a third run from stage 6's generator (its own Adam, seed 7) on the same data in 192² crops (the three 1/3
# copies smaller than that are skipped) at a constant 1e-5: a 48² LR crop holds 6×6 JPEG blocks instead of 3×3, and
# fewer of its pixels see the zero-padded border, nearer to upscaling a whole photo. It ends at step 1,975: of every
# checkpoint since step 28,380 (and weight averages), the best held-out JPEG-75 score over the seven held-out photos and
# the five dense ones of DATA/holdout_dense (PSNR-Y of the mean MSE; a rule fixed before that folder was first scored).
# Validation on the held-out whole photos (clean inputs) watches that clean inputs keep their quality.
train() {
  .venv/bin/srgan train --phase srresnet --data "${FOLDERS[@]}" --val "$DATA/holdout" --out "$OUT" \
    --init "$INIT" --config scripts/real_x4.toml \
    --scale 4 --blocks 16 --channels 64 --batch 16 --patch "$PATCH" --seed "$SEED" --lr 1e-4 --gamma 0.1 \
    --workers 1 --save-every 10m --keep 3 --log-every 50 --preview-every 1000 --val-every 1000 \
    ${MAX_TIME:+--max-time "$MAX_TIME"} "$@"
  # A stage stopped early (MAX_TIME, a signal) must not hand its steps to the next stage's lr: stop here; re-running
  # the script goes on where it stopped. $2 is the stage's --steps (each call below starts with it).
  [ "$(cat "$OUT/latest")" = "checkpoints/step_$(printf %08d "$2").pt" ] || exit 0
}
OUT=$RUN INIT=src/srgan/weights/srresnet_x4.safetensors SEED=5 PATCH=96 FOLDERS=("$DATA/train")
train --steps 11355 --milestones 8000
train --steps 13615 --milestones 8000
train --steps 22699 --milestones 20000
train --steps 28380 --milestones 27200
OUT=${RUN}_scaled INIT=$RUN/generator.safetensors SEED=6 PATCH=96 FOLDERS=("$DATA/train" "$DATA/train_scaled")
train --steps 5000 --milestones 3500
train --steps 7600 --milestones 6600
OUT=${RUN}_p192 INIT=${RUN}_scaled/generator.safetensors SEED=7 PATCH=192 FOLDERS=("$DATA/train" "$DATA/train_scaled")
train --steps 1975 --milestones 100000 --lr 1e-5
