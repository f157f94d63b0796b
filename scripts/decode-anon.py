#!/usr/bin/env python3
"""Peak anonymous memory of a PocketLM decode against the size of its KV cache.

Runs `pocketlm generate` (greedy, one cold process) on a model while polling /proc for the
peak RssAnon and VmHWM (scripts/bench.py's peak_memory), and computes the KV cache of the
positions the session held (prompt + generated tokens; F16 keys and values of the layers that
keep them, from the GGUF's block_count, head_count_kv and key/value lengths; the recurrent
states of LFM2's convolutions and Qwen3.5's DeltaNet layers, `kv_bytes_per_position`). The weights are mapped
from the file, so what is anonymous is the KV cache plus the scratch buffers and the logits:
"anon - KV" is that overhead. Needs gguf-py on PYTHONPATH (scripts/bench-families.sh --memory
runs it with the generator's venv).

  decode-anon.py --pocketlm target/release/pocketlm --model M.gguf [--model M2.gguf]
                 [--shape-model ORIGINAL.gguf] [--prompt-words 100] [--max-tokens 384]
                 [--ctx 1024] [--threads 2] [--llama-completion BIN] [--layout-cache DIR]
                 [--json]

--llama-completion: also run llama.cpp's llama-completion on the same prompt, context and
token count (its KV cache is allocated for the whole context, and on x86 it repacks Q4_0 and
the k-quants into anonymous buffers: its "anon - KV" counts those copies).

--layout-cache DIR: run the converted copies (`*.x8.gguf`, which need no conversion) with
`pocketlm --layout-cache DIR`, so that the tokenizer's tables are mapped from their cache file
there (one unmeasured run first writes it); rows get " (tables cached)".

--shape-model: read the layer and head counts from this file (a `pocketlm convert`ed copy has
tensor types gguf-py does not know; its original has the same metadata).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import peak_memory  # noqa: E402

from gguf import GGUFReader  # noqa: E402


def field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    return [int(f.parts[i][0]) for i in f.data]


def kv_bytes_per_position(path):
    """What a session's cache holds for its positions: bytes per position over every layer
    (F16 keys and values of the layers that keep them), and the fixed bytes of the recurrent
    states (one per LFM2 convolution layer: its last l_cache - 1 f32 inputs; one per Qwen3.5
    DeltaNet layer: a state_size² matrix per value head and the convolution's last inputs).
    Checkpoints of those states are not counted:
    they are overhead above the cache."""
    r = GGUFReader(path)
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
    key = lambda k: field(r, f"{arch}.{k}")
    layers = key("block_count")[0]
    heads = key("attention.head_count")
    kv = key("attention.head_count_kv") or heads
    embd = key("embedding_length")[0]
    k_len = (key("attention.key_length") or [embd // heads[0]])[0]
    v_len = (key("attention.value_length") or [k_len])[0]
    kv = kv if len(kv) == layers else kv * layers
    widths = [n * (k_len + v_len) * 2 for n in kv]
    fixed = 0
    if arch == "lfm2":  # a layer without KV heads is a convolution: its last inputs, f32
        fixed = widths.count(0) * (key("shortconv.l_cache")[0] - 1) * embd * 4
    elif arch == "qwen35":  # every interval-th layer attends; the others are DeltaNet
        interval = key("full_attention_interval")[0]
        recurrent = [il % interval != interval - 1 for il in range(layers)]
        widths = [0 if rec else w for w, rec in zip(widths, recurrent)]
        d, v_heads = key("ssm.state_size")[0], key("ssm.time_step_rank")[0]
        channels = key("ssm.inner_size")[0] + 2 * key("ssm.group_count")[0] * d
        per_layer = v_heads * d * d * 4 + (key("ssm.conv_kernel")[0] - 1) * channels * 4
        fixed = sum(recurrent) * per_layer
    elif arch == "gemma4":  # the last shared_kv_layers keep none; sliding layers their own widths
        own = layers - key("attention.shared_kv_layers")[0]
        sliding = [bool(b) for b in key("attention.sliding_window_pattern")]
        swa = (key("attention.key_length_swa")[0], key("attention.value_length_swa")[0])
        widths = [0 if il >= own else n * (sum(swa) if sliding[il] else k_len + v_len) * 2
                  for il, n in enumerate(kv)]
    return sum(widths), fixed, arch, layers


def row(name, arch, layers, positions, generated, kv_mib, anon, hwm, model):
    """One table row: a run's peak memory against the KV cache of the positions it held."""
    return {"model": name, "arch": arch, "layers": layers, "positions": positions,
            "generated": generated, "kv_mib": round(kv_mib, 2), "peak_anon_mib": round(anon, 2),
            "anon_minus_kv_mib": round(anon - kv_mib, 2), "peak_rss_mib": round(hwm, 1),
            "file_mib": round(os.path.getsize(model) / 2**20, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pocketlm", required=True)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--shape-model", default=None)
    ap.add_argument("--prompt-words", type=int, default=100)
    ap.add_argument("--max-tokens", type=int, default=384)
    ap.add_argument("--ctx", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--llama-completion")
    ap.add_argument("--layout-cache")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    prompt = " ".join(["the weather was lovely so we walked along the river"] * (a.prompt_words // 10))
    rows = []
    for model in a.model:
        per_pos, fixed, arch, layers = kv_bytes_per_position(a.shape_model or model)
        cmd = [a.pocketlm, "generate", "--model", model, "--prompt", prompt,
               "--max-tokens", str(a.max_tokens), "--ctx", str(a.ctx),
               "--greedy", "--threads", str(a.threads), "--json"]
        runs = [(cmd, "")]
        if a.layout_cache and model.endswith(".x8.gguf"):
            cached = [a.pocketlm, "--layout-cache", a.layout_cache] + cmd[1:]
            # the first run writes the tables file, the measured one maps it
            peak_memory(cached[:cached.index("--max-tokens")] + ["--max-tokens", "1", "--json"])
            runs.append((cached, " (tables cached)"))
        for c, label in runs:
            out, hwm, anon = peak_memory(c)
            res = json.loads(out.strip().splitlines()[-1])
            positions = len(res["prompt_tokens"]) + len(res["tokens"])
            kv_mib = (per_pos * positions + fixed) / 2**20
            rows.append(row(os.path.basename(model) + label, arch, layers, positions,
                            len(res["tokens"]), kv_mib, anon, hwm, model))
        if a.llama_completion and not model.endswith(".x8.gguf"):
            _, hwm, anon = peak_memory([a.llama_completion, "-m", model, "-t", str(a.threads),
                                        "-c", str(a.ctx), "-n", str(a.max_tokens), "-no-cnv",
                                        "--no-warmup", "--ignore-eos", "-p", prompt])
            rows.append(row(os.path.basename(model) + " (llama.cpp)", arch, layers, a.ctx,
                            a.max_tokens, (per_pos * a.ctx + fixed) / 2**20, anon, hwm, model))
    if a.json:
        print(json.dumps({"rows": rows}))
        return
    print("| model | positions (generated) | KV cache MiB | peak RssAnon MiB | anon - KV MiB "
          "| peak RSS MiB | file MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['positions']} ({r['generated']}) | {r['kv_mib']:.1f} "
              f"| {r['peak_anon_mib']:.1f} | {r['anon_minus_kv_mib']:.1f} | {r['peak_rss_mib']:.0f} "
              f"| {r['file_mib']:.0f} |")


if __name__ == "__main__":
    main()
