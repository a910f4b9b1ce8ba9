#!/usr/bin/env bash
# Rewrites the generated parts of the docs from their one declaration in the code: the chip key
# table in docs/chip.md (`aimc keys`) and the experiment key table in docs/experiments.md
# (`aimc keys --experiment`). tests/python/test_keys.py fails when they are stale.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIMC=${AIMC_BIN:-$REPO/${AIMC_BUILD_DIR:-build}/aimc}
/usr/bin/python3 - "$AIMC" "$REPO/docs" <<'PY'
import subprocess, sys
aimc, docs = sys.argv[1], sys.argv[2]
for doc, args in (("chip.md", ["keys"]), ("experiments.md", ["keys", "--experiment"])):
    table = subprocess.run([aimc, *args], capture_output=True, text=True, check=True).stdout
    table = table[table.index("| key |"):]
    marker = "<!-- aimc " + " ".join(args)
    text = open(f"{docs}/{doc}").read()
    begin = text.index("\n", text.index(marker + ": begin")) + 1
    end = text.index(marker + ": end -->")
    open(f"{docs}/{doc}", "w").write(text[:begin] + table + text[end:])
PY
echo "gen_docs: key tables in docs/chip.md and docs/experiments.md rewritten from $AIMC"
