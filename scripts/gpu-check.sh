#!/usr/bin/env bash
# The GPU check, in one call of a few minutes on an NVIDIA machine (no Rust or
# network needed there). Run it from a folder holding the carried files:
#   traintop (from scripts/build-cuda.sh), libtraintop_plugin_*.so next to it,
#   configs/, data/, benches/torch_mlp.py
# It
#  1. trains configs/digits.toml for 50+ steps on the CPU and on CUDA from the
#     same seed (same initialization, same batches) and compares the per-step
#     losses (relative difference <= 1e-3) and the final parameters;
#  2. runs `traintop bench` on CUDA for 784-256-10 and 784-4096-4096-10 at
#     batch 1024 and the same steps in PyTorch on the same card;
#  3. prints one table (and writes gpu-check.json).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${TRAINTOP:-$here/traintop}
[ -x "$bin" ] || bin=$here/target/cuda/release/traintop
python=${PYTHON:-python3}
out=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo unknown)

echo "== 1. CPU and CUDA from the same initialization"
for device in cpu cuda; do
  "$bin" run "$here/configs/digits.toml" --headless --quiet --out "$out/$device" \
    --set run.device=$device --set run.epochs=2 --set run.log_every=1 >/dev/null
done
"$python" - "$out" <<'EOF'
import glob, json, sys
out = sys.argv[1]
def losses(device):
    path = glob.glob(f"{out}/{device}/*/metrics.jsonl")[0]
    rows = [json.loads(l) for l in open(path)]
    return [r["loss"] for r in rows if r.get("event") == "step"]
cpu, cuda = losses("cpu"), losses("cuda")
n = min(len(cpu), len(cuda))
assert n >= 50, f"only {n} steps"
worst = max(abs(a - b) / max(abs(a), 1e-8) for a, b in zip(cpu[:50], cuda[:50]))
print(f"steps compared: 50, worst relative loss difference: {worst:.2e}")
print("agreement:", "OK" if worst <= 1e-3 else "MISMATCH")
try:
    from safetensors.numpy import load_file
    a = load_file(glob.glob(f"{out}/cpu/*/checkpoints/last.safetensors")[0])
    b = load_file(glob.glob(f"{out}/cuda/*/checkpoints/last.safetensors")[0])
    import numpy as np
    d = max(float(np.max(np.abs(a[k] - b[k])) / (1e-6 + float(np.max(np.abs(a[k]))))) for k in a if k.startswith("layer"))
    print(f"final parameters, worst relative difference: {d:.2e}")
except ImportError:
    print("(safetensors not installed: parameters not compared)")
EOF

echo "== 2. throughput on $card"
rows=()
for layers in 784,256,10 784,4096,4096,10; do
  t=$("$bin" bench --device cuda --layers $layers --batch 1024 --steps 200 --json)
  p=$("$python" "$here/benches/torch_mlp.py" --device cuda --layers $layers --batch 1024 --steps 200)
  rows+=("$layers|$t|$p")
done
"$python" - "$card" "${rows[@]}" <<'EOF'
import json, sys
card, rows = sys.argv[1], sys.argv[2:]
print(f"{'MLP':<20} {'traintop samples/s':>20} {'pytorch samples/s':>20} {'ratio':>7}   ({card}, batch 1024, SGD)")
report = []
for r in rows:
    layers, t, p = r.split("|", 2)
    t, p = json.loads(t), json.loads(p)
    ratio = t["samples_per_sec"] / p["samples_per_sec"]
    print(f"{layers:<20} {t['samples_per_sec']:>20.0f} {p['samples_per_sec']:>20.0f} {ratio:>7.2f}")
    report.append({"layers": layers, "traintop": t, "pytorch": p, "ratio": ratio, "card": card})
json.dump(report, open("gpu-check.json", "w"), indent=1)
EOF
