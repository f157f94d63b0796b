#!/usr/bin/env python3
"""The keyboard's peak anonymous memory (issue 45: low-memory profile <= 20 MiB), measured two ways.

Runs `pocketlm eval-keyboard --json` once per model and profile and prints, per run:
  reported  `peak_anon_mib` of the JSON: the process's RssAnon sampled after every suggest call
            (what docs/keyboard.md quotes);
  /proc     the same process's RssAnon polled from outside every 2 ms (scripts/bench.py's
            peak_memory), which also sees the transient peak inside a call.
With --baseline B (an earlier build) each run is repeated with B, alternating, and the line
prints before -> after. Suggestion measures (ksr, next-word, work per keystroke) are compared
between the two binaries: a difference is printed, since a memory change must not change them.
Nothing is asserted; this is a benchmark, not a test.

Usage: scripts/keyboard-memory.py --pocketlm target/release/pocketlm [--baseline OLD_BIN]
         [--models M1,M2] [--profiles low-memory,default] [--corpus FILE] [--limit 30]
"""
import argparse, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import peak_memory  # noqa: E402

# Fields that describe the suggestions and the work, not time or memory.
SAME = ["ksr", "next_word_top1", "next_word_top3", "completion_top3", "first_word_completion_top3",
        "keystrokes", "tokens_per_keystroke", "passes_per_keystroke"]


def run(bin_, model, profile, corpus, limit, threads):
    out, _, polled = peak_memory([bin_, "eval-keyboard", "--model", model, "--corpus", corpus,
                                  "--limit", str(limit), "--threads", str(threads),
                                  "--profile", profile, "--json"])
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    return json.loads(line), polled


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pocketlm", required=True)
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--models", default="models/SmolLM2-135M-Instruct.Q4_1.gguf,"
                                        "models/gemma-3-270m-q4_k_m.gguf")
    ap.add_argument("--profiles", default="low-memory,default")
    ap.add_argument("--corpus", default="tests/fixtures/keyboard-dev.txt")
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    for model in a.models.split(","):
        for profile in a.profiles.split(","):
            got = {}
            for who in (["baseline"] if a.baseline else []) + ["ours"]:
                bin_ = a.baseline if who == "baseline" else a.pocketlm
                got[who] = run(bin_, model, profile, a.corpus, a.limit, a.threads)
            name = f"{os.path.basename(model)} {profile}"
            (j, polled) = got["ours"]
            if a.baseline:
                (bj, bpolled) = got["baseline"]
                print(f"{name}: peak RssAnon reported {bj['peak_anon_mib']:.1f} -> "
                      f"{j['peak_anon_mib']:.1f} MiB, /proc {bpolled:.1f} -> {polled:.1f} MiB")
                diff = [k for k in SAME if bj.get(k) != j.get(k)]
                if diff:
                    print(f"  suggestion measures differ: {', '.join(diff)}")
            else:
                print(f"{name}: peak RssAnon reported {j['peak_anon_mib']:.1f} MiB, "
                      f"/proc {polled:.1f} MiB")


if __name__ == "__main__":
    main()
