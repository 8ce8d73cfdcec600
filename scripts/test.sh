#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs every unit and
# integration test, and closes with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --clients || exit 1
scripts/build.sh || exit 1
meson test -C build --print-errorlogs --num-processes 2 "$@"
rc=$?
python3 - <<'PY'
import json
passed = failed = 0
with open("build/meson-logs/testlog.json") as f:
    for line in f:
        r = json.loads(line)
        if r.get("result") in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r.get("result") == "SKIP":
            pass
        else:
            failed += 1
            print("FAILED:", r.get("name"), r.get("result"))
print(f"{passed} passed, {failed} failed")
PY
exit $rc
