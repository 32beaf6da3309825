#!/usr/bin/env bash
# Run carechain's test programs and total their cmocka results.
# Usage: scripts/run-tests.sh [unit] [integration] [fuzz] [sim] [ui]   (default: all)
# The last line is "N passed, N failed"; the exit code is 1 when any failed.
set -u
BUILD=${BUILD:-build}
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(unit integration fuzz sim ui)

passed=0 failed=0 skipped=0
failures=()
log_dir="$BUILD/test-logs"
mkdir -p "$log_dir"

run_one() { # name, command...
    local name=$1; shift
    local log="$log_dir/$name.log"
    local t0=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local p f s
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # crashed or exited badly without a cmocka summary
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$f" -ne 0 ]; then
        failures+=("$name")
        echo "FAIL $name ($((SECONDS - t0)) s): $p passed, $f failed — log: $log"
        grep -E '^\[  (ERROR|FAILED|  SKIPPED) \]|error:|Assertion|Sanitizer' "$log" | head -20 | sed 's/^/    /'
    else
        if [ "$s" -gt 0 ]; then
            echo "ok   $name ($((SECONDS - t0)) s): $p passed, $s skipped"
        else
            echo "ok   $name ($((SECONDS - t0)) s): $p passed"
        fi
        grep -E '^\[  SKIPPED \] [a-z_]' "$log" | sed 's/^/    /'
    fi
}

for kind in "${kinds[@]}"; do
    case $kind in
    unit|integration)
        for t in "$BUILD"/tests/$kind/test_*; do
            [ -x "$t" ] || continue
            run_one "$kind-$(basename "$t")" "$t"
        done ;;
    fuzz)
        for t in "$BUILD"/tests/fuzz/replay_fuzz_*; do
            [ -x "$t" ] || continue
            n=${t##*/replay_}
            run_one "fuzz-$n" "$t" "tests/fuzz/corpus/$n"
        done ;;
    sim)
        for t in "$BUILD"/tests/sim/sim_*; do
            [ -x "$t" ] || continue
            run_one "sim-$(basename "$t")" "$t"
        done ;;
    ui) # the explorer in headless Chromium (skipped, with why, when it cannot be had)
        BUILD="$BUILD" run_one "ui-explorer" scripts/ui-test.sh ;;
    esac
done

echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
