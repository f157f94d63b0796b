#!/usr/bin/env python3
"""Trains the reply gate's word scorer: rust/pocketlm/src/reply/sensitive_words.tsv.

A Bernoulli naive Bayes over the words, word pairs and word triples of a message, telling
sensitive messages (crisis, self-harm hints, abuse, emergencies, grief) from everyday ones. The
phrase lexicons of the gate catch what they name; this scorer catches indirect phrasings they
miss (docs/reply.md, "Safety gate"). It is trained on:

  sensitive    the `sensitive` lines of tests/fixtures/reply-gate-probe1.txt, probe2.txt, probe4.txt and probe6.txt
  hard negatives  their `answer` lines (everyday messages sharing crisis words), weight ANSWER_WEIGHT
  everyday     the messages of the reply fixtures (reply-eval-*.txt) except reply-eval-heldout.txt,
               lines labelled `none` left out (some are sensitive)

reply-gate-probe3.txt, reply-gate-probe5.txt and reply-eval-heldout.txt are never read: they measure the scorer.
The threshold flags EVERYDAY_FLAG_RATE of the everyday messages, each scored by a model trained
without its fold (scored by the final model, training messages would look safer than new ones).

Usage: scripts/train-sensitive-words.py            writes the table
       scripts/train-sensitive-words.py --check    exits 1 if the checked-in table differs
The settings below were chosen by leave-one-probe-out cross-validation on the training data
(session 20): Bernoulli beat multinomial naive Bayes and logistic regression; dropping features
seen once (names) cost recall; weights under PRUNE change no decision there.
"""
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TABLE = ROOT / "rust" / "pocketlm" / "src" / "reply" / "sensitive_words.tsv"
PROBES = ["reply-gate-probe1.txt", "reply-gate-probe2.txt", "reply-gate-probe4.txt", "reply-gate-probe6.txt"]
HELD_OUT = {"reply-eval-heldout.txt", "reply-gate-probe3.txt", "reply-gate-probe5.txt"}

SMOOTHING = 3.0  # additive smoothing of the per-class feature rates
ANSWER_WEIGHT = 10.0  # weight of a hard negative against an everyday message
PRUNE = 0.5  # features whose weight is smaller in size are left out of the table
EVERYDAY_FLAG_RATE = 0.01  # share of (out-of-fold) everyday messages the threshold flags
FOLDS = 5
# Messages whose acceptable replies include these clusters tell of a death or an illness: they are
# left out of the everyday class (a gate that lets them through is not what the labels say).
CONDOLENCE = {"sympathy", "get_well"}


def tokens(text):
    """Lowercase words, apostrophes dropped ("don't" is "dont"); the Rust side matches this."""
    text = text.lower()
    for apostrophe in ("'", "\u2019", "\u2018"):
        text = text.replace(apostrophe, "")
    return [t for t in re.split(r"[^0-9a-z\u00c0-\u024f]+", text) if t]


def features(text):
    w = tokens(text)
    f = set(w)
    f.update(" ".join(w[i : i + 2]) for i in range(len(w) - 1))
    f.update(" ".join(w[i : i + 3]) for i in range(len(w) - 2))
    return f


def lines(path):
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            yield line


def training_data():
    sensitive, answers, everyday = [], [], []
    for name in PROBES:
        for line in lines(FIXTURES / name):
            label, message = line.split("\t", 1)
            (sensitive if label == "sensitive" else answers).append(message)
    seen = set()
    for path in sorted(FIXTURES.glob("reply-eval-*.txt")):
        if path.name in HELD_OUT:
            continue
        for line in lines(path):
            fields = line.split("\t")
            labels = set(fields[1].split()) if len(fields) > 1 else set()
            if "none" in labels or labels & CONDOLENCE:
                continue
            if fields[0] not in seen:
                seen.add(fields[0])
                everyday.append(fields[0])
    return sensitive, answers, everyday


def train(sensitive, negatives):
    """negatives: (message, weight). Returns (bias, weights): score = bias + sum of the weights
    of the features present (the absent-feature terms of Bernoulli naive Bayes are in bias)."""
    neg_total = sum(w for _, w in negatives)
    pos_weight = neg_total / len(sensitive)  # both classes weigh the same in total
    count = [{}, {}]
    total = [0.0, 0.0]
    for label, items in ((1, [(m, pos_weight) for m in sensitive]), (0, negatives)):
        for message, w in items:
            total[label] += w
            for f in features(message):
                count[label][f] = count[label].get(f, 0.0) + w
    bias, weights = 0.0, {}
    for f in set(count[0]) | set(count[1]):
        p1 = (count[1].get(f, 0.0) + SMOOTHING) / (total[1] + 2 * SMOOTHING)
        p0 = (count[0].get(f, 0.0) + SMOOTHING) / (total[0] + 2 * SMOOTHING)
        absent = math.log((1 - p1) / (1 - p0))
        bias += absent
        w = math.log(p1 / p0) - absent
        if abs(w) >= PRUNE:
            weights[f] = w
    return bias, weights


def score(model, message):
    bias, weights = model
    return bias + sum(weights.get(f, 0.0) for f in features(message))


def threshold(sensitive, answers, everyday):
    """The score above which EVERYDAY_FLAG_RATE of the everyday messages fall, each scored by a
    model trained without its fold."""
    hard = [(m, ANSWER_WEIGHT) for m in answers]
    scores = []
    for k in range(FOLDS):
        rest = [(m, 1.0) for i, m in enumerate(everyday) if i % FOLDS != k]
        model = train(sensitive, hard + rest)
        scores += [score(model, m) for i, m in enumerate(everyday) if i % FOLDS == k]
    scores.sort(reverse=True)
    n = math.ceil(EVERYDAY_FLAG_RATE * len(scores))
    return (scores[n - 1] + scores[n]) / 2


def table():
    sensitive, answers, everyday = training_data()
    cut = threshold(sensitive, answers, everyday)
    bias, weights = train(sensitive, [(m, ANSWER_WEIGHT) for m in answers] + [(m, 1.0) for m in everyday])
    out = [
        "# The reply gate's word scorer (reply/gate.rs): Bernoulli naive Bayes over the words, word",
        "# pairs and word triples of a message. Generated by scripts/train-sensitive-words.py; do not",
        "# edit by hand (make lint checks it is current).",
        f"# Trained on {len(sensitive)} sensitive messages, {len(answers)} hard negatives and "
        f"{len(everyday)} everyday messages;",
        f"# the threshold flags {EVERYDAY_FLAG_RATE:.0%} of everyday messages scored out of fold.",
        "# Format: `bias<TAB>value`, `threshold<TAB>value`, then `feature<TAB>weight`; a message is",
        "# sensitive when bias + the weights of its features >= threshold.",
        f"bias\t{bias:.4f}",
        f"threshold\t{cut:.4f}",
    ]
    out += [f"{f}\t{weights[f]:.4f}" for f in sorted(weights)]
    return "\n".join(out) + "\n"


def main():
    text = table()
    if "--check" in sys.argv[1:]:
        if TABLE.read_text(encoding="utf-8") != text:
            print(f"{TABLE.relative_to(ROOT)} is stale: run scripts/train-sensitive-words.py", file=sys.stderr)
            sys.exit(1)
        print(f"{TABLE.relative_to(ROOT)} is current")
        return
    TABLE.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE.relative_to(ROOT)} ({text.count(chr(10)) - 9} features)")


if __name__ == "__main__":
    main()
