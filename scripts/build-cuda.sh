#!/usr/bin/env bash
# Builds a release traintop with the `cuda` feature on a machine WITHOUT the
# CUDA toolkit, for carrying to a GPU box (which has the driver and CUDA libs).
#
# luminal_cudarc's build script wants $CUDA_ROOT/include/cuda.h and links
# -lcuda -lnvrtc -lcublas -lcublasLt. This script supplies an empty cuda.h and
# stub shared libraries carrying the real SONAMEs (libcuda.so.1,
# libnvrtc.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10) and exactly the symbols
# the binary needs, found from a first link; at run time the dynamic loader
# binds to the real libraries of the GPU machine.
#
#   bash scripts/build-cuda.sh               # -> target/cuda/release/traintop
#   bash scripts/build-cuda.sh --check-only  # build and verify linkage (CI)
#
# With a real toolkit installed, plain `cargo build --release --features cuda`
# works and this script is not needed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
stubs="$root/target/cuda-stubs"
target="$root/target/cuda"
cuda_major=${CUDA_MAJOR:-13}

mkdir -p "$stubs/include" "$stubs/lib64" "$stubs/src"
: > "$stubs/include/cuda.h"

soname() {
  case "$1" in
    cuda) echo "libcuda.so.1" ;;
    curand) echo "libcurand.so.10" ;;
    *) echo "lib$1.so.$cuda_major" ;;
  esac
}

# Builds stub library $1 from the symbol list in $stubs/src/$1.syms.
make_stub() {
  local lib=$1 c="$stubs/src/$1.c"
  : > "$c"
  if [ -s "$stubs/src/$lib.syms" ]; then
    while read -r sym; do
      # The real library replaces this one at run time. Run against the stubs
      # (CI), the driver reports "no device" and describes its errors, so the
      # binary's own error handling can be tested without a GPU.
      case "$sym" in
        cuInit) echo 'int cuInit(unsigned f) { (void)f; return 100; /* CUDA_ERROR_NO_DEVICE */ }' >> "$c" ;;
        cuGetErrorString|cuGetErrorName)
          printf 'int %s(int e, const char **s) { (void)e; *s = "no CUDA driver (build stub)"; return 0; }\n' "$sym" >> "$c" ;;
        *) printf 'int %s(void) { return 999; }\n' "$sym" >> "$c" ;;
      esac
    done < "$stubs/src/$lib.syms"
  else
    echo 'int traintop_cuda_stub_placeholder(void) { return 0; }' > "$c"
  fi
  gcc -shared -fPIC -Wl,-soname,"$(soname "$lib")" -o "$stubs/lib64/lib$lib.so" "$c"
  ln -sf "lib$lib.so" "$stubs/lib64/$(soname "$lib")"
}

libs=(cuda nvrtc cublas cublasLt curand)
for l in "${libs[@]}"; do touch "$stubs/src/$l.syms"; make_stub "$l"; done
# Cargo does not know about the stubs: force the final link, so the symbol
# lists are always discovered against the current stubs.
rm -f "$target/release/traintop" "$target"/release/deps/traintop-*

build() {
  CUDA_ROOT="$stubs" cargo build --release --features cuda --bin traintop --target-dir "$target" "$@"
}

# Link against the stubs; each failed link reports undefined CUDA symbols (lld
# stops at 20 errors), which go into the stubs for the next try.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if build 2> "$stubs/link.log"; then
    break
  fi
  # GNU ld says "undefined reference to `x'", lld "undefined symbol: x".
  { grep -o "undefined reference to \`[A-Za-z0-9_]*'" "$stubs/link.log" | sed "s/.*\`\(.*\)'/\1/"
    grep -o "undefined symbol: [A-Za-z0-9_]*" "$stubs/link.log" | sed "s/undefined symbol: //"
  } | sort -u > "$stubs/new.txt" || true
  if [ ! -s "$stubs/new.txt" ] || [ "$attempt" = 10 ]; then
    echo "build failed for a reason other than CUDA symbols:" >&2
    grep -v "^ *Compiling" "$stubs/link.log" | tail -40 >&2
    exit 1
  fi
  while read -r sym; do
    case "$sym" in
      cublasLt*) lib=cublasLt ;;
      cublas*) lib=cublas ;;
      nvrtc*) lib=nvrtc ;;
      curand*) lib=curand ;;
      cu*) lib=cuda ;;
      *) echo "unexpected undefined symbol: $sym" >&2; exit 1 ;;
    esac
    grep -qx "$sym" "$stubs/src/$lib.syms" || echo "$sym" >> "$stubs/src/$lib.syms"
  done < "$stubs/new.txt"
  for l in "${libs[@]}"; do make_stub "$l"; done
  echo "stubbed $(cat "$stubs"/src/*.syms | wc -l) CUDA symbols so far" >&2
done

bin="$target/release/traintop"
echo "built $bin"
# Every CUDA symbol the binary imports must be in a stub (else it would not
# even start against them).
missing=$(LD_LIBRARY_PATH="$stubs/lib64" ldd -r "$bin" 2>&1 | grep "undefined symbol" || true)
[ -z "$missing" ] || { echo "$missing" >&2; exit 1; }
# The binary must name the real libraries, not the stubs' paths.
needed=$(readelf -d "$bin" | grep NEEDED || true)
echo "$needed"
echo "$needed" | grep -q "libcuda.so.1" || { echo "libcuda.so.1 is not linked" >&2; exit 1; }
if [ "${1:-}" = "--check-only" ]; then
  # Here, against the stubs (no GPU): the binary starts, trains on the CPU, and
  # refuses `cuda` with a clear error instead of a panic.
  export LD_LIBRARY_PATH="$stubs/lib64"
  "$bin" --version
  "$bin" bench --layers 64,32,10 --batch 16 --steps 5 --json
  set +e
  out=$("$bin" bench --device cuda --layers 64,32,10 --batch 16 --steps 5 2>&1); code=$?
  set -e
  echo "$out"
  [ "$code" = 2 ] && echo "$out" | grep -q "no usable NVIDIA GPU" || { echo "cuda without a GPU: expected exit 2 and a clear error" >&2; exit 1; }
  echo "cuda build check passed"
  exit 0
fi
cat <<EOF
Carry to the GPU machine: $bin, the plugins (target/release/libtraintop_plugin_*.so,
put them next to the binary), and data/ and configs/ as needed. Then:
  ./traintop bench --device cuda --layers 784,256,10 --batch 1024
  bash scripts/gpu-check.sh
EOF
