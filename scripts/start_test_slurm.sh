#!/usr/bin/env bash
# Start a throw-away single-node Slurm (munged + slurmctld + slurmd, no systemd) for the opt-in Slurm tests.
# Needs root and the Debian packages `slurm-wlm munge` (apt-get install -y slurm-wlm munge).
# Usage: eval "$(bash scripts/start_test_slurm.sh [DIR])"   -> exports SLURM_CONF and NESBENCH_TEST_SLURM=1
# Stop:  bash scripts/start_test_slurm.sh --stop [DIR]
set -euo pipefail
stop=0
if [[ "${1:-}" == "--stop" ]]; then stop=1; shift; fi
DIR="$(realpath -m "${1:-${TMPDIR:-/tmp}/nesbench-test-slurm}")"
if ((stop)); then
  for name in slurmd slurmctld munged; do
    [[ -f "$DIR/$name.pid" ]] && kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true
  done
  exit 0
fi
for bin in munged slurmctld slurmd sbatch; do
  command -v "$bin" >/dev/null || [[ -x "/usr/sbin/$bin" ]] || {
    echo "error: $bin not found; install it with: apt-get install -y slurm-wlm munge" >&2; exit 1; }
done
export PATH="/usr/sbin:$PATH"
mkdir -p "$DIR"/{state,spool,log,munge}
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))"
# two free TCP ports (fixed ports collide with another test Slurm on the same host)
read -r ctld_port d_port < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
[s.bind(("127.0.0.1", 0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])')
# munge: a fresh key and socket in DIR, so nothing of the machine's own setup is touched
if [[ ! -f "$DIR/munge/munge.key" ]]; then
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 700 "$DIR/munge"; chmod 400 "$DIR/munge/munge.key"
munged --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
  --pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munge.seed" --force
cat > "$DIR/slurm.conf" <<CONF
ClusterName=nesbench-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$DIR/slurm.conf"
slurmctld -f "$SLURM_CONF" || { bash "$0" --stop "$DIR"; echo "error: slurmctld did not start; see $DIR/log" >&2; exit 1; }
slurmd -f "$SLURM_CONF" || { bash "$0" --stop "$DIR"; echo "error: slurmd did not start; see $DIR/log" >&2; exit 1; }
for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$SLURM_CONF NESBENCH_TEST_SLURM=1"
    exit 0
  fi
  sleep 0.5
done
echo "error: slurm did not come up within 30 s; see $DIR/log" >&2
bash "$0" --stop "$DIR"
exit 1
