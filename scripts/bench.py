#!/usr/bin/env python3
"""PocketLM vs llama.cpp, measured alternately in the same run on the same machine.

For each model and thread count: pp16/pp64/pp128/pp512 and tg128 (tokens/s), time to first
token for a 32-token prompt, cold load time, peak RSS and peak anonymous (non file-backed)
memory of a 256-token session. Prints a table with the ratio ours/llama.cpp, and writes the
raw numbers as JSON (--out).

Usage: scripts/bench.py --pocketlm target/release/pocketlm --llama-bench B --llama-completion C
                        [--models M1,M2] [--ours-models C1,C2] [--threads 2,1] [--rounds 3]
                        [--contend N] [--baseline B] [--rows] [--pp 16,64,128,512] [--tg 128]
                        [--speed-only]

--contend N: N busy processes (normal priority, pure computation) run beside every measurement
of both engines, as `pocketlm bench --contend N` does with threads: speed under CPU contention.

--baseline B: a second PocketLM binary (an earlier build: `BENCH_BASELINE=REV make bench`) run
on the same files in the same rounds, rotating with the other two, so a before/after comparison
sees the same machine state; adds the columns "baseline" and "ours/base".

--ours-models: the files PocketLM runs, one per --models entry (default: the same files);
scripts/bench.sh passes the `pocketlm convert`ed copies (same weights, interleaved layout).

--rows: PocketLM also runs the --models files themselves (the original row layout) in the same
rounds, rotating with the others: the columns "rows" and "rows/llama" (both layouts in one run).

--pp / --tg: the prompt lengths and the generated tokens measured (both engines); --speed-only
keeps only those (no TTFT, llama-completion memory session or cold-load runs:
scripts/bench-families.sh, whose multi-GB models would spend minutes there; both engines still
warm up). Each cell is the median over the rounds; the spread (min-max over the rounds) of
every engine is in the JSON and, with --spread, the table.
"""
import argparse, contextlib, json, os, re, statistics, subprocess, sys, threading, time

PP = [16, 64, 128, 512]
TG = 128
SPEED_ONLY = False
PROMPT = ("The weather was lovely, so we walked along the river and talked about plans for "
          "the weekend. ")


def run_ours(bin_, model, threads):
    # not --minimal even with --speed-only: that skips the warm-up, and llama-bench warms up
    out = subprocess.run([bin_, "bench", "--model", model, "--threads", str(threads), "--reps", "1",
                          "--pp", ",".join(map(str, PP)), "--tg", str(TG), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_llama_bench(bin_, model, threads):
    out = subprocess.run([bin_, "-m", model, "-t", str(threads),
                          "-p", ",".join(map(str, PP + ([] if SPEED_ONLY else [32]))),
                          "-n", str(TG), "-r", "1", "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for row in json.loads(out):
        n_p, n_g, ts = row["n_prompt"], row["n_gen"], row["avg_ts"]
        if n_g == 0:
            res[f"pp{n_p}"] = ts
        elif n_p == 0:
            res[f"tg{n_g}"] = ts
    # llama-bench has no TTFT; a 32-token prefill at its measured speed is the same work.
    if "pp32" in res and 32 not in PP:
        res["ttft32_ms"] = 32.0 / res.pop("pp32") * 1e3
    return res


def peak_memory(cmd):
    """Runs cmd, polling /proc for peak RSS (VmHWM) and peak RssAnon; returns (stdout+stderr, rss, anon) in MiB."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = {"anon": 0, "hwm": 0}

    def poll():
        path = f"/proc/{p.pid}/status"
        while p.poll() is None:
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            peak["anon"] = max(peak["anon"], int(line.split()[1]))
                        elif line.startswith("VmHWM:"):
                            peak["hwm"] = max(peak["hwm"], int(line.split()[1]))
            except OSError:
                break
            time.sleep(0.002)

    t = threading.Thread(target=poll)
    t.start()
    out, _ = p.communicate()
    t.join()
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{out[-2000:]}")
    return out, peak["hwm"] / 1024, peak["anon"] / 1024


def run_llama_memory(bin_, model, threads):
    # A 256-token session: 128-token prompt, 128 generated tokens; cold process.
    _, rss, anon = peak_memory([bin_, "-m", model, "-t", str(threads), "-c", "256", "-n", "128",
                                "-no-cnv", "--no-warmup", "--ignore-eos", "-p", PROMPT * 7])
    # Load-to-ready: a cold process that loads the model and evaluates a one-word prompt
    # (this llama.cpp's own "load time" log line includes prompt time, so wall time is used).
    t0 = time.perf_counter()
    peak_memory([bin_, "-m", model, "-t", str(threads), "-c", "256", "-n", "0", "-no-cnv",
                 "--no-warmup", "-p", "Hi"])
    load_ms = (time.perf_counter() - t0) * 1e3
    return {"load_ms": load_ms, "rss_mib": rss, "anon_mib": anon}


def run_ours_cold(bin_, model, threads):
    # The same cold-process measurement for PocketLM, for a like-for-like load column.
    t0 = time.perf_counter()
    subprocess.run([bin_, "generate", "--model", model, "--threads", str(threads), "--prompt", "Hi",
                    "--max-tokens", "0", "--json"], check=True, capture_output=True)
    return (time.perf_counter() - t0) * 1e3


@contextlib.contextmanager
def contention(n):
    """n busy processes for the duration of the block (none for 0)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def main():
    global PP, TG, SPEED_ONLY
    ap = argparse.ArgumentParser()
    ap.add_argument("--pocketlm", required=True)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--llama-completion", required=True)
    ap.add_argument("--models", default="models/SmolLM2-135M-Instruct.Q4_1.gguf,models/gemma-3-270m-q4_k_m.gguf")
    ap.add_argument("--ours-models", default=None)
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="target/bench.json")
    ap.add_argument("--contend", type=int, default=0)
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--rows", action="store_true",
                    help="also run PocketLM on the --models files (original layout)")
    ap.add_argument("--pp", default=",".join(map(str, PP)))
    ap.add_argument("--tg", type=int, default=TG)
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--spread", action="store_true", help="print min-max over the rounds")
    a = ap.parse_args()
    PP = [int(x) for x in a.pp.split(",") if x]
    TG = a.tg
    SPEED_ONLY = a.speed_only

    metrics = [f"pp{n}" for n in PP] + [f"tg{TG}"]
    if not SPEED_ONLY:
        metrics += ["ttft32_ms", "load_ms", "rss_mib", "anon_mib"]
    # load_ms: wall time of a cold process that loads the model and evaluates "Hi".
    lower_is_better = {"ttft32_ms", "load_ms", "rss_mib", "anon_mib"}
    report = {}
    models = a.models.split(",")
    ours_models = a.ours_models.split(",") if a.ours_models else models
    assert len(ours_models) == len(models), "--ours-models needs one file per --models entry"
    engines = ["ours", "llama"] + (["rows"] if a.rows else []) + (["baseline"] if a.baseline else [])
    for model, our_model in zip(models, ours_models):
        for threads in map(int, a.threads.split(",")):
            got = {who: {m: [] for m in metrics} for who in engines}
            tiers = {who: set() for who in engines}
            for r in range(a.rounds):
                # Rotate who goes first so drift on a shared machine hits every engine alike.
                k = r % len(engines)
                for who in engines[k:] + engines[:k]:
                    with contention(a.contend):
                        if who == "llama":
                            res = run_llama_bench(a.llama_bench, model, threads)
                            if not SPEED_ONLY:
                                res.update(run_llama_memory(a.llama_completion, model, threads))
                        else:
                            bin_ = a.baseline if who == "baseline" else a.pocketlm
                            file = model if who == "rows" else our_model
                            res = run_ours(bin_, file, threads)
                            tiers[who].add(res.get("kernel", "?"))
                            res["load_in_process_ms"] = res["load_ms"]
                            if not SPEED_ONLY:
                                res["load_ms"] = run_ours_cold(bin_, file, threads)
                        for m in metrics:
                            if res.get(m) is not None:
                                got[who][m].append(res[m])
                print(f"  {os.path.basename(model)} t={threads} round {r + 1}/{a.rounds} done", file=sys.stderr)
            key = f"{os.path.basename(model)} threads={threads}"
            tier = ",".join(sorted(tiers["ours"]))
            report[key] = {"pocketlm_kernel": tier, "pocketlm_model": our_model, "contend": a.contend,
                           "rounds": a.rounds, "runs": got}
            if a.rows:
                report[key]["rows_model"] = model
            if a.baseline:
                report[key]["baseline"] = a.baseline
                report[key]["baseline_kernel"] = ",".join(sorted(tiers["baseline"]))
            print(f"\n{key} (PocketLM kernel tier: {tier}; "
                  f"PocketLM file: {os.path.basename(our_model)}; {a.contend} busy processes beside)")
            med = lambda who, m: statistics.median(got[who][m]) if got[who][m] else None
            ratio = lambda x, y: (x / y) if (x and y) else None
            fmt = lambda v: f"{v:10.1f}" if v is not None else f"{'n/a':>10}"
            fmt_ratio = lambda v, w: (f"%{w - 1}.2fx" % v) if v else f"{'n/a':>{w}}"
            spread = lambda who, m: (f" {min(got[who][m]):7.1f}-{max(got[who][m]):<7.1f}"
                                     if got[who][m] else f" {'n/a':>15}")
            cols = [("ours", "PocketLM")] + ([("rows", "rows")] if a.rows else []) + [("llama", "llama.cpp")]
            head = f"  {'metric':<11}" + "".join(
                f" {name:>10}" + (f" {'(min-max)':>15}" if a.spread else "") for _, name in cols)
            head += f" {'ours/llama':>11}" + (f" {'rows/llama':>11}" if a.rows else "")
            print(head + (f" {'baseline':>10} {'ours/base':>10}" if a.baseline else ""))
            for m in metrics:
                o, t = med("ours", m), med("llama", m)
                row = {"pocketlm": o, "llama_cpp": t, "ratio": ratio(o, t)}
                line = f"  {m:<11}" + "".join(
                    f" {fmt(med(who, m))}" + (spread(who, m) if a.spread else "") for who, _ in cols)
                line += f" {fmt_ratio(row['ratio'], 11)}"
                if a.rows:
                    w = med("rows", m)
                    row.update({"rows": w, "rows_ratio": ratio(w, t)})
                    line += f" {fmt_ratio(row['rows_ratio'], 11)}"
                for who in engines:
                    if got[who][m]:
                        row[f"{who}_min"], row[f"{who}_max"] = min(got[who][m]), max(got[who][m])
                if a.baseline:
                    b = med("baseline", m)
                    row.update({"baseline": b, "vs_baseline": ratio(o, b)})
                    line += f" {fmt(b)} {fmt_ratio(row['vs_baseline'], 10)}"
                report[key][m] = row
                print(line + (" (lower is better)" if m in lower_is_better else ""))
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nraw numbers: {a.out}")


if __name__ == "__main__":
    main()
