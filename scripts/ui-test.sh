#!/usr/bin/env bash
# The explorer's browser tests (tests/ui/ui.test.mjs): installs Chromium,
# playwright-core and libsodium.js when missing (scripts/deps.sh --browser),
# rebuilds so the binary embeds the latter, then runs them
# against a 3-node devnet the test starts and stops. When the browser cannot be installed the
# tests are reported skipped with the reason (cmocka-style lines that
# scripts/run-tests.sh counts), never passed.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}

skip() {
    echo "[  SKIPPED ] ui_explorer: $1"
    echo "[  PASSED  ] 0 test(s)."
    echo "[  SKIPPED ] 1 test(s), listed above."
    exit 0
}

if ! scripts/deps.sh --browser; then
    skip "scripts/deps.sh --browser could not install Chromium, Node.js or playwright-core (see above)"
fi
# deps.sh --browser may just have installed libsodium.js (./node_modules),
# which the build embeds in the explorer: bring the binary up to date (a
# no-op when it is), so the page under test has it.
if ! make --no-print-directory BUILD="$BUILD" all >&2; then
    echo "[  FAILED  ] 1 test(s): make all (to embed libsodium.js) failed, see above"
    exit 1
fi
command -v node >/dev/null || skip "Node.js is not installed"
[ -x /usr/bin/chromium ] || skip "Chromium is not installed at /usr/bin/chromium"
CARECHAIN="$BUILD/carechain" UI_SHOTS="$BUILD/ui-shots" exec node tests/ui/ui.test.mjs
