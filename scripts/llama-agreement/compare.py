"""How closely does a llama.cpp build agree with ../shared/reference (itself made by llama.cpp)?

Runs the `logprobs` tool on every reference prompt and prints the statistics the Rust test
rust/pocketlm/tests/reference.rs prints for PocketLM, so the two can be read side by side.
usage: compare.py LOGPROBS_BIN MODEL FIXTURE.jsonl
"""
import json
import os
import subprocess
import sys

tool, model, fixture = sys.argv[1:4]
diffs, top1, positions, steps, total, divergences = [], 0, 0, 0, 0, []
for line in open(fixture):
    case = json.loads(line)
    out = subprocess.run([tool, model, case["text"], str(len(case["greedy"]))],
                         capture_output=True, text=True, check=True).stdout.strip().split("\n")
    rows, greedy = out[:-1], [int(t) for t in out[-1].split()[1:]]
    assert [int(r.split()[0]) for r in rows] == case["tokens"], case["id"]
    for row, ref in zip(rows, case["prompt_top10"]):
        lp = {int(a): float(b) for a, b in (p.split(":") for p in row.split()[1:])}
        positions += 1
        top1 += int(row.split()[1].split(":")[0]) == ref[0][0]
        # a reference top-10 token outside this build's top-10 is at least as far off as its
        # 10th entry; count that lower bound
        floor = min(lp.values())
        diffs += [abs(lp[i] - v) if i in lp else abs(floor - v) for i, v in ref]
    total += len(case["greedy"])
    for j, want in enumerate(case["greedy"]):
        if j >= len(greedy) or greedy[j] != want:
            top = case["greedy_top10"][j]
            divergences.append(f"  {case['id']}: greedy diverged at step {j} "
                               f"(reference top-two gap {top[0][1] - top[1][1]:.3f})")
            break
        steps += 1
diffs.sort()
n = len(diffs)
name = os.path.basename(model)
print(f"{name}: top-10 logprobs vs reference: mean |diff| {sum(diffs) / n:.4f}, "
      f"{100 * sum(d <= 0.05 for d in diffs) / n:.1f}% within 0.05, p95 {diffs[n * 95 // 100]:.3f}, "
      f"max {diffs[-1]:.3f}")
print(f"{name}: top-1 same at {top1}/{positions} prompt positions; "
      f"greedy: {steps}/{total} steps identical before divergence")
print("\n".join(divergences))
