"""llama.cpp's reference outputs for a base model with LoRA adapters applied (`--lora
FILE:SCALE` of logprobs.cpp), as a JSONL fixture in the format of random-fixture.py (same
prompts, same run), each line also naming the adapter file, its sha256 and its scale.

usage: lora-fixture.py LOGPROBS_BIN MODEL.gguf ADAPTER.gguf SCALE OUT.jsonl
"""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys

spec = importlib.util.spec_from_file_location(
    "random_fixture", os.path.join(os.path.dirname(__file__), "random-fixture.py"))
rf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rf)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    tool, model, adapter, scale, out_path = sys.argv[1:6]
    lines = []
    for cid, text in rf.PROMPTS:
        env = dict(os.environ, GREEDY_TOP10="1")
        out = subprocess.run([tool, "--lora", f"{adapter}:{scale}", model, text, str(rf.GREEDY)],
                             capture_output=True, text=True, check=True,
                             env=env).stdout.rstrip("\n").split("\n")
        g = next(i for i, l in enumerate(out) if l.startswith("G"))
        rows, greedy, steps = out[:g], out[g].split()[1:], out[g + 1:]
        assert all(s.startswith("T") for s in steps) and len(steps) == len(greedy), cid
        lines.append(json.dumps({
            "id": cid,
            "text": text,
            "model": os.path.basename(os.path.realpath(model)),
            "model_sha256": sha256(model),
            "adapter": os.path.basename(os.path.realpath(adapter)),
            "adapter_sha256": sha256(adapter),
            "scale": float(scale),
            "tokens": [int(r.split()[0]) for r in rows],
            "prompt_top10": [rf.parse(r.split()[1:]) for r in rows],
            "greedy": [int(t) for t in greedy],
            "greedy_top10": [rf.parse(s.split()[1:]) for s in steps],
        }, separators=(",", ":")))
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{out_path}: {len(lines)} prompts, {os.path.basename(adapter)} x {scale}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
