#!/usr/bin/env bash
# Reproduce the shipped srresnet-x4 weights end to end: fetch and extract the photo packages, then train.
# Usage: scripts/train_shipped.sh [DATA_DIR] [RUN_DIR]   (re-running resumes the run where it stopped;
# MAX_TIME=2h stops it cleanly after that much wall time)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-data}
RUN=${2:-runs/srresnet_x4}
make setup
[ -d "$DATA/train" ] || .venv/bin/python scripts/prepare_data.py "$DATA"
# The run has stages, each a resume of the same run: 3,900 steps with decay, then restarts of the lr
# with later milestones. The lr is a pure function of the step and the flags, so re-running this script replays
# the stages exactly; a stage already passed returns at once. Stage 3 was stopped by MAX_TIME at step 13,847;
# stages 4 and 5 each restart at the lr of their first milestone (1e-4). The shipped weights are stage 5's best validation
# checkpoint (step 22,750). Stage 6 (restart at 1e-4) continues the run; its milestones may still move.
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
train --steps 30000 --milestones 23200 28000
