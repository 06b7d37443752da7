#!/usr/bin/env bash
# One call on a lent GPU machine: train CONFIG under a time limit, evaluate what it made on
# the validation subject through the engine's runtime (fast mode), and leave eight files
# flat in $OUT, where they come back from: summary.txt (machine, times, the report's tables),
# train.log, metrics_stage{1,2}.jsonl, curves_stage{1,2}.png, model.pt (the newest
# checkpoint without its optimizer state) and report.json. The run folder itself stays on
# the machine (RUN, default runs/gpu_session): its checkpoints would not all come back.
#
# The device machine (the `device` tool's `run`) has its own Python (3.12, torch 2.11,
# numpy 2), runs one command for at most 10 minutes, and gets the working tree but not
# ../shared, so carry the prepared data; for the real2d protocol, copy the Pose2Sim session
# into an ignored folder and carry it too:
#
#   here:    python -m training.prepare ... --out build/data/cmu_all.npz   (README)
#            mkdir -p .device && echo /.device/ >> .git/info/exclude
#            cp -r ../shared/data/pose2sim_demo/S00_Demo_Session .device/
#   device:  run(command="bash tools/gpu_session.sh training/configs/gpu_shipped.toml",
#                carry=["build/data", ".device"], timeout_s=600)
#
# Extra arguments go to `training.train` (e.g. `--stage stage2 --init assets/models/mpm_base.pt`).
# TRAIN_MINUTES (default 7) bounds the training so that evaluation and copying fit the call;
# a run stopped by it has its last checkpoint evaluated. VAL_SUBJECTS (default 02) are the
# config's validation subjects; DATA the prepared file they are in; PYTHON the interpreter.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: bash tools/gpu_session.sh CONFIG [train arguments...]" >&2
    exit 2
fi
config=$1
shift
out=${OUT:-out/gpu_session}
run=${RUN:-runs/gpu_session}
minutes=${TRAIN_MINUTES:-7}
data=${DATA:-build/data/cmu_all.npz}
read -r -a subjects <<< "${VAL_SUBJECTS:-02}"
real2d=${REAL2D:-.device/S00_Demo_Session}
python=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no GPU"
  "$python" -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"
  echo "cpus: $(nproc)"; } > "$out/summary.txt"

started=$(date +%s)
status=0
"$python" -m training.train --config "$config" --out "$run" --time-limit-min "$minutes" "$@" > "$out/train.log" 2>&1 || status=$?
echo "training: exit $status after $(( $(date +%s) - started )) s" >> "$out/summary.txt"

# The newest checkpoint: stage II's over stage I's, a finished stage's over a stopped one's.
checkpoint=""
for candidate in "$run/stage2/final.pt" "$run/stage2/last.pt" "$run/stage1/final.pt" "$run/stage1/last.pt"; do
    if [ -f "$candidate" ]; then checkpoint=$candidate; break; fi
done
if [ -z "$checkpoint" ]; then
    echo "no checkpoint in $run" >&2
    tail -n 20 "$out/train.log" >&2
    exit 1
fi
echo "evaluating $checkpoint" >> "$out/summary.txt"
for stage in stage1 stage2; do
    [ -f "$run/$stage/metrics.jsonl" ] && cp "$run/$stage/metrics.jsonl" "$out/metrics_$stage.jsonl"
    [ -f "$run/$stage/curves.png" ] && cp "$run/$stage/curves.png" "$out/curves_$stage.png"
done
"$python" -m training.release_model "$checkpoint" --out "$out/model.pt" --note "tools/gpu_session.sh $config $*" > /dev/null

real2d_args=()
[ -d "$real2d" ] && real2d_args=(--real2d "$real2d")
"$python" -m training.evaluate --checkpoint "$out/model.pt" --data "$data" --subjects "${subjects[@]}" --runtime fast \
    "${real2d_args[@]}" --out "$out/report.json" >> "$out/summary.txt" 2>&1
cat "$out/summary.txt"
exit "$status"
