# Shared by the overhead benchmarks (sourced, not run): the binary and the
# settings, a private tmux server and work folder cleaned up on exit, the
# headless reference run, and the small statistics. The sourcing script sets
# KIND (what needs tmux, for the message) and may set EPOCHS first.
# shellcheck shell=bash

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${TRAINTOP:-target/release/traintop}
REPS=${REPS:-3}
CONFIG=${CONFIG:-configs/digits.toml}
TIMEOUT_S=${TIMEOUT_S:-600}

if [ ! -x "$BIN" ]; then
    echo "no traintop binary at $BIN; build it (and the plugins) first: cargo build --release" >&2
    exit 1
fi
if ! command -v tmux >/dev/null; then
    echo "tmux is not installed; the $KIND need it" >&2
    exit 1
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/traintop-overhead.XXXXXX")
export TRAINTOP_SOCKET_DIR="$WORK/sockets"
SOCKET="traintop-overhead-$$"
tmx() { tmux -L "$SOCKET" -f /dev/null "$@"; }
cleanup() {
    tmx kill-server 2>/dev/null || true
    # tmux leaves its socket file behind.
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCKET"
    # Any run server still going (an interrupted bench) stops with its folder.
    for record in "$TRAINTOP_SOCKET_DIR"/*.json; do
        [ -e "$record" ] || continue
        pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$record")
        [ -n "$pid" ] && kill -s KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# samples_per_sec of the only run folder under $1.
throughput() {
    sed -n 's/.*"samples_per_sec": *\([0-9.eE+-]*\).*/\1/p' "$(ls "$1"/*/summary.json)"
}

# Polls (every 0.05 s) until the command "$@" succeeds; fails after TIMEOUT_S.
wait_for() {
    local tries=0
    until "$@" >/dev/null 2>&1; do
        sleep 0.05
        tries=$((tries + 1))
        if [ "$tries" -gt $((TIMEOUT_S * 20)) ]; then
            echo "timed out after ${TIMEOUT_S}s waiting for: $*" >&2
            return 1
        fi
    done
}

# The reference: run $1 of the config, headless; prints its throughput.
headless() {
    local out="$WORK/headless-$1"
    "$BIN" "${ARGS[@]}" --headless --quiet --out "$out" >"$out.log" 2>&1 || {
        echo "headless run $1 failed:" >&2
        cat "$out.log" >&2
        return 1
    }
    throughput "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# How much slower $2 is than $1, in percent.
pct() { awk -v h="$1" -v d="$2" 'BEGIN { printf "%.2f", (h - d) / h * 100 }'; }
