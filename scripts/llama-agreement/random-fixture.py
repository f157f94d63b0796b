"""llama.cpp's reference outputs for one random-weight model (scripts/gen-random-models.sh),
as a JSONL fixture in the format of tests/fixtures/*.jsonl, one line per prompt, each line also
naming the model file and its sha256 (the test refuses a regenerated file that differs).

usage: random-fixture.py LOGPROBS_BIN MODEL.gguf OUT.jsonl
The tool runs as the existing references were made (one prompt batch with logits at every
position, f16 KV cache, flash attention on, 2 threads), then GREEDY greedy steps one by one.
"""
import hashlib
import json
import os
import subprocess
import sys

GREEDY = 16
# Short and long prompts (the long one crosses Gemma 2's tiny 8-token window several times),
# code, digits and a chat turn in the family's own special tokens when it has them.
PROMPTS = [
    ("france", "The capital of France is"),
    ("fox", "The quick brown fox"),
    ("code", "def fibonacci(n):\n    "),
    ("paragraph", "Small language models run directly on phones and laptops. Because the weights "
                  "are quantized to four bits, a model with a billion parameters fits in less "
                  "than a gigabyte of memory, and a phone decodes"),
    ("numbers", "Numbers 1234567890 and 3.14159, then 42!"),
]


def parse(pairs):
    return [[int(a), float(b)] for a, b in (p.split(":") for p in pairs)]


def run(cmd, cid, text):
    """Runs the logprobs tool (`cmd`: the tool, its options and the model) on `text`: the
    prompt's tokens with their top 10, then the greedy tokens with each step's top 10."""
    env = dict(os.environ, GREEDY_TOP10="1")
    out = subprocess.run(cmd + [text, str(GREEDY)], capture_output=True, text=True,
                         check=True, env=env).stdout.rstrip("\n").split("\n")
    g = next(i for i, l in enumerate(out) if l.startswith("G"))
    rows, greedy, steps = out[:g], out[g].split()[1:], out[g + 1:]
    assert all(s.startswith("T") for s in steps) and len(steps) == len(greedy), cid
    return {
        "tokens": [int(r.split()[0]) for r in rows],
        "prompt_top10": [parse(r.split()[1:]) for r in rows],
        "greedy": [int(t) for t in greedy],
        "greedy_top10": [parse(s.split()[1:]) for s in steps],
    }


def main():
    tool, model, out_path = sys.argv[1:4]
    sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
    name = os.path.basename(os.path.realpath(model))
    lines = []
    for cid, text in PROMPTS:
        lines.append(json.dumps({
            "id": cid,
            "text": text,
            "model": name,
            "model_sha256": sha,
            **run([tool, model], cid, text),
        }, separators=(",", ":")))
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{out_path}: {len(lines)} prompts from {name} ({sha[:12]})", file=sys.stderr)


if __name__ == "__main__":
    main()
