#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs every unit and
# integration test, runs the pure-C tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer and the template-swap test on the appliance built
# with AddressSanitizer, and closes with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --clients || exit 1
scripts/build.sh || exit 1
meson test -C build --print-errorlogs --num-processes 2 "$@"
rc=$?
# Sanitizers: the libraries, the simulator and the end-to-end test, no DPDK.
if [[ ! -f build-asan/build.ninja ]]; then
	meson setup build-asan -Db_sanitize=address,undefined -Ddpdk=disabled >/dev/null || exit 1
fi
ninja -C build-asan >/dev/null || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --suite unit --print-errorlogs --num-processes 2 || rc=1
# The appliance itself under AddressSanitizer: a thousand template swaps
# (RCU) while two workers take traffic. Leak checks are off here: EAL keeps
# its memory to the end of the process by design.
if [[ ! -f build-asan-dp/build.ninja ]]; then
	meson setup build-asan-dp --buildtype=debugoptimized -Db_sanitize=address >/dev/null || exit 1
fi
ninja -C build-asan-dp >/dev/null || exit 1
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	meson test -C build-asan-dp --no-rebuild --print-errorlogs templates-swap || rc=1
python3 - <<'PY'
import json
passed = failed = 0
for build, tag in (("build", ""), ("build-asan", " (asan+ubsan)"), ("build-asan-dp", " (asan)")):
    with open(f"{build}/meson-logs/testlog.json") as f:
        for line in f:
            r = json.loads(line)
            if r.get("result") in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r.get("result") == "SKIP":
                pass
            else:
                failed += 1
                print("FAILED:", r.get("name") + tag, r.get("result"))
print(f"{passed} passed, {failed} failed")
PY
exit $rc
