#!/usr/bin/env bash
# A real single-node SLURM cluster on 127.0.0.1, to test the SLURM profile on one machine.
#   workflow/profiles/slurm/localhost-cluster.sh up   DIR   # install (apt), configure, start
#   workflow/profiles/slurm/localhost-cluster.sh down DIR   # stop the daemons, restore config
# Needs root and Debian's packages (slurm-wlm, munge; installed with apt-get when missing).
# No accounting (slurmdbd) is set up, so Snakemake must poll with squeue:
#   snakemake --profile workflow/profiles/slurm --slurm-no-account --slurm-status-command squeue
# The config goes to /etc/slurm/slurm.conf (the compiled-in default path): the executor's
# job-step plugin drops SLURM_* variables, so srun inside a job cannot find another path.
# An existing /etc/slurm/slurm.conf is kept as slurm.conf.before-localhost and restored by `down`.
set -euo pipefail

cmd=${1:?usage: $0 up|down DIR}
dir=$(realpath -m "${2:?usage: $0 up|down DIR}")
conf=/etc/slurm/slurm.conf
backup=/etc/slurm/slurm.conf.before-localhost

up() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    fi
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        [ -f /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 || create-munge-key -f
        mkdir -p /run/munge && chown munge: /run/munge 2>/dev/null || true
        su -s /bin/sh munge -c munged 2>/dev/null || munged --force
        sleep 1
        munge -n | unmunge >/dev/null
    fi
    mkdir -p "$dir"/{state,spool,run,log} /etc/slurm
    if [ -f "$conf" ] && [ ! -f "$backup" ] && ! grep -q "# resonant-ad localhost" "$conf"; then
        cp "$conf" "$backup"
    fi
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
    cat >"$conf" <<CONF
# resonant-ad localhost test cluster ($dir)
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MinJobAge=600
InactiveLimit=0
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    slurmctld -f "$conf"
    slurmd -f "$conf" -N localhost
    for _ in $(seq 60); do
        if sinfo -h -o "%T" 2>/dev/null | grep -q idle; then
            echo "SLURM up: $(sinfo -h -o '%P %a %D %T %N')"
            return 0
        fi
        sleep 1
    done
    echo "SLURM did not come up; logs in $dir/log" >&2
    return 1
}

down() {
    for pid in "$dir"/run/slurmd.pid "$dir"/run/slurmctld.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    sleep 1
    pkill -f "slurmd -f $conf" 2>/dev/null || true
    pkill -f "slurmctld -f $conf" 2>/dev/null || true
    if [ -f "$backup" ]; then
        mv "$backup" "$conf"
    elif [ -f "$conf" ] && grep -q "# resonant-ad localhost" "$conf"; then
        rm -f "$conf"
    fi
    echo "SLURM down"
}

case "$cmd" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
