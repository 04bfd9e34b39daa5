#!/usr/bin/env bash
# Bring up a real single-node SLURM cluster (munge + MariaDB + slurmdbd + slurmctld + slurmd)
# on this machine, for CI tests. Idempotent: if the cluster is already up and healthy it
# returns 0 at once; if it is half up (e.g. after a crash) it is torn down and restarted.
#
# Facts this relies on: PID 1 is not systemd, we are root, cgroup plugins do not work (no
# systemd to delegate cgroups), so proctrack/linuxproc and task/none are used.
#
# Env:
#   HPCK_SLURM_DIR      scratch dir for all state/spool/log/pid/db files (default /tmp/hpckernels-slurm)
#   HPCK_SLURM_CLUSTER  ClusterName (default hpck)
#   HPCK_SLURM_DB_PORT  TCP port of the private MariaDB, loopback only (default 3306)
#   HPCK_SLURM_TIMEOUT  seconds to wait for each daemon to come up (default 60)
set -euo pipefail

DIR="${HPCK_SLURM_DIR:-/tmp/hpckernels-slurm}"
CLUSTER="${HPCK_SLURM_CLUSTER:-hpck}"
DB_PORT="${HPCK_SLURM_DB_PORT:-3306}"
TIMEOUT="${HPCK_SLURM_TIMEOUT:-60}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The daemons live in /usr/sbin, which a CI PATH does not always contain.
export PATH="/usr/sbin:/sbin:$PATH"

CONF="$DIR/etc/slurm.conf"
DBD_CONF="$DIR/etc/slurmdbd.conf"
DB_DATA="$DIR/mariadb/data"
DB_SOCK="$DIR/mariadb/mariadb.sock"
# Throwaway database, listening on 127.0.0.1 only and deleted with the scratch dir.
DB_USER="slurm"
DB_PASS="hpck-slurmdbd"
NODE="$(hostname -s)"
T0=$SECONDS

log() { echo "slurm_up: $*" >&2; }

# Print the tail of the given log files and exit non-zero, so CI shows why.
die() {
    local msg="$1"; shift
    log "ERROR: $msg"
    local f
    for f in "$@"; do
        if [[ -f "$f" ]]; then
            echo "----- tail -n 40 $f -----" >&2
            tail -n 40 "$f" >&2 || true
        fi
    done
    log "daemons that did start are left running for inspection; stop them with $HERE/slurm_down.sh"
    exit 1
}

# pid_alive NAME: true if $DIR/pids/NAME.pid names a live process whose command is NAME
# (checking the command guards against a stale pid file whose PID was reused). A zombie is
# dead: PID 1 here is not an init that reaps orphans at once (it takes ~2 s).
pid_alive() {
    local name="$1" pidf="$DIR/pids/$1.pid" pid stat
    [[ -s "$pidf" ]] || return 1
    pid="$(<"$pidf")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }" # fields after "(comm) "; the first one is the state
    [[ "${stat:0:1}" != Z && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]]
}

# wait_for DESCRIPTION DAEMON LOGFILE CMD...: poll CMD until it succeeds; give up after
# $TIMEOUT s, or at once if DAEMON (when not "-") has died, showing LOGFILE.
wait_for() {
    local what="$1" daemon="$2" logf="$3"; shift 3
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [[ "$daemon" != "-" ]] && ! pid_alive "$daemon"; then
            die "$daemon exited while waiting for $what" "$logf" "$DIR/log/$daemon.out"
        fi
        if ((SECONDS >= deadline)); then
            die "timed out after ${TIMEOUT}s waiting for $what" "$logf" "$DIR/log/$daemon.out"
        fi
        sleep 0.5
    done
}

# start_daemon NAME CMD...: start a daemon that stays in the foreground (-D), detached with
# setsid so it outlives this script and the caller's process group, and record its PID.
# HPCK_SLURM_DAEMON marks its environment (slurmd passes it on to slurmstepd), so that
# slurm_down.sh can find leftovers of this cluster without matching process names.
start_daemon() {
    local name="$1"; shift
    # This script runs without job control, so the background child is not a process-group
    # leader and setsid execs the daemon in place: $! is the daemon's own PID.
    env SLURM_CONF="$CONF" HPCK_SLURM_DAEMON="$DIR" setsid "$@" \
        </dev/null >>"$DIR/log/$name.out" 2>&1 &
    local pid=$! i
    echo "$pid" >"$DIR/pids/$name.pid"
    # Until the exec chain (bash -> env -> setsid -> daemon) is done, the PID's command is
    # not yet NAME and pid_alive would call the daemon dead: wait for the exec first.
    for ((i = 0; i < 100; i++)); do
        pid_alive "$name" && return 0
        [[ -d /proc/$pid ]] || break
        sleep 0.05
    done
    die "$name did not start" "$DIR/log/$name.out" "$DIR/log/$name.log"
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
mariadb_ok() { mariadb-admin --no-defaults --socket="$DB_SOCK" -uroot ping; }
sql() { mariadb --no-defaults --socket="$DB_SOCK" -uroot -e "$1"; }
# sacctmgr talks to slurmdbd only, so it succeeding means slurmdbd is serving.
slurmdbd_ok() { timeout 10 sacctmgr -n -P show cluster format=cluster; }
ctld_ok() { timeout 10 scontrol ping | grep -q 'is UP'; }
node_state() { timeout 10 sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n1; }
node_idle() { [[ "$(node_state)" == "idle" ]]; }

cluster_healthy() {
    [[ "$(readlink -f /etc/slurm/slurm.conf 2>/dev/null)" == "$(readlink -f "$CONF")" ]] || return 1
    local d
    for d in mariadbd slurmdbd slurmctld slurmd; do pid_alive "$d" || return 1; done
    munge_ok || return 1
    ctld_ok || return 1
    # Busy is healthy too: a test may call this while earlier jobs still run.
    case "$(node_state)" in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac
}

# Installs packages, writes /etc/slurm and runs the daemons as root (SlurmUser=root).
[[ $EUID -eq 0 ]] || die "must run as root"

# ---------------------------------------------------------------- already up?
if [[ -d "$DIR/pids" ]] && cluster_healthy; then
    echo "slurm_up: cluster '$CLUSTER' already up (node $NODE, dir $DIR)"
    exit 0
fi
# Half up (a daemon died, a previous bring-up failed, the scratch dir was deleted under a
# running cluster): stop what is left so that every daemon starts from a known state.
# slurm_down.sh is idempotent and only stops processes of this cluster.
compgen -G "$DIR/pids/*.pid" >/dev/null && log "cluster in $DIR is not healthy; restarting it"
HPCK_SLURM_DIR="$DIR" bash "$HERE/slurm_down.sh" >/dev/null

# ---------------------------------------------------------------- packages
mkdir -p "$DIR"/{etc,pids,log,state,spool,mariadb,munge}

need_install=0
for b in slurmctld slurmd slurmdbd sbatch mariadbd munged mpirun mpicc; do
    command -v "$b" >/dev/null 2>&1 || need_install=1
done
if ((need_install)); then
    log "installing Debian packages (needs the Debian mirror; log: $DIR/log/apt.log)"
    # No init system: stop postinst scripts from starting a system munged/MariaDB/slurm,
    # which would hold the munge socket and port 3306 that our own daemons need.
    made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    rc=0
    {
        apt-get update &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y \
                slurmctld slurmd slurm-client munge slurmdbd mariadb-server \
                libopenmpi-dev openmpi-bin
    } >"$DIR/log/apt.log" 2>&1 || rc=$?
    if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    ((rc == 0)) || die "apt-get failed (exit $rc)" "$DIR/log/apt.log"
fi

# ---------------------------------------------------------------- scratch layout
# munged runs as user munge and writes its log, pid and seed files here.
chown munge:munge "$DIR/munge"
chmod 700 "$DIR/munge"
rm -f "$DIR"/pids/*.pid # anything left here is stale: slurm_down.sh ran or nothing runs

# ---------------------------------------------------------------- munge
# slurm clients talk to munged through the default socket in /run/munge, so that stays.
if munge_ok; then
    # A munged we did not start (e.g. the machine's own) already works: use it and do not
    # record it, so slurm_down.sh leaves it alone.
    log "using the munged that is already running"
else
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey -c
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge
    rm -f "$DIR/munge/munged.pid"
    # munged daemonizes itself; its own pid file tells us its PID.
    env HPCK_SLURM_DAEMON="$DIR" runuser -u munge -- munged \
        --log-file="$DIR/munge/munged.log" --pid-file="$DIR/munge/munged.pid" \
        --seed-file="$DIR/munge/munged.seed" </dev/null >>"$DIR/log/munged.out" 2>&1 ||
        die "munged did not start" "$DIR/munge/munged.log" "$DIR/log/munged.out"
    wait_for "munge" - "$DIR/munge/munged.log" munge_ok
    cp "$DIR/munge/munged.pid" "$DIR/pids/munged.pid"
fi

# ---------------------------------------------------------------- MariaDB
# Everything on the command line with --no-defaults: /etc/mysql/* must not move the datadir,
# socket or port of this private server.
if [[ ! -d "$DB_DATA/mysql" ]]; then
    rm -rf "$DB_DATA"
    mariadb-install-db --no-defaults --user=root --datadir="$DB_DATA" \
        --auth-root-authentication-method=socket --skip-test-db \
        >"$DIR/log/mariadb-install-db.log" 2>&1 ||
        die "mariadb-install-db failed" "$DIR/log/mariadb-install-db.log"
fi
rm -f "$DB_SOCK"
# innodb_lock_wait_timeout=900 is what slurmdbd asks for. Its other complaint, "not
# recommended values: innodb_buffer_pool_size", is harmless here and stays (it still
# complains at 256M; a multi-GB buffer pool is not worth it for a test cluster).
start_daemon mariadbd mariadbd --no-defaults --user=root --datadir="$DB_DATA" \
    --socket="$DB_SOCK" --pid-file="$DIR/mariadb/mariadbd.pid" \
    --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
    --log-error="$DIR/log/mariadbd.log" --innodb-lock-wait-timeout=900
wait_for "MariaDB" mariadbd "$DIR/log/mariadbd.log" mariadb_ok
# Idempotent, so it also repairs a datadir from an interrupted first run. With
# skip-name-resolve a TCP client from 127.0.0.1 is 'slurm'@'127.0.0.1', not @'localhost'.
sql "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
     CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
     CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
     GRANT ALL ON slurm_acct_db.* TO '$DB_USER'@'127.0.0.1';
     GRANT ALL ON slurm_acct_db.* TO '$DB_USER'@'localhost';" ||
    die "could not create the slurm_acct_db database/user" "$DIR/log/mariadbd.log"

# ---------------------------------------------------------------- config files
# RealMemory a bit (5 %) below what slurmd detects: if the configured value is above the
# detected one, slurmctld drains the node ("Low RealMemory").
detected_mem="$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n1)"
[[ "$detected_mem" =~ ^[0-9]+$ ]] || die "could not read RealMemory from 'slurmd -C'"
real_mem=$((detected_mem * 95 / 100))
cpus="$(nproc)"
# Without DefMemPerCPU a job that asks for no memory is given the whole node's memory
# (CR_Core_Memory), so jobs could never share the node; give each CPU an equal share.
def_mem_per_cpu=$((real_mem / cpus))

# slurmdbd reads slurmdbd.conf from the directory of $SLURM_CONF and refuses a file that
# others can read (it holds the DB password): mode 600.
umask 077
cat >"$DBD_CONF" <<EOF
# Generated by tests/slurm/slurm_up.sh
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/state/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
chmod 600 "$DBD_CONF"
umask 022

# Settings: one node, no cgroups (see the top of this file), accounting in slurmdbd so that
# the executor plugin can poll jobs with sacct.
cat >"$CONF" <<EOF
# Generated by tests/slurm/slurm_up.sh
ClusterName=$CLUSTER
# Loopback addresses: this does not depend on the host name resolving (/etc/hosts, DNS).
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/state/slurmctld.pid
SlurmdPidFile=$DIR/state/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# cgroup plugins do not work without systemd here
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem_per_cpu
# with none or pmi2, mpi4py under 'srun -n 2' aborts before MPI_Init completes
MpiDefault=pmix
# finished jobs stay visible to squeue for 5 min
MinJobAge=300
# a node that was down when slurmctld stopped comes back when slurmd registers again
ReturnToService=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

# Clients (sbatch, srun, sacct, Snakemake) read the default /etc/slurm/slurm.conf.
mkdir -p /etc/slurm
if [[ -e /etc/slurm/slurm.conf && ! -L /etc/slurm/slurm.conf ]]; then
    mv /etc/slurm/slurm.conf /etc/slurm/slurm.conf.hpck-orig # keep a real config
fi
ln -sfn "$CONF" /etc/slurm/slurm.conf

# ---------------------------------------------------------------- slurm daemons
# slurmdbd must be up (and the cluster registered) before slurmctld starts: slurmctld only
# decides at start-up whether it has accounting.
start_daemon slurmdbd slurmdbd -D
wait_for "slurmdbd" slurmdbd "$DIR/log/slurmdbd.log" slurmdbd_ok
if ! sacctmgr -n -P show cluster format=cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null ||
        die "sacctmgr add cluster $CLUSTER failed" "$DIR/log/slurmdbd.log"
fi

# -c: start with an empty queue. The state dir may hold jobs of an earlier session (a
# crashed or reaped cluster): requeued, they would run again and hold CPUs in the tests.
# FirstJobId continues after the highest job ID in accounting, so sacct -j stays unique.
last_id="$(sacct -a -X -n -P -o JobIDRaw -S 1970-01-01T00:00:00 -E now 2>/dev/null |
    grep -E '^[0-9]+$' | sort -n | tail -n1 || true)"
echo "FirstJobId=$((${last_id:-0} + 1))" >>"$CONF"
start_daemon slurmctld slurmctld -D -c
wait_for "scontrol ping" slurmctld "$DIR/log/slurmctld.log" ctld_ok
start_daemon slurmd slurmd -D
wait_for "node $NODE idle in sinfo" slurmd "$DIR/log/slurmd.log" node_idle
# A quick last check that nothing died right after coming up.
cluster_healthy || die "cluster not healthy after start" \
    "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" "$DIR/log/slurmdbd.log"

echo "slurm_up: cluster '$CLUSTER' up in $((SECONDS - T0))s (node $NODE, ${cpus} CPUs, ${real_mem} MB, dir $DIR)"
