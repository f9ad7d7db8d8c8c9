#!/usr/bin/env python3
"""Decode speed of attune against llama.cpp on the same weights, and against the memory-bandwidth ceiling.

For each shape (qwen05b = Qwen2.5-0.5B, small = the kit's default-sized model), each thread count and
each round, in alternating order, one process per run:
  - attune `generate` (fused decode, the default): fp32, bf16, int8;
  - attune with ATTUNE_FUSED_DECODE=0 (libtorch op by op, the path before the fused one): fp32, bf16;
  - llama.cpp (npm node-llama-cpp 3.21.1's prebuilt CPU build): F32, BF16, Q8_0 GGUF of the same numbers;
  - the bandwidth ceiling: build/bench/bench_bandwidth (a streaming read on the decode thread pool).
The weights come from ../shared/bench/llama-anchor (copied to the work folder; its gen_model.py writes
them). Before each run the script waits for an idle machine (--quiet-timeout) and records the CPU load
of other processes during it. Without node/npm the llama.cpp cases are skipped with a message.

usage: bench/bench_decode.py [--shapes qwen05b,small] [--threads 2] [--rounds 5] [--new 128]
                             [--work build/bench-decode] [--out build/bench-decode/results.json]
                             [--cases attune:int8,llama.cpp:q8_0]
"""
import argparse, json, os, re, shutil, statistics as st, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("ATTUNE_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
ATTUNE = os.environ.get("ATTUNE_BIN", os.path.join(ROOT, "build", "src", "cli", "attune"))
BANDWIDTH = os.path.join(ROOT, "build", "bench", "bench_bandwidth")
SHAPES = {"qwen05b": dict(H=896, L=24, nh=14, nkv=2, I=4864, V=151936, real=151643),
          "small": dict(H=384, L=6, nh=6, nkv=2, I=1024, V=8192, real=8191)}
ATTUNE_CASES = [("attune", "fp32"), ("attune", "bf16"), ("attune", "int8"),
                ("attune-libtorch", "fp32"), ("attune-libtorch", "bf16")]
LLAMA_CASES = [("llama.cpp", "f32"), ("llama.cpp", "bf16"), ("llama.cpp", "q8_0")]
GGUF = {"f32": "model-f32.gguf", "bf16": "model-bf16.gguf", "q8_0": "model-q8_0.gguf"}
# Bytes per matrix weight read by a decode step (Q8_0 / attune int8: 32 bytes + a 2-byte scale per 32).
BYTES = {"fp32": 4, "f32": 4, "bf16": 2, "int8": 34 / 32, "q8_0": 34 / 32}


def cpu_busy_s():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f[:3]) + sum(f[5:8])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_quiet(timeout, max_busy=0.15, window=2.0):
    end = time.time() + timeout
    while True:
        b0, t0 = cpu_busy_s(), time.time()
        time.sleep(window)
        frac = (cpu_busy_s() - b0) / (time.time() - t0) / os.cpu_count()
        if frac < max_busy or time.time() > end:
            return frac


def matrix_params(s):
    hd = s["H"] // s["nh"]
    return s["V"] * s["H"] + s["L"] * (2 * s["nh"] * hd * s["H"] + 2 * s["nkv"] * hd * s["H"] + 3 * s["I"] * s["H"])


def prompt_ids(real, n=64):
    return ",".join(str((i * 7919 + 13) % real) for i in range(n))


def run_attune(model_dir, impl, prec, prompt, new, threads):
    env = dict(os.environ)
    if impl == "attune-libtorch":
        env["ATTUNE_FUSED_DECODE"] = "0"
    cmd = [ATTUNE, "--threads", str(threads), "generate", "--model", model_dir, "--prompt-ids", prompt,
           "--max-new-tokens", str(new), "--greedy", "--dtype", prec, "--no-stream"]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + r.stderr[-2000:])
    m = re.search(r"prompt (\d+) tokens in ([\d.]+) s .*decode (\d+) steps in ([\d.]+) s", r.stderr)
    mem = re.search(r"memory resident (\d+) MB, (-?\d+) MB more than before loading = ([\d.]+) x", r.stderr)
    out = dict(prompt_tok_s=int(m[1]) / float(m[2]), decode_tok_s=int(m[3]) / float(m[4]), decode_steps=int(m[3]))
    if mem:
        out.update(rss_mb=int(mem[1]), rss_growth_mb=int(mem[2]), rss_over_weights_kv=float(mem[3]))
    return out


def run_llama(kit, model_dir, prec, prompt, new, threads):
    cmd = ["node", os.path.join(kit, "bench_llama.mjs"), "--model", os.path.join(model_dir, GGUF[prec]),
           "--prompt-ids", prompt, "--new", str(new), "--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=kit)
    if r.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + r.stderr[-2000:])
    j = json.loads(r.stdout.strip().splitlines()[-1])
    return dict(prompt_tok_s=j["prompt_tok_s"], decode_tok_s=j["decode_tok_s"], decode_steps=j.get("decode_steps"))


def bandwidth(threads):
    r = subprocess.run([BANDWIDTH, "--threads", str(threads), "--repeats", "5"], capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["threads"]


def prepare_kit(work, shapes):
    kit = os.path.join(work, "kit")
    src = os.path.join(SHARED, "bench", "llama-anchor")
    if not os.path.isdir(src):
        sys.exit(f"bench_decode: {src} is missing (the llama.cpp anchor kit of ../shared; set ATTUNE_SHARED_DIR)")
    if not os.path.isdir(kit):
        shutil.copytree(src, kit)
        for d, _, files in os.walk(kit):
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
    llama = shutil.which("node") is not None and shutil.which("npm") is not None
    if not llama:
        print("bench_decode: node/npm not found: llama.cpp cases skipped (apt-get install nodejs npm)")
    elif not os.path.isdir(os.path.join(kit, "node_modules", "node-llama-cpp")):
        print("bench_decode: npm install node-llama-cpp@3.21.1 ...", flush=True)
        if subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=kit).returncode != 0:
            print("bench_decode: npm install failed: llama.cpp cases skipped")
            llama = False
    env = dict(os.environ, QWEN2_TOKENIZER_DIR=os.path.join(SHARED, "fixtures", "tokenizer", "qwen2"))
    for shape in shapes:
        if not os.path.exists(os.path.join(kit, shape, "model-q8_0.gguf")):
            print(f"bench_decode: writing the {shape} weights (HF directory and GGUF) ...", flush=True)
            subprocess.run([sys.executable, "gen_model.py", "--shape", shape, "--out", shape], cwd=kit, env=env,
                           check=True)
    return kit, llama


def summarize(recs, bw, shapes, threads_list):
    lines, summary = [], {}
    for shape in shapes:
        n = matrix_params(SHAPES[shape])
        for threads in threads_list:
            ceiling = bw.get(str(threads)) or bw.get(threads)
            lines.append(f"\n{shape}, {threads} thread(s); bandwidth ceiling {ceiling:.1f} GB/s "
                         f"({n / 1e6:.0f}M matrix weights)")
            lines.append("| system | precision | decode tok/s median (min-max) | prompt tok/s | % of ceiling | runs | foreign load |")
            lines.append("|---|---|---|---|---|---|---|")
            cases = {}
            for r in recs:
                if r["shape"] == shape and r["threads"] == threads:
                    cases.setdefault((r["impl"], r["prec"]), []).append(r)
            for (impl, prec), rs in cases.items():
                d = [r["decode_tok_s"] for r in rs]
                p = [r["prompt_tok_s"] for r in rs]
                pct = 100 * st.median(d) * n * BYTES[prec] / (ceiling * 1e9)
                summary[f"{shape}/{threads}/{impl}/{prec}"] = dict(decode=st.median(d), prompt=st.median(p), pct=pct,
                                                                   rss=st.median([r.get("rss_over_weights_kv", 0) for r in rs]))
                lines.append(f"| {impl} | {prec} | {st.median(d):.1f} ({min(d):.1f}-{max(d):.1f}) | {st.median(p):.0f} | "
                             f"{pct:.0f} % | {len(rs)} | {max(r['foreign_cores'] for r in rs):.2f} |")
            for a, b in [("fp32", "f32"), ("bf16", "bf16"), ("int8", "q8_0")]:
                ratios = []
                for rnd in sorted({r["round"] for r in recs}):
                    x = [r for r in cases.get(("attune", a), []) if r["round"] == rnd]
                    y = [r for r in cases.get(("llama.cpp", b), []) if r["round"] == rnd]
                    if x and y:
                        ratios.append(x[0]["decode_tok_s"] / y[0]["decode_tok_s"])
                if ratios:
                    summary[f"{shape}/{threads}/ratio/{a}"] = st.median(ratios)
                    lines.append(f"attune {a} / llama.cpp {b}: decode ratio median {st.median(ratios):.2f} "
                                 f"(per round {', '.join(f'{v:.2f}' for v in ratios)})")
            for prec in ("fp32", "bf16"):
                x, y = cases.get(("attune", prec)), cases.get(("attune-libtorch", prec))
                if x and y:
                    lines.append(f"attune {prec} fused / libtorch op by op: "
                                 f"{st.median([r['decode_tok_s'] for r in x]) / st.median([r['decode_tok_s'] for r in y]):.2f}x")
    return "\n".join(lines), summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="qwen05b,small")
    ap.add_argument("--threads", default="2", help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--quiet-timeout", type=float, default=60.0)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-decode"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--cases", default=None, help="only these, e.g. attune:int8,llama.cpp:q8_0")
    a = ap.parse_args()
    shapes = a.shapes.split(",")
    threads_list = [int(t) for t in a.threads.split(",")]
    for exe in (ATTUNE, BANDWIDTH):
        if not os.access(exe, os.X_OK):
            sys.exit(f"bench_decode: {exe} is missing: build first (cmake --build build)")
    os.makedirs(a.work, exist_ok=True)
    kit, llama = prepare_kit(a.work, shapes)
    cases = ATTUNE_CASES + (LLAMA_CASES if llama else [])
    if a.cases:
        wanted = [tuple(s.split(":")) for s in a.cases.split(",")]
        cases = [c for c in cases if c in wanted]
    recs, bws = [], []
    out_jsonl = os.path.join(a.work, "runs.jsonl")
    with open(out_jsonl, "w") as log:
        for rnd in range(a.rounds):
            wait_quiet(a.quiet_timeout)
            bws.append(bandwidth(max(threads_list)))
            print(f"round {rnd}: bandwidth {bws[-1]}", flush=True)
            for shape in shapes:
                d = os.path.join(kit, shape)
                prompt = prompt_ids(SHAPES[shape]["real"])
                for threads in threads_list:
                    order = cases if rnd % 2 == 0 else list(reversed(cases))
                    for impl, prec in order:
                        busy = wait_quiet(a.quiet_timeout)
                        t, b0, c0 = time.time(), cpu_busy_s(), children_cpu_s()
                        if impl == "llama.cpp":
                            res = run_llama(kit, d, prec, prompt, a.new, threads)
                        else:
                            res = run_attune(os.path.join(d, "hf"), impl, prec, prompt, a.new, threads)
                        wall = time.time() - t
                        foreign = max(0.0, (cpu_busy_s() - b0) - (children_cpu_s() - c0)) / wall
                        rec = dict(shape=shape, threads=threads, round=rnd, impl=impl, prec=prec, busy_before=busy,
                                   foreign_cores=foreign, **res)
                        recs.append(rec)
                        log.write(json.dumps(rec) + "\n")
                        log.flush()
                        print(f"r{rnd} {shape} {threads}t {impl:15s} {prec:5s} decode {res['decode_tok_s']:7.1f} tok/s "
                              f"prompt {res['prompt_tok_s']:7.1f} tok/s  foreign {foreign:.2f}", flush=True)
    bw = {k: st.median([b[k] for b in bws]) for k in bws[0]}
    text, summary = summarize(recs, bw, shapes, threads_list)
    print(text)
    out = a.out or os.path.join(a.work, "results.json")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(dict(bandwidth_gb_s=bw, bandwidth_rounds=bws, summary=summary, runs=recs), f, indent=1)
    os.replace(tmp, out)
    print(f"\nbench_decode: runs in {out_jsonl}, summary in {out}")


if __name__ == "__main__":
    main()
