#!/usr/bin/env bash
# Tear down the single-node SLURM cluster started by slurm_up.sh. Idempotent.
#
# Stops only processes this cluster started: the PIDs recorded in $HPCK_SLURM_DIR/pids/,
# and leftovers (e.g. a slurmstepd whose job outlived slurmd) found by the
# HPCK_SLURM_DAEMON=$HPCK_SLURM_DIR marker slurm_up.sh puts in their environment. Never
# matches processes by name.
#
# Env:     HPCK_SLURM_DIR (default /tmp/hpckernels-slurm), HPCK_SLURM_TIMEOUT (default 30)
# Options: --purge   also delete $HPCK_SLURM_DIR (MariaDB data, job state, logs)
set -euo pipefail

DIR="${HPCK_SLURM_DIR:-/tmp/hpckernels-slurm}"
TIMEOUT="${HPCK_SLURM_TIMEOUT:-30}"
PURGE=0
[[ "${1:-}" == "--purge" ]] && PURGE=1
export PATH="/usr/sbin:/sbin:$PATH"

log() { echo "slurm_down: $*" >&2; }

# running PID: the process exists and is not a zombie. PID 1 on this machine is not an init
# that reaps orphans at once (~2 s), so a daemon that has exited stays a zombie for a while.
running() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }" # fields after "(comm) "; the first one is the state
    [[ "${stat:0:1}" != Z ]]
}

# Live PID recorded for NAME, or nothing. The command name must match, so a stale pid file
# whose PID now belongs to something else is ignored.
recorded_pid() {
    local pidf="$DIR/pids/$1.pid" pid
    [[ -s "$pidf" ]] || return 0
    pid="$(<"$pidf")"
    [[ "$pid" =~ ^[0-9]+$ ]] && running "$pid" || return 0
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$1" ]] && echo "$pid"
    return 0
}

# terminate GRACE PID...: SIGTERM, wait up to GRACE s, then SIGKILL what is still there.
terminate() {
    local grace="$1"; shift
    (($#)) || return 0
    kill -TERM "$@" 2>/dev/null || true
    local deadline=$((SECONDS + grace)) p alive
    while :; do
        alive=()
        for p in "$@"; do running "$p" && alive+=("$p"); done
        ((${#alive[@]})) || return 0
        if ((SECONDS >= deadline)); then
            log "still running after ${grace}s, sending SIGKILL: ${alive[*]}"
            kill -KILL "${alive[@]}" 2>/dev/null || true
            sleep 0.5
            return 0
        fi
        sleep 0.1
    done
}

# descendants PID...: all processes below the given ones (job tasks below a slurmstepd).
descendants() {
    local -A kids=()
    local st pid ppid rest
    for st in /proc/[0-9]*/stat; do
        rest="$(cat "$st" 2>/dev/null)" || continue
        pid="${rest%% *}"
        rest="${rest##*) }"; rest="${rest#* }"; ppid="${rest%% *}"
        kids[$ppid]+=" $pid"
    done
    local queue=("$@") p c
    while ((${#queue[@]})); do
        p="${queue[0]}"; queue=("${queue[@]:1}")
        for c in ${kids[$p]:-}; do echo "$c"; queue+=("$c"); done
    done
}

# PIDs whose environment carries this cluster's marker (slurm_up.sh sets it on the daemons
# only; jobs get the submitter's environment, so the test runner itself is never matched).
marked_pids() {
    local e pid
    for e in /proc/[0-9]*/environ; do
        pid="${e#/proc/}"; pid="${pid%/environ}"
        [[ "$pid" == "$$" ]] && continue
        # kernel threads and processes that just exited have no readable environ
        if grep -qzxF "HPCK_SLURM_DAEMON=$DIR" "$e" 2>/dev/null; then
            echo "$pid"
        fi
    done
}

stopped=0
if [[ -d "$DIR/pids" ]]; then
    # Cancel jobs first so that their slurmstepd and tasks end cleanly while slurmd is up.
    if [[ -n "$(recorded_pid slurmctld)" ]] && timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; then
        jobs="$(timeout 10 squeue -h -o '%A' 2>/dev/null || true)"
        if [[ -n "$jobs" ]]; then
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            deadline=$((SECONDS + 15))
            # plain squeue lists only pending/running/completing jobs
            while [[ -n "$(timeout 10 squeue -h -o '%A' 2>/dev/null || true)" ]] && ((SECONDS < deadline)); do
                sleep 0.5
            done
        fi
    fi
    # Reverse start order, in three waves (each daemon takes ~2 s to exit, so stopping the
    # members of a wave together saves time): slurmctld and slurmd still report to slurmdbd
    # while stopping, and slurmdbd still writes to MariaDB and authenticates through munged.
    for wave in "slurmd slurmctld" "slurmdbd" "mariadbd munged"; do
        pids=()
        for name in $wave; do
            pid="$(recorded_pid "$name")"
            [[ -n "$pid" ]] && pids+=("$pid")
        done
        terminate "$TIMEOUT" "${pids[@]}"
        stopped=$((stopped + ${#pids[@]}))
        for name in $wave; do rm -f "$DIR/pids/$name.pid"; done
    done
fi

# Leftovers: job steps (slurmstepd and the job's tasks below it) whose slurmd died, or
# daemons whose pid file was lost. slurmstepd ignores SIGTERM, hence the short grace time.
mapfile -t left < <(marked_pids)
if ((${#left[@]})); then
    mapfile -t left < <(printf '%s\n' "${left[@]}"; descendants "${left[@]}" | sort -un)
    log "stopping leftover processes of this cluster: ${left[*]}"
    terminate 3 "${left[@]}"
    stopped=$((stopped + ${#left[@]}))
fi

# Do not leave clients pointing at a stopped cluster: with the config in place every
# SLURM client (and the Snakemake SLURM plugin, at import) waits ~10 s for slurmctld.
if [[ -L /etc/slurm/slurm.conf && "$(readlink /etc/slurm/slurm.conf)" == "$DIR/"* ]]; then
    rm -f /etc/slurm/slurm.conf
    if [[ -e /etc/slurm/slurm.conf.hpck-orig ]]; then
        mv /etc/slurm/slurm.conf.hpck-orig /etc/slurm/slurm.conf
    fi
fi

if ((PURGE)); then
    rm -rf "$DIR"
fi

if ((stopped)); then
    echo "slurm_down: stopped $stopped process(es) of the cluster in $DIR"
else
    echo "slurm_down: nothing running for $DIR"
fi
