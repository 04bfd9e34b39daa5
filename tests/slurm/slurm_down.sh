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

# Live PID recorded for NAME, or nothing. The command name must match, so a stale pid file
# whose PID now belongs to something else is ignored.
recorded_pid() {
    local pidf="$DIR/pids/$1.pid" pid
    [[ -s "$pidf" ]] || return 0
    pid="$(<"$pidf")"
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/comm" ]] || return 0
    [[ "$(<"/proc/$pid/comm")" == "$1" ]] && echo "$pid"
    return 0
}

# terminate PID...: SIGTERM, wait up to $TIMEOUT s, then SIGKILL what is still there.
terminate() {
    (($#)) || return 0
    kill -TERM "$@" 2>/dev/null || true
    local deadline=$((SECONDS + TIMEOUT)) p alive
    while :; do
        alive=()
        for p in "$@"; do [[ -d /proc/$p ]] && alive+=("$p"); done
        ((${#alive[@]})) || return 0
        if ((SECONDS >= deadline)); then
            log "still running after ${TIMEOUT}s, sending SIGKILL: ${alive[*]}"
            kill -KILL "${alive[@]}" 2>/dev/null || true
            sleep 1
            return 0
        fi
        sleep 0.2
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
        if { tr '\0' '\n' <"$e"; } 2>/dev/null | grep -qxF "HPCK_SLURM_DAEMON=$DIR"; then
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
    # Reverse start order: slurmd and slurmctld still report to slurmdbd while stopping,
    # slurmdbd still writes to MariaDB, and everything authenticates through munged.
    for name in slurmd slurmctld slurmdbd mariadbd munged; do
        pid="$(recorded_pid "$name")"
        if [[ -n "$pid" ]]; then
            terminate "$pid"
            stopped=$((stopped + 1))
        fi
        rm -f "$DIR/pids/$name.pid"
    done
fi

# Leftovers: job steps, or daemons whose pid file was lost.
mapfile -t left < <(marked_pids)
if ((${#left[@]})); then
    log "stopping leftover processes of this cluster: ${left[*]}"
    terminate "${left[@]}"
    stopped=$((stopped + ${#left[@]}))
fi

if ((PURGE)); then
    rm -rf "$DIR"
    # Do not leave clients pointing at a config that no longer exists.
    [[ -L /etc/slurm/slurm.conf && "$(readlink /etc/slurm/slurm.conf)" == "$DIR/"* ]] &&
        rm -f /etc/slurm/slurm.conf
fi

if ((stopped)); then
    echo "slurm_down: stopped $stopped process(es) of the cluster in $DIR"
else
    echo "slurm_down: nothing running for $DIR"
fi
