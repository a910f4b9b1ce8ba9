#!/usr/bin/env bash
# The slurm/ scripts against a real Slurm: starts munged, slurmctld and slurmd on localhost (one
# node, its own slurm.conf and munge key in a temporary run directory), then
#   (a) slurm/run-mpi.sbatch with 2 MPI ranks (srun --mpi=pmix),
#   (b) slurm/submit-sweep.sh: a 2-task job array of slices plus the afterok merge job,
#   (c) requeue: `scontrol requeue` of a running job, and the time-limit warning (the USR1 that
#       --signal=B:USR1@... sends) after which the job requeues itself,
# and checks that every results file is complete and bit-identical (all datasets but /timing) to
# a direct `aimc run` of the same tiny study, and that a requeued job resumed instead of starting
# over. Every daemon it started is stopped on exit.
#
# Needs root (slurmd launches jobs) and Debian's slurmctld slurmd slurm-client munge; exits 77
# (CTest: skipped) when those are missing. Environment: AIMC_BIN, AIMC_TEST_MODELS,
# AIMC_TEST_DATA (set by CTest), AIMC_REQUIRE_DATA=1 (missing data fails instead of skipping),
# AIMC_SLURM_KEEP=1 (keep the run directory for inspection).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
T0=$SECONDS

say() { echo "test_slurm [$((SECONDS - T0)) s]: $*"; }
skip() {
  echo "test_slurm: SKIPPED: $*" >&2
  exit 77
}
fail() {
  echo "test_slurm: FAILED: $*" >&2
  exit 1
}

# --- Preconditions ------------------------------------------------------------------------------
missing=()
for b in munged munge unmunge slurmctld slurmd sbatch srun squeue scontrol scancel sinfo; do
  command -v "$b" >/dev/null || missing+=("$b")
done
((${#missing[@]} == 0)) ||
  skip "Slurm binaries absent (${missing[*]}): apt-get install slurmctld slurmd slurm-client munge"
[[ $(id -u) == 0 ]] || skip "needs root to run slurmd (CI runs as root)"
[[ -x "${AIMC_BIN:-}" ]] || fail "AIMC_BIN='${AIMC_BIN:-}' is not an executable (run through ctest)"
model=${AIMC_TEST_MODELS:-$REPO/build/test-models}/resnet20.h5
data=${AIMC_TEST_DATA:-$REPO/data}/cifar-10
for f in "$model" "$data/test_batch.bin"; do
  if [[ ! -f "$f" ]]; then
    [[ "${AIMC_REQUIRE_DATA:-0}" == 1 ]] && fail "DATA MISSING: $f"
    skip "DATA MISSING: $f (run scripts/fetch_data.sh and the import_models test)"
  fi
done

# --- Run directory and clean-up ------------------------------------------------------------------
RUN=$(mktemp -d /tmp/aimc-slurm.XXXXXX)
chmod 755 "$RUN"  # munged (user munge) must reach its socket below
MUNGED_PID="" CTLD_PID="" SLURMD_PID=""
# Run inside a real Slurm job (or with sbatch defaults set), the test must not pass those settings
# on to its own cluster.
for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC)_' || true); do unset "$v"; done
export SLURM_CONF=$RUN/slurm.conf

cleanup() {
  local rc=$?
  set +e
  # Jobs first, so that no slurmstepd outlives its slurmd; then the daemons, by their PIDs.
  if [[ -n "$CTLD_PID" ]] && kill -0 "$CTLD_PID" 2>/dev/null; then
    scancel --quiet --user=root 2>/dev/null
    for _ in $(seq 1 60); do
      [[ -z "$(squeue -h -o %i 2>/dev/null)" ]] && break
      sleep 1
    done
  fi
  for pid in "$SLURMD_PID" "$CTLD_PID" "$MUNGED_PID"; do
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null
  done
  for pid in "$SLURMD_PID" "$CTLD_PID" "$MUNGED_PID"; do
    [[ -n "$pid" ]] && wait "$pid" 2>/dev/null
  done
  if ((rc != 0 && rc != 77)); then
    for log in "$RUN"/slurmctld.log "$RUN"/slurmd.log "$RUN"/*.log "$RUN"/*/*.log; do
      [[ -f "$log" ]] && { echo "=== $log (last 30 lines)"; tail -n 30 "$log"; }
    done
  fi
  if [[ "${AIMC_SLURM_KEEP:-0}" == 1 ]]; then
    echo "test_slurm: kept $RUN"
  else
    rm -rf "$RUN"
  fi
  say "exit $rc"
  exit "$rc"
}
trap cleanup EXIT

# --- Start munge and Slurm -----------------------------------------------------------------------
# Our own munged with its own key and socket: a system munge, if any, is left alone.
mkdir -p "$RUN/munge" "$RUN/state" "$RUN/spool"
dd if=/dev/urandom of="$RUN/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$RUN/munge"
chmod 400 "$RUN/munge/munge.key"
setpriv --reuid=munge --regid=munge --init-groups \
  munged --foreground --socket="$RUN/munge/munge.socket" --key-file="$RUN/munge/munge.key" \
  --pid-file="$RUN/munge/munged.pid" --log-file="$RUN/munge/munged.log" \
  --seed-file="$RUN/munge/munged.seed" >"$RUN/munged.out" 2>&1 &
MUNGED_PID=$!
for _ in $(seq 1 50); do
  munge -S "$RUN/munge/munge.socket" -n 2>/dev/null | unmunge -S "$RUN/munge/munge.socket" \
    >/dev/null 2>&1 && break
  sleep 0.2
done
munge -S "$RUN/munge/munge.socket" -n | unmunge -S "$RUN/munge/munge.socket" >/dev/null ||
  fail "munged did not start: $(cat "$RUN/munged.out")"

# Two free TCP ports for slurmctld and slurmd, so that a real Slurm on 6817/6818 is no obstacle.
read -r CTLD_PORT SLURMD_PORT < <($PY -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
host=$(uname -n | cut -d. -f1)  # the short name slurmd looks itself up by
mkdir -p "$RUN/spool/$host"
# The node's hardware as slurmd sees it, with RealMemory lowered by 10% so that it always fits.
node=$(slurmd -C | head -n 1 | awk '{
  for (i = 1; i <= NF; i++)
    if ($i ~ /^RealMemory=/) { split($i, m, "="); $i = "RealMemory=" int(m[2] * 0.9) }
  print $0 " NodeAddr=127.0.0.1 State=UNKNOWN" }')
sed -e "s|@RUN@|$RUN|g" -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$CTLD_PORT|" \
  -e "s|@SLURMD_PORT@|$SLURMD_PORT|" -e "s|@NODE_LINE@|$node|" "$HERE/slurm.conf.in" >"$SLURM_CONF"
slurmctld -D -c -f "$SLURM_CONF" >"$RUN/slurmctld.out" 2>&1 &
CTLD_PID=$!
slurmd -D -f "$SLURM_CONF" >"$RUN/slurmd.out" 2>&1 &
SLURMD_PID=$!
for _ in $(seq 1 60); do
  [[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] && break
  sleep 0.5
done
[[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] ||
  fail "the node did not become idle: $(sinfo 2>&1)"
say "Slurm up: $node"

# --- The study, and the reference computed directly ----------------------------------------------
# 2 programming groups x 2 chips = 4 work units (so 2 slices get 2 each), 4 points x 2 chips = 8
# samples of 32 images: a few seconds of work.
study() {  # study NAME IMAGES
  cat >"$RUN/$1.ini" <<EOF
model = $model
chip = $REPO/configs/chips/hermes64.ini
n_chips = 2
seed = 11
output = $RUN/$1-default.h5

[data]
dir = $data
images = $2

[chip]
calibration.images = 32

[sweep]
chip.device.prog_noise_scale = 1, 2
t_inference = 60, 86400
EOF
}
study tiny 32
# The requeue study has more images per sample, so that a worker rank is likely mid-evaluation
# when the job is requeued (that the job is still running is certain: see requeue_test).
study longer 192
cd "$RUN"
export AIMC=$AIMC_BIN  # the slurm/ scripts' binary
for s in tiny longer; do
  "$AIMC_BIN" run "$s.ini" --output "$RUN/$s-ref.h5" --threads 1 --no-progress \
    >"$RUN/$s-ref.out" 2>&1 || fail "direct aimc run of $s: $(cat "$RUN/$s-ref.out")"
done
say "references computed"

# --- Helpers -------------------------------------------------------------------------------------
job_field() {  # job_field ID FIELD: one field of `scontrol show job` (first task of an array)
  scontrol show job -o "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

wait_job() {  # wait_job ID TIMEOUT_S: until every task of the job has ended; fails on timeout
  local id=$1 limit=$2 start=$SECONDS states
  local ended='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE'
  ended+='|PREEMPTED)$'
  while :; do
    states=$(scontrol show job -o "$id" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')
    [[ -n "$states" ]] && ! grep -qvE "$ended" <<<"$states" && return 0
    ((SECONDS - start < limit)) || fail "job $id still '$(tr '\n' ' ' <<<"$states")' after $limit s"
    sleep 0.5
  done
}

expect_completed() {  # expect_completed ID: every task COMPLETED with exit code 0:0
  local bad
  bad=$(scontrol show job -o "$1" | tr ' ' '\n' | grep -E '^(JobState|ExitCode)=' |
    grep -vE '^(JobState=COMPLETED|ExitCode=0:0)$' || true)
  [[ -z "$bad" ]] || fail "job $1: $(tr '\n' ' ' <<<"$bad")"
}

same() {  # same REFERENCE OTHER WHAT
  $PY "$HERE/h5check.py" same "$1" "$2" || fail "$3: $2 differs from the direct run $1"
}

# --- (a) Multi-rank MPI job -----------------------------------------------------------------------
id=$(sbatch --parsable -N 1 --ntasks-per-node=2 -c 1 -t 15 -o "$RUN/mpi-%j.log" \
  "$REPO/slurm/run-mpi.sbatch" tiny.ini --output "$RUN/mpi.h5" --no-progress)
wait_job "$id" 300
expect_completed "$id"
grep -q "2 rank(s) x 1 thread(s)" "$RUN/mpi-$id.log" || fail "(a) did not run 2 ranks"
same "$RUN/tiny-ref.h5" "$RUN/mpi.h5" "(a) run-mpi.sbatch"
say "(a) run-mpi.sbatch: 2 MPI ranks under srun --mpi=pmix, identical to the direct run"

# --- (b) Job array of slices + merge job ----------------------------------------------------------
ids=$("$REPO/slurm/submit-sweep.sh" -n 2 -o "$RUN/sweep/merged.h5" \
  -s "-c 1 -t 15 -o $RUN/slice-%A_%a.log" tiny.ini --no-progress)
array=$(sed -n 's/^array=//p' <<<"$ids")
merge=$(sed -n 's/^merge=//p' <<<"$ids")
[[ -n "$array" && -n "$merge" ]] || fail "(b) submit-sweep.sh printed '$ids'"
# Right after submission the slices are still running: the merge job must be waiting for them.
[[ "$(job_field "$merge" Dependency)" == *"afterok:$array"* ]] ||
  fail "(b) merge job $merge does not depend on $array: $(job_field "$merge" Dependency)"
wait_job "$array" 300
expect_completed "$array"
wait_job "$merge" 120
expect_completed "$merge"
for i in 0 1; do
  [[ -f "$RUN/sweep/merged.parts/part_$i.h5" ]] || fail "(b) slice $i missing"
done
same "$RUN/tiny-ref.h5" "$RUN/sweep/merged.h5" "(b) job array + merge"
say "(b) submit-sweep.sh: 2 array slices merged after afterok, identical to the direct run"

# --- (c) Requeue: by scontrol, and after the time-limit warning ----------------------------------
# A requeued job waits out a begin-time delay (about 2 min in Slurm 22.05) before it may start
# again; the test shortens it to a few seconds once the node has cleaned up the first run. (No
# shorter: slurmd refuses a launch whose credential is from the same second as the revocation of
# the job's previous one, "Job credential revoked".)
# --test-wait-after 1: rank 0 waits for a signal once the file holds 1 sample, so the job cannot
# finish before the test interrupts it, however fast the machine; the requeued run, which resumes
# with that sample, does not wait.
requeue_test() {  # requeue_test scontrol-requeue|time-limit RANKS
  local name=$1 ranks=$2 id out=$RUN/$1.h5 log k m
  id=$(sbatch --parsable -N 1 --ntasks-per-node="$ranks" -c 1 -t 15 -o "$RUN/$name-%j.log" \
    "$REPO/slurm/run-mpi.sbatch" longer.ini --output "$out" --no-progress --test-wait-after 1)
  local start=$SECONDS
  until grep -q "test hook: waiting for a signal" "$RUN/$name-$id.log" 2>/dev/null; do
    ((SECONDS - start < 180)) || fail "($name) no sample finished within 180 s"
    [[ "$(job_field "$id" JobState)" =~ ^(PENDING|RUNNING)$ ]] ||
      fail "($name) job ended before the test could interrupt it: $(cat "$RUN/$name-$id.log")"
    sleep 0.2
  done
  case $name in
    scontrol-requeue) scontrol requeue "$id" ;;
    # What --signal=B:USR1@<s> does before the time limit; run-mpi.sbatch then requeues itself.
    time-limit) scancel --batch --signal=USR1 "$id" ;;
  esac
  start=$SECONDS
  until [[ "$(job_field "$id" Restarts)" -ge 1 && "$(job_field "$id" JobState)" == PENDING &&
    "$(sinfo -h -o %T)" == idle ]]; do
    ((SECONDS - start < 120)) || fail "($name) job $id was not requeued: $(scontrol show job "$id")"
    sleep 0.2
  done
  scontrol update JobId="$id" StartTime=now+3
  wait_job "$id" 300
  expect_completed "$id"
  log=$RUN/$name-$id.log
  # First run: stopped cleanly on SIGTERM. Second: resumed, and computed exactly the rest.
  grep -q "stopped by signal 15" "$log" || fail "($name) no clean stop on SIGTERM in $log"
  k=$(sed -n 's/.*resuming: \([0-9]*\) already done.*/\1/p' "$log")
  m=$(sed -n 's/.*samples done (\([0-9]*\) this run).*/\1/p' "$log" | tail -n 1)
  [[ -n "$k" && -n "$m" ]] || fail "($name) the requeued run did not resume: $(cat "$log")"
  ((k >= 1 && k + m == 8)) || fail "($name) $k samples before the requeue + $m after != 8"
  same "$RUN/longer-ref.h5" "$out" "($name)"
  say "($name, $ranks rank(s)) stopped with $k of 8 samples, requeued, resumed with the other" \
    "$m; identical"
}
requeue_test scontrol-requeue 1
# 2 ranks: every rank must stop on the signal (a worker busy mid-evaluation takes rank 0's stop
# message) and srun must report aimc's 143.
requeue_test time-limit 2
grep -q "requeueing job" "$RUN"/time-limit-*.log || fail "(time-limit) no self-requeue"
say "all Slurm checks passed"
