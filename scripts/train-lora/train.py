#!/usr/bin/env python3
"""Fine-tunes a LoRA adapter with PyTorch and PEFT on the CPU, for scripts/train-lora.sh.

The base weights are read from the same GGUF file PocketLM runs (transformers dequantizes it),
so the adapter is trained against the quantized model it will be applied to. The training rows
come from `pocketlm eval-extract --write-training`: token ids of the exact prompt PocketLM's
evaluation gives the model and of the expected answer, so Python needs no tokenizer and no chat
template of its own. The loss is the answer tokens' cross-entropy (the prompt is context only).

Writes OUT/adapter (PEFT's adapter_model.safetensors + adapter_config.json), OUT/base/config.json
(the base model's Hugging Face config, for llama.cpp's convert_lora_to_gguf.py) and
OUT/train-log.json (loss per epoch, settings, seconds).
"""
import argparse
import json
import random
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, required=True, help="the base model's GGUF file")
    ap.add_argument("--data", type=Path, required=True, help="rows from --write-training")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=8, help="rows per optimizer step")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rows = [json.loads(line) for line in a.data.read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{a.data}: no training rows")

    model = AutoModelForCausalLM.from_pretrained(
        str(a.gguf.parent), gguf_file=a.gguf.name, dtype=torch.float32
    )
    base_config = model.config.to_dict()
    model = get_peft_model(
        model,
        LoraConfig(
            r=a.rank,
            lora_alpha=a.alpha,
            lora_dropout=0.0,
            target_modules=TARGETS,
            bias="none",
            task_type="CAUSAL_LM",
        ),
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{len(rows)} rows, {trainable} trainable parameters (rank {a.rank}, alpha {a.alpha})")

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr)
    steps_total = a.epochs * ((len(rows) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / max(1, steps_total))
    order = list(range(len(rows)))
    rng = random.Random(a.seed)
    log = {"rows": len(rows), "rank": a.rank, "alpha": a.alpha, "epochs": a.epochs, "lr": a.lr,
           "batch": a.batch, "seed": a.seed, "targets": TARGETS, "epoch_loss": []}
    t0 = time.time()
    model.train()
    for epoch in range(a.epochs):
        rng.shuffle(order)
        total, count = 0.0, 0
        for start in range(0, len(order), a.batch):
            opt.zero_grad()
            batch = [rows[i] for i in order[start:start + a.batch]]
            n_answer = sum(len(r["answer"]) for r in batch)
            for r in batch:
                ids = torch.tensor([r["prompt"] + r["answer"]])
                k = len(r["answer"])
                # Only the positions that predict an answer token go through the 49k-word
                # output layer (the prompt is context, not a target).
                logits = model(input_ids=ids, logits_to_keep=k + 1).logits[0, :-1]
                loss = torch.nn.functional.cross_entropy(
                    logits, torch.tensor(r["answer"]), reduction="sum"
                )
                (loss / n_answer).backward()
                total += loss.item()
                count += len(r["answer"])
            opt.step()
            sched.step()
        mean = total / count
        log["epoch_loss"].append(mean)
        print(f"epoch {epoch + 1}/{a.epochs}: answer loss {mean:.4f} nats/token "
              f"({time.time() - t0:.0f} s)", flush=True)
    log["seconds"] = time.time() - t0

    a.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(a.out / "adapter"))
    # convert_lora_to_gguf.py reads the base's architecture and shapes from config.json; the
    # GGUF loading note is not part of the base model's description.
    base_config.pop("quantization_config", None)
    base_config["architectures"] = [type(model.get_base_model()).__name__]
    (a.out / "base").mkdir(exist_ok=True)
    (a.out / "base" / "config.json").write_text(json.dumps(base_config, indent=1))
    (a.out / "train-log.json").write_text(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
