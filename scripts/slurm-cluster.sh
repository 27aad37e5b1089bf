#!/usr/bin/env bash
# A one-node SLURM cluster on 127.0.0.1 for the workflow tests (Debian's slurm-wlm and munge).
#   scripts/slurm-cluster.sh start   # installs what is missing, starts munged, slurmctld, slurmd
#   scripts/slurm-cluster.sh stop    # stops only the daemons this script started
# Accounting is off (no slurmdbd), so `sacct` does not work: jobs are polled with squeue.
# The config also goes to /etc/slurm/slurm.conf (only when none is there, or ours is): the SLURM
# plugin's job step drops every SLURM_* variable, SLURM_CONF included, before its inner srun.
set -euo pipefail
STATE=${XLT_SLURM_STATE:-/tmp/xltransfer-slurm}
HOST=$(hostname -s)
SYSTEM_CONF=/etc/slurm/slurm.conf
MARKER="# written by xltransfer scripts/slurm-cluster.sh"

install() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
}

write_conf() {
    local cpus mem
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
    mkdir -p "$STATE/ctld" "$STATE/d" "$STATE/munge"
    cat > "$STATE/slurm.conf" <<CONF
$MARKER
ClusterName=xltransfer
SlurmctldHost=$HOST(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
MinJobAge=3600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
    install
    write_conf
    [ -s "$STATE/munge/munge.key" ] || dd if=/dev/urandom bs=1 count=1024 of="$STATE/munge/munge.key" 2>/dev/null
    chmod 700 "$STATE/munge"; chmod 400 "$STATE/munge/munge.key"
    munged --force --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket" \
        --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" \
        --seed-file="$STATE/munge/munged.seed"
    if [ ! -e "$SYSTEM_CONF" ] || grep -qF "$MARKER" "$SYSTEM_CONF"; then
        mkdir -p "$(dirname "$SYSTEM_CONF")"
        cp "$STATE/slurm.conf" "$SYSTEM_CONF"
    else
        echo "warning: $SYSTEM_CONF belongs to another cluster; jobs may not find this one" >&2
    fi
    export SLURM_CONF=$STATE/slurm.conf
    slurmctld -c
    slurmd -c
    for _ in $(seq 30); do
        if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "slurm is up: $(sinfo -h -o '%P %D %T')"
            return
        fi
        sleep 1
    done
    echo "slurm did not come up; see $STATE/*.log" >&2
    sinfo >&2 || true
    exit 1
}

stop() {
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" "$STATE/munge/munged.pid"; do
        [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    if [ -e "$SYSTEM_CONF" ] && grep -qF "$MARKER" "$SYSTEM_CONF"; then
        rm -f "$SYSTEM_CONF"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
