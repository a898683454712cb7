#!/usr/bin/env bash
# CI's CUDA check, on a machine without a GPU or the CUDA toolkit:
#  1. installs NVIDIA's NVRTC, runtime headers and ptxas from PyPI (pinned
#     13.0.x: the lent GPU machines run driver 580 / CUDA 13.0, which refuses
#     PTX from a newer NVRTC), cached under target/cuda-wheels;
#  2. builds tests/fake_cuda's test driver (libcuda.so.1, an NVRTC wrapper
#     that forwards to the real NVRTC, libcublas.so.13) into target/fake-cuda;
#  3. builds tests/cuda_path.rs with `--features cuda` against the link stubs
#     of scripts/build-cuda.sh and runs it on the test driver:
#     - every_program_compiles_for_cuda: luminal_cuda compiles the train,
#       monitored and eval programs of every activation, objective,
#       optimizer, technique plugin and shipped config, every kernel through
#       the real NVRTC; no CPU primitive left, one GEMM per matmul, every
#       binding on a copy node, no tensor of 2^31 elements;
#     - cuda_trains_like_the_reference: the same cases train a few steps with
#       luminal_cuda's kernels executed on the CPU (and cuBLAS answered by a
#       reference GEMM) and match luminal's reference ops to 1e-5;
#  4. assembles every distinct PTX NVRTC produced with `ptxas -arch=sm_90`
#     (H100/H200).
# What this proves and what only a GPU proves: README, "GPUs".
#
#   bash scripts/cuda-compile-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

wheels="$root/target/cuda-wheels"
if [ ! -f "$wheels/.installed-13.0" ]; then
  echo "== installing NVRTC 13.0, the CUDA 13.0 headers and ptxas (PyPI)"
  rm -rf "$wheels"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$wheels" \
    nvidia-cuda-nvrtc==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-nvcc==13.0.88
  touch "$wheels/.installed-13.0"
fi
cuda="$wheels/nvidia/cu13"
for f in lib/libnvrtc.so.13 include/cuda_fp16.h bin/ptxas; do
  [ -e "$cuda/$f" ] || { echo "the NVIDIA wheels lack $f (under $cuda)" >&2; exit 1; }
done

echo "== link stubs and the test driver"
[ -d target/cuda-stubs/lib64 ] || bash scripts/build-cuda.sh
bash tests/fake_cuda/build.sh "$root/target/fake-cuda"

# The test driver's own test, against the real NVRTC: kernels launched over
# several grid shapes, GEMMs in every transpose, bounds checks.
env LD_LIBRARY_PATH="$root/target/fake-cuda" TRAINTOP_REAL_NVRTC="$cuda/lib/libnvrtc.so.13" \
  TRAINTOP_CUDA_INCLUDE="$cuda/include" TRAINTOP_FAKE_CUDA_CACHE="$root/target/fake-cuda-cache" \
  "$root/target/fake-cuda/smoke" 2>/dev/null | tail -1

echo "== building tests/cuda_path.rs with --features cuda"
tests=$(CUDA_ROOT="$root/target/cuda-stubs" cargo test --release --features cuda --target-dir target/cuda \
  --test cuda_path --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "cuda_path":
        print(m["executable"])')
[ -x "$tests" ] || { echo "the cuda_path test binary was not built" >&2; exit 1; }

ptx="$root/target/cuda-ptx"
rm -rf "$ptx" && mkdir -p "$ptx"
echo "== running $tests on the test driver"
# Run directly, not through cargo: cargo would put the link stubs first on
# the library path.
env LD_LIBRARY_PATH="$root/target/fake-cuda" \
  TRAINTOP_REAL_NVRTC="$cuda/lib/libnvrtc.so.13" \
  TRAINTOP_CUDA_INCLUDE="$cuda/include" \
  TRAINTOP_PTX_DIR="$ptx" \
  TRAINTOP_FAKE_CUDA_CACHE="$root/target/fake-cuda-cache" \
  "$tests" --test-threads 1

count=$(find "$ptx" -name '*.ptx' | wc -l)
[ "$count" -gt 0 ] || { echo "NVRTC produced no PTX: the tests compiled no kernel" >&2; exit 1; }
echo "== ptxas -arch=sm_90 on $count distinct PTX files"
failed=0
for f in "$ptx"/*.ptx; do
  if ! out=$("$cuda/bin/ptxas" -arch=sm_90 -o /dev/null "$f" 2>&1); then
    echo "ptxas refused $f: $out" >&2
    failed=$((failed + 1))
  fi
done
[ "$failed" = 0 ] || { echo "$failed of $count PTX files did not assemble for sm_90" >&2; exit 1; }
echo "cuda compile check passed: $count kernels assembled for sm_90"
