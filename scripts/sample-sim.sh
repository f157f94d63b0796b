#!/usr/bin/env bash
# The keyboard sample's simulator: JSON-lines events on stdin, one JSON state line per event on
# stdout, driving the platform's real keyboard controller on the real model (protocol:
# docs/samples.md#keyboard-simulator).
#
#   scripts/sample-sim.sh kotlin [--model M] < events.jsonl
#   scripts/sample-sim.sh swift  [--model M] < events.jsonl
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "${1:-}" in
  kotlin|swift) platform="$1"; shift; exec bash "$here/sim/$platform.sh" "$@" ;;
  *) echo "usage: scripts/sample-sim.sh kotlin|swift [--model M] < events.jsonl" >&2; exit 2 ;;
esac
