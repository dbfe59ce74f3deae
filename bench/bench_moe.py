"""Mixture-of-experts benchmark: decode tokens/s of a synthetic MoE (8
experts, top 2; dim 1024, expert hidden 1024, 8 layers, f16 weights, GGUF
llama layout with a byte-level tokenizer) with every expert mapped, and with
all experts placed on storage (`--place-experts tiers=storage`) and paged
through expert caches of 25 % and 50 % of the expert bytes, with and
without prefetch. Each line: tok/s and its ratio to the all-mapped run and
to the bandwidth roofline (measured host bandwidth / bytes a decode step
reads: the non-expert weights plus top_k experts per layer), the cache's hit
rate, prediction and prefetch accuracy, bytes loaded per token and the
measured peak residency.

Routing: random routers with per-expert row norms spread 0.5x..2x (so some
experts are chosen more often, as in trained models), independent per
layer; with --correlated each layer's router is a shared one plus noise
(consecutive layers' choices correlate, as the slowly changing residual
stream makes them in trained models). The placement and the prefetch
predictor use `llmc calibrate` statistics over a text
(test/data/stories260K-calib.txt, first 2000 characters).

Paging is page-cache backed: an evicted expert is unmapped from the process
but its file pages usually stay in the OS page cache, so a "load" is a
re-map (MAP_POPULATE) at memory speed, not a disk read; the figures measure
the cache's bookkeeping and mapping costs, and hit rates that would
multiply disk time on a device whose experts really live in flash.

usage: bench_moe.py [--workdir DIR] [--decode 64] [--runs 3] [--correlated]
                    [--json F]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
import check_moe  # noqa: E402
from bench_cpu import host_bandwidth, log  # noqa: E402

LLMC = os.path.join(ROOT, "build", "bin", "llmc")
DIM, F, LAYERS, E, K, VOCAB = 1024, 1024, 8, 8, 2, 259


def write_model(path, args):
    import gguf
    rng = np.random.default_rng(11)

    def w(*shape, fan):
        return (rng.standard_normal(shape) / np.sqrt(fan)).astype(np.float16)

    base = w(E, DIM, fan=DIM / 4).astype(np.float32) * \
        rng.permutation(np.linspace(0.5, 2.0, E))[:, None]

    g = gguf.GGUFWriter(path, "llama")
    g.add_context_length(256)
    g.add_embedding_length(DIM)
    g.add_block_count(LAYERS)
    g.add_feed_forward_length(F)
    g.add_head_count(16)
    g.add_head_count_kv(4)
    g.add_layer_norm_rms_eps(1e-5)
    g.add_rope_freq_base(10000.0)
    g.add_rope_dimension_count(DIM // 16)
    g.add_expert_count(E)
    g.add_expert_used_count(K)
    check_moe.byte_tokenizer(g)
    g.add_tensor("token_embd.weight", w(VOCAB, DIM, fan=1))
    g.add_tensor("output_norm.weight", np.ones(DIM, np.float32))
    g.add_tensor("output.weight", w(VOCAB, DIM, fan=DIM))
    kv = DIM // 4
    for l in range(LAYERS):
        b = f"blk.{l}."
        g.add_tensor(b + "attn_norm.weight", np.ones(DIM, np.float32))
        g.add_tensor(b + "ffn_norm.weight", np.ones(DIM, np.float32))
        g.add_tensor(b + "attn_q.weight", w(DIM, DIM, fan=DIM))
        g.add_tensor(b + "attn_k.weight", w(kv, DIM, fan=DIM))
        g.add_tensor(b + "attn_v.weight", w(kv, DIM, fan=DIM))
        g.add_tensor(b + "attn_output.weight", w(DIM, DIM, fan=DIM))
        spread = rng.permutation(np.linspace(0.5, 2.0, E))[:, None]
        if args.correlated:
            # Each layer's router near the previous one's: the residual
            # stream changes slowly, so consecutive choices correlate.
            router = (base + 0.6 * w(E, DIM, fan=DIM / 4)).astype(np.float32)
        else:
            router = (w(E, DIM, fan=DIM / 4) * spread).astype(np.float32)
        g.add_tensor(b + "ffn_gate_inp.weight", router)
        g.add_tensor(b + "ffn_gate_exps.weight", w(E, F, DIM, fan=DIM))
        g.add_tensor(b + "ffn_up_exps.weight", w(E, F, DIM, fan=DIM))
        g.add_tensor(b + "ffn_down_exps.weight", w(E, DIM, F, fan=F))
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()


def llmc(*args):
    r = subprocess.run([LLMC, *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"llmc {' '.join(args)} failed:\n{r.stderr}")
    return r


def bench(model, decode, runs, extra):
    """Best decode tok/s of `runs` (`llmc bench` compiles the model with the
    placement in `extra` once, cached) and that run's JSON."""
    best = None
    for _ in range(runs):
        out = os.path.join(os.path.dirname(model), "bench.json")
        llmc("bench", model, "--prompt-tokens", "16", "--decode", str(decode),
             "--json", out, *extra)
        doc = json.load(open(out))
        if best is None or doc["decode_tok_s"] > best["decode_tok_s"]:
            best = doc
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default="/tmp/llmc-bench-moe")
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--correlated", action="store_true",
                    help="routers of consecutive layers near each other")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    model = os.path.join(a.workdir,
                         "moe-correlated.gguf" if a.correlated else "moe.gguf")
    if not os.path.exists(model):
        log("writing the synthetic MoE ...")
        write_model(model, a)
    text = os.path.join(a.workdir, "calib.txt")
    src = os.path.join(ROOT, "test", "data", "stories260K-calib.txt")
    open(text, "w").write(open(src).read()[:2000])
    stats = model + ".stats.json"
    if not os.path.exists(stats):
        log("calibrating routing ...")
        llmc("calibrate", model, "--text", text, "--ctx", "128", "-o", stats)
    plain = model + ".resident.llmc"
    paged = model + ".paged.llmc"
    log("compiling ...")
    llmc("compile", model, "-o", plain)
    report = llmc("compile", model, "-o", paged, "--place-experts",
                  f"tiers=storage stats={stats}").stderr
    expert_bytes = 3 * DIM * F * 2
    other = os.path.getsize(plain) - LAYERS * E * expert_bytes
    per_token = other + LAYERS * K * expert_bytes
    bw = host_bandwidth(LLMC, model)
    roof = bw * 1e9 / per_token if bw else None
    results = []
    base = bench(model, a.decode, a.runs, [])
    rows = [("all experts mapped", base)]
    place = ["--place-experts", f"tiers=storage stats={stats}"]
    for pct in (25, 50):
        for prefetch in (False, True):
            extra = place + ["--expert-cache", f"{pct}%"] + \
                ([] if prefetch else ["--no-prefetch"])
            rows.append((f"cache {pct}%{' + prefetch' if prefetch else ''}",
                         bench(model, a.decode, a.runs, extra)))
    for name, doc in rows:
        r = {"config": name, "decode_tok_s": round(doc["decode_tok_s"], 2),
             "vs_all_mapped": round(doc["decode_tok_s"] / base["decode_tok_s"], 3),
             "roofline_tok_s": round(roof, 2) if roof else None,
             "vs_roofline": round(doc["decode_tok_s"] / roof, 3) if roof else None,
             "bytes_per_token": per_token, "bandwidth_gbs": bw}
        if "experts" in doc:
            x = doc["experts"]
            r.update({k: (round(v, 3) if isinstance(v, float) else v)
                      for k, v in x.items()})
        print(json.dumps(r), flush=True)
        results.append(r)
    summary = {"model": f"synthetic MoE dim {DIM}, {LAYERS} layers, {E} experts "
                        f"top {K}, f16" +
                        (", correlated routers" if a.correlated else ""),
               "expert_bytes": expert_bytes,
               "placement_report": report.strip().splitlines()[-1] if report else "",
               "results": results}
    if a.json:
        json.dump(summary, open(a.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
