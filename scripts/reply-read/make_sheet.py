#!/usr/bin/env python3
"""Builds a blind reading sheet from several systems' drafts.
usage: make_sheet.py OUT.jsonl KEY.json SYS=drafts.jsonl ...
drafts.jsonl: one {"message":..., "replies":[...], "no_suggestion":bool} per message, same order."""
import json, random, sys
out, key = sys.argv[1], sys.argv[2]
systems = {}
for a in sys.argv[3:]:
    name, path = a.split("=", 1)
    systems[name] = [json.loads(l) for l in open(path) if l.strip()]
n = len(next(iter(systems.values())))
rng = random.Random(27)
rows, k = [], {}
for i in range(n):
    msg = next(iter(systems.values()))[i]["message"]
    chips = []
    for s in systems.values():
        assert s[i]["message"] == msg
        for r in s[i]["replies"]:
            if r not in chips:
                chips.append(r)
    rng.shuffle(chips)
    rows.append({"id": i, "message": msg, "chips": chips})
with open(out, "w") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
json.dump({name: [{"message": d["message"], "replies": d["replies"], "no_suggestion": d["no_suggestion"]} for d in s] for name, s in systems.items()}, open(key, "w"), ensure_ascii=False)
