#!/usr/bin/env bash
# Install the Debian packages carechain needs, when any is missing.
# As root it runs apt-get; otherwise it prints the line to run and fails.
# Usage: scripts/deps.sh [--browser] [--bench]
#   --browser adds chromium (and Node.js with npm, when missing) for the UI
#   tests, then installs playwright-core into tests/ui/node_modules from
#   tests/ui/package-lock.json (npm ci); --bench adds etcd-server and
#   etcd-client for bench/etcd-compare.sh (not needed to build or test)
set -eu
browser=0

pkgs=(build-essential pkg-config clang clang-format cppcheck
      libsodium-dev liblmdb-dev lmdb-utils libjansson-dev libmicrohttpd-dev
      libcurl4-openssl-dev libcmocka-dev liblua5.4-dev libraft-dev libuv1-dev
      libclang-rt-14-dev curl)
for arg in "$@"; do
    case "$arg" in
    --browser)
        browser=1
        pkgs+=(chromium)
        # Node.js may come from elsewhere than Debian (with its own npm):
        # ask for Debian's only when there is none.
        command -v node >/dev/null || pkgs+=(nodejs)
        command -v npm >/dev/null || pkgs+=(npm) ;;
    --bench) pkgs+=(etcd-server etcd-client) ;;
    *) echo "usage: scripts/deps.sh [--browser] [--bench]" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "carechain needs these packages; run as root:" >&2
        echo "  apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
fi

# The browser tests' one npm package, at the version the lock file pins.
if [ "$browser" = 1 ]; then
    ui="$(dirname "$0")/../tests/ui"
    want=$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' "$ui/package.json")
    have=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$ui/node_modules/playwright-core/package.json" 2>/dev/null | head -1)
    if [ "$want" != "$have" ]; then
        echo "deps: npm ci in tests/ui (playwright-core $want)" >&2
        (cd "$ui" && npm ci --no-audit --no-fund --ignore-scripts) >&2
    fi
fi
exit 0
