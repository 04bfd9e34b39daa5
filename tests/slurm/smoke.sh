#!/usr/bin/env bash
# Smoke test of the cluster that slurm_up.sh brings up (run it after slurm_up.sh):
# a batch job completes and shows COMPLETED in sacct, and mpi4py sees 2 ranks both under
# a bare `srun -n 2` and under `srun` inside an `sbatch -n 2` allocation.
# Env: HPCK_PYTHON (default: the repo's .venv/bin/python, which must have mpi4py).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${HPCK_PYTHON:-$HERE/../../.venv/bin/python}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
# Only mpiexec checks for root; harmless for srun, needed if a job uses mpiexec.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

# wait_done JOBID: poll sacct (bounded) until the job has a final state; print that state.
wait_done() {
    local state i
    for ((i = 0; i < 120; i++)); do
        state="$(sacct -j "$1" -X -n -o State 2>/dev/null | tr -d ' ')"
        case "$state" in
        COMPLETED | FAILED | CANCELLED* | TIMEOUT | OUT_OF_ME* | NODE_FAIL) echo "$state"; return ;;
        esac
        sleep 0.5
    done
    echo "TIMEOUT-WAITING($state)"
}

id="$(sbatch --parsable -o "$OUT/hostname-%j.out" --wrap hostname)"
state="$(wait_done "$id")"
[[ "$state" == COMPLETED ]] || fail "sbatch --wrap hostname: job $id is $state"
[[ "$(cat "$OUT/hostname-$id.out")" == "$(hostname)" ]] || fail "job $id printed '$(cat "$OUT/hostname-$id.out")'"
echo "smoke: sbatch --wrap hostname -> job $id $state"

code='from mpi4py import MPI; print(MPI.COMM_WORLD.Get_size())'
got="$(timeout 120 srun -n 2 "$PY" -c "$code" | tr '\n' ' ')"
[[ "$got" == "2 2 " ]] || fail "srun -n 2 mpi4py printed '$got'"
echo "smoke: srun -n 2 mpi4py -> $got"

id="$(sbatch --parsable -n 2 -o "$OUT/mpi-%j.out" --wrap "srun '$PY' -c '$code'")"
state="$(wait_done "$id")"
got="$(tr '\n' ' ' <"$OUT/mpi-$id.out")"
[[ "$state" == COMPLETED && "$got" == "2 2 " ]] || fail "sbatch -n 2 + srun mpi4py: job $id $state, printed '$got'"
echo "smoke: sbatch -n 2 --wrap 'srun mpi4py' -> job $id $state, $got"
echo "smoke: OK"
