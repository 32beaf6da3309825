#!/usr/bin/env bash
# Install the Debian packages carechain needs, when any is missing.
# As root it runs apt-get; otherwise it prints the line to run and fails.
# Usage: scripts/deps.sh [--browser] [--bench]
#   --browser adds chromium for UI tests; --bench adds etcd-server and
#   etcd-client for bench/etcd-compare.sh (not needed to build or test)
set -eu

pkgs=(build-essential pkg-config clang clang-format cppcheck
      libsodium-dev liblmdb-dev lmdb-utils libjansson-dev libmicrohttpd-dev
      libcurl4-openssl-dev libcmocka-dev liblua5.4-dev libraft-dev libuv1-dev
      libclang-rt-14-dev curl)
for arg in "$@"; do
    case "$arg" in
    --browser) pkgs+=(chromium nodejs npm) ;;
    --bench) pkgs+=(etcd-server etcd-client) ;;
    *) echo "usage: scripts/deps.sh [--browser] [--bench]" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "carechain needs these packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${missing[@]}" >&2
