"""llama.cpp's reference outputs for a base model with LoRA adapters applied (`--lora
FILE:SCALE` of logprobs.cpp), as a JSONL fixture in the format of random-fixture.py (same
prompts, same run), each line also naming the adapter file, its sha256 and its scale.

usage: lora-fixture.py LOGPROBS_BIN MODEL.gguf ADAPTER.gguf SCALE OUT.jsonl
"""
import hashlib
import importlib.util
import json
import os
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
    names = {
        "model": os.path.basename(os.path.realpath(model)),
        "model_sha256": sha256(model),
        "adapter": os.path.basename(os.path.realpath(adapter)),
        "adapter_sha256": sha256(adapter),
        "scale": float(scale),
    }
    for cid, text in rf.PROMPTS:
        lines.append(json.dumps({
            "id": cid,
            "text": text,
            **names,
            **rf.run([tool, "--lora", f"{adapter}:{scale}", model], cid, text),
        }, separators=(",", ":")))
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{out_path}: {len(lines)} prompts, {os.path.basename(adapter)} x {scale}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
