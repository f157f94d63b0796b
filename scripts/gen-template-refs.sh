#!/usr/bin/env bash
# Regenerate (or with --check, verify) tests/fixtures/chat-templates.jsonl: llama.cpp's chat
# template corpus rendered by Python jinja2 (from PyPI, in a cached venv) with Hugging Face's
# conventions. See scripts/gen-template-refs.py.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JINJA_VERSION=3.1.6
VENV="$POCKETLM_CACHE/venv-jinja-$JINJA_VERSION"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import jinja2" 2>/dev/null; then
  apt_ensure python3-venv
  log "creating $VENV with jinja2==$JINJA_VERSION"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet "jinja2==$JINJA_VERSION" >&2
fi
LLAMA_SRC="$(bash "$REPO_ROOT/scripts/fetch-llama-src.sh")" \
  "$VENV/bin/python" "$REPO_ROOT/scripts/gen-template-refs.py" "$@"
