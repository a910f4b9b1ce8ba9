#!/usr/bin/env bash
# Finds or fetches CIFAR-10 (binary version) and the pretrained ResNets, checks
# them against scripts/data.md5 and links them into <repo>/data/.
set -euo pipefail

readonly PROG=fetch_data
readonly DEFAULT_URL=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
readonly TARBALL_MD5=c32a1d4ab5d03f1284b67883e8d87530
readonly TARBALL_DIR=cifar-10-batches-bin

usage() {
    cat <<EOF
Usage: scripts/fetch_data.sh [--quiet] [--help]

Makes CIFAR-10 and the pretrained models available as symlinks under
<repo>/data/cifar-10/ and <repo>/data/models/, after checking every file
against scripts/data.md5.

Each file is looked for in, in order:
  1. \$AIMC_DATA/<relpath>            (if AIMC_DATA is set)
  2. <repo>/../shared/data/<relpath>
  3. CIFAR-10 only: the official archive, downloaded into data/downloads/

A file that is present with a wrong checksum is an error. Missing models
are a warning (model tests skip) unless AIMC_REQUIRE_DATA=1.

Options:
  --quiet   do not print the summary line
  --help    show this help

Environment:
  AIMC_DATA          directory holding cifar-10/ and/or models/
  AIMC_REQUIRE_DATA  if 1, missing models are an error
  AIMC_DATA_URL      CIFAR-10 archive URL (default: $DEFAULT_URL)
EOF
}

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}

quiet=0
while (($#)); do
    case "$1" in
        --quiet) quiet=1 ;;
        --help | -h)
            usage
            exit 0
            ;;
        *)
            echo "$PROG: error: unknown option '$1' (see --help)" >&2
            exit 2
            ;;
    esac
    shift
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
readonly SUMS="$REPO/scripts/data.md5"
readonly DATA="$REPO/data"
readonly SHARED="$REPO/../shared/data"
readonly DOWNLOADS="$DATA/downloads"
readonly URL="${AIMC_DATA_URL:-$DEFAULT_URL}"
readonly AIMC_DATA="${AIMC_DATA:-}"
readonly REQUIRE="${AIMC_REQUIRE_DATA:-0}"

[[ -r "$SUMS" ]] || die "$SUMS: cannot read checksum list"
if [[ -n "$AIMC_DATA" && ! -d "$AIMC_DATA" ]]; then
    echo "$PROG: warning: AIMC_DATA=$AIMC_DATA is not a directory; ignoring it" >&2
fi

# Helpers report through globals rather than $(...) so that `die` exits the
# script itself, not just a subshell, even where set -e is suspended.

# Sets `md5` to the MD5 of file $1.
md5_of() {
    local out
    out=$(md5sum <"$1") || die "$1: cannot read"
    md5=${out%% *}
}

# Sets `found` to $1 if it exists; a wrong checksum is fatal wherever the
# file comes from, so a corrupt copy never hides behind a good fallback.
check_candidate() {
    local path=$1 want=$2
    [[ -f "$path" ]] || return 1
    md5_of "$path"
    [[ "$md5" == "$want" ]] || die "$path: checksum mismatch (md5 $md5, expected $want)"
    found=$path
}

download_attempted=0

# Downloads and unpacks the official archive into $DOWNLOADS/$TARBALL_DIR.
# Returns non-zero if it cannot be fetched; a corrupt archive is fatal.
download_cifar() {
    local tarball="$DOWNLOADS/cifar-10-binary.tar.gz" tmp
    mkdir -p "$DOWNLOADS" || die "$DOWNLOADS: cannot create"
    md5=""
    [[ -f "$tarball" ]] && md5_of "$tarball"
    if [[ "$md5" != "$TARBALL_MD5" ]]; then
        ((quiet)) || echo "$PROG: downloading $URL" >&2
        rm -f "$tarball.part"
        if command -v curl >/dev/null; then
            curl -fsSL --connect-timeout 30 --retry 2 -o "$tarball.part" "$URL" || {
                rm -f "$tarball.part"
                return 1
            }
        elif command -v wget >/dev/null; then
            wget -q --timeout=30 --tries=3 -O "$tarball.part" "$URL" || {
                rm -f "$tarball.part"
                return 1
            }
        else
            echo "$PROG: warning: neither curl nor wget is installed; cannot download" >&2
            return 1
        fi
        md5_of "$tarball.part"
        if [[ "$md5" != "$TARBALL_MD5" ]]; then
            rm -f "$tarball.part"
            die "$URL: checksum mismatch (md5 $md5, expected $TARBALL_MD5)"
        fi
        mv -f "$tarball.part" "$tarball" || die "$tarball: cannot write"
    fi
    # Unpack beside the final directory and rename, so an interrupted run
    # never leaves a half-extracted directory that looks complete.
    tmp=$(mktemp -d "$DOWNLOADS/extract.XXXXXX") || die "$DOWNLOADS: cannot create a temporary directory"
    if ! tar -xzf "$tarball" -C "$tmp"; then
        rm -rf "$tmp"
        die "$tarball: cannot extract"
    fi
    [[ -d "$tmp/$TARBALL_DIR" ]] || {
        rm -rf "$tmp"
        die "$tarball: archive has no $TARBALL_DIR/"
    }
    rm -rf "${DOWNLOADS:?}/$TARBALL_DIR"
    mv "$tmp/$TARBALL_DIR" "$DOWNLOADS/$TARBALL_DIR" || die "$DOWNLOADS/$TARBALL_DIR: cannot write"
    rm -rf "$tmp"
}

# Sets `found` to the verified source file and `found_dir` to its location,
# or leaves both empty.
locate() {
    local rel=$1 want=$2 group=${1%%/*} base=${1#*/} loc
    found="" found_dir=""
    for loc in ${AIMC_DATA:+"$AIMC_DATA"} "$SHARED"; do
        if check_candidate "$loc/$rel" "$want"; then
            found_dir=$loc
            return
        fi
    done
    [[ "$group" == cifar-10 ]] || return 0
    if [[ ! -f "$DOWNLOADS/$TARBALL_DIR/$base" ]] && ((!download_attempted)); then
        download_attempted=1
        download_cifar || return 0
    fi
    if check_candidate "$DOWNLOADS/$TARBALL_DIR/$base" "$want"; then
        found_dir=$DOWNLOADS/$TARBALL_DIR
    fi
}

# Appends a directory to a " + "-separated list unless it is already there.
add_dir() {
    local -n list=$1
    case " + $list + " in
        *" + $2 + "*) ;;
        *) list=${list:+$list + }$2 ;;
    esac
}

cifar_dirs="" model_dirs="" missing_list="" models_missing=0 models_total=0
while read -r -u 3 want rel; do
    [[ -n "$want" ]] || continue
    [[ "$want" =~ ^[0-9a-f]{32}$ && -n "$rel" ]] || die "$SUMS: malformed line '$want $rel'"
    group=${rel%%/*}
    [[ "$group" == models ]] && models_total=$((models_total + 1))
    locate "$rel" "$want"
    link="$DATA/$rel"
    if [[ -z "$found" ]]; then
        where="\$AIMC_DATA (${AIMC_DATA:-unset}), $SHARED"
        if [[ "$group" == cifar-10 ]]; then
            die "$rel: not found in $where, and download failed"
        fi
        [[ "$REQUIRE" == 1 ]] && die "$rel: not found in $where (AIMC_REQUIRE_DATA=1)"
        # A stale link would make tests fail instead of skip.
        [[ -L "$link" ]] && rm -f "$link"
        missing_list=${missing_list:+$missing_list, }$rel
        models_missing=$((models_missing + 1))
        continue
    fi
    mkdir -p "$(dirname "$link")"
    # Link to the resolved file so a source that is itself a link into
    # data/ (e.g. AIMC_DATA=<repo>/data) cannot produce a self-loop.
    ln -sfn "$(readlink -f "$found")" "$link"
    if [[ "$group" == cifar-10 ]]; then
        add_dir cifar_dirs "$found_dir"
    else
        add_dir model_dirs "$found_dir"
    fi
done 3<"$SUMS"

if ((models_missing > 0)); then
    echo "$PROG: warning: $missing_list not found in \$AIMC_DATA (${AIMC_DATA:-unset}), $SHARED; model tests will skip" >&2
fi
if ((!quiet)); then
    if ((models_missing == models_total)); then
        models="models not found"
    elif ((models_missing > 0)); then
        models="models from $model_dirs ($models_missing of $models_total files missing)"
    else
        models="models from $model_dirs"
    fi
    echo "$PROG: CIFAR-10 from $cifar_dirs, $models (checksums OK)"
fi
