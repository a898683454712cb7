#!/usr/bin/env bash
# What watching a run costs its training: the same config trained headless,
# and as a background run (`run --detach`) with 0, 1 and 3 dashboards
# attached (`traintop attach`, each in its own 120x40 tmux pane, reading the
# run's socket), and with 2 of which one is stopped (SIGSTOP, for the rest of
# the run: about 10 s at the default length). The five kinds alternate, REPS
# times each, in rotating order. Throughput is each run's samples_per_sec from its summary.json; the
# cost is each kind's median against the headless median, and the median of
# the per-repetition ratios (steadier while the machine's load drifts).
#
#   benches/attach_overhead.sh [--set KEY=VALUE ...]
#
# Environment: REPS (3), CONFIG (configs/digits.toml), EPOCHS (1500: about 10 s
# a run), TRAINTOP (target/release/traintop). Builds nothing: run
# `cargo build --release` first. Needs tmux.
set -euo pipefail

KIND="attached dashboards"
EPOCHS=${EPOCHS:-1500}
# shellcheck source=benches/overhead_common.sh
source "$(dirname "$0")/overhead_common.sh"

ARGS=(run "$CONFIG" --set "run.epochs=$EPOCHS" "$@")

# A background run with $2 dashboards attached from the start; kind "s" is
# two, the first of them stopped (SIGSTOP, as a suspended terminal or a
# stalled link) once it shows the run, until the run ends.
attached() {
    local out="$WORK/attached$2-$1" run n cmd clients=$2 stopped=""
    [ "$2" = s ] && clients=2
    "$BIN" "${ARGS[@]}" --detach --out "$out" >"$out.log" 2>&1 || {
        echo "run --detach $1 failed:" >&2
        cat "$out.log" >&2
        return 1
    }
    run=$(ls -d "$out"/*/)
    for n in $(seq 1 "$clients"); do
        cmd=$(printf '%q ' "$BIN" attach "$run")
        tmx start-server \; set-option -g status off \; set-option -g default-shell /bin/sh \; \
            new-session -d -s "a$1-$2-$n" -x 120 -y 40 "exec $cmd 2>>'$out.err'"
    done
    if [ "$2" = s ]; then
        wait_for sh -c 'tmux -L "$1" -f /dev/null capture-pane -p -t "$2" | grep -q "step"' sh "$SOCKET" "=a$1-$2-1:"
        stopped=$(tmx display-message -p -t "=a$1-$2-1:" '#{pane_pid}')
        kill -s STOP "$stopped"
    fi
    wait_for test -e "$run/summary.json"
    [ -n "$stopped" ] && kill -s CONT "$stopped"
    for n in $(seq 1 "$clients"); do
        tmx kill-session -t "=a$1-$2-$n:" 2>/dev/null || true
    done
    throughput "$out"
}


echo "$BIN ${ARGS[*]}"
echo "$REPS rotating repetitions on $(nproc) CPUs (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-5s %12s %12s %12s %12s %12s\n' rep headless "0 clients" "1 client" "3 clients" "2, 1 stopped"
KINDS=(h 0 1 3 s)
declare -A ALL RATIO
for i in $(seq 1 "$REPS"); do
    declare -A got=()
    # Rotate the order, so warm-up and drift hit every kind alike.
    for k in $(seq 0 4); do
        kind=${KINDS[$(((k + i) % 5))]}
        if [ "$kind" = h ]; then got[h]=$(headless "$i"); else got[$kind]=$(attached "$i" "$kind"); fi
    done
    for kind in "${KINDS[@]}"; do
        ALL[$kind]+="${got[$kind]} "
        [ "$kind" = h ] || RATIO[$kind]+="$(pct "${got[h]}" "${got[$kind]}") "
    done
    printf '%-5s %12.0f %12.0f %12.0f %12.0f %12.0f\n' "$i" "${got[h]}" "${got[0]}" "${got[1]}" "${got[3]}" "${got[s]}"
done
declare -A MED
for kind in "${KINDS[@]}"; do MED[$kind]=$(printf '%s\n' ${ALL[$kind]} | median); done
printf '%-5s %12.0f %12.0f %12.0f %12.0f %12.0f\n' median "${MED[h]}" "${MED[0]}" "${MED[1]}" "${MED[3]}" "${MED[s]}"
for kind in 0 1 3 s; do
    paired=$(printf '%s\n' ${RATIO[$kind]} | median)
    label="$kind attached"
    [ "$kind" = s ] && label="2 attached, 1 stopped"
    echo "$label: $(pct "${MED[h]}" "${MED[$kind]}")% slower than headless (medians); paired median ${paired}%  (goal < 1%; negative = faster)"
done
