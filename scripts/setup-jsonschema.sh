#!/usr/bin/env bash
# The independent JSON Schema validator the structured-output tests check llguidance's outputs
# with (rust/pocketlm/tests/structured.rs): Python's `jsonschema` from PyPI in a cached venv,
# ~/.cache/pocketlm/venv-jsonschema. Idempotent; prints the venv's python.
set -euo pipefail
VENV="$HOME/.cache/pocketlm/venv-jsonschema"
VERSION="4.23.0"
if ! "$VENV/bin/python" -c "import jsonschema, sys; sys.exit(jsonschema.__version__ != '$VERSION')" 2>/dev/null; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "jsonschema==$VERSION" >&2
fi
echo "$VENV/bin/python"
