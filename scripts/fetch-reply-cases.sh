#!/usr/bin/env bash
# Build the reply-drafting case sets (tests/fixtures/reply-cases-dev.txt and
# tests/fixtures/reply-cases-heldout.txt) from the conversations of the PyPI package
# `chatterbot-corpus` (1.3.3, sha256-checked). Idempotent: the wheel is cached under
# ~/.cache/pocketlm/corpus and the output is deterministic, so re-running it reproduces the
# checked-in files byte for byte (`--check` fails when they differ).
#
# Selection (documented in docs/reply.md): every utterance of the English conversational
# categories (both sides of the two-person dialogues in conversations/greetings, the opening
# human line of the others), one incoming message per line; utterances about the bot itself (robots, "you are
# a computer", AI), trivia/definition questions ("what is X") and lines outside 2..30 words are
# dropped; ALL-CAPS lines are turned into sentence case; duplicates (case-insensitive) removed.
# Split: sha1(message) % 5 == 0 goes to the held-out set, the rest to the dev set.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${POCKETLM_CACHE:-$HOME/.cache/pocketlm}/corpus"
mkdir -p "$cache"

VERSION=1.3.3
WHEEL="chatterbot_corpus-$VERSION-py2.py3-none-any.whl"
SHA=86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154

verified() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

if ! verified "$cache/$WHEEL" "$SHA"; then
  tmp="$(mktemp -d)"
  echo "fetching chatterbot-corpus==$VERSION from PyPI..." >&2
  python3 -m pip download --quiet --no-deps -d "$tmp" "chatterbot-corpus==$VERSION"
  mv "$tmp/$WHEEL" "$cache/$WHEEL"
  rm -rf "$tmp"
  verified "$cache/$WHEEL" "$SHA" || { echo "sha256 mismatch for $WHEEL" >&2; rm -f "$cache/$WHEEL"; exit 1; }
fi

check=0
[ "${1:-}" = "--check" ] && check=1
out="$here/tests/fixtures"
[ "$check" = 1 ] && out="$(mktemp -d)"
mkdir -p "$out"

# The corpus files are a simple YAML subset (lists of lists of strings); parse them without
# PyYAML so the script needs nothing beyond python3.
python3 - "$cache/$WHEEL" "$out" <<'PY'
import hashlib, re, sys, zipfile

wheel, out = sys.argv[1], sys.argv[2]
CATEGORIES = ["conversations", "greetings", "emotion", "psychology", "humor", "food",
              "gossip", "movies", "sports", "money", "health", "literature", "history"]
DIALOGUES = {"conversations", "greetings"}
BOT_WORDS = re.compile(r"\b(robots?|bots?|chat ?bots?|computers?|machines?|ai|artificial|"
                       r"program(med)?|software|electricity|android|hal|siri|alexa)\b", re.I)
TRIVIA = re.compile(r"^(what|who|when|where|which) (is|was|are|were|did|does) ", re.I)

def parse(text):
    """Returns the conversations (lists of utterances) of a chatterbot-corpus YAML file."""
    convs, cur, item = [], None, None
    def flush_item():
        nonlocal item
        if item is not None:
            cur.append(item.strip())
            item = None
    for line in text.splitlines():
        if line.startswith("- - "):
            flush_item()
            cur = []
            convs.append(cur)
            item = line[4:]
        elif line.startswith("  - "):
            flush_item()
            item = line[4:]
        elif line.startswith("    ") and item is not None:
            item += " " + line.strip()
        elif not line.startswith(" "):
            flush_item()
    flush_item()
    return convs

def unquote(s):
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1]
        s = s.replace("''", "'") if s and "'" in s else s
    return s.strip()

def sentence_case(s):
    if any(c.isalpha() for c in s) and s.upper() == s:
        s = s.lower()
        s = re.sub(r"\bi\b", "I", s)
        s = s[0].upper() + s[1:]
    return s

seen, cases = set(), []
with zipfile.ZipFile(wheel) as z:
    for cat in CATEGORIES:
        text = z.read(f"chatterbot_corpus/data/english/{cat}.yml").decode("utf-8")
        for conv in parse(text):
            # Both sides of the two-person dialogues; only the opening (human) line elsewhere:
            # the bot's answers in the other categories are not messages people receive.
            for u in (conv if cat in DIALOGUES else conv[:1]):
                u = sentence_case(re.sub(r"\s+", " ", unquote(u)))
                words = u.split()
                if not 2 <= len(words) <= 30 or BOT_WORDS.search(u) or TRIVIA.search(u):
                    continue
                key = re.sub(r"[^a-z0-9 ]", "", u.lower()).strip()
                if key in seen:
                    continue
                seen.add(key)
                cases.append(u)

dev = [c for c in cases if int(hashlib.sha1(c.encode()).hexdigest(), 16) % 5 != 0]
held = [c for c in cases if int(hashlib.sha1(c.encode()).hexdigest(), 16) % 5 == 0]
for name, rows in (("reply-cases-dev.txt", dev), ("reply-cases-heldout.txt", held)):
    with open(f"{out}/{name}", "w", encoding="utf-8") as f:
        f.write("".join(r + "\n" for r in rows))
print(f"{len(dev)} dev cases, {len(held)} held-out cases", file=sys.stderr)
PY

if [ "$check" = 1 ]; then
  for f in reply-cases-dev.txt reply-cases-heldout.txt; do
    cmp -s "$out/$f" "$here/tests/fixtures/$f" || { echo "tests/fixtures/$f is out of date: run scripts/fetch-reply-cases.sh" >&2; exit 1; }
  done
  rm -rf "$out"
fi
