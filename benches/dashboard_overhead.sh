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

KIND="dashboard runs"
EPOCHS=${EPOCHS:-200}
# shellcheck source=benches/overhead_common.sh
source "$(dirname "$0")/overhead_common.sh"

ARGS=(run "$CONFIG" --set "run.epochs=$EPOCHS" "$@")

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


echo "$BIN ${ARGS[*]}"
echo "$REPS alternating repetitions on $(nproc) CPUs (load average now: $(cut -d' ' -f1-3 /proc/loadavg));" \
    "dashboard in a 120x40 tmux pane"
printf '%-6s %20s %20s %10s\n' rep "headless samples/s" "dashboard samples/s" overhead
H=() D=() P=()
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
