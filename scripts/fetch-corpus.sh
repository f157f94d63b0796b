#!/usr/bin/env bash
# Fetch the keyboard development corpus: the English conversation files of the PyPI package
# `chatterbot-corpus` (BSD-3-Clause), flattened to one message per line.
#
# Writes into ${POCKETLM_CACHE:-$HOME/.cache/pocketlm}/corpus:
#   chatterbot-en.txt          every distinct single-line English message, in file order
#   chatterbot-en-dev.txt      the lines whose index is not 4 mod 5 (tune on these)
#   chatterbot-en-heldout.txt  every 5th line (index 4 mod 5): never tuned on, reported only
# Idempotent: the wheel and the text files are cached; prints the corpus directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION=1.3.3
WHEEL_SHA=86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154
dir="$POCKETLM_CACHE/corpus"
mkdir -p "$dir"
out="$dir/chatterbot-en.txt"

if [ -s "$out" ] && [ -s "$dir/chatterbot-en-dev.txt" ] && [ -s "$dir/chatterbot-en-heldout.txt" ]; then
  echo "$dir"
  exit 0
fi

whl="$(pypi_wheel chatterbot-corpus "$VERSION" "$WHEEL_SHA" "$dir")"

if ! python3 -c 'import yaml' 2>/dev/null; then
  log "installing PyYAML (needed to read the corpus files)"
  python3 -m pip install --quiet pyyaml >&2
fi

python3 - "$whl" "$dir" <<'PY'
import re, sys, zipfile, yaml, os
whl, out_dir = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(whl)
lines, seen = [], set()
for name in sorted(z.namelist()):
    if not (name.startswith("chatterbot_corpus/data/english/") and name.endswith(".yml")):
        continue
    data = yaml.safe_load(z.read(name)) or {}
    for conv in data.get("conversations") or []:
        for msg in conv or []:
            if not isinstance(msg, str):
                continue
            msg = msg.strip()
            # Multi-line answers are code listings, not messages someone types.
            if not msg or "\n" in msg:
                continue
            msg = re.sub(r"\s+", " ", msg)
            if msg not in seen:
                seen.add(msg)
                lines.append(msg)
assert len(lines) > 1000, f"expected over 1000 messages, found {len(lines)}"

def write(path, rows):
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(r + "\n" for r in rows))
    os.replace(tmp, path)

write(os.path.join(out_dir, "chatterbot-en-dev.txt"), [l for i, l in enumerate(lines) if i % 5 != 4])
write(os.path.join(out_dir, "chatterbot-en-heldout.txt"), [l for i, l in enumerate(lines) if i % 5 == 4])
write(os.path.join(out_dir, "chatterbot-en.txt"), lines)
print(f"{len(lines)} messages", file=sys.stderr)
PY
log "corpus ready in $dir"
echo "$dir"
