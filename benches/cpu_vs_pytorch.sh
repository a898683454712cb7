#!/usr/bin/env bash
# Training-step throughput, traintop against PyTorch on the same CPU, measured
# side by side (alternating runs, median of each).
#   bash benches/cpu_vs_pytorch.sh [LAYERS] [BATCH] [STEPS] [OPTIMIZER]
# Needs target/release/traintop (cargo build --release) and a Python with torch
# ($PYTHON, default python3; `pip install torch numpy`).
set -euo pipefail
cd "$(dirname "$0")/.."
layers=${1:-784,256,10}; batch=${2:-128}; steps=${3:-300}; optimizer=${4:-sgd}
python=${PYTHON:-python3}
bin=target/release/traintop
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
"$python" -c "import torch" 2>/dev/null || { echo "$python has no torch: pip install torch numpy" >&2; exit 2; }
field() { "$python" -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
tt=(); pt=()
reps=${REPS:-5}
for _ in $(seq "$reps"); do
  tt+=("$("$bin" bench --layers "$layers" --batch "$batch" --steps "$steps" --optimizer "$optimizer" --json | field samples_per_sec)")
  pt+=("$("$python" benches/torch_mlp.py --layers "$layers" --batch "$batch" --steps "$steps" --optimizer "$optimizer" --threads 2 | field samples_per_sec)")
done
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }
t=$(median "${tt[@]}"); p=$(median "${pt[@]}")
tb=$(best "${tt[@]}"); pb=$(best "${pt[@]}")
printf 'MLP %s, batch %s, %s steps, %s, %s CPU cores\n' "$layers" "$batch" "$steps" "$optimizer" "$(nproc)"
# A shared machine only ever slows a run down, so the best of the runs is the
# steadiest figure; the median is shown too.
printf '%-10s %12s %12s   runs\n' "" "best" "median"
printf '%-10s %12.0f %12.0f   %s\n' traintop "$tb" "$t" "${tt[*]}"
printf '%-10s %12.0f %12.0f   %s\n' pytorch "$pb" "$p" "${pt[*]}"
"$python" -c "print(f'ratio traintop/pytorch: best {$tb/$pb:.2f}, median {$t/$p:.2f}')"
