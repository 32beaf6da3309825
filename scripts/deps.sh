#!/usr/bin/env bash
# Install the Debian packages carechain needs, when any is missing.
# As root it runs apt-get; otherwise it prints the line to run and fails.
# Usage: scripts/deps.sh [--web] [--browser] [--bench]
#   --web adds Node.js with npm (when missing), then installs libsodium.js
#   (libsodium-wrappers) into ./node_modules from package-lock.json (npm
#   ci): the build embeds it in the explorer (scripts/web-libs.sh); make
#   demo, test and ui ask for it. Without it the node still builds, and the
#   patient page says that granting read permits in the browser needs it.
#   --browser is --web plus chromium for the UI tests, and playwright-core
#   into tests/ui/node_modules from tests/ui/package-lock.json (npm ci);
#   --bench adds etcd-server and etcd-client for bench/etcd-compare.sh (not
#   needed to build or test)
set -eu
web=0 browser=0

pkgs=(build-essential pkg-config clang clang-format cppcheck
      libsodium-dev liblmdb-dev lmdb-utils libjansson-dev libmicrohttpd-dev libgnutls28-dev
      libssl-dev libcurl4-openssl-dev libcmocka-dev liblua5.4-dev libraft-dev libuv1-dev libjemalloc-dev
      libclang-rt-14-dev curl openssl iproute2)
for arg in "$@"; do
    case "$arg" in
    --web) web=1 ;;
    --browser) web=1 browser=1; pkgs+=(chromium) ;;
    --bench) pkgs+=(etcd-server etcd-client) ;;
    *) echo "usage: scripts/deps.sh [--web] [--browser] [--bench]" >&2; exit 2 ;;
    esac
done
if [ "$web" = 1 ]; then
    # Node.js may come from elsewhere than Debian (with its own npm):
    # ask for Debian's only when there is none.
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
fi

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

# npm ci in $1 unless every package its package-lock.json names is already
# installed there at the locked version (so a run with nothing to do stays
# offline and quick).
npm_ci() {
    local dir=$1 what=$2
    if (cd "$dir" && node -e '
        const lock = require("./package-lock.json");
        for (const [p, v] of Object.entries(lock.packages || {})) {
            if (!p) continue;
            let have;
            try { have = require("./" + p + "/package.json").version; } catch (e) {}
            if (have !== v.version) process.exit(1);
        }' 2>/dev/null); then
        return 0
    fi
    echo "deps: npm ci in $dir ($what)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts) >&2
}

top=$(cd "$(dirname "$0")/.." && pwd)
# The explorer's browser library, at the versions the lock file pins.
if [ "$web" = 1 ]; then npm_ci "$top" "libsodium.js for the explorer"; fi
# The browser tests' one npm package, likewise.
if [ "$browser" = 1 ]; then npm_ci "$top/tests/ui" "playwright-core for the UI tests"; fi
exit 0
