#!/usr/bin/env bash
# Stage the explorer's browser library for scripts/embed-web.sh: libsodium.js
# (npm libsodium-wrappers and its libsodium, installed into ./node_modules
# by scripts/deps.sh --web from package-lock.json; never committed) is
# copied into OUTDIR with its licence, and OUTDIR/libs.json says what the
# build has, so the pages know without probing for files:
#   {"sodium": {"version": "0.8.4", "scripts": [...], "license": "..."}}
# or, when node_modules lacks it, {"sodium": null}.
# The UMD builds (dist/modules/) load as plain <script>s under the UI's CSP
# (script-src 'self' 'wasm-unsafe-eval'): no bare module specifiers, no eval.
# A file is rewritten only when its bytes change, so make rebuilds the
# embedded table only then. Usage: scripts/web-libs.sh OUTDIR
set -eu
out=${1:?usage: scripts/web-libs.sh OUTDIR}
nm="$(dirname "$0")/../node_modules"
mkdir -p "$out"

put() { # src dst: copy unless identical
    if ! cmp -s "$1" "$2"; then cp "$1" "$2.tmp" && mv "$2.tmp" "$2"; fi
}
say() { # text dst: write unless identical
    printf '%s\n' "$1" >"$2.tmp"
    if cmp -s "$2.tmp" "$2"; then rm -f "$2.tmp"; else mv "$2.tmp" "$2"; fi
}

core="$nm/libsodium/dist/modules/libsodium.js"
wrap="$nm/libsodium-wrappers/dist/modules/libsodium-wrappers.js"
lic="$nm/libsodium-wrappers/LICENSE"
pkg="$nm/libsodium-wrappers/package.json"
if [ -f "$core" ] && [ -f "$wrap" ] && [ -f "$lic" ] && [ -f "$pkg" ]; then
    version=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$pkg" | head -1)
    put "$core" "$out/libsodium.js"
    put "$wrap" "$out/libsodium-wrappers.js"
    put "$lic" "$out/libsodium-LICENSE.txt"
    say "{\"sodium\": {\"version\": \"$version\", \"scripts\": [\"libsodium.js\", \"libsodium-wrappers.js\"], \"license\": \"libsodium-LICENSE.txt\"}}" "$out/libs.json"
else
    rm -f "$out/libsodium.js" "$out/libsodium-wrappers.js" "$out/libsodium-LICENSE.txt"
    say '{"sodium": null}' "$out/libs.json"
fi
