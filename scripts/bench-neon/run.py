#!/usr/bin/env python3
"""Runs PocketLM's CLI and llama.cpp's llama-bench under qemu-aarch64 with the icount plugin
and prints millions of executed instructions per decoded / prefilled token (scripts/bench-neon.sh).

Per-token figures are differences of whole-process counts, so model loading, warm-up and
start-up cancel:  decode = (run(P, 2N) - run(P, N)) / N,  prefill = (run(2P, N) - run(P, N)) / P.
Both programs run with one thread (the plugin's inline counters are not atomic).

With --lora MODEL_FILE=ADAPTER, ours also runs that model's rows with `bench --lora ADAPTER`,
which after the plain measurements prefills and decodes once more plain and once adapted (plus
one adapted warm-up prefill; rust/pocketlm-cli/src/cmd_bench.rs). Its differences hold the
plain per-token work twice and the adapted once (decode) or twice (prefill), so
adapted decode = lora_run - 2 * plain_run and adapted prefill = (lora_run - 2 * plain_run) / 2
per token; `ours_lora` is that, `lora_ratio` = ours / ours_lora (the issue's speed ratio:
instructions are time here, so >= 0.85 is the target).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# (model label, file, qemu cpu, our tier, llama.cpp -march level)
ROWS = [
    ("SmolLM2 Q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf", "cortex-a72", "neon", "armv8-a"),
    ("SmolLM2 Q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf", "cortex-a76", "dotprod", "armv8.2-a+dotprod"),
    ("SmolLM2 Q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf", "max", "i8mm", "armv8.6-a+dotprod+i8mm"),
    ("Gemma 3 Q4_K_M", "gemma-3-270m-q4_k_m.gguf", "cortex-a76", "dotprod", "armv8.2-a+dotprod"),
    ("Gemma 3 Q4_K_M", "gemma-3-270m-q4_k_m.gguf", "max", "i8mm", "armv8.6-a+dotprod+i8mm"),
]
# --model rows: qemu cpu -> (our tier, llama.cpp -march level)
CPUS = {"cortex-a72": ("neon", "armv8-a"), "cortex-a76": ("dotprod", "armv8.2-a+dotprod"),
        "max": ("i8mm", "armv8.6-a+dotprod+i8mm")}
SYSROOT = "/usr/aarch64-linux-gnu"
# skips our bench's memory session, warm-up and TTFT (constant work, differenced away anyway)
OURS_FLAG = os.environ.get("BENCH_NEON_OURS_FLAG", "--minimal")


def log(msg):
    print(f"[bench-neon] {msg}", file=sys.stderr, flush=True)


def count(cmd, cpu, plugin, syms):
    """Executed guest instructions of `cmd` under qemu -cpu `cpu`: (total, {symbol: count})."""
    with tempfile.NamedTemporaryFile("r", suffix=".icount") as out:
        arg = f"{plugin},out={out.name}" + (",syms=on" if syms else "")
        full = ["qemu-aarch64", "-L", SYSROOT, "-cpu", cpu, "-plugin", arg] + cmd
        env = dict(os.environ, POCKETLM_KERNEL="")
        env.pop("POCKETLM_KERNEL")
        r = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        if r.returncode != 0:
            sys.exit(f"[bench-neon] error: {' '.join(full)} failed:\n{r.stderr[-2000:]}")
        total, per = 0, {}
        for line in out.read().splitlines():
            a, b = line.split(" ", 1)
            if a == "total":
                total = int(b)
            else:
                per[b] = per.get(b, 0) + int(a)
        return total, per, r.stdout


def ours_cmd(cli, model, p, n, lora=None):
    extra = ["--lora", lora] if lora else []
    return [cli, "bench", "--model", model, "--threads", "1", "--reps", "1", "--pp", str(p),
            "--tg", str(n), OURS_FLAG, "--json"] + extra


def llama_cmd(binary, model, p, n):
    return [binary, "-m", model, "-t", "1", "-r", "1", "--no-warmup", "-p", str(p), "-n", str(n),
            "-o", "json"]


def per_token(runs, p, n):
    """(decode, prefill) in millions of instructions per token, and per-symbol decode/prefill."""
    (base, bs), (pp2, ps), (tg2, ts) = runs
    dec = (tg2 - base) / n / 1e6
    pre = (pp2 - base) / p / 1e6
    syms = {}
    for k in set(bs) | set(ps) | set(ts):
        d = (ts.get(k, 0) - bs.get(k, 0)) / n / 1e6
        f = (ps.get(k, 0) - bs.get(k, 0)) / p / 1e6
        syms[k] = (d, f)
    return dec, pre, syms


def demangle(names):
    try:
        r = subprocess.run(["c++filt"], input="\n".join(names), stdout=subprocess.PIPE, text=True)
        out = r.stdout.splitlines()
        if len(out) == len(names):
            return out
    except OSError:
        pass
    return list(names)


def top_symbols(syms, phase, k):
    i = 0 if phase == "decode" else 1
    items = sorted(syms.items(), key=lambda kv: -kv[1][i])[:k]
    names = demangle([n for n, _ in items])
    return [(nm, v[i]) for nm, (_, v) in zip(names, items)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--llama-dir", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--ours-models", default="",
                    help="directory of the files ours runs (default: --models), e.g. the "
                         "`pocketlm convert`ed copies under the same names")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--syms", type=int, default=0, help="print the top K functions per row")
    ap.add_argument("--prompt", type=int, default=16, help="P: prompt tokens (runs P and 2P)")
    ap.add_argument("--decode", type=int, default=4, help="N: decoded tokens (runs N and 2N)")
    ap.add_argument("--only", default="", help="comma-separated cpu names or model words")
    ap.add_argument("--ours-only", action="store_true")
    ap.add_argument("--model", action="append", default=[], metavar="LABEL=PATH",
                    help="measure this model instead of the default rows, on each of --cpus; "
                         "ours runs the file of the same name in --ours-models; repeatable")
    ap.add_argument("--cpus", default="cortex-a76,max",
                    help="the qemu cpus of the --model rows (cortex-a72, cortex-a76, max)")
    ap.add_argument("--lora", action="append", default=[], metavar="MODEL_FILE=ADAPTER",
                    help="also count ours with this LoRA adapter on that model's rows "
                         "(ours_lora, lora_ratio); repeatable")
    a = ap.parse_args()
    loras = {}
    for spec in a.lora:
        file, sep, adapter = spec.partition("=")
        if not sep or not adapter:
            sys.exit(f"[bench-neon] error: --lora {spec}: expected MODEL_FILE=ADAPTER")
        loras[file] = os.path.abspath(adapter)

    table = ROWS
    if a.model:
        table = []
        for spec in a.model:
            label, sep, path = spec.partition("=")
            if not sep or not path:
                sys.exit(f"[bench-neon] error: --model {spec}: expected LABEL=PATH")
            for cpu in a.cpus.split(","):
                if cpu not in CPUS:
                    sys.exit(f"[bench-neon] error: --cpus {cpu}: one of {', '.join(CPUS)}")
                table.append((label, os.path.abspath(path), cpu) + CPUS[cpu])

    p, n = a.prompt, a.decode
    rows = []
    sym_report = []
    for label, file, cpu, tier, level in table:
        if a.only and not any(w and (w == cpu or w.lower() in label.lower())
                              for w in a.only.split(",")):
            continue
        model = os.path.join(a.models, file)
        ours_model = os.path.join(a.ours_models, os.path.basename(file)) if a.ours_models else model
        res = {}
        progs = [("ours", lambda pp, tg: ours_cmd(a.cli, ours_model, pp, tg))]
        if file in loras:
            progs.append(("ours_lora",
                          lambda pp, tg: ours_cmd(a.cli, ours_model, pp, tg, loras[file])))
        if not a.ours_only:
            llama = os.path.join(a.llama_dir, f"llama-bench-{level}")
            progs.append(("llama", lambda pp, tg: llama_cmd(llama, model, pp, tg)))
        for name, mk in progs:
            runs = []
            for pp, tg in ((p, n), (2 * p, n), (p, 2 * n)):
                log(f"{label} {cpu} {name}: pp {pp} tg {tg}")
                total, per, stdout = count(mk(pp, tg), cpu, a.plugin, a.syms > 0)
                if name.startswith("ours"):
                    got = json.loads(stdout.strip().splitlines()[-1]).get("kernel")
                    if got != tier:
                        sys.exit(f"[bench-neon] error: ours ran tier {got} under {cpu}, "
                                 f"expected {tier}")
                runs.append((total, per))
            res[name] = per_token(runs, p, n)
        if "ours_lora" in res:
            # the adapted share of the lora run (see the module doc): per token, and per symbol
            (pd, pf, psyms), (ld, lf, lsyms) = res["ours"], res["ours_lora"]
            zero = (0.0, 0.0)
            res["ours_lora"] = (ld - 2 * pd, (lf - 2 * pf) / 2,
                                {k: (lsyms.get(k, zero)[0] - 2 * psyms.get(k, zero)[0],
                                     (lsyms.get(k, zero)[1] - 2 * psyms.get(k, zero)[1]) / 2)
                                 for k in set(psyms) | set(lsyms)})
        for phase, i in (("decode", 0), ("prefill", 1)):
            ours = round(res["ours"][i], 3)
            llama = round(res["llama"][i], 3) if "llama" in res else None
            row = {"model": label, "cpu": cpu, "tier": tier, "phase": phase,
                   "ours": ours, "llama": llama,
                   "ratio": round(llama / ours, 3) if llama else None}
            if loras:
                lora = round(res["ours_lora"][i], 3) if "ours_lora" in res else None
                row["ours_lora"] = lora
                row["lora_ratio"] = round(ours / lora, 3) if lora else None
            rows.append(row)
            if a.syms:
                for name in res:
                    sym_report.append((f"{label} {cpu} {phase} {name}",
                                       top_symbols(res[name][2], phase, a.syms)))

    if a.json:
        print(json.dumps({"rows": rows}))
    else:
        print(f"Executed aarch64 instructions per token, millions (qemu-user, 1 thread; "
              f"decode {n}->{2 * n} tokens, prefill {p}->{2 * p}); ratio = llama.cpp / ours")
        print()
        print("| model | CPU (our tier) | decode ours | llama.cpp | ratio "
              "| prefill ours | llama.cpp | ratio |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        by = {}
        for r in rows:
            by.setdefault((r["model"], r["cpu"], r["tier"]), {})[r["phase"]] = r
        fmt = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"
        for (m, c, t), ph in by.items():
            d, f = ph["decode"], ph["prefill"]
            print(f"| {m} | {c} ({t}) | {fmt(d['ours'])} | {fmt(d['llama'])} | "
                  f"{fmt(d['ratio'])} | {fmt(f['ours'])} | {fmt(f['llama'])} | "
                  f"{fmt(f['ratio'])} |")
        if loras:
            print()
            print("With a LoRA adapter (ours); lora ratio = plain / adapted instructions")
            print()
            print("| model | CPU (our tier) | decode plain | adapted | lora ratio "
                  "| prefill plain | adapted | lora ratio |")
            print("|---|---|---:|---:|---:|---:|---:|---:|")
            for (m, c, t), ph in by.items():
                d, f = ph["decode"], ph["prefill"]
                if d.get("ours_lora") is None:
                    continue
                print(f"| {m} | {c} ({t}) | {fmt(d['ours'])} | {fmt(d['ours_lora'])} | "
                      f"{fmt(d['lora_ratio'])} | {fmt(f['ours'])} | {fmt(f['ours_lora'])} | "
                      f"{fmt(f['lora_ratio'])} |")
    for title, items in sym_report:
        print(f"\n{title} (M instructions per token):", file=sys.stderr if a.json else sys.stdout)
        for nm, v in items:
            print(f"  {v:9.3f}  {nm[:150]}", file=sys.stderr if a.json else sys.stdout)


if __name__ == "__main__":
    main()
