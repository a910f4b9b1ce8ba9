#!/usr/bin/env bash
# Submits an aimc study as a job array of N slices plus a merge job that runs once every slice
# has succeeded (--dependency=afterok), leaving one results file equal to a single run's.
#
#   slurm/submit-sweep.sh -n 8 -o results/study.h5 experiments/study.ini [aimc run options ...]
#   slurm/submit-sweep.sh -n 8 -o results/study.h5 -s "-c 16 --time=2:00:00" experiments/study.ini
#
#   -n N        slices = array tasks (default 4)
#   -o OUT.h5   merged results file (default results/<experiment name>.h5); it must not exist
#   -p DIR      where the slices go (default OUT without .h5, plus .parts/)
#   -s ARGS     extra sbatch options for the array tasks (word-split), e.g. "-c 16 -p long"
#
# Run it from the repository root. Partition, account, QOS and the like also come from sbatch's
# own environment variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_QOS, ...), for both jobs.
# Prints "array=<job id>" and "merge=<job id>" on stdout.
#
# When a slice fails, the merge job is cancelled (its dependency can no longer be met). Rerun
# that slice (sbatch --array=I slurm/sweep-array.sbatch EXPERIMENT.ini N DIR; it resumes from its
# part file) and merge by hand: aimc merge OUT.h5 DIR/part_*.h5.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  echo "usage: slurm/submit-sweep.sh [-n N] [-o OUT.h5] [-p PARTS_DIR] [-s SBATCH_ARGS]" \
    "EXPERIMENT.ini [aimc run options ...]" >&2
  exit 2
}
slices=4 out="" parts="" extra=""
while getopts "n:o:p:s:h" opt; do
  case $opt in
    n) slices=$OPTARG ;;
    o) out=$OPTARG ;;
    p) parts=$OPTARG ;;
    s) extra=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
(($# >= 1)) || usage
experiment=$1
shift
[[ -f "$experiment" ]] || { echo "submit-sweep: $experiment: no such file" >&2; exit 2; }
[[ "$slices" =~ ^[1-9][0-9]*$ ]] || { echo "submit-sweep: -n '$slices', need N >= 1" >&2; exit 2; }
out=${out:-results/$(basename "$experiment" .ini).h5}
parts=${parts:-${out%.h5}.parts}
# aimc merge never overwrites: refuse now rather than fail after the whole array has run.
[[ ! -e "$out" ]] || { echo "submit-sweep: $out already exists (move it away first)" >&2; exit 2; }
AIMC=${AIMC:-build/aimc}
[[ -x "$AIMC" ]] || AIMC=$(command -v aimc) || {
  echo "submit-sweep: no aimc binary: set AIMC=/path/to/aimc" >&2
  exit 2
}
mkdir -p "$parts" "$(dirname "$out")"

# shellcheck disable=SC2086  # ARGS are sbatch options, split on purpose
array=$(sbatch --parsable --array="0-$((slices - 1))" $extra \
  "$HERE/sweep-array.sbatch" "$experiment" "$slices" "$parts" "$@")
array=${array%%;*}  # --parsable prints "id;cluster" on multi-cluster sites
part_files=()
for ((i = 0; i < slices; i++)); do part_files+=("$parts/part_$i.h5"); done
# The merge job is tiny (it only copies samples): one CPU. printf %q keeps odd paths intact.
merge=$(sbatch --parsable --job-name=aimc-merge --ntasks=1 --cpus-per-task=1 --time=00:30:00 \
  --dependency="afterok:$array" --kill-on-invalid-dep=yes --output="${out%.h5}.merge-%j.log" \
  --wrap "$(printf '%q ' "$AIMC" merge "$out" "${part_files[@]}")")
merge=${merge%%;*}
echo "submit-sweep: $slices slices of $experiment -> $parts/, merged into $out" >&2
echo "array=$array"
echo "merge=$merge"
