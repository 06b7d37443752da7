#!/usr/bin/env bash
# Measure a candidate checkpoint for release: everything the model card reports, written
# under OUT in the repository's own layout, so that releasing it is one copy:
#
#   bash tools/measure_release.sh runs/some_run/stage2/final.pt out/candidate
#   less out/candidate/summary.txt                     # candidate against the shipped model
#   cp -r out/candidate/assets out/candidate/benchmarks .   # release (then the card's text)
#
# OUT/assets/models/mpm_base.pt                  the weights, without optimizer state
# OUT/assets/models/mpm_base.*.onnx              the ONNX set the add-on runs
# OUT/assets/models/mpm_base.report.json         every protocol, full head, with the MLP
#                                                and non-learned baselines (the card's table)
# OUT/assets/models/mpm_base.runtime_{fast,accurate}.report.json
#                                                the engine's runtime modes against the
#                                                flip-averaged MLP (reused from the shipped
#                                                reports: same protocol settings, checked)
# OUT/benchmarks/results/bench_{view_centring,gap_filling,gap_filling_3d}_mpm_base.json
# OUT/heads/{full,centre,both}[_flip].json       lifting by output head, with/without flip
# OUT/summary.txt                                the candidate against the shipped model
# OUT/logs/                                      each step's output
#
# Not measured here: the Blender re-projection onto the Pose2Sim detections (build the
# extension with the new model and run demo/run_demo.py, README) and the stage-I ablation.
# Two jobs run side by side, one thread each: about 20 minutes on the 2-core CPU. The JSON
# files name their checkpoint as released (assets/models/mpm_base.pt), not as measured.
# Environment: DATA (prepared motion, default build/data/cmu_all.npz), SUBJECTS (the
# validation subjects, default 02), REAL2D (the Pose2Sim session), BASELINE (the MLP
# checkpoint), SHIPPED (the folder of the model compared against), NOTE (a line on how the
# candidate was made, for meta.history: a run started with --init carries its start's), PYTHON.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: bash tools/measure_release.sh CHECKPOINT OUT" >&2
    exit 2
fi
candidate=$1
out=$2
data=${DATA:-build/data/cmu_all.npz}
read -r -a subjects <<< "${SUBJECTS:-02}"
real2d=${REAL2D:-../shared/data/pose2sim_demo/S00_Demo_Session}
baseline=${BASELINE:-assets/baselines/mlp_cmu_not02.pt}
shipped=${SHIPPED:-assets/models}
python=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1

models=$out/assets/models
results=$out/benchmarks/results
logs=$out/logs
mkdir -p "$models" "$results" "$out/heads" "$logs"
model=$models/mpm_base.pt
common=(--data "$data" --subjects "${subjects[@]}" --threads 1)
real2d_args=()
[ -d "$real2d" ] && real2d_args=(--real2d "$real2d")

# Each step: its output in logs/NAME.log; a failed step stops the script once its
# partner has finished.
step() {
    local name=$1
    shift
    "$@" > "$logs/$name.log" 2>&1 || { echo "$name failed (exit $?): $logs/$name.log" >&2; return 1; }
}
pair() {  # run two steps side by side: pair "name cmd..." "name cmd..."
    local a b status=0
    eval "step $1" & a=$!
    eval "step $2" & b=$!
    wait "$a" || status=1
    wait "$b" || status=1
    return "$status"
}
q() { printf '%q ' "$@"; }  # one argument list as a string that pair can eval

note_args=()
[ -n "${NOTE:-}" ] && note_args=(--note "$NOTE")
step release "$python" -m training.release_model "$candidate" --out "$model" "${note_args[@]}"

pair "export $(q "$python" -m engine export "$model" --out "$models/mpm_base")" \
     "report $(q "$python" -m training.evaluate --checkpoint "$model" "${common[@]}" "${real2d_args[@]}" \
        --baseline "mlp=$baseline" --out "$models/mpm_base.report.json")"

heads=()
for head in full centre both; do
    for flip in "" --flip; do
        heads+=("head_$head${flip:+_flip} $(q "$python" -m training.evaluate --checkpoint "$model" "${common[@]}" \
            --head "$head" $flip --protocols lift_gt2d lift_noisy2d --out "$out/heads/$head${flip:+_flip}.json")")
    done
done
for i in 0 2 4; do pair "${heads[$i]}" "${heads[$((i + 1))]}"; done

for mode in fast accurate; do
    if [ -f "$shipped/mpm_base.runtime_$mode.report.json" ]; then
        reuse=(--baseline-flip --baselines-from "$shipped/mpm_base.runtime_$mode.report.json")
    else
        reuse=(--baseline "mlp=$baseline" --baseline-flip)
    fi
    printf -v "runtime_$mode" '%s' "runtime_$mode $(q "$python" -m training.evaluate --checkpoint "$model" "${common[@]}" \
        "${real2d_args[@]}" --runtime "$mode" "${reuse[@]}" --out "$models/mpm_base.runtime_$mode.report.json")"
done
pair "$runtime_fast" \
     "view_centring $(q "$python" benchmarks/bench_view_centring.py --checkpoint "$model" "${common[@]}" \
        --json "$results/bench_view_centring_mpm_base.json")"
gap_filling="$(q "$python" benchmarks/bench_gap_filling.py --checkpoint "$model" --data "$data" --subjects "${subjects[@]}")"
pair "$runtime_accurate" \
     "gap_filling $gap_filling --dims 2 --json $(q "$results/bench_gap_filling_mpm_base.json") \
        && step gap_filling_3d $gap_filling --dims 3 --json $(q "$results/bench_gap_filling_3d_mpm_base.json")"

# The reports and benchmarks name the checkpoint they measured: name it where it is released.
"$python" -c 'import json, sys
measured, released = (f"\"checkpoint\": {json.dumps(p)}" for p in (sys.argv[1], "assets/models/mpm_base.pt"))
for path in sys.argv[2:]:
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace(measured, released, 1))' "$model" "$models"/*.json "$results"/*.json

{
    echo "candidate: $candidate"
    for report in mpm_base.report.json mpm_base.runtime_fast.report.json mpm_base.runtime_accurate.report.json; do
        echo
        echo "== $report (shipped, then candidate)"
        if [ -f "$shipped/$report" ]; then
            "$python" -m training.compare_reports "shipped=$shipped/$report" "candidate=$models/$report" --margin-over mlp
        else
            "$python" -m training.compare_reports "candidate=$models/$report" --margin-over mlp
        fi
    done
    echo
    echo "== lifting by head (mm: lift_gt2d / lift_noisy2d)"
    for file in "$out"/heads/*.json; do
        "$python" -c 'import json, sys; r = json.load(open(sys.argv[1]))["protocols"]
gt, noisy = (r[p]["all"]["mpjpe"] for p in ("lift_gt2d", "lift_noisy2d"))
print("%-12s %6.1f / %6.1f" % (sys.argv[2], gt, noisy))' \
            "$file" "$(basename "$file" .json)"
    done
} > "$out/summary.txt" 2>&1
cat "$out/summary.txt"
