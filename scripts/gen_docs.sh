#!/usr/bin/env bash
# Rewrites the generated parts of the docs from their one declaration in the code: the chip key
# table in docs/chip.md from `aimc keys`. tests/python/test_keys.py fails when they are stale.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIMC=${AIMC_BIN:-$REPO/${AIMC_BUILD_DIR:-build}/aimc}
/usr/bin/python3 - "$AIMC" "$REPO/docs/chip.md" <<'PY'
import subprocess, sys
aimc, doc = sys.argv[1], sys.argv[2]
table = subprocess.run([aimc, "keys"], capture_output=True, text=True, check=True).stdout
table = table[table.index("| key |"):]
text = open(doc).read()
begin = text.index("\n", text.index("<!-- aimc keys: begin")) + 1
end = text.index("<!-- aimc keys: end -->")
open(doc, "w").write(text[:begin] + table + text[end:])
PY
echo "gen_docs: docs/chip.md key table rewritten from $AIMC keys"
