#!/usr/bin/env bash
# Reproduce the shipped srresnet-x4 weights end to end: fetch and extract the photo packages, then train.
# Usage: scripts/train_shipped.sh [DATA_DIR] [RUN_DIR]   (re-running resumes the run where it stopped;
# MAX_TIME=2h stops it cleanly after that much wall time; GPU=1 goes on with the two runs on a GPU)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-data}
RUN=${2:-runs/srresnet_x4}
make setup
[ -d "$DATA/train" ] || .venv/bin/python scripts/prepare_data.py "$DATA"
# The run has stages, each a resume of the same run: 3,900 steps with decay, then restarts of the lr with later
# milestones. The lr is a pure function of the step and the flags, so re-running this script replays the stages (exactly
# on the same kind of device); a stage already passed returns at once. Stages 3 and 6 were stopped by MAX_TIME (steps
# 13,847 and 23,982); stages 4-6 restart at 1e-4, stage 7 at 4e-4 (no milestone at or before its first step). The
# shipped weights are stage 7's best validation checkpoint (step 52,000). It was trained on the 45 photos that
# prepare_data.py gave before the mate-backgrounds and lomiri-wallpapers-20.04 photos were added (listed in the model
# card); on today's data folder (59 photos, two more of them held out) the stages train on more images.
train() {
  .venv/bin/srgan train --phase srresnet --data "$DATA/train" --val "$DATA/val" --out "$RUN" \
    --scale 4 --blocks 16 --channels 64 --batch 16 --patch 96 --seed 0 --lr 4e-4 --gamma 0.25 \
    --workers 1 --save-every 10m --keep 3 --log-every 20 --preview-every 250 --val-every 250 \
    ${MAX_TIME:+--max-time "$MAX_TIME"} "$@"
}
train --steps 3900 --milestones 2900 3400
train --steps 7100 --milestones 5600 6500
train --steps 13847 --milestones 11700 13300
train --steps 18600 --milestones 13847 17700
train --steps 23200 --milestones 18600 21600 22600
train --steps 23982 --milestones 23200
# Stage 7 ran on a lent NVIDIA H200 in 437 s (≈ 65 steps/s; on this project's 2-core CPU it would take ≈ 14 h):
train --steps 52382 --milestones 38100 45200 49500 --precision fp32 --workers 14 --val-every 1000 --preview-every 5000 --log-every 500
# Stages 8 and 9 (2026-12-04) are new runs, each from the generator before (its own Adam state), on a lent NVIDIA H200
# with patches made on the device (--loader device) in bf16, on natural photographs: 459 BSDS500 and ImageNet photos
# of ../shared/traindata (scripts/prepare_gpu_data.sh makes the set, with 10 held-out BSDS500 test photos as
# validation). Stage 8 stopped at step 8,152 by its time limit (230 s), stage 9 ran 6,400 steps (233 s); the shipped
# weights are stage 9's best validation generator (step 3,840). scripts/train_gpu.sh is the call that ran stage 8.
[ -n "${GPU:-}" ] || exit 0  # stages 8 and 9 need a GPU: GPU=1 scripts/train_shipped.sh
[ -d .gpu/train ] || bash scripts/prepare_gpu_data.sh
DATA=.gpu INIT=$RUN/generator.safetensors RUN=${RUN}_gpu1
OUT=$RUN
train --steps 8152 --milestones 5013 7101 --init "$INIT" --seed 1 --batch 128 --precision bf16 --loader device \
  --log-every 209 --val-every 697 --preview-every 1000000000 --save-every 1000000000
INIT=$RUN/generator.safetensors RUN=${RUN%_gpu1}_gpu2
OUT=$RUN
train --steps 6400 --milestones 3600 5400 --lr 2e-4 --init "$INIT" --seed 2 --batch 256 --precision bf16 \
  --loader device --log-every 400 --val-every 640 --preview-every 1000000000 --save-every 1000000000
