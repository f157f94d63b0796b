#!/usr/bin/env bash
# Runs the binding suites (Kotlin, Swift) and the bindings drift check once they exist in the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ran=0
if [ -f scripts/gen-bindings.sh ]; then bash scripts/gen-bindings.sh --check; fi
if [ -f scripts/test-kotlin.sh ]; then bash scripts/test-kotlin.sh; ran=1; fi
if [ -f scripts/test-swift.sh ]; then bash scripts/test-swift.sh; ran=1; fi
[ "$ran" = 1 ] || echo "binding suites: not present yet"
