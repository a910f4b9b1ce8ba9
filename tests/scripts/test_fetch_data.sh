#!/usr/bin/env bash
# Tests scripts/fetch_data.sh in throw-away copies of the repo layout, so the
# real data/ is never touched. Needs no network: downloads are pointed at
# file:///nonexistent. Real data comes from $AIMC_TEST_SHARED (default
# <repo>/../shared/data) through symlinks; cases that need it are skipped,
# loudly, when it is absent, unless AIMC_REQUIRE_DATA=1.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED_SRC=${AIMC_TEST_SHARED:-$REPO/../shared/data}
REQUIRE=${AIMC_REQUIRE_DATA:-0}
CIFAR_FILES=(batches.meta.txt data_batch_1.bin data_batch_2.bin data_batch_3.bin
    data_batch_4.bin data_batch_5.bin test_batch.bin)
MODEL_FILES=(resnet20.npz resnet20.test_logits.npy resnet32.npz
    resnet32.test_logits.npy resnet44.npz resnet44.test_logits.npy)

T=$(mktemp -d "${TMPDIR:-/tmp}/test_fetch_data.XXXXXX")
trap 'rm -rf "$T"' EXIT

passed=0 failed=0 rc=0 out="" err=""

pass() {
    echo "PASS: $1"
    passed=$((passed + 1))
}

fail() {
    echo "FAIL: $1"
    echo "  exit status: $rc"
    echo "  stdout: $out"
    echo "  stderr: $err"
    failed=$((failed + 1))
}

# Prints the path of a fresh copy of the repo layout: $case/repo/scripts.
# A case that wants a shared dir creates $case/shared/data itself.
new_case() {
    local dir="$T/$1"
    mkdir -p "$dir/repo"
    cp -r "$REPO/scripts" "$dir/repo/scripts"
    echo "$dir"
}

# Fills $1/cifar-10 and/or $1/models with symlinks to the real files.
link_data() {
    local dest=$1 group f
    shift
    for group in "$@"; do
        mkdir -p "$dest/$group"
        if [[ "$group" == cifar-10 ]]; then
            for f in "${CIFAR_FILES[@]}"; do ln -s "$SHARED_SRC/$group/$f" "$dest/$group/$f"; done
        else
            for f in "${MODEL_FILES[@]}"; do ln -s "$SHARED_SRC/$group/$f" "$dest/$group/$f"; done
        fi
    done
}

# Runs fetch_data.sh of case dir $1; later NAME=VALUE arguments go into its
# environment, the rest onto its command line. The caller's AIMC_* settings
# are cleared so they cannot leak in.
run_fetch() {
    local dir=$1 a vars=() args=()
    shift
    for a in "$@"; do
        if [[ "$a" == [A-Z]*=* ]]; then vars+=("$a"); else args+=("$a"); fi
    done
    rc=0
    env -u AIMC_DATA -u AIMC_REQUIRE_DATA AIMC_DATA_URL=file:///nonexistent "${vars[@]}" \
        bash "$dir/repo/scripts/fetch_data.sh" "${args[@]}" >"$T/out" 2>"$T/err" || rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}

have_data=1
for f in "${CIFAR_FILES[@]/#/cifar-10/}" "${MODEL_FILES[@]/#/models/}"; do
    [[ -f "$SHARED_SRC/$f" ]] || have_data=0
done
if ((!have_data)); then
    echo "************************************************************"
    echo "SKIP: real data not found in $SHARED_SRC (set AIMC_TEST_SHARED);"
    echo "SKIP: only the cases that need no data will run"
    echo "************************************************************"
    if [[ "$REQUIRE" == 1 ]]; then
        echo "FAIL: AIMC_REQUIRE_DATA=1 but the data is missing"
        failed=$((failed + 1))
    fi
fi

if ((have_data)); then
    # (1) Good data through AIMC_DATA: links created, summary printed, re-run idempotent.
    c=$(new_case good)
    link_data "$c/aimc" cifar-10 models
    run_fetch "$c" AIMC_DATA="$c/aimc"
    target=$(readlink "$c/repo/data/cifar-10/test_batch.bin" || true)
    if [[ $rc == 0 && "$out" == "fetch_data: CIFAR-10 from $c/aimc, models from $c/aimc (checksums OK)" &&
        -z "$err" && "$target" == "$(readlink -f "$SHARED_SRC/cifar-10/test_batch.bin")" &&
        -f "$c/repo/data/models/resnet44.test_logits.npy" ]]; then
        pass "good data via AIMC_DATA"
    else
        fail "good data via AIMC_DATA"
    fi
    run_fetch "$c" AIMC_DATA="$c/aimc"
    n=$(find "$c/repo/data" -type l | wc -l)
    if [[ $rc == 0 && $n == 13 ]]; then pass "re-run is idempotent"; else fail "re-run is idempotent ($n links)"; fi
    run_fetch "$c" AIMC_DATA="$c/aimc" --quiet
    if [[ $rc == 0 && -z "$out" && -z "$err" ]]; then pass "--quiet"; else fail "--quiet"; fi

    # (1b) Good data from <repo>/../shared/data when AIMC_DATA is unset.
    c=$(new_case shared)
    link_data "$c/shared/data" cifar-10 models
    run_fetch "$c"
    if [[ $rc == 0 && "$out" == *"CIFAR-10 from $c/repo/../shared/data"* && -f "$c/repo/data/cifar-10/data_batch_5.bin" ]]; then
        pass "good data via ../shared/data"
    else
        fail "good data via ../shared/data"
    fi

    # (2) A corrupted file in AIMC_DATA is an error even though ../shared/data is good.
    c=$(new_case corrupt)
    link_data "$c/aimc" cifar-10 models
    link_data "$c/shared/data" cifar-10 models
    rm "$c/aimc/cifar-10/batches.meta.txt"
    sed 's/airplane/aeroplane/' "$SHARED_SRC/cifar-10/batches.meta.txt" >"$c/aimc/cifar-10/batches.meta.txt"
    run_fetch "$c" AIMC_DATA="$c/aimc"
    want="fetch_data: error: $c/aimc/cifar-10/batches.meta.txt: checksum mismatch (md5 $(md5sum <"$c/aimc/cifar-10/batches.meta.txt" | cut -d' ' -f1), expected 40a0b180e208fe03a63ecc891b2555ad)"
    if [[ $rc == 1 && "$err" == "$want" && ! -e "$c/repo/data/cifar-10/batches.meta.txt" ]]; then
        pass "corrupted file is a checksum mismatch"
    else
        fail "corrupted file is a checksum mismatch (expected stderr: $want)"
    fi

    # (4) Missing models: a warning, or an error with AIMC_REQUIRE_DATA=1.
    c=$(new_case nomodels)
    link_data "$c/aimc" cifar-10
    run_fetch "$c" AIMC_DATA="$c/aimc" AIMC_REQUIRE_DATA=1
    if [[ $rc == 1 && "$err" == *"models/resnet20.npz: not found"* ]]; then
        pass "missing models with AIMC_REQUIRE_DATA=1 fail"
    else
        fail "missing models with AIMC_REQUIRE_DATA=1 fail"
    fi
    run_fetch "$c" AIMC_DATA="$c/aimc"
    if [[ $rc == 0 && "$err" == "fetch_data: warning: models/resnet20.npz, "*"models/resnet44.test_logits.npy not found in"*"; model tests will skip" &&
        "$out" == *"models not found"* && -L "$c/repo/data/cifar-10/test_batch.bin" &&
        ! -e "$c/repo/data/models/resnet20.npz" ]]; then
        pass "missing models warn and exit 0"
    else
        fail "missing models warn and exit 0"
    fi

    # A model link left by an earlier run must go when the model disappears.
    mkdir -p "$c/repo/data/models"
    ln -sfn "$T/gone.npz" "$c/repo/data/models/resnet20.npz"
    run_fetch "$c" AIMC_DATA="$c/aimc"
    if [[ $rc == 0 && ! -L "$c/repo/data/models/resnet20.npz" ]]; then
        pass "stale model link removed"
    else
        fail "stale model link removed"
    fi
fi

# (3) A missing CIFAR-10 file with no shared dir and a failing download.
c=$(new_case missing)
mkdir -p "$c/aimc/cifar-10"
if ((have_data)); then
    link_data "$c/aimc" cifar-10 models
    rm "$c/aimc/cifar-10/test_batch.bin"
fi
run_fetch "$c" AIMC_DATA="$c/aimc"
missing=$( ((have_data)) && echo test_batch.bin || echo batches.meta.txt)
if [[ $rc == 1 && "$err" == *"fetch_data: error: cifar-10/$missing: not found in \$AIMC_DATA ($c/aimc), $c/repo/../shared/data, and download failed"* &&
    -z "$(find "$c/repo/data/downloads" -name '*.part' 2>/dev/null)" ]]; then
    pass "missing file and failed download"
else
    fail "missing file and failed download"
fi

# (3b) Same with AIMC_DATA unset: the message says so.
c=$(new_case unset)
run_fetch "$c"
if [[ $rc == 1 && "$err" == *"not found in \$AIMC_DATA (unset)"* ]]; then
    pass "missing file, AIMC_DATA unset"
else
    fail "missing file, AIMC_DATA unset"
fi

# (3c) A downloaded archive with the wrong checksum is rejected (curl reads file://).
if command -v curl >/dev/null; then
    c=$(new_case badtarball)
    mkdir -p "$c/fake/cifar-10-batches-bin"
    echo junk >"$c/fake/cifar-10-batches-bin/test_batch.bin"
    tar -czf "$c/fake.tar.gz" -C "$c/fake" cifar-10-batches-bin
    run_fetch "$c" AIMC_DATA_URL="file://$c/fake.tar.gz"
    if [[ $rc == 1 && "$err" == *"checksum mismatch"*"expected c32a1d4ab5d03f1284b67883e8d87530"* &&
        ! -e "$c/repo/data/downloads/cifar-10-binary.tar.gz" ]]; then
        pass "corrupt download rejected"
    else
        fail "corrupt download rejected"
    fi
fi

# --help works and an unknown option is a usage error.
c=$(new_case options)
run_fetch "$c" --help
help_rc=$rc help_out=$out
run_fetch "$c" --bogus
if [[ $help_rc == 0 && "$help_out" == Usage:* && $rc == 2 && "$err" == *"unknown option"* ]]; then
    pass "--help and unknown options"
else
    fail "--help and unknown options"
fi

echo "$passed passed, $failed failed"
((failed == 0))
