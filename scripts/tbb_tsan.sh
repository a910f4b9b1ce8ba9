#!/usr/bin/env bash
# Builds oneTBB's libtbb with ThreadSanitizer into PREFIX (default build-tsan/tbb-install) for the
# TSan stage of scripts/sanitize.sh (docs/reliability.md). Debian's libtbb is not instrumented, so
# TSan cannot see the synchronisation inside TBB's scheduler and reports every task hand-off as a
# race; with this library it sees them.
#
# The source is Debian's own onetbb source package at the version of the installed libtbb-dev, so
# the library matches the headers aimc is written against, Debian patches included. Only libtbb is
# built: tbbmalloc is left out on purpose, since libtbb then falls back to malloc, which TSan
# intercepts (it looks for libtbbmalloc only next to itself, never in /usr/lib).
#
# Cached: a stamp in PREFIX records the source version and the compiler; when both match, nothing is
# fetched or built. The compiler is CMake's default C++ compiler (CXX, else c++: g++ on Debian), the
# one scripts/sanitize.sh builds aimc with, because gcc's and clang's TSan runtimes do not mix.
#
# Needs deb-src entries in apt's sources; as root it adds them when missing.
# Environment: AIMC_JOBS (default nproc).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PREFIX=${1:-build-tsan/tbb-install}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
WORK=$PREFIX-work
JOBS=${AIMC_JOBS:-$(nproc)}

fail() { echo "tbb_tsan: $*" >&2; exit 1; }

version=$(dpkg-query -W -f='${source:Version}' libtbb-dev 2>/dev/null) ||
  fail "libtbb-dev is not installed (scripts/setup.sh installs it)"
cxx=${CXX:-c++}
stamp="onetbb $version; $(command -v "$cxx") $("$cxx" --version | head -n 1); -fsanitize=thread"
if [[ -f $PREFIX/lib/libtbb.so.12 && -f $PREFIX/aimc-stamp &&
  $(<"$PREFIX/aimc-stamp") == "$stamp" ]]; then
  echo "tbb_tsan: cached in $PREFIX ($stamp)"
  exit 0
fi

# grep without -q in pipelines: -q stops reading at the first match, and the writer's SIGPIPE
# would then fail the pipeline under pipefail.
has_source() {
  apt-get source -qq --print-uris "onetbb=$version" 2>/dev/null | grep orig.tar >/dev/null
}
if ! has_source; then
  [[ $(id -u) == 0 ]] || fail "apt cannot fetch the onetbb $version source (no deb-src entry, or" \
    "no apt-get update since): run this as root, or add a deb-src entry and run apt-get update"
  if ! grep -rqsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' /etc/apt/sources.list \
    /etc/apt/sources.list.d/; then
    # The same archives (and mirrors) as the binary packages, when they are in deb822 form.
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      sed 's/^Types:[[:space:]]*deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
        >/etc/apt/sources.list.d/aimc-deb-src.sources
    else
      codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
      printf '%s\n' "Types: deb-src" "URIs: http://deb.debian.org/debian" \
        "Suites: $codename $codename-updates" "Components: main" \
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
        >/etc/apt/sources.list.d/aimc-deb-src.sources
    fi
    echo "tbb_tsan: added /etc/apt/sources.list.d/aimc-deb-src.sources"
  fi
  apt-get update -qq
  has_source || fail "apt cannot fetch the onetbb $version source even with deb-src entries"
fi

start=$SECONDS
rm -f "$PREFIX/aimc-stamp"
rm -rf "$WORK"
mkdir -p "$WORK"
# As root, apt warns that the download runs unsandboxed (user _apt cannot write here): harmless.
(cd "$WORK" && apt-get source -qq "onetbb=$version" 2>&1 |
  grep -v -e unsandboxed -e '^dpkg-source: info' >&2 || true)
src=$(find "$WORK" -mindepth 2 -maxdepth 2 -name CMakeLists.txt -printf '%h\n' | head -n 1)
[[ -n $src ]] || fail "apt-get source onetbb=$version left no source tree in $WORK"

# -Wno-tsan, TBB_STRICT=OFF: gcc 12 warns at every atomic_thread_fence that TSan does not model
# fences, hundreds of lines for one known limitation, and TBB's strict mode makes warnings errors.
# TBB_SANITIZE adds the sanitizer to executables' links only; on the library's link it makes libtbb
# depend on libtsan, so it cannot be loaded into a program without the runtime.
cmake -S "$src" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -g1 -DNDEBUG -Wno-tsan" \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread -DTBB_SANITIZE=thread -DTBB_STRICT=OFF \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib -DTBB_TEST=OFF -DTBB_EXAMPLES=OFF \
  -DTBBMALLOC_BUILD=OFF -DTBB_DISABLE_HWLOC_AUTOMATIC_SEARCH=ON >/dev/null
cmake --build "$WORK/build" -j "$JOBS" --target tbb
cmake --install "$WORK/build" >/dev/null
[[ -f $PREFIX/lib/libtbb.so.12 && -f $PREFIX/lib/cmake/TBB/TBBConfig.cmake ]] ||
  fail "the install into $PREFIX has no libtbb.so.12 or TBBConfig.cmake"
nm -D "$PREFIX/lib/libtbb.so.12" | grep __tsan_func_entry >/dev/null ||
  fail "$PREFIX/lib/libtbb.so.12 is not instrumented (no __tsan_func_entry)"
echo "$stamp" >"$PREFIX/aimc-stamp"
rm -rf "$WORK"
echo "tbb_tsan: built in $((SECONDS - start)) s into $PREFIX ($stamp)"
