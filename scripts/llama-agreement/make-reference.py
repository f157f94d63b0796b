"""Writes llama.cpp's reference outputs for MODEL on the prompts of an existing fixture, in the
fixture format rust/pocketlm/tests/reference.rs reads (tokens, prompt top-10 logprobs, greedy
continuation and its top-10 per step), using the `logprobs` tool (GREEDY_TOP10=1).
usage: make-reference.py LOGPROBS_BIN MODEL PROMPTS.jsonl OUT.jsonl
"""
import json
import os
import subprocess
import sys

tool, model, prompts, out_path = sys.argv[1:5]


def pairs(line):
    return [[int(a), float(b)] for a, b in (p.split(":") for p in line.split()[1:])]


env = dict(os.environ, GREEDY_TOP10="1")
with open(out_path + ".part", "w") as out:
    for line in open(prompts):
        case = json.loads(line)
        n_greedy = len(case["greedy"])
        lines = subprocess.run([tool, model, case["text"], str(n_greedy)], capture_output=True,
                               text=True, check=True, env=env).stdout.strip().split("\n")
        g = next(i for i, l in enumerate(lines) if l.startswith("G"))
        rows, greedy, steps = lines[:g], [int(t) for t in lines[g].split()[1:]], lines[g + 1:]
        assert len(steps) == len(greedy), (case["id"], len(steps), len(greedy))
        out.write(json.dumps({
            "id": case["id"],
            "text": case["text"],
            "tokens": [int(r.split()[0]) for r in rows],
            "prompt_top10": [pairs(r) for r in rows],
            "greedy": greedy,
            "greedy_top10": [pairs(s) for s in steps],
        }) + "\n")
os.replace(out_path + ".part", out_path)
