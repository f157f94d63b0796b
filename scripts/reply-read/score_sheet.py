#!/usr/bin/env python3
"""Scores systems from a reader's verdicts.
usage: score_sheet.py KEY.json VERDICTS.jsonl
VERDICTS: {"id", "tappable": {chip: true|false}, "decision": bool, "direction": {chip:
yes|no|unsure|option|other}, "needs_reply": bool}. "option": the chip picks one of the options an
either/or question names; decision_choice_with_options also counts two such chips as a choice."""
import json, sys
key = json.load(open(sys.argv[1]))
v = {}
for l in open(sys.argv[2]):
    if l.strip():
        d = json.loads(l); v[d["id"]] = d
res = {}
for name, drafts in key.items():
    chips = tapp = with_chips = none_tapp = 0
    silent_ok = silent_wrong = spoke_to_silent = 0
    dec = dec_both = dec_both_opt = 0
    for i, d in enumerate(drafts):
        r = v[i]
        reps = d["replies"]
        if reps:
            with_chips += 1
            t = [bool(r["tappable"].get(c)) for c in reps]
            chips += len(t); tapp += sum(t)
            if not any(t): none_tapp += 1
            if not r.get("needs_reply", True): spoke_to_silent += 1
        else:
            if r.get("needs_reply", True): silent_wrong += 1
            else: silent_ok += 1
        if r.get("decision"):
            dec += 1
            dirs = set(r.get("direction", {}).get(c) for c in reps)
            both = "yes" in dirs and ("no" in dirs or "unsure" in dirs)
            if both: dec_both += 1
            # An either/or question: two chips each picking a different option named in it.
            picks = [c for c in reps if r.get("direction", {}).get(c) == "option"]
            if both or len(picks) >= 2: dec_both_opt += 1
    res[name] = {"messages": len(drafts), "chips": chips, "tappable": tapp,
                 "tappable_share": round(tapp / max(chips, 1), 3), "cases_with_chips": with_chips,
                 "cases_none_tappable": none_tapp, "silent_ok": silent_ok, "silent_but_should_reply": silent_wrong,
                 "replied_to_no_reply_message": spoke_to_silent,
                 "decision_messages": dec, "decision_choice": round(dec_both / max(dec, 1), 3),
                 "decision_choice_with_options": round(dec_both_opt / max(dec, 1), 3)}
print(json.dumps(res, indent=1))
