#!/usr/bin/env python3
"""Corrects the labels of read blind sets with their reader's verdicts (docs/reply.md, "Quality review").

A labelled blind set (tests/fixtures/reply-eval-blindNN.txt) was labelled by someone who saw the
catalog; its blind read (tests/fixtures/reply-read/blindNN.*) says what a reader would really send.
For each message and each catalog cluster the reader judged (through the chips shown, mapped to
clusters by the catalog):
  - a cluster with a chip the reader would send is acceptable (added if the label lacks it);
  - a cluster all of whose judged chips the reader refused is not (removed), except the clusters
    of KEEP: the two directions of a decision, where a reader refuses one wording ("Yes, I do." to
    a can-you) and the drafts must keep offering both.
A label left empty becomes `none`. Idempotent: a second run changes nothing.

usage: scripts/reply-read/relabel.py [--check] NN [NN ...]
  rewrites tests/fixtures/reply-eval-blindNN.txt in place; --check exits 1 if any would change.
"""
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CATALOG = ROOT / "rust" / "pocketlm" / "src" / "reply" / "catalog.txt"
KEEP = {"yes", "no", "decline", "accept", "yes_please", "no_thanks", "will_do", "unsure", "check", "maybe"}


def cluster_of_text():
    out = {}
    for line in CATALOG.read_text().splitlines():
        if not line.strip() or line.startswith(("#", "lexicon ", "cluster ")):
            continue
        parts = [p.strip() for p in line.split("|")]
        out[parts[0]] = parts[2]
    return out


def relabel(n, text2c, stats):
    read = FIXTURES / "reply-read"
    sheet = {s["message"]: s["id"] for s in map(json.loads, open(read / f"blind{n}.sheet.jsonl"))}
    verdicts = {v["id"]: v for v in map(json.loads, open(read / f"blind{n}.verdicts.jsonl"))}
    path = FIXTURES / f"reply-eval-blind{n}.txt"
    out = []
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("#") or not line.strip():
            out.append(line)
            continue
        message, clusters = line.rstrip("\n").split("\t")
        label = clusters.split()
        if message in sheet:
            judged = collections.defaultdict(list)
            for chip, tappable in verdicts[sheet[message]]["tappable"].items():
                if chip in text2c:
                    judged[text2c[chip]].append(tappable)
            for cluster, ts in judged.items():
                if any(ts) and cluster not in label:
                    label = [c for c in label if c != "none"] + [cluster]
                    stats["added"] += 1
                elif not any(ts) and cluster in label and cluster not in KEEP:
                    label.remove(cluster)
                    stats["removed"] += 1
            if not label:
                label = ["none"]
        out.append(f"{message}\t{' '.join(label)}\n")
    return path, "".join(out)


def main():
    args = sys.argv[1:]
    check = "--check" in args
    sets = [a for a in args if a != "--check"]
    if not sets:
        sys.exit(__doc__)
    text2c, stats, changed = cluster_of_text(), collections.Counter(), []
    for n in sets:
        path, text = relabel(n, text2c, stats)
        if path.read_text() != text:
            changed.append(path.name)
            if not check:
                path.write_text(text)
    print(f"{dict(stats)}; changed: {', '.join(changed) or 'none'}")
    if check and changed:
        sys.exit(1)


if __name__ == "__main__":
    main()
