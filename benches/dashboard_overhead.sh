#!/usr/bin/env bash
# What the dashboard costs the training: the same run trained headless and
# with the dashboard open in a 120x40 tmux pane, alternating, REPS times each.
# Throughput is each run's samples_per_sec from its summary.json; the overhead
# is the median dashboard run against the median headless run (and, steadier
# on a busy machine, the median of the per-repetition pairs).
#
#   benches/dashboard_overhead.sh [--set KEY=VALUE ...]
#
# Environment: REPS (3), CONFIG (configs/digits.toml), EPOCHS (200: about 4 s a run),
# TRAINTOP (target/release/traintop). Extra arguments go to both runs, e.g.
#   benches/dashboard_overhead.sh --set 'data.path="synthetic:spirals"' --set data.samples=20000
# Builds nothing: run `cargo build --release` first. Needs tmux.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${TRAINTOP:-target/release/traintop}
REPS=${REPS:-3}
CONFIG=${CONFIG:-configs/digits.toml}
EPOCHS=${EPOCHS:-200}
TIMEOUT_S=${TIMEOUT_S:-600}

if [ ! -x "$BIN" ]; then
    echo "no traintop binary at $BIN; build it (and the plugins) first:" >&2
    echo "    cargo build --release" >&2
    exit 1
fi
if ! command -v tmux >/dev/null; then
    echo "tmux is not installed; the dashboard runs need it" >&2
    exit 1
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/traintop-overhead.XXXXXX")
SOCKET="traintop-overhead-$$"
tmx() { tmux -L "$SOCKET" -f /dev/null "$@"; }
cleanup() {
    local pid
    pid=$(tmx display-message -p '#{pane_pid}' 2>/dev/null || true)
    [ -n "$pid" ] && kill -s TERM -- "-$pid" 2>/dev/null || true
    tmx kill-server 2>/dev/null || true
    # tmux leaves its socket file behind.
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCKET"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ARGS=(run "$CONFIG" --set "run.epochs=$EPOCHS" "$@")

# samples_per_sec of the only run folder under $1.
throughput() {
    local summary
    summary=$(ls "$1"/*/summary.json)
    sed -n 's/.*"samples_per_sec": *\([0-9.eE+-]*\).*/\1/p' "$summary"
}

# Polls (every 0.1 s) until the command "$@" succeeds; fails after TIMEOUT_S.
wait_for() {
    local tries=0
    until "$@" >/dev/null 2>&1; do
        sleep 0.1
        tries=$((tries + 1))
        if [ "$tries" -gt $((TIMEOUT_S * 10)) ]; then
            echo "timed out after ${TIMEOUT_S}s waiting for: $*" >&2
            return 1
        fi
    done
}

headless() {
    local out="$WORK/headless-$1"
    "$BIN" "${ARGS[@]}" --headless --quiet --out "$out" >"$out.log" 2>&1 || {
        echo "headless run $1 failed:" >&2
        cat "$out.log" >&2
        return 1
    }
    throughput "$out"
}

dashboard() {
    local out="$WORK/dashboard-$1" session="=dash$1:" cmd
    cmd=$(printf '%q ' "$BIN" "${ARGS[@]}" --out "$out")
    tmx start-server \; set-option -g status off \; set-option -g remain-on-exit on \; \
        set-option -g default-shell /bin/sh \; \
        new-session -d -s "dash$1" -x 120 -y 40 "$cmd 2>'$out.err'; echo \$? >'$out.exit'"
    # The dashboard stays open after the run until q: wait for the summary
    # (or an early exit), then for the header to say so, then quit.
    wait_for sh -c 'ls "$1"/*/summary.json || [ -s "$1.exit" ]' sh "$out"
    if [ ! -s "$out.exit" ]; then
        wait_for sh -c 'tmux -L "$1" -f /dev/null capture-pane -p -t "$2" | head -n 1 | grep -q "finished"' \
            sh "$SOCKET" "$session"
        tmx send-keys -t "$session" q
        wait_for test -s "$out.exit"
    fi
    tmx kill-session -t "$session"
    if [ "$(cat "$out.exit")" != 0 ]; then
        echo "dashboard run $1 exited with $(cat "$out.exit"):" >&2
        cat "$out.err" >&2
        return 1
    fi
    throughput "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "$BIN ${ARGS[*]}"
echo "$REPS alternating repetitions on $(nproc) CPUs (load average now: $(cut -d' ' -f1-3 /proc/loadavg));" \
    "dashboard in a 120x40 tmux pane"
printf '%-6s %20s %20s %10s\n' rep "headless samples/s" "dashboard samples/s" overhead
H=() D=() P=()
pct() { awk -v h="$1" -v d="$2" 'BEGIN { printf "%.2f", (h - d) / h * 100 }'; }
for i in $(seq 1 "$REPS"); do
    # Alternate which goes first, so warm-up and drift hit both alike.
    if [ $((i % 2)) -eq 1 ]; then
        h=$(headless "$i")
        d=$(dashboard "$i")
    else
        d=$(dashboard "$i")
        h=$(headless "$i")
    fi
    p=$(pct "$h" "$d")
    H+=("$h") D+=("$d") P+=("$p")
    printf '%-6s %20.0f %20.0f %9s%%\n' "$i" "$h" "$d" "$p"
done
mh=$(printf '%s\n' "${H[@]}" | median)
md=$(printf '%s\n' "${D[@]}" | median)
mp=$(printf '%s\n' "${P[@]}" | median)
printf '%-6s %20.0f %20.0f %9s%%\n' median "$mh" "$md" "$mp"
echo "dashboard overhead: $(pct "$mh" "$md")% (median dashboard vs median headless; positive = slower with the dashboard)"
echo "paired overhead:    ${mp}% (median of the per-repetition figures, steadier when the machine's load drifts)"
