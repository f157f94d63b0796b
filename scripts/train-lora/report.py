#!/usr/bin/env python3
"""Prints the held-out table of scripts/train-lora.sh: eval-extract without and with the
adapter (both modes), and the training settings. Usage: report.py PLAIN.json ADAPTED.json LOG.json"""
import json
import sys

plain, adapted, log = (json.load(open(p)) for p in sys.argv[1:4])
print(f"training: {log['rows']} dev rows, rank {log['rank']}, alpha {log['alpha']}, "
      f"{log['epochs']} epochs, lr {log['lr']}, {log['seconds']:.0f} s; answer loss per epoch "
      + " ".join(f"{x:.3f}" for x in log["epoch_loss"]))
print(f"held-out split: {plain['n']} messages ({plain['constrained']['events']} with an event)")
cols = ["title", "date", "time", "place"]
print("| adapter | mode | " + " | ".join(cols)
      + " | date+time+place | no-event all null | JSON parses | complete | tokens/msg |")
print("|---" * (len(cols) + 7) + "|")
for name, r in (("none", plain), ("calendar LoRA", adapted)):
    for mode in ("constrained", "free"):
        m = r[mode]
        f = [f"{m['fields'][c]['accuracy']:.2f}" for c in cols]
        complete = "n/a" if m["complete"] is None else f"{m['complete']:.2f}"
        print(f"| {name} | {mode} | " + " | ".join(f)
              + f" | {m['date_time_place_accuracy']:.2f} | {m['no_event_all_null']:.2f}"
              + f" | {m['parsed_json']:.2f} | {complete} | {m['tokens_per_message']:.1f} |")
