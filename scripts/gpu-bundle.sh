#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine (no Rust, no network
# there) into ONE git-ignored folder, target/gpu-bundle/, small enough to carry
# (64 MiB at most):
#
#   traintop                    the CUDA build (target/cuda/release/traintop)
#   cuda-path-tests             the CUDA test binary (tests/cuda_path.rs)
#   libtraintop_plugin_*.so     the plugins, beside both binaries (each finds
#                               plugins next to its own executable)
#   configs/ data/              what the tests and the runs read (TRAINTOP_ROOT)
#   benches/torch_mlp.py        the PyTorch side of the throughput comparison
#   scripts/gpu-check.sh        the check itself
#   MANIFEST                    git commit, then sha256, size and path of each
#                               file (gpu-check's probe verifies it)
#
# Build first (cargo is not run here):
#   bash scripts/build-cuda.sh
#   CUDA_ROOT=target/cuda-stubs cargo test --release --features cuda \
#     --target-dir target/cuda --test cuda_path --no-run
#   cargo build --release            # the plugins, if not built yet
# then
#   bash scripts/gpu-bundle.sh
# and run it on the GPU machine (carry target/gpu-bundle):
#   bash target/gpu-bundle/scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=target/gpu-bundle
limit=$((64 * 1024 * 1024))
# Room left under the limit for MANIFEST itself.
budget=$((limit - 64 * 1024))

die() { echo "gpu-bundle: $*" >&2; exit 1; }
warn() { echo "gpu-bundle: warning: $*" >&2; }

cuda_bin=target/cuda/release/traintop
build_bin="bash scripts/build-cuda.sh"
build_tests="CUDA_ROOT=target/cuda-stubs cargo test --release --features cuda --target-dir target/cuda --test cuda_path --no-run"

# The newest target/cuda/release/deps/cuda_path-<hash>: a file, executable, no
# extension (not the .d file).
tests=""
for f in target/cuda/release/deps/cuda_path-*; do
  case "${f##*/}" in *.*) continue ;; esac
  if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
  if [ -z "$tests" ] || [ "$f" -nt "$tests" ]; then tests=$f; fi
done

missing=0
if [ ! -f "$cuda_bin" ] || [ ! -x "$cuda_bin" ]; then
  echo "gpu-bundle: missing the CUDA traintop ($cuda_bin); build it with:" >&2
  echo "    $build_bin" >&2
  missing=1
fi
if [ -z "$tests" ]; then
  echo "gpu-bundle: missing the CUDA test binary (target/cuda/release/deps/cuda_path-<hash>); build it with:" >&2
  echo "    $build_tests" >&2
  missing=1
fi
[ "$missing" = 0 ] || exit 1

# Both must be CUDA builds: they name the driver library by its SONAME.
for b in "$cuda_bin" "$tests"; do
  readelf -d "$b" 2>/dev/null | grep -q 'NEEDED.*\[libcuda\.so\.1\]' \
    || die "$b does not link libcuda.so.1: not built with --features cuda (see the build commands above)"
done

plugins=(target/release/libtraintop_plugin_*.so)
[ -f "${plugins[0]}" ] || plugins=(target/release/deps/libtraintop_plugin_*.so)
[ -f "${plugins[0]}" ] || die "no plugins in target/release or target/release/deps (build them with: cargo build --release)"

# Binaries older than the sources they come from: say so (no failure; the
# integrator decides).
stale() { # BINARY WHAT PATHS...
  local bin=$1 what=$2 newer p paths=()
  shift 2
  for p in "$@"; do [ ! -e "$p" ] || paths+=("$p"); done
  [ ${#paths[@]} -gt 0 ] || return 0
  newer=$(find "${paths[@]}" -type f -newer "$bin" 2>/dev/null | head -3 | tr '\n' ' ' || true)
  [ -z "$newer" ] || warn "$bin is older than $what (e.g. $newer); rebuild?"
}
stale "$cuda_bin" "the sources" src build.rs Cargo.toml Cargo.lock
stale "$tests" "the sources or tests/cuda_path.rs" src build.rs Cargo.toml Cargo.lock tests/cuda_path.rs tests/common
for p in "${plugins[@]}"; do
  name=${p##*/libtraintop_plugin_}
  name=${name%.so}
  stale "$p" "plugins/$name" "plugins/$name"
done

git check-ignore -q "$bundle" 2>/dev/null || warn "$bundle is not git-ignored: the run tool carries only ignored paths"

rm -rf "$bundle"
mkdir -p "$bundle/scripts" "$bundle/benches"
cp "$cuda_bin" "$bundle/traintop"
cp "$tests" "$bundle/cuda-path-tests"
cp "${plugins[@]}" "$bundle/"
cp -R configs data "$bundle/"
cp benches/torch_mlp.py "$bundle/benches/"
cp scripts/gpu-check.sh "$bundle/scripts/"
# NVRTC 13 has no built-in cuda_fp16.h and luminal_cuda looks for it only in
# /usr/local/cuda/include: where the header is elsewhere, the probe puts this
# wrapper (tests/fake_cuda/nvrtc_shim.c: forwards to $TRAINTOP_REAL_NVRTC and
# adds -I$TRAINTOP_CUDA_INCLUDE) in front of the real NVRTC.
mkdir -p "$bundle/nvrtc-include-shim"
gcc -std=gnu11 -O2 -fPIC -shared -Wl,-soname,libnvrtc.so.13 -o "$bundle/nvrtc-include-shim/libnvrtc.so.13" \
  tests/fake_cuda/nvrtc_shim.c -ldl
chmod +x "$bundle/traintop" "$bundle/cuda-path-tests"

total() { find "$bundle" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
binaries=("$bundle/traintop" "$bundle/cuda-path-tests" "$bundle"/libtraintop_plugin_*.so)

size=$(total)
stripped=no
if [ "$size" -gt "$budget" ]; then
  command -v strip > /dev/null || die "$(mib "$size") is over the 64 MiB carry limit and strip is not installed"
  # Debug info first (backtraces keep their function names), then everything.
  echo "gpu-bundle: $(mib "$size") is over the limit: strip --strip-debug" >&2
  strip --strip-debug "${binaries[@]}"
  stripped=debug
  size=$(total)
  if [ "$size" -gt "$budget" ]; then
    echo "gpu-bundle: still $(mib "$size"): strip --strip-all (backtraces lose their names)" >&2
    strip --strip-all "${binaries[@]}"
    stripped=all
    size=$(total)
  fi
fi
if [ "$size" -gt "$budget" ]; then
  echo "gpu-bundle: $bundle is $(mib "$size") even stripped, over the 64 MiB carry limit. Largest files:" >&2
  find "$bundle" -type f -printf '%s %p\n' | sort -rn | head -8 | awk '{ printf "    %8.1f MiB  %s\n", $1 / 1048576, $2 }' >&2
  exit 1
fi

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=""
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || dirty=" (with uncommitted changes)"
{
  echo "# traintop GPU bundle (scripts/gpu-bundle.sh)"
  echo "# commit: $commit$dirty"
  echo "# made: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname 2>/dev/null || echo '?')"
  echo "# traintop <- $cuda_bin ($(date -u -r "$cuda_bin" +%Y-%m-%dT%H:%M:%SZ))"
  echo "# cuda-path-tests <- $tests ($(date -u -r "$tests" +%Y-%m-%dT%H:%M:%SZ))"
  echo "# plugins <- ${plugins[0]%/*}/"
  echo "# stripped: $stripped"
  echo "# sha256 size path"
  (cd "$bundle" && find . -type f ! -name MANIFEST -printf '%P\n' | LC_ALL=C sort | while read -r f; do
    printf '%s %s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
  done)
} > "$bundle/MANIFEST"

size=$(total)
[ "$size" -le "$limit" ] || die "$(mib "$size") with MANIFEST: over the 64 MiB carry limit"
files=$(find "$bundle" -type f | wc -l)
cat <<EOF
gpu-bundle: $bundle: $files files, $(mib "$size") of 64 MiB (stripped: $stripped), commit $commit$dirty
  traintop        <- $cuda_bin
  cuda-path-tests <- $tests
  plugins         <- ${plugins[0]%/*}/ (${#plugins[@]})
Run it on the GPU machine (about 7 minutes):
  carry:     ["$bundle"]
  command:   bash $bundle/scripts/gpu-check.sh
  timeout_s: 480
Results come back under \$OUT: gpu-check.json (one record per stage), <stage>.log, runs/, bench/.
EOF
