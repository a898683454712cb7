#!/usr/bin/env bash
# traintop against PyTorch on the same CPU, measured side by side: runs of the
# two alternate, and each pair's ratio is taken, so that a shared machine's
# load hits both alike; the table gives the median of those ratios (and their
# spread). Also: the roofline share of the GEMM-bound rows, the cost of a
# technique toggle, and how fast a real run goes next to the benchmark of its
# own model.
#
#   bash benches/cpu_vs_pytorch.sh                          # the whole table
#   bash benches/cpu_vs_pytorch.sh LAYERS BATCH STEPS OPTIMIZER [ACTIVATION]   # one row
#
# REPS=N pairs per row (default 5). Needs target/release/traintop (cargo
# build --release) and a Python with torch ($PYTHON, default python3;
# `pip install torch numpy`).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
bin=target/release/traintop
reps=${REPS:-5}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
"$python" -c "import torch" 2>/dev/null || { echo "$python has no torch: pip install torch numpy" >&2; exit 2; }

field() { "$python" -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# median, min and max of the arguments
stats() { "$python" -c "import statistics as s,sys; v=[float(x) for x in sys.argv[1:]]; print(f'{s.median(v):.2f} {min(v):.2f} {max(v):.2f}')" "$@"; }
median() { "$python" -c "import statistics as s,sys; print(f'{s.median(float(x) for x in sys.argv[1:]):.0f}')" "$@"; }

# row LAYERS BATCH STEPS OPTIMIZER ACTIVATION [roofline]
row() {
  local layers=$1 batch=$2 steps=$3 opt=$4 act=$5 roof=${6:-}
  local tt=() pt=() ratios=() shares=()
  for _ in $(seq "$reps"); do
    local args=(bench --layers "$layers" --batch "$batch" --steps "$steps" --optimizer "$opt" --activation "$act" --json)
    [ -n "$roof" ] && args+=(--roofline)
    local j t p
    j=$("$bin" "${args[@]}")
    t=$(echo "$j" | field "['samples_per_sec']")
    [ -n "$roof" ] && shares+=("$(echo "$j" | field "['roofline']['share']")")
    p=$("$python" benches/torch_mlp.py --layers "$layers" --batch "$batch" --steps "$steps" \
      --optimizer "$opt" --activation "$act" --threads 2 | field "['samples_per_sec']")
    tt+=("$t"); pt+=("$p"); ratios+=("$("$python" -c "print($t/$p)")")
  done
  read -r rm rlo rhi <<<"$(stats "${ratios[@]}")"
  local roofline="-"
  if [ -n "$roof" ]; then
    read -r sm _ _ <<<"$(stats "${shares[@]}")"
    roofline="$("$python" -c "print(f'{100*$sm:.0f}%')")"
  fi
  printf '| %s %s, batch %s | %s | %s | %sx (%s..%s) | %s |\n' \
    "${layers//,/-}" "$act" "$batch" "$opt" "$(median "${tt[@]}") / $(median "${pt[@]}")" "$rm" "$rlo" "$rhi" "$roofline"
}

header() {
  printf '%s CPU cores, %s pairs per row, PyTorch %s with 2 threads\n\n' "$(nproc)" "$reps" \
    "$("$python" -c 'import torch; print(torch.__version__)')"
  echo "| workload | optimizer | samples/s traintop / PyTorch (medians) | traintop / PyTorch: median of pair ratios (min..max) | step's share of SGEMM |"
  echo "| --- | --- | --- | --- | --- |"
}

if [ $# -gt 0 ]; then
  header
  row "$1" "${2:-128}" "${3:-300}" "${4:-sgd}" "${5:-relu}"
  exit 0
fi

deep="64$(printf ',64%.0s' 1 2 3 4 5 6 7 8),10"
header
row 64,64,64,10 32 3000 adam relu
row "$deep" 32 2000 sgd sigmoid
row 784,256,10 128 300 sgd relu roofline
row 784,256,10 128 300 adam relu
row 784,1024,1024,10 256 30 sgd relu roofline

echo
echo "Technique toggle (batch norm on configs/deep-sigmoid.toml's model; cargo bench):"
cargo bench -q --bench engine -- toggle 2>/dev/null | grep toggle

echo
echo "Real run against the benchmark of its model (configs/digits.toml, 64-64-64-10 Adam, batch 32):"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run_ratios=()
for i in $(seq "$reps"); do
  "$bin" run configs/digits.toml --headless --quiet --out "$tmp/$i" --set run.epochs=300 >/dev/null
  r=$(field "['samples_per_sec']" <"$(ls -d "$tmp/$i"/*/)summary.json")
  b=$("$bin" bench --layers 64,64,64,10 --batch 32 --steps 3000 --optimizer adam --json | field "['samples_per_sec']")
  run_ratios+=("$("$python" -c "print($r/$b)")")
done
read -r m lo hi <<<"$(stats "${run_ratios[@]}")"
printf 'headless run / bench samples/s: median %s (min %s, max %s) over %s pairs\n' "$m" "$lo" "$hi" "$reps"
