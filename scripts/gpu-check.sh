#!/usr/bin/env bash
# The GPU check: one call of about 7 minutes on an NVIDIA machine (no Rust, no
# network needed there), in stages. Each stage runs under its own timeout; a
# failed stage is recorded and the next one still runs (throughput only runs
# once the correctness gate passed).
#
#   probe       (30 s)  GPU, driver, CUDA libraries the loader finds, NVRTC,
#                       cuda_fp16.h; repairs LD_LIBRARY_PATH and
#                       TRAINTOP_CUDA_INCLUDE for the later stages when it can;
#                       compiles and runs one fp16 kernel through NVRTC and the
#                       driver (the way luminal_cuda does)
#   gate       (200 s)  ./cuda-path-tests: the CUDA backend against the
#                       Reference backend, every model of the matrix and config
#   trajectory  (60 s)  configs/digits.toml and configs/deep-sigmoid.toml,
#                       trained on cpu and on cuda from the same seed; per-step
#                       losses (first 60 steps, relative 1e-3) and the final
#                       parameters compared
#   throughput (120 s)  traintop bench --device cuda against benches/torch_mlp.py
#                       for 784-256-10 and 784-4096-4096-10, batch 1024, SGD
#
# Run it from the bundle made by scripts/gpu-bundle.sh (target/gpu-bundle):
#   bash target/gpu-bundle/scripts/gpu-check.sh [STAGE ...]
# (or from a checkout: it then takes target/cuda/release/traintop and the
# newest target/cuda/release/deps/cuda_path-*). Naming stages runs only those
# (the probe always runs: the later stages use its repairs).
#
# Output, in $OUT (default ./gpu-check-out): <stage>.log, the full log of each
# stage; gpu-check.json, rewritten (atomically) after every stage, so it is
# valid JSON whenever it exists; runs/ and bench/, the raw results. Exit 0
# when every stage that ran passed, 1 otherwise.
#
# Environment: OUT; TRAINTOP (the binary), CUDA_PATH_TESTS (the test binary),
# PYTHON (python3); GPU_CHECK_{PROBE,GATE,TRAJECTORY,THROUGHPUT}_S (stage
# budgets, seconds); GPU_CHECK_GATE_ARGS (extra test-binary arguments, e.g. a
# filter); the gate runs each test in its own process, side by side (it then
# takes its slowest test's time, not the sum; GPU_CHECK_GATE_PARALLEL=0 runs
# them one after another);
# TRAINTOP_CUDA_STEPS reaches the tests (steps per case); GPU_CHECK_TRAJ_EPOCHS (2: 90 steps), GPU_CHECK_TRAJ_TOL (1e-3),
# GPU_CHECK_BENCH_STEPS (200); GPU_CHECK_FORCE_THROUGHPUT=1 benches even
# without a passed gate.
#
# Never `set -e` here: every failure is recorded, none aborts the script.
# The stage functions are called as "stage_$name":
# shellcheck disable=SC2317

self=$(readlink -f "$0")
here=$(cd "$(dirname "$self")/.." && pwd)
all_stages=(probe gate trajectory throughput)

budget_of() {
  case "$1" in
    probe) echo "${GPU_CHECK_PROBE_S:-30}" ;;
    gate) echo "${GPU_CHECK_GATE_S:-200}" ;;
    trajectory) echo "${GPU_CHECK_TRAJECTORY_S:-60}" ;;
    throughput) echo "${GPU_CHECK_THROUGHPUT_S:-120}" ;;
    *) echo 0 ;;
  esac
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# JSON string (with quotes) of $1, for the records written without Python.
json_str() {
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037' | LC_ALL=C tr -c '\11\12\15\40-\176' '?')
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}

# ---------------------------------------------------------------- stage side
# Everything below runs inside `timeout ... bash gpu-check.sh --stage NAME`,
# stdout and stderr going to $OUT/NAME.log. A stage leaves its verdict in
# $GC_STATE/NAME.status (ok, failed, skipped) and its figures in
# $GC_STATE/NAME.figures.json; the parent records "timeout" when the stage's
# timeout killed it, and "failed" when it ended without a verdict.

# Seconds left before this stage's own timeout, minus a margin of $1.
left() {
  local l=$(( GC_DEADLINE - $(date +%s) - ${1:-0} ))
  [ "$l" -lt 1 ] && l=1
  echo "$l"
}

# slot CAP RESERVE [PARTS]: the smaller of CAP and what is left after
# reserving RESERVE seconds for what follows, but at least 1/PARTS of what is
# left (and 5 s).
slot() {
  local l all
  all=$(left 0)
  l=$(( all - $2 ))
  [ "$l" -ge $(( all / ${3:-1} )) ] || l=$(( all / ${3:-1} ))
  [ "$1" -lt "$l" ] && l=$1
  [ "$l" -lt 5 ] && l=5
  echo "$l"
}

# A verdict without figures from Python: verdict STAGE STATUS MESSAGE.
verdict() {
  local f="$GC_STATE/$1.figures.json"
  if [ ! -s "$f" ]; then
    printf '{"summary": %s}\n' "$(json_str "$3")" > "$f.tmp" && mv "$f.tmp" "$f"
  fi
  echo "$2" > "$GC_STATE/$1.status"
  echo "[$1] $2: $3"
}

have_py() { [ -n "$GC_PY" ] && [ -f "$GC_STATE/gc.py" ]; }
py() { "$GC_PY" "$GC_STATE/gc.py" "$@"; }

# Prefixes each line with the seconds since the start (to see which test or
# step took long), passing partial lines on at once (libtest's "test NAME ... "
# has no newline until the test ends); plain cat without Python.
stamp() {
  if [ -n "$GC_PY" ]; then
    "$GC_PY" -c 'import os, time
t, bol = time.time(), True
while True:
    b = os.read(0, 65536)
    if not b:
        break
    out, parts = bytearray(), b.split(b"\n")
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if last and not p:
            break
        if bol:
            out += b"[%7.2f] " % (time.time() - t)
        out += p
        bol = not last
        if not last:
            out += b"\n"
    os.write(1, bytes(out))'
  else
    cat
  fi
}

# limit SECONDS COMMAND...: the command under its own timeout, in its own
# process group (timeout's), recorded so that the parent can end what is left
# of it if the whole stage is stopped.
limit() {
  local t=$1 pid
  shift
  timeout -k 3 "$t" "$@" &
  pid=$!
  echo "$pid" >> "$GC_STATE/pgids"
  wait "$pid"
}

stage_probe() {
  echo "== probe: bundle $GC_HERE, traintop $GC_BIN, tests $GC_TESTS"
  if ! have_py; then
    # Without Python: what the shell alone can say.
    nvidia-smi 2>&1
    [ -e "$GC_BIN" ] && ldd "$GC_BIN" 2>&1
    verdict probe failed "python3 not found (PYTHON=${PYTHON:-python3}): probe incomplete"
    return 0
  fi
  py probe
  [ -f "$GC_STATE/probe.status" ] || verdict probe failed "the probe's Python part ended without a verdict"
  return 0
}

stage_gate() {
  echo "== gate: $GC_TESTS --test-threads 1 --nocapture ${GPU_CHECK_GATE_ARGS:-}$([ "${GPU_CHECK_GATE_PARALLEL:-1}" = 0 ] || echo " (one process per test, side by side)")"
  if [ ! -f "$GC_TESTS" ] || [ ! -x "$GC_TESTS" ]; then
    verdict gate failed "test binary not found: $GC_TESTS (build it with: CUDA_ROOT=target/cuda-stubs cargo test --release --features cuda --target-dir target/cuda --test cuda_path --no-run; then scripts/gpu-bundle.sh)"
    return 0
  fi
  local t rc t0 names n
  t=$(left 8)
  echo "TRAINTOP_ROOT=$GC_HERE, LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}, TRAINTOP_CUDA_INCLUDE=${TRAINTOP_CUDA_INCLUDE:-}, timeout ${t}s"
  t0=$(now)
  if [ "${GPU_CHECK_GATE_PARALLEL:-1}" != 0 ]; then
    # One process per test, side by side (each still --test-threads 1), each
    # to its own log; then one log as if serial, with each test's exit status.
    # shellcheck disable=SC2086 # GPU_CHECK_GATE_ARGS is a list of arguments
    names=$(cd "$GC_HERE" && limit 20 "$GC_TESTS" --list --format terse ${GPU_CHECK_GATE_ARGS:-} < /dev/null 2>/dev/null | sed -n 's/: test$//p')
    echo "-- parallel: $(echo "$names" | wc -w) test processes: $(echo "$names" | tr '\n' ' ')"
    mkdir -p "$GC_OUT/gate"
    for n in $names; do
      {
        (cd "$GC_HERE" && TRAINTOP_ROOT="$GC_HERE" RUST_BACKTRACE=1 \
          limit "$t" "$GC_TESTS" --exact "$n" --test-threads 1 --nocapture < /dev/null 2>&1) | stamp > "$GC_OUT/gate/$n.log"
        echo "${PIPESTATUS[0]}" > "$GC_OUT/gate/$n.rc"
      } &
    done
    wait
    rc=0
    for n in $names; do
      echo "-- $n: exit status $(cat "$GC_OUT/gate/$n.rc" 2>/dev/null || echo '?')"
      cat "$GC_OUT/gate/$n.log"
      [ "$(cat "$GC_OUT/gate/$n.rc" 2>/dev/null)" = 0 ] || rc=$(cat "$GC_OUT/gate/$n.rc" 2>/dev/null || echo 1)
    done
    [ -n "$names" ] || { echo "-- could not list the tests"; rc=1; }
    echo "-- test binaries: exit status $rc ($(elapsed "$t0" "$(now)") s)"
    have_py && py gate "$GC_OUT/gate.log" "$rc"
    [ -f "$GC_STATE/gate.status" ] || verdict gate failed "exit status $rc (not parsed)"
    return 0
  fi
  echo "-- test output (seconds since start in brackets)"
  # shellcheck disable=SC2086 # GPU_CHECK_GATE_ARGS is a list of arguments
  (cd "$GC_HERE" && TRAINTOP_ROOT="$GC_HERE" RUST_BACKTRACE=1 \
    limit "$t" "$GC_TESTS" --test-threads 1 --nocapture ${GPU_CHECK_GATE_ARGS:-} < /dev/null 2>&1) | stamp
  rc=${PIPESTATUS[0]}
  echo "-- test binary exit status: $rc ($(elapsed "$t0" "$(now)") s)"
  if have_py; then
    py gate "$GC_OUT/gate.log" "$rc"
  fi
  if [ ! -f "$GC_STATE/gate.status" ]; then
    if [ "$rc" = 0 ]; then verdict gate ok "test binary passed (exit 0; not parsed)"
    else verdict gate failed "test binary exit status $rc"; fi
  fi
  return 0
}

stage_trajectory() {
  local epochs=${GPU_CHECK_TRAJ_EPOCHS:-2} cfgs=(digits deep-sigmoid) cfg dev t
  echo "== trajectory: ${cfgs[*]} on cpu and cuda, $epochs epochs, log_every=1"
  if [ ! -x "$GC_BIN" ]; then
    verdict trajectory failed "traintop not found: $GC_BIN (build it with: bash scripts/build-cuda.sh; then scripts/gpu-bundle.sh)"
    return 0
  fi
  mkdir -p "$GC_OUT/runs/cpu" "$GC_OUT/runs/cuda"
  train() { # DEVICE CONFIG TIMEOUT
    local rc
    limit "$3" "$GC_BIN" run "$GC_HERE/configs/$2.toml" --headless --quiet \
      --out "$GC_OUT/runs/$1" --set run.device="$1" --set run.epochs="$epochs" \
      --set run.log_every=1 --set run.checkpoint_secs=0 < /dev/null > "$GC_OUT/runs/$1-$2.out" 2>&1
    rc=$?
    echo "$rc" > "$GC_STATE/traj.$1.$2.rc"
  }
  # The CPU runs take about a second each; the CUDA runs (graph compilation
  # through NVRTC) run side by side with what is left.
  for cfg in "${cfgs[@]}"; do
    t=$(slot 20 40)
    echo "-- cpu $cfg (timeout ${t}s)"
    train cpu "$cfg" "$t"
  done
  t=$(left 10)
  echo "-- cuda ${cfgs[*]} side by side (timeout ${t}s each)"
  for cfg in "${cfgs[@]}"; do train cuda "$cfg" "$t" & done
  wait
  for dev in cpu cuda; do
    for cfg in "${cfgs[@]}"; do
      echo "-- $dev $cfg: exit status $(cat "$GC_STATE/traj.$dev.$cfg.rc" 2>/dev/null || echo '?'); output:"
      cat "$GC_OUT/runs/$dev-$cfg.out" 2>/dev/null
    done
  done
  if have_py; then
    py trajectory "${cfgs[@]}"
  else
    verdict trajectory failed "python3 not found: runs not compared (see runs/)"
  fi
  return 0
}

stage_throughput() {
  local gate steps=${GPU_CHECK_BENCH_STEPS:-200} layers t rc n=0 name
  gate=$(cat "$GC_STATE/gate.status" 2>/dev/null || echo "not run")
  echo "== throughput: traintop bench --device cuda against benches/torch_mlp.py, batch 1024, SGD, $steps steps"
  if [ "$gate" != ok ] && [ -z "${GPU_CHECK_FORCE_THROUGHPUT:-}" ]; then
    verdict throughput skipped "the correctness gate did not pass (gate: $gate); GPU_CHECK_FORCE_THROUGHPUT=1 benches anyway"
    return 0
  fi
  have_py || { verdict throughput failed "python3 not found"; return 0; }
  mkdir -p "$GC_OUT/bench"
  # shellcheck disable=SC2054 # each element is one comma-separated list
  local shapes=(784,256,10 784,4096,4096,10)
  local total=$(( ${#shapes[@]} * 2 ))
  for layers in "${shapes[@]}"; do
    name=${layers//,/-}
    for impl in traintop pytorch; do
      n=$((n + 1))
      # Leave 20 s for each command after this one.
      t=$(slot 70 $(( (total - n) * 20 + 5 )) $(( total - n + 1 )))
      echo "-- $impl $layers (timeout ${t}s)"
      if [ "$impl" = traintop ]; then
        limit "$t" "$GC_BIN" bench --device cuda --layers "$layers" --batch 1024 \
          --steps "$steps" --optimizer sgd --json < /dev/null > "$GC_OUT/bench/$impl-$name.json" 2> "$GC_OUT/bench/$impl-$name.err"
      else
        limit "$t" "$GC_PY" "$GC_HERE/benches/torch_mlp.py" --device cuda --layers "$layers" \
          --batch 1024 --steps "$steps" --optimizer sgd < /dev/null > "$GC_OUT/bench/$impl-$name.json" 2> "$GC_OUT/bench/$impl-$name.err"
      fi
      rc=$?
      cat "$GC_OUT/bench/$impl-$name.json" "$GC_OUT/bench/$impl-$name.err"
      echo "-- exit status $rc"
      py bench "$impl" "$layers" "$rc"
    done
  done
  py bench-verdict
  [ -f "$GC_STATE/throughput.status" ] || verdict throughput failed "no verdict from the bench summary"
  return 0
}

# --------------------------------------------------------------- parent side

# gpu-check.json from the stage records (Python), or a plainer one without.
assemble() {
  if have_py && py assemble "$1"; then
    return 0
  fi
  local f="$GC_OUT/gpu-check.json" m first=1 name status seconds rc budget fig
  {
    printf '{"script": "gpu-check.sh", "complete": %s, "started": %s, "bundle": %s, "stages": [' \
      "$1" "$(json_str "$GC_STARTED")" "$(json_str "$GC_HERE")"
    for m in "$GC_STATE"/*.meta; do
      [ -f "$m" ] || continue
      name=$(sed -n 's/^stage=//p' "$m"); status=$(sed -n 's/^status=//p' "$m")
      seconds=$(sed -n 's/^seconds=//p' "$m"); rc=$(sed -n 's/^rc=//p' "$m"); budget=$(sed -n 's/^budget_s=//p' "$m")
      [ "$first" = 1 ] || printf ', '
      first=0
      # The figures, when there are any, are JSON from verdict or json.dump.
      fig='{}'
      if [ -s "$GC_STATE/$name.figures.json" ] && [ "$(head -c 1 "$GC_STATE/$name.figures.json")" = '{' ]; then
        fig=$(cat "$GC_STATE/$name.figures.json")
      fi
      printf '{"stage": %s, "status": %s, "seconds": %s, "budget_s": %s, "rc": %s, "log": %s, "figures": %s, "log_tail": %s}' \
        "$(json_str "$name")" "$(json_str "$status")" "${seconds:-0}" "${budget:-0}" "${rc:-0}" \
        "$(json_str "$name.log")" "$fig" "$(json_str "$(tail -n 30 "$GC_OUT/$name.log" 2>/dev/null)")"
    done
    printf ']}\n'
  } > "$f.tmp" && mv "$f.tmp" "$f"
}

# Ends the process groups of the stage's commands that outlived it (only
# after the stage's own timeout: each command's timeout ends it otherwise).
end_leftovers() {
  local pid sig
  [ -f "$GC_STATE/pgids" ] || return 0
  for sig in TERM KILL; do
    while read -r pid; do
      if [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]; then
        echo "[gpu-check] ending what is left of process group $pid (SIG$sig)" >> "$GC_OUT/$name.log"
        kill -s "$sig" -- "-$pid" 2>/dev/null
        [ "$sig" = TERM ] && sleep 1
      fi
    done < "$GC_STATE/pgids"
  done
  rm -f "$GC_STATE/pgids"
}

run_stage() {
  local name=$1 idx=$2 budget t0 rc secs status
  budget=$(budget_of "$name")
  echo "[gpu-check] $name (budget ${budget}s) ..."
  t0=$(now)
  GC_STAGE=$name GC_DEADLINE=$(( $(date +%s) + budget )) \
    timeout -k 5 "$budget" bash "$self" --stage "$name" > "$GC_OUT/$name.log" 2>&1
  rc=$?
  secs=$(elapsed "$t0" "$(now)")
  end_leftovers
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    status=timeout
    echo "[gpu-check] $name: stopped by its ${budget}s timeout" >> "$GC_OUT/$name.log"
    # What the gate's log says so far (which test was running).
    [ "$name" = gate ] && have_py && py gate "$GC_OUT/gate.log" "$rc" figures-only
  elif [ -s "$GC_STATE/$name.status" ]; then
    status=$(head -1 "$GC_STATE/$name.status")
  else
    status=failed
    echo "[gpu-check] $name: ended with exit status $rc and no verdict" >> "$GC_OUT/$name.log"
  fi
  printf 'stage=%s\nstatus=%s\nseconds=%s\nrc=%s\nbudget_s=%s\n' "$name" "$status" "$secs" "$rc" "$budget" \
    > "$GC_STATE/$idx-$name.meta"
  assemble false
  echo "[gpu-check] $name: $status (${secs}s)"
  if [ "$status" != ok ] && [ "$status" != skipped ]; then
    echo "[gpu-check] last lines of $name.log:"
    tail -n 12 "$GC_OUT/$name.log" | cut -c1-300 | sed 's/^/    /'
  fi
}

main() {
  local stages=() s idx=0 failed=0
  for s in "$@"; do
    case " ${all_stages[*]} " in
      *" $s "*) ;;
      *) echo "unknown stage: $s (stages: ${all_stages[*]})" >&2; exit 2 ;;
    esac
  done
  if [ $# -eq 0 ]; then
    stages=("${all_stages[@]}")
  else
    stages=(probe)
    for s in gate trajectory throughput; do
      case " $* " in *" $s "*) stages+=("$s") ;; esac
    done
  fi

  GC_OUT=${OUT:-$PWD/gpu-check-out}
  mkdir -p "$GC_OUT" || { echo "cannot create $GC_OUT" >&2; exit 1; }
  GC_OUT=$(cd "$GC_OUT" && pwd)
  GC_STATE=$GC_OUT/.state
  rm -rf "$GC_STATE" "$GC_OUT/runs" "$GC_OUT/bench" "$GC_OUT/gpu-check.json"
  for s in "${all_stages[@]}"; do rm -f "$GC_OUT/$s.log"; done
  mkdir -p "$GC_STATE"

  GC_HERE=$here
  GC_BIN=${TRAINTOP:-}
  if [ -z "$GC_BIN" ]; then
    GC_BIN=$here/traintop
    [ -x "$GC_BIN" ] || [ ! -x "$here/target/cuda/release/traintop" ] || GC_BIN=$here/target/cuda/release/traintop
  fi
  GC_TESTS=${CUDA_PATH_TESTS:-}
  if [ -z "$GC_TESTS" ]; then
    GC_TESTS=$here/cuda-path-tests
    if [ ! -x "$GC_TESTS" ]; then
      # From a checkout: the newest cuda_path-<hash> executable (no extension).
      for s in "$here"/target/cuda/release/deps/cuda_path-*; do
        case "${s##*/}" in *.*) continue ;; esac
        if [ -f "$s" ] && [ -x "$s" ] && { [ ! -x "$GC_TESTS" ] || [ "$s" -nt "$GC_TESTS" ]; }; then GC_TESTS=$s; fi
      done
    fi
  fi
  GC_PY=$(command -v "${PYTHON:-python3}" 2>/dev/null || true)
  GC_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  export GC_OUT GC_STATE GC_HERE GC_BIN GC_TESTS GC_PY GC_STARTED
  export GC_STAGES="${stages[*]}"
  [ -n "$GC_PY" ] && write_helper

  echo "[gpu-check] bundle $GC_HERE -> $GC_OUT; stages: ${stages[*]}"
  assemble false
  for s in "${stages[@]}"; do
    idx=$((idx + 1))
    run_stage "$s" "$idx"
    # The probe's repairs (LD_LIBRARY_PATH, TRAINTOP_CUDA_INCLUDE) hold for
    # the later stages.
    if [ "$s" = probe ] && [ -f "$GC_STATE/env.sh" ]; then
      # shellcheck disable=SC1091
      . "$GC_STATE/env.sh"
      echo "[gpu-check] from the probe: $(grep -c '^export' "$GC_STATE/env.sh") repaired setting(s): $(sed -n 's/^export \([A-Z_]*\)=.*/\1/p' "$GC_STATE/env.sh" | tr '\n' ' ')"
    fi
  done
  assemble true
  echo
  if have_py; then
    py table
  else
    for s in "$GC_STATE"/*.meta; do
      [ -f "$s" ] && printf '%-12s %-8s %6ss\n' "$(sed -n 's/^stage=//p' "$s")" "$(sed -n 's/^status=//p' "$s")" "$(sed -n 's/^seconds=//p' "$s")"
    done
  fi
  echo "[gpu-check] results: $GC_OUT/gpu-check.json, logs: $GC_OUT/<stage>.log"
  for s in "$GC_STATE"/*.meta; do
    [ -f "$s" ] || continue
    grep -qx 'status=ok' "$s" || failed=1
  done
  exit "$failed"
}

# ------------------------------------------------------- the Python helper
# (standard library only: no numpy, no safetensors package needed)
write_helper() {
  cat > "$GC_STATE/gc.py" <<'PY'
import array, ctypes, glob, hashlib, importlib.util, json, math, os, re, shlex
import shutil, site, struct, subprocess, sys, time

STATE = os.environ.get("GC_STATE", ".")
OUT = os.environ.get("GC_OUT", ".")
HERE = os.environ.get("GC_HERE", ".")
BIN = os.environ.get("GC_BIN", "")
TESTS = os.environ.get("GC_TESTS", "")
CUDA_LIBS = ["libcuda.so.1", "libnvrtc.so.13", "libcublas.so.13", "libcublasLt.so.13"]
CUDA_LIB_RE = re.compile(r"^lib(cuda|nvrtc|cublas|cublasLt|curand|cudart|nvJitLink)\.so")


def clean(o):
    """JSON-safe: no NaN or infinity (strict JSON has none)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else str(o)
    if isinstance(o, dict):
        return {str(k): clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    if o is None or isinstance(o, (bool, int, str)):
        return o
    return str(o)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(clean(obj), f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)


def figures(stage, obj, status=None):
    write_json(f"{STATE}/{stage}.figures.json", obj)
    if status:
        with open(f"{STATE}/{stage}.status", "w") as f:
            f.write(status + "\n")


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return default


def run(cmd, timeout, env=None):
    """(exit status, stdout+stderr); 127 when missing, 124 on timeout."""
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, env=env)
        return r.returncode, r.stdout.decode("utf-8", "replace")
    except FileNotFoundError as e:
        return 127, str(e)
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or b"").decode("utf-8", "replace") + f"\n(timed out after {timeout}s)"
    except Exception as e:
        return 1, f"{type(e).__name__}: {e}"


def tail(path, n=25, width=400):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
        return "\n".join(l[:width] for l in lines)
    except OSError:
        return ""


def rel(path):
    try:
        return os.path.relpath(path, OUT)
    except ValueError:
        return path


def fmt(x, spec=".2e"):
    return "n/a" if x is None else format(x, spec)


# ------------------------------------------------------------------- probe
def nvidia_dirs():
    """Folders of NVIDIA's Python wheels (nvidia/<component>/)."""
    dirs = []
    try:
        spec = importlib.util.find_spec("nvidia")
        if spec and spec.submodule_search_locations:
            dirs += list(spec.submodule_search_locations)
    except Exception:
        pass
    sps = []
    try:
        sps += site.getsitepackages() + [site.getusersitepackages()]
    except Exception:
        pass
    sps += [p for p in sys.path if p.endswith("-packages")]
    dirs += [os.path.join(p, "nvidia") for p in sps]
    seen, out = set(), []
    for d in dirs:
        if os.path.isdir(d) and os.path.realpath(d) not in seen:
            seen.add(os.path.realpath(d))
            out.append(d)
    return out


def torch_lib_dir():
    try:
        spec = importlib.util.find_spec("torch")
        if spec and spec.origin:
            d = os.path.join(os.path.dirname(spec.origin), "lib")
            if os.path.isdir(d):
                return d
    except Exception:
        pass
    return None


def lib_search_dirs():
    dirs = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    dirs += ["/usr/local/cuda/lib64", "/usr/local/cuda/lib"]
    dirs += sorted(glob.glob("/usr/local/cuda*/lib64")) + sorted(glob.glob("/usr/local/cuda*/targets/*/lib"))
    dirs += ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/lib/wsl/lib",
             "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib"]
    for n in nvidia_dirs():
        dirs += sorted(glob.glob(os.path.join(n, "*", "lib"))) + [os.path.join(n, "lib")]
    t = torch_lib_dir()
    if t:
        dirs.append(t)
    if os.environ.get("CONDA_PREFIX"):
        dirs.append(os.path.join(os.environ["CONDA_PREFIX"], "lib"))
    seen, out = set(), []
    for d in dirs:
        if os.path.isdir(d) and d not in seen:
            seen.add(d)
            out.append(d)
    return out


def find_lib(soname, dirs):
    """Files named soname (or soname.*), never a toolkit stub."""
    found = []
    for d in dirs:
        for p in [os.path.join(d, soname)] + sorted(glob.glob(os.path.join(d, soname + ".*"))):
            if os.path.isfile(p) and "/stubs/" not in p and p not in found:
                found.append(p)
    if not found:
        found = [p for p in find_everywhere() if os.path.basename(p).startswith(soname)]
    # The driver's own libcuda before a forward-compatibility one.
    found.sort(key=lambda p: "/compat/" in p)
    return found


_FOUND = None


def find_everywhere():
    """CUDA libraries under /usr/local, /opt and /usr/lib: one bounded find."""
    global _FOUND
    if _FOUND is None:
        rc, out = run(["find", "/usr/local", "/opt", "/usr/lib", "-maxdepth", "7", "(", "-name", "libcuda.so*",
                       "-o", "-name", "libnvrtc*", "-o", "-name", "libcublas*", "-o", "-name", "libcurand*", ")",
                       "-not", "-path", "*/stubs/*"], 6)
        _FOUND = [l for l in out.splitlines() if l.startswith("/") and os.path.isfile(l)]
    return _FOUND


def ldd(path, env):
    rc, out = run(["ldd", path], 5, env)
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (not found|(\S+))", line)
        if m:
            libs[m.group(1)] = None if m.group(2) == "not found" else m.group(3)
    return rc, out, libs


def ldconfig_map():
    exe = shutil.which("ldconfig") or "/sbin/ldconfig"
    rc, out = run([exe, "-p"], 5)
    m = {}
    for line in out.splitlines():
        r = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if r and CUDA_LIB_RE.match(r.group(1)):
            m.setdefault(r.group(1), []).append(r.group(3))
    return m


def find_include():
    """Folders holding cuda_fp16.h, best first."""
    cands = []
    if os.environ.get("TRAINTOP_CUDA_INCLUDE"):
        cands.append(os.environ["TRAINTOP_CUDA_INCLUDE"])
    cands += ["/usr/local/cuda/include"] + sorted(glob.glob("/usr/local/cuda*/include"))
    cands += sorted(glob.glob("/usr/local/cuda*/targets/*/include"))
    for n in nvidia_dirs():
        cands += [os.path.join(n, "cu13", "include"), os.path.join(n, "cuda_runtime", "include"),
                  os.path.join(n, "cuda_nvrtc", "include")] + sorted(glob.glob(os.path.join(n, "*", "include")))
    if os.environ.get("CONDA_PREFIX"):
        cands.append(os.path.join(os.environ["CONDA_PREFIX"], "include"))
    cands += ["/usr/include", "/opt/conda/include"]
    out = []
    for d in cands:
        if os.path.isfile(os.path.join(d, "cuda_fp16.h")) and d not in out:
            out.append(d)
    return out


def header_cuda_version(d):
    for name, macro in (("cuda.h", "CUDA_VERSION"), ("cuda_runtime_api.h", "CUDART_VERSION")):
        try:
            m = re.search(r"#define\s+%s\s+(\d+)" % macro, open(os.path.join(d, name), errors="replace").read())
            if m:
                v = int(m.group(1))
                return f"{v // 1000}.{(v % 1000) // 10}"
        except OSError:
            pass
    return None


def verify_manifest():
    path = os.path.join(HERE, "MANIFEST")
    if not os.path.isfile(path):
        return {"present": False}
    res = {"present": True, "files": 0, "mismatched": [], "missing": []}
    for line in open(path, errors="replace"):
        if line.startswith("#"):
            m = re.match(r"#\s*commit:\s*(\S+)(.*)", line)
            if m:
                res["commit"] = (m.group(1) + m.group(2)).strip()
            continue
        parts = line.split()
        if len(parts) != 3:
            continue
        digest, size, name = parts
        res["files"] += 1
        p = os.path.join(HERE, name)
        if not os.path.isfile(p):
            res["missing"].append(name)
            continue
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != digest:
            res["mismatched"].append(name)
    return res


def pkg_versions():
    out = {}
    try:
        import importlib.metadata as md
    except ImportError:
        return out
    for p in ("torch", "numpy", "safetensors", "nvidia-cuda-nvrtc", "nvidia-cuda-runtime", "nvidia-cublas"):
        try:
            out[p] = md.version(p)
        except Exception:
            out[p] = None
    return out


def cmd_probe(args):
    f = {"bundle": HERE, "traintop": BIN, "tests": TESTS}
    problems = []
    notes = []
    env = dict(os.environ)
    print(f"python {sys.version.split()[0]} at {sys.executable}")
    f["python"] = sys.version.split()[0]
    f["cpus"] = os.cpu_count()
    f["host"] = os.uname().nodename
    f["packages"] = pkg_versions()
    print("packages:", f["packages"])

    f["manifest"] = verify_manifest()
    print("MANIFEST:", f["manifest"])
    if f["manifest"].get("mismatched") or f["manifest"].get("missing"):
        problems.append("bundle files differ from MANIFEST: %s" % (f["manifest"]["mismatched"] + f["manifest"]["missing"]))

    # GPU as nvidia-smi sees it.
    smi = shutil.which("nvidia-smi")
    f["nvidia_smi"] = smi
    gpus = []
    if smi:
        rc, out = run([smi], 8)
        print(out)
        m = re.search(r"CUDA Version:\s*([\d.]+)", out)
        f["smi_cuda_version"] = m.group(1) if m else None
        fields = ["index", "name", "driver_version", "memory.total", "memory.used", "compute_cap", "pci.bus_id",
                  "clocks.max.sm", "power.limit", "mig.mode.current", "persistence_mode"]
        for attempt in (fields, [x for x in fields if x != "compute_cap"]):
            rc, out = run([smi, "--query-gpu=" + ",".join(attempt), "--format=csv"], 6)
            print(out)
            lines = [l for l in out.splitlines() if l.strip()]
            if rc == 0 and lines:
                header = [h.strip() for h in lines[0].split(",")]
                for l in lines[1:]:
                    gpus.append(dict(zip(header, [v.strip() for v in l.split(",")])))
                break
        if not gpus:
            problems.append("nvidia-smi lists no GPU")
    else:
        problems.append("nvidia-smi not found: no NVIDIA driver here")
    f["gpus"] = gpus
    figures("probe", f)
    rc, out = run([shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc", "--version"], 5)
    f["nvcc"] = (re.findall(r"release [^\n]*", out) or [None])[0] if rc == 0 else None
    print("nvcc:", f["nvcc"])

    # The CUDA libraries the binaries need, as the loader finds them.
    needed = []
    bins = {k: p for k, p in (("traintop", BIN), ("tests", TESTS)) if p and os.path.isfile(p)}
    f["ldd_before"] = {}
    for k, p in bins.items():
        rc, out, libs = ldd(p, env)
        print(f"ldd {p} (rc {rc}):\n{out}")
        f["ldd_before"][k] = {l: v for l, v in libs.items() if CUDA_LIB_RE.match(l)}
        for l in libs:
            if CUDA_LIB_RE.match(l) and l not in needed:
                needed.append(l)
    if "traintop" in bins and "libcuda.so.1" not in f["ldd_before"]["traintop"]:
        problems.append(f"{BIN} does not link libcuda.so.1: not a cuda build (scripts/build-cuda.sh)")
    if not bins:
        problems.append("neither traintop nor the test binary is here")
    # What the binaries link (ldd); the usual set when there is no CUDA binary.
    if not needed:
        needed = list(CUDA_LIBS)
    f["needed"] = needed
    figures("probe", f)
    f["ldconfig"] = ldconfig_map()
    dirs = lib_search_dirs()
    f["search_dirs"] = dirs
    libs = {}
    add = []
    for l in needed:
        loader = None
        for k in bins:
            loader = loader or f["ldd_before"][k].get(l)
        if not loader and f["ldconfig"].get(l):
            loader = f["ldconfig"][l][0]
        cands = find_lib(l, dirs)
        info = {"loader": loader, "candidates": cands[:8]}
        if loader and "/stubs/" in loader:
            info["stub"] = True
            loader = None
        if not loader:
            if cands:
                d = os.path.dirname(cands[0])
                info["repair"] = d
                if d not in add:
                    add.append(d)
            else:
                info["missing"] = True
        libs[l] = info
    # NVRTC loads libnvrtc-builtins.so.<major>.<minor> by name at run time.
    nvrtc = libs.get("libnvrtc.so.13", {})
    nvrtc_path = nvrtc.get("loader") or (nvrtc.get("candidates") or [None])[0]
    if nvrtc_path:
        d = os.path.dirname(os.path.realpath(nvrtc_path))
        b = sorted(glob.glob(os.path.join(d, "libnvrtc-builtins.so.13*")))
        if not b:
            b = [p for p in find_lib("libnvrtc-builtins.so.13", dirs)]
            if b and os.path.dirname(b[0]) not in add:
                add.append(os.path.dirname(b[0]))
        libs["libnvrtc-builtins.so.13*"] = {"candidates": b[:4], "missing": not b}
    f["libs"] = libs
    exports = {}
    old = os.environ.get("LD_LIBRARY_PATH", "")
    add = [d for d in add if d not in old.split(":")]
    if add:
        exports["LD_LIBRARY_PATH"] = ":".join(add + ([old] if old else []))
        env["LD_LIBRARY_PATH"] = exports["LD_LIBRARY_PATH"]
        notes.append("LD_LIBRARY_PATH += " + ":".join(add))
        print("repair: LD_LIBRARY_PATH =", exports["LD_LIBRARY_PATH"])
    f["ldd_after"] = {}
    for k, p in bins.items():
        rc, out, after = ldd(p, env)
        f["ldd_after"][k] = {l: v for l, v in after.items() if CUDA_LIB_RE.match(l)}
        if add:
            print(f"ldd {p} after the repair (rc {rc}):\n{out}")
        bad = [l for l, v in f["ldd_after"][k].items() if not v or "/stubs/" in v]
        if bad:
            problems.append(f"{k}: the loader does not find {', '.join(bad)}")
    for l, info in libs.items():
        if info.get("missing") and any(l in f["ldd_after"].get(k, {}) for k in bins):
            problems.append(f"{l} not found anywhere")

    # cuda_fp16.h: luminal_cuda compiles with --include-path=/usr/local/cuda/include.
    incs = find_include()
    f["cuda_fp16_h"] = {"usr_local_cuda": os.path.isfile("/usr/local/cuda/include/cuda_fp16.h"),
                        "found": [{"dir": d, "cuda_version": header_cuda_version(d)} for d in incs[:6]]}
    inc = None
    if os.environ.get("TRAINTOP_CUDA_INCLUDE") and os.path.isfile(os.path.join(os.environ["TRAINTOP_CUDA_INCLUDE"], "cuda_fp16.h")):
        inc = os.environ["TRAINTOP_CUDA_INCLUDE"]
    elif not f["cuda_fp16_h"]["usr_local_cuda"] and incs:
        inc = incs[0]
        exports["TRAINTOP_CUDA_INCLUDE"] = inc
        notes.append("TRAINTOP_CUDA_INCLUDE=" + inc)
        print("repair: TRAINTOP_CUDA_INCLUDE =", inc)
        # luminal_cuda reads no include path: the bundle's NVRTC wrapper adds it.
        shim = os.path.join(os.environ.get("GC_HERE", "."), "nvrtc-include-shim")
        if nvrtc_path and os.path.isfile(os.path.join(shim, "libnvrtc.so.13")):
            exports["TRAINTOP_REAL_NVRTC"] = os.path.realpath(nvrtc_path)
            exports["LD_LIBRARY_PATH"] = shim + ":" + exports.get("LD_LIBRARY_PATH", env.get("LD_LIBRARY_PATH", ""))
            env["LD_LIBRARY_PATH"] = exports["LD_LIBRARY_PATH"]
            notes.append("NVRTC through the bundle's include wrapper")
            print("repair: NVRTC through", shim, "forwarding to", exports["TRAINTOP_REAL_NVRTC"])
        else:
            problems.append("cuda_fp16.h is not in /usr/local/cuda/include and the NVRTC wrapper is missing")
    elif not incs:
        problems.append("cuda_fp16.h not found (NVRTC 13 has no built-in one)")
    f["traintop_cuda_include"] = inc

    # NVRTC and the driver through ctypes, in a child (a crash stays there).
    f["exports"] = exports
    with open(f"{STATE}/env.sh", "w") as fh:
        for k, v in exports.items():
            fh.write(f"export {k}={shlex.quote(v)}\n")
    f["problems"], f["notes"] = problems, notes
    figures("probe", f)
    rc, out = run([sys.executable, os.path.abspath(__file__), "cuda-smoke", nvrtc_path or "libnvrtc.so.13", inc or ""], 15, env)
    print(f"cuda smoke test (rc {rc}):\n{out}")
    smoke = None
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            try:
                smoke = json.loads(line)
                break
            except ValueError:
                pass
    if smoke is None:
        smoke = {"error": f"the smoke test ended with rc {rc} and no result", "output_tail": out[-1500:]}
        problems.append(smoke["error"])
    f["cuda"] = smoke
    if "nvrtc_error" in smoke:
        problems.append("NVRTC: " + smoke["nvrtc_error"])
    comp = smoke.get("compile", {})
    luminal_ok = comp.get("luminal", {}).get("ok")
    with_inc_ok = comp.get("with_traintop_include", {}).get("ok")
    if comp and not luminal_ok and not with_inc_ok:
        problems.append("NVRTC cannot compile an fp16 kernel with luminal_cuda's options")
    elif comp and not luminal_ok:
        notes.append("the fp16 kernel compiles only with TRAINTOP_CUDA_INCLUDE")
    if "driver_error" in smoke:
        problems.append("driver: " + smoke["driver_error"])
    elif smoke.get("kernel", {}).get("ok") is False:
        problems.append("kernel smoke test: " + str(smoke["kernel"].get("error")))

    g = gpus[0] if gpus else {}
    dev = (smoke.get("devices") or [{}])[0]
    parts = [g.get("name") or dev.get("name") or "no GPU"]
    if g.get("driver_version"):
        parts.append("driver " + g["driver_version"])
    if smoke.get("driver_cuda_version"):
        parts.append("CUDA " + smoke["driver_cuda_version"])
    cc = g.get("compute_cap") or dev.get("compute_capability")
    if cc:
        parts.append("cc " + cc)
    if smoke.get("nvrtc_version"):
        parts.append("nvrtc " + smoke["nvrtc_version"])
    if smoke.get("kernel", {}).get("ok"):
        parts.append("fp16 kernel ran")
    f["problems"] = problems
    f["notes"] = notes
    f["summary"] = ", ".join(parts) + ("; " + "; ".join(notes) if notes else "") + (
        f"; {len(problems)} PROBLEM(S): " + "; ".join(p[:120] for p in problems) if problems else "")
    print("problems:", problems)
    print("notes:", notes)
    figures("probe", f, "ok" if not problems else "failed")


SMOKE_SRC = b"""#include "cuda_fp16.h"
extern "C" __global__ void gpu_check_kernel(float *out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { __half h = __float2half((float)i); out[i] = __half2float(h) * 2.0f; }
}
"""


def cmd_cuda_smoke(args):
    """NVRTC version and an fp16 compile (luminal_cuda's options), then the
    driver: version, devices, and the kernel loaded, run and read back."""
    nvrtc_path, inc = args[0], (args[1] if len(args) > 1 else "")
    res = {}
    C = ctypes
    ptx = None
    # The driver first and global, as in a linked binary (traintop's test
    # driver learns each PTX's source from NVRTC at nvrtcGetPTX).
    try:
        cu = C.CDLL("libcuda.so.1", mode=C.RTLD_GLOBAL)
    except OSError as e:
        cu, cu_error = None, str(e)
    try:
        # Global, as for a linked binary (a driver may look for NVRTC's symbols).
        nv = C.CDLL(nvrtc_path, mode=C.RTLD_GLOBAL)
        ma, mi = C.c_int(), C.c_int()
        nv.nvrtcVersion(C.byref(ma), C.byref(mi))
        res["nvrtc_version"] = f"{ma.value}.{mi.value}"
        n = C.c_int()
        if hasattr(nv, "nvrtcGetNumSupportedArchs") and nv.nvrtcGetNumSupportedArchs(C.byref(n)) == 0:
            arr = (C.c_int * n.value)()
            nv.nvrtcGetSupportedArchs(arr)
            res["nvrtc_archs"] = list(arr)
        nv.nvrtcGetErrorString.restype = C.c_char_p

        def compile_(opts):
            prog = C.c_void_p()
            r = nv.nvrtcCreateProgram(C.byref(prog), SMOKE_SRC, b"gpu_check.cu", 0, None, None)
            if r:
                return {"ok": False, "error": nv.nvrtcGetErrorString(r).decode()}, None
            o = (C.c_char_p * len(opts))(*[x.encode() for x in opts])
            t = time.time()
            r = nv.nvrtcCompileProgram(prog, len(opts), o)
            out = {"ok": r == 0, "options": opts, "seconds": round(time.time() - t, 3)}
            size = C.c_size_t()
            nv.nvrtcGetProgramLogSize(prog, C.byref(size))
            buf = C.create_string_buffer(size.value + 1)
            nv.nvrtcGetProgramLog(prog, buf)
            if buf.value.strip():
                out["log"] = buf.value.decode("utf-8", "replace")[-1500:]
            code = None
            if r == 0:
                nv.nvrtcGetPTXSize(prog, C.byref(size))
                pbuf = C.create_string_buffer(size.value + 1)
                r2 = nv.nvrtcGetPTX(prog, pbuf)
                if r2 == 0:
                    code = pbuf.raw[:size.value]
                    out["ptx_bytes"] = size.value
                else:
                    out["ok"] = False
                    out["error"] = "nvrtcGetPTX: " + nv.nvrtcGetErrorString(r2).decode()
            else:
                out["error"] = nv.nvrtcGetErrorString(r).decode()
            nv.nvrtcDestroyProgram(C.byref(prog))
            return out, code

        comp = {}
        comp["luminal"], ptx = compile_(["--include-path=/usr/local/cuda/include", "--gpu-architecture=sm_75"])
        if inc:
            comp["with_traintop_include"], p2 = compile_(
                ["--include-path=/usr/local/cuda/include", f"--include-path={inc}", "--gpu-architecture=sm_75"])
            ptx = ptx or p2
        res["compile"] = comp
        try:
            maps = open("/proc/self/maps").read()
            res["nvrtc_loaded"] = sorted(set(re.findall(r"(/\S*libnvrtc\S*)", maps)))
        except OSError:
            pass
    except Exception as e:
        res["nvrtc_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(res), flush=True)

    if cu is None:
        res["driver_error"] = f"libcuda.so.1: {cu_error}"
        print(json.dumps(res))
        return
    cu.cuGetErrorString.argtypes = [C.c_int, C.POINTER(C.c_char_p)]

    def err(r):
        s = C.c_char_p()
        cu.cuGetErrorString(r, C.byref(s))
        return f"{r} ({(s.value or b'?').decode()})"

    v = C.c_int()
    cu.cuDriverGetVersion(C.byref(v))
    res["driver_cuda_version"] = f"{v.value // 1000}.{(v.value % 1000) // 10}"
    r = cu.cuInit(0)
    if r:
        res["driver_error"] = "cuInit: " + err(r)
        print(json.dumps(res))
        return
    n = C.c_int()
    cu.cuDeviceGetCount(C.byref(n))
    devs = []
    for i in range(n.value):
        d = C.c_int()
        cu.cuDeviceGet(C.byref(d), i)
        name = C.create_string_buffer(256)
        cu.cuDeviceGetName(name, 256, d)
        ma, mi, sms = C.c_int(), C.c_int(), C.c_int()
        cu.cuDeviceGetAttribute(C.byref(ma), 75, d)
        cu.cuDeviceGetAttribute(C.byref(mi), 76, d)
        cu.cuDeviceGetAttribute(C.byref(sms), 16, d)
        mem = C.c_size_t()
        cu.cuDeviceTotalMem_v2(C.byref(mem), d)
        devs.append({"name": name.value.decode(), "compute_capability": f"{ma.value}.{mi.value}",
                     "sms": sms.value, "memory_gib": round(mem.value / 2**30, 1)})
    res["devices"] = devs
    if not devs:
        res["driver_error"] = "no CUDA device"
    elif ptx is None:
        res["kernel"] = {"ok": False, "error": "no PTX (the NVRTC compile failed)"}
    else:
        k = {"ok": False}
        res["kernel"] = k
        try:
            d = C.c_int()
            cu.cuDeviceGet(C.byref(d), 0)
            ctx = C.c_void_p()
            r = cu.cuDevicePrimaryCtxRetain(C.byref(ctx), d) or cu.cuCtxSetCurrent(ctx)
            if r:
                raise RuntimeError("context: " + err(r))
            mod = C.c_void_p()
            r = cu.cuModuleLoadData(C.byref(mod), C.c_char_p(ptx.rstrip(b"\0") + b"\0"))
            if r:
                raise RuntimeError("cuModuleLoadData (PTX for sm_75, JIT for this card): " + err(r))
            fn = C.c_void_p()
            r = cu.cuModuleGetFunction(C.byref(fn), mod, b"gpu_check_kernel")
            if r:
                raise RuntimeError("cuModuleGetFunction: " + err(r))
            count = 256
            dptr = C.c_uint64()
            cu.cuMemAlloc_v2.argtypes = [C.POINTER(C.c_uint64), C.c_size_t]
            r = cu.cuMemAlloc_v2(C.byref(dptr), 4 * count)
            if r:
                raise RuntimeError("cuMemAlloc: " + err(r))
            nn = C.c_int(count)
            params = (C.c_void_p * 2)(C.cast(C.byref(dptr), C.c_void_p), C.cast(C.byref(nn), C.c_void_p))
            cu.cuLaunchKernel.argtypes = [C.c_void_p] + [C.c_uint] * 6 + [C.c_uint, C.c_void_p, C.c_void_p, C.c_void_p]
            r = cu.cuLaunchKernel(fn, 1, 1, 1, count, 1, 1, 0, None, params, None) or cu.cuCtxSynchronize()
            if r:
                raise RuntimeError("launch: " + err(r))
            host = (C.c_float * count)()
            cu.cuMemcpyDtoH_v2.argtypes = [C.c_void_p, C.c_uint64, C.c_size_t]
            r = cu.cuMemcpyDtoH_v2(host, dptr.value, 4 * count)
            if r:
                raise RuntimeError("cuMemcpyDtoH: " + err(r))
            bad = [i for i in range(count) if host[i] != 2.0 * i]
            k["ok"] = not bad
            if bad:
                k["error"] = f"{len(bad)} wrong values, first out[{bad[0]}] = {host[bad[0]]}"
            try:  # best effort: the process ends right after
                cu.cuMemFree_v2.argtypes = [C.c_uint64]
                cu.cuMemFree_v2(dptr.value)
                cu.cuModuleUnload(mod)
            except Exception:
                pass
        except Exception as e:
            k["error"] = str(e)
    print(json.dumps(res))


# -------------------------------------------------------------------- gate
STAMP = re.compile(r"^\[\s*(\d+\.\d+)\] ?")
RESULTS = ("ok", "FAILED", "ignored")


def cmd_gate(args):
    log, rc = args[0], int(args[1])
    figures_only = args[2:] == ["figures-only"]
    tests, order, panics = {}, [], []
    current, total, summary, in_fail_list, fail_list = None, None, None, False, []
    lines = open(log, errors="replace").read().splitlines()
    for i, raw in enumerate(lines):
        m = STAMP.match(raw)
        t = float(m.group(1)) if m else None
        line = raw[m.end():] if m else raw
        s = re.match(r"^test (\S+) \.\.\. ?(.*)$", line)
        if "panicked at" in line and len(panics) < 10:
            panics.append({"test": s.group(1) if s else current, "text": "\n".join(
                [line[line.index("thread "):] if "thread " in line else line]
                + [STAMP.sub("", x)[:300] for x in lines[i + 1:i + 4]])})
        if s and not line.startswith("test result:"):
            current = s.group(1)
            tests[current] = {"result": None, "start": t}
            order.append(current)
            rest = s.group(2).strip()
            if rest in RESULTS or rest.startswith("ignored, "):
                tests[current]["result"] = rest.split(",")[0]
                tests[current]["end"] = t
            continue
        word = line.strip()
        if current and tests[current]["result"] is None and (word in RESULTS or word.startswith("ignored, ")):
            tests[current]["result"] = word.split(",")[0]
            tests[current]["end"] = t
            continue
        r = re.match(r"^running (\d+) tests?", line)
        if r:
            total = (total or 0) + int(r.group(1))
        if line.strip() == "failures:":
            in_fail_list = True
            continue
        if in_fail_list:
            f = re.match(r"^    (\S+)$", line)
            if f and f.group(1) not in fail_list:
                fail_list.append(f.group(1))
            elif line.strip():
                in_fail_list = False
        r = re.match(r"^test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured; (\d+) filtered out"
                     r"(?:; finished in ([\d.]+)s)?", line)
        if r:
            # Several with GPU_CHECK_GATE_PARALLEL (one per test process): summed.
            one = {"result": r.group(1), "passed": int(r.group(2)), "failed": int(r.group(3)),
                   "ignored": int(r.group(4)), "filtered_out": int(r.group(6)),
                   "seconds": float(r.group(7)) if r.group(7) else None, "runs": 1}
            if summary is None:
                summary = one
            else:
                for k in ("passed", "failed", "ignored", "runs"):
                    summary[k] += one[k]
                summary["filtered_out"] = one["filtered_out"]
                summary["seconds"] = max(summary["seconds"] or 0, one["seconds"] or 0)
                if one["result"] != "ok":
                    summary["result"] = one["result"]
    failed = [n for n in order if tests[n]["result"] == "FAILED"]
    failed += [n for n in fail_list if n not in failed]
    passed = [n for n in order if tests[n]["result"] == "ok"]
    unfinished = [n for n in order if tests[n]["result"] is None and n not in failed]
    durations = sorted(((round(v["end"] - v["start"], 2), n) for n, v in tests.items()
                        if v.get("end") is not None and v.get("start") is not None), reverse=True)
    f = {"exit_status": rc, "tests_total": total, "passed": len(passed), "failed": failed,
         "unfinished": unfinished, "libtest_summary": summary, "panics": panics,
         "slowest": [{"test": n, "seconds": s} for s, n in durations[:8] if s >= 0.01],
         "results": {n: tests[n]["result"] for n in order}}
    ok = rc == 0 and summary is not None and summary["result"] == "ok" and not failed and len(passed) > 0
    if rc == 124 or rc == 137:
        why = f"timed out while running {unfinished[-1] if unfinished else '?'}"
    elif rc in (127, 126):
        loader = [STAMP.sub("", l) for l in lines if "error while loading shared libraries" in l]
        why = "the test binary did not start: " + (loader[0].split(": ", 1)[-1] if loader else f"exit status {rc}")
    elif rc > 128 or rc < 0:
        why = f"killed by signal {rc - 128 if rc > 128 else -rc}" + (f" in {unfinished[-1]}" if unfinished else "")
    elif summary is None:
        why = f"no libtest summary (exit status {rc})"
    elif not passed and not failed:
        why = "no test ran"
    else:
        why = None
    ignored = [n for n in order if tests[n]["result"] == "ignored"]
    text = f"{len(passed)}/{total if total is not None else '?'} passed"
    if ignored:
        text += f", {len(ignored)} ignored"
    if failed:
        text += f", {len(failed)} failed: " + ", ".join(failed[:6]) + (" ..." if len(failed) > 6 else "")
    if why:
        text += "; " + why
    f["summary"] = text
    figures("gate", f, None if figures_only else "ok" if ok else "failed")


# -------------------------------------------------------------- trajectory
def read_safetensors(path):
    """(metadata, {name: (dtype, shape, array)}) without numpy or safetensors."""
    with open(path, "rb") as fh:
        data = fh.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    meta = header.pop("__metadata__", {}) or {}
    codes = {"F32": "f", "F64": "d", "I32": "i", "I64": "q", "U32": "I", "U64": "Q", "I8": "b", "U8": "B",
             "I16": "h", "U16": "H"}
    tensors = {}
    for k, v in header.items():
        code = codes.get(v.get("dtype"))
        if not code:
            continue
        s, e = v["data_offsets"]
        a = array.array(code)
        a.frombytes(data[base + s:base + e])
        if sys.byteorder == "big":
            a.byteswap()
        tensors[k] = (v["dtype"], v["shape"], a)
    return meta, tensors


def run_name(cfg_path):
    try:
        text = open(cfg_path).read()
    except OSError:
        return None
    m = re.search(r"^\[run\][^\[]*?^name\s*=\s*\"([^\"]+)\"", text, re.M | re.S)
    return m.group(1) if m else None


def newest_run(parent, name):
    ds = [d for d in glob.glob(os.path.join(parent, name + "-*"))
          if re.match(re.escape(name) + r"-\d", os.path.basename(d))
          and os.path.isfile(os.path.join(d, "metrics.jsonl"))]
    return max(ds, key=os.path.getmtime) if ds else None


def step_losses(run_dir):
    losses = {}
    with open(os.path.join(run_dir, "metrics.jsonl"), errors="replace") as fh:
        for line in fh:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("event") == "step" and "loss" in r and "step" in r:
                losses[int(r["step"])] = r["loss"]
    return losses


def relerr(a, b, floor=1e-8):
    if a is None or b is None:
        return float("inf")
    return abs(a - b) / max(abs(a), floor)


def cmd_trajectory(cfgs):
    tol = float(os.environ.get("GPU_CHECK_TRAJ_TOL", "1e-3"))
    K = int(os.environ.get("GPU_CHECK_TRAJ_STEPS", "60"))
    res = {"tolerance": tol, "steps_compared": K, "configs": {}}
    all_ok = True
    texts = []
    for cfg in cfgs:
        name = run_name(os.path.join(HERE, "configs", cfg + ".toml")) or cfg
        c = {"run_name": name}
        runs = {}
        for dev in ("cpu", "cuda"):
            try:
                rc = int(open(f"{STATE}/traj.{dev}.{cfg}.rc").read().strip())
            except (OSError, ValueError):
                rc = None
            d = newest_run(os.path.join(OUT, "runs", dev), name)
            info = {"exit_status": rc, "run_dir": rel(d) if d else None}
            if rc != 0:
                info["output_tail"] = tail(os.path.join(OUT, "runs", f"{dev}-{cfg}.out"), 12)
            if d:
                runs[dev] = d
                info["steps"] = len(step_losses(d))
                s = load_json(os.path.join(d, "summary.json"), {}) or {}
                for k in ("stop_reason", "steps", "final_loss", "final_val_loss", "final_val_acc", "samples_per_sec",
                          "wall_time", "device"):
                    if k in s:
                        info[k] = s[k]
            c[dev] = info
        ok = c["cpu"].get("exit_status") == 0 and c["cuda"].get("exit_status") == 0 and len(runs) == 2
        if len(runs) < 2:
            c["error"] = "no run folder with metrics.jsonl from " + ", ".join(d for d in ("cpu", "cuda") if d not in runs)
        if len(runs) == 2:
            a, b = step_losses(runs["cpu"]), step_losses(runs["cuda"])
            common = sorted(set(a) & set(b))
            first = common[:K]
            diffs = [(relerr(a[s], b[s]), s) for s in first]
            c["common_steps"] = len(common)
            if len(first) < K:
                ok = False
                c["error"] = f"only {len(first)} common steps (need {K})"
            if diffs:
                worst, at = max(diffs, key=lambda d: d[0])
                c["worst_rel_loss"], c["worst_step"] = worst, at
                over = [s for d, s in diffs if d > tol]
                c["first_step_over_tol"] = over[0] if over else None
                c["rel_loss_at"] = {str(s): relerr(a[s], b[s]) for s in first if s == 1 or s % 10 == 0}
                c["losses_first_5"] = {"cpu": [a[s] for s in first[:5]], "cuda": [b[s] for s in first[:5]]}
                c["worst_rel_loss_all_steps"] = max(relerr(a[s], b[s]) for s in common)
                ok = ok and worst <= tol
            else:
                ok = False
            # Final parameters (and optimizer state) from the checkpoints.
            pa, pb = (os.path.join(runs[d], "checkpoints", "last.safetensors") for d in ("cpu", "cuda"))
            if os.path.isfile(pa) and os.path.isfile(pb):
                try:
                    ma, ta = read_safetensors(pa)
                    mb, tb = read_safetensors(pb)
                    steps = []
                    for m in (ma, mb):
                        try:
                            steps.append(json.loads(m.get("traintop", "{}")).get("step"))
                        except ValueError:
                            steps.append(None)
                    per = {}
                    for k in sorted(set(ta) & set(tb)):
                        x, y = ta[k][2], tb[k][2]
                        if ta[k][1] != tb[k][1] or len(x) != len(y):
                            per[k] = "shape differs"
                            continue
                        scale = max((abs(v) for v in x), default=0.0)
                        diff = max((abs(p - q) for p, q in zip(x, y)), default=0.0)
                        per[k] = diff / max(scale, 1e-12)
                    params = {k: v for k, v in per.items() if re.fullmatch(r"layer\d+\.(weight|bias)", k)}
                    num = {k: v for k, v in params.items() if isinstance(v, float)}
                    wk = max(num, key=num.get) if num else None
                    c["params"] = {"checkpoint_steps": steps, "tensors": len(per),
                                   "only_in_one": sorted(set(ta) ^ set(tb)),
                                   "worst_rel": num.get(wk) if wk else None, "worst_tensor": wk,
                                   "per_tensor": per}
                except Exception as e:
                    c["params"] = {"error": f"{type(e).__name__}: {e}"}
            else:
                c["params"] = {"error": "last.safetensors missing"}
        c["ok"] = ok
        all_ok = all_ok and ok
        res["configs"][cfg] = c
        if "worst_rel_loss" in c:
            texts.append(f"{cfg} loss {fmt(c['worst_rel_loss'])}@{c['worst_step']}"
                         f" params {fmt(c.get('params', {}).get('worst_rel'))}")
        else:
            bad = [f"{d} run exit {c[d].get('exit_status')}" for d in ("cpu", "cuda") if c[d].get("exit_status") != 0]
            texts.append(f"{cfg}: " + (", ".join(bad) or c.get("error", "not compared")))
    res["summary"] = "; ".join(texts) + f" (tol {tol:g}, first {K} steps)"
    figures("trajectory", res, "ok" if all_ok else "failed")


# -------------------------------------------------------------- throughput
def cmd_bench(args):
    impl, layers, rc = args[0], args[1], int(args[2])
    path = f"{STATE}/throughput.figures.json"
    f = load_json(path, None) or {"batch": 1024, "optimizer": "sgd",
                                  "steps": int(os.environ.get("GPU_CHECK_BENCH_STEPS", "200")), "rows": {}}
    row = f["rows"].setdefault(layers, {})
    name = layers.replace(",", "-")
    obj = None
    try:
        for line in reversed(open(os.path.join(OUT, "bench", f"{impl}-{name}.json"), errors="replace").read().splitlines()):
            if line.strip().startswith("{"):
                obj = json.loads(line)
                break
    except (OSError, ValueError):
        obj = None
    if rc != 0 or not isinstance(obj, dict) or "samples_per_sec" not in obj:
        row[impl] = {"ok": False, "exit_status": rc, "timed_out": rc in (124, 137),
                     "error_tail": tail(os.path.join(OUT, "bench", f"{impl}-{name}.err"), 12),
                     "stdout_tail": tail(os.path.join(OUT, "bench", f"{impl}-{name}.json"), 4)}
    else:
        obj["ok"] = True
        obj["exit_status"] = rc
        if impl == "traintop":
            for k in list(obj):
                if k.endswith("_ms") and isinstance(obj[k], (int, float)):
                    obj[k[:-3] + "_s"] = obj[k] / 1000
        row[impl] = obj
    t, p = row.get("traintop", {}), row.get("pytorch", {})
    if t.get("ok") and p.get("ok"):
        row["ratio"] = t["samples_per_sec"] / p["samples_per_sec"]
    # The figures to read first; compile/build times and transfers from traintop's JSON.
    key = {"traintop_samples_per_sec": t.get("samples_per_sec"), "pytorch_samples_per_sec": p.get("samples_per_sec"),
           "ratio": row.get("ratio"), "traintop_ms_per_step": t.get("ms_per_step"),
           "pytorch_ms_per_step": p.get("ms_per_step")}
    for k, v in t.items():
        if any(w in k for w in ("build", "compile", "bytes", "copies", "transfer")) and not k.endswith("_ms"):
            key[k] = v
    row["key"] = key
    f["summary"] = bench_text(f)
    figures("throughput", f)


def bench_text(f):
    parts = []
    for layers, row in f["rows"].items():
        t, p = row.get("traintop", {}), row.get("pytorch", {})
        parts.append(f"{layers.replace(',', '-')}: "
                     + (f"{t['samples_per_sec']:.3g}" if t.get("ok") else
                        "traintop " + ("timed out" if t.get("timed_out") else "failed")) + " vs "
                     + (f"{p['samples_per_sec']:.3g}" if p.get("ok") else
                        "pytorch " + ("timed out" if p.get("timed_out") else "failed"))
                     + (f" ({row['ratio']:.2f}x)" if "ratio" in row else ""))
    return "; ".join(parts) + " samples/s"


def cmd_bench_verdict(args):
    path = f"{STATE}/throughput.figures.json"
    f = load_json(path, None)
    if not f:
        figures("throughput", {"summary": "no bench result"}, "failed")
        return
    ok = len(f["rows"]) == 2 and all(r.get("traintop", {}).get("ok") and r.get("pytorch", {}).get("ok")
                                    for r in f["rows"].values())
    figures("throughput", f, "ok" if ok else "failed")


# ------------------------------------------------------------ the record
def cmd_assemble(args):
    complete = args[0] == "true"
    stages = []
    for m in sorted(glob.glob(f"{STATE}/*.meta"), key=lambda p: int(os.path.basename(p).split("-")[0])):
        meta = dict(l.split("=", 1) for l in open(m).read().splitlines() if "=" in l)
        name = meta.get("stage", "?")
        rec = {"stage": name, "status": meta.get("status"), "seconds": float(meta.get("seconds", 0)),
               "budget_s": int(meta.get("budget_s", 0)), "rc": int(meta.get("rc", 0)), "log": f"{name}.log"}
        fig = load_json(f"{STATE}/{name}.figures.json", None)
        rec["summary"] = fig.pop("summary", None) if isinstance(fig, dict) else None
        if rec["status"] == "timeout" and not rec["summary"]:
            rec["summary"] = f"stopped by its {rec['budget_s']} s timeout"
        rec["figures"] = fig if isinstance(fig, dict) else {}
        if rec["status"] not in ("ok", "skipped"):
            rec["log_tail"] = tail(os.path.join(OUT, f"{name}.log"), 30)
        stages.append(rec)
    statuses = [s["status"] for s in stages]
    doc = {"script": "gpu-check.sh", "complete": complete,
           "overall": ("ok" if statuses and all(s == "ok" for s in statuses) else "failed") if complete else "running",
           "started": os.environ.get("GC_STARTED"),
           "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "host": os.uname().nodename, "bundle": HERE, "traintop": BIN, "tests": TESTS, "out": OUT,
           "stages_planned": os.environ.get("GC_STAGES", "").split(),
           "stages": stages}
    write_json(os.path.join(OUT, "gpu-check.json"), doc)


def cmd_table(args):
    doc = load_json(os.path.join(OUT, "gpu-check.json"), {}) or {}
    print(f"{'stage':<11} {'status':<8} {'secs':>6}  summary")
    for s in doc.get("stages", []):
        summary = (s.get("summary") or "").replace("\n", " ")
        print(f"{s['stage']:<11} {s['status']:<8} {s['seconds']:>6.1f}  {summary[:300]}")
    print(f"overall: {doc.get('overall')}")


if __name__ == "__main__":
    cmd, rest = sys.argv[1], sys.argv[2:]
    try:
        {"probe": cmd_probe, "cuda-smoke": cmd_cuda_smoke, "gate": cmd_gate, "trajectory": cmd_trajectory,
         "bench": cmd_bench, "bench-verdict": cmd_bench_verdict, "assemble": cmd_assemble,
         "table": cmd_table}[cmd](rest)
    except Exception as e:
        import traceback
        traceback.print_exc()
        stage = {"probe": "probe", "gate": "gate", "trajectory": "trajectory", "bench": "throughput",
                 "bench-verdict": "throughput"}.get(cmd)
        if stage:
            f = load_json(f"{STATE}/{stage}.figures.json", None) or {}
            f["error"] = f"gpu-check's Python helper ({cmd}) failed: {type(e).__name__}: {e}"
            f["summary"] = f["error"]
            figures(stage, f, "failed")
        sys.exit(1)
PY
}

if [ "${1:-}" = "--stage" ]; then
  "stage_$2"
  exit 0
fi
main "$@"
