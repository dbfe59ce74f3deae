"""Quantization benchmark: decode (and prefill) tokens/s of llmc per weight
scheme on the 1.1B shape (TinyLlama-1.1B's, bench/make_models.py), each
next to llama.cpp (llama-cpp-python) at the closest GGUF type measured in
the same run, and the decode bandwidth roofline of the bytes each scheme
reads per token.

  scheme   llmc runs                                   llama.cpp anchor
  f32      the f32 checkpoint                          F32 GGUF
  w8       the f32 checkpoint, --quant w8              Q8_0 GGUF
  w4g32    the f32 checkpoint, --quant w4g32           Q4_0 GGUF
  q8_0     the Q8_0 GGUF itself (blocks as stored)     the same file
  q4_0     the Q4_0 GGUF itself (blocks as stored)     the same file
  q4_k_m   the Q4_K_M GGUF itself (Q4_K + Q6_K super-   the same file
           blocks as stored)
  q2_k, q3_k_m, q5_k_m, q6_k   llama.cpp's other K-quant the same file
           presets, each file as stored
  q5_0, q5_1, iq4_nl   the GGUF in that type (every     the same file
           tensor), blocks as stored
  w4g128   the f32 checkpoint, --quant w4g128          Q4_0 GGUF
  gqsa-w4s50  the f32 checkpoint, --quant gqsa-w4s50   Q4_0 GGUF (no GGUF
           type prunes groups; Q4_0 is its dense counterpart)
  dgq-a8w4 the f32 checkpoint, --quant dgq-a8w4 (int4, Q4_0 GGUF (llama.cpp
           u8 scale per 128, int8 activations per token) has no DGQ type)

The Q8_0 / Q4_0 / K-quant GGUF files are made from the F32 GGUF by
llama.cpp's own quantizer (llama_model_quantize; Q8_0 / Q4_0 every tensor
in the type: `pure`; the K-quant presets their own per-tensor mixes, e.g.
Q4_K_M: Q6_K for the classifier and some attn_v / ffn_down, Q4_K
elsewhere), so both engines
read the very same blocks. The dgq-a8w4 row also gives its speed
relative to w4g128 measured in the same run (`vs_w4g128`): DGQ's claim is
a faster prefill than A16W4 at the same group size. The 1.1B weights are
random, so DGQ runs without calibration statistics (they change the
packed values, not the work).

Per scheme: prefill (--prompt tokens) and decode (--decode steps after
it) tokens/s, median and [min, max] of --runs rounds, llmc and llama.cpp
taking turns; the ratio of the medians llmc / llama.cpp; the weight bytes one decode token reads (the
artifact's weights minus the embedding table, of which one row is read),
and the roofline = measured bandwidth (`llmc roofline --hardware host`,
once per round; median and spread) / those bytes, with each engine's
fraction of it.

Artifacts are cached in --workdir and rebuilt when older than the llmc
binary or their model file (1.1B compiles take minutes).

usage: bench_quant.py [--models 1.1b]
                      [--schemes f32,w8,w4g32,w4g128,q8_0,q4_0,q4_k_m,gqsa-w4s50,dgq-a8w4]
                      [--prompt 128] [--decode 64] [--runs 3] [--json F]
                      [--cpu native,x86-64-v3]
"""
import argparse
import ctypes
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_cpu import (Runtime, bench_llama_cpp, bench_llmc, cold_start_ms, emit,  # noqa: E402
                       host_bandwidth, log, read_manifest, save_json)

ANCHOR = {"f32": "f32", "w8": "q8_0", "w4g32": "q4_0", "w4g128": "q4_0",
          "q8_0": "q8_0", "q4_0": "q4_0", "q4_k_m": "q4_k_m",
          "q2_k": "q2_k", "q3_k_m": "q3_k_m", "q5_k_m": "q5_k_m", "q6_k": "q6_k",
          "q5_0": "q5_0", "q5_1": "q5_1", "iq4_nl": "iq4_nl",
          "gqsa-w4s50": "q4_0", "dgq-a8w4": "q4_0"}
# llama_ftype: LLAMA_FTYPE_MOSTLY_Q8_0, _Q4_0, _Q2_K, _Q3_K_M, _Q4_K_M,
# _Q5_K_M, _Q6_K, _Q5_0, _Q5_1, _IQ4_NL. The K-quant presets keep their
# per-tensor mixes.
GGUF_FTYPE = {"q8_0": 7, "q4_0": 2, "q2_k": 10, "q3_k_m": 12, "q4_k_m": 15,
              "q5_k_m": 17, "q6_k": 18, "q5_0": 8, "q5_1": 9, "iq4_nl": 25}
K_PRESETS = ("q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k")


def quantize_gguf(src, dst, kind):
    """llama.cpp's quantizer, every tensor in `kind`."""
    if os.path.exists(dst) and os.path.getmtime(dst) > os.path.getmtime(src):
        return True
    try:
        import llama_cpp
    except ImportError:
        return False
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = GGUF_FTYPE[kind]
    p.nthread = os.cpu_count()
    p.pure = kind not in K_PRESETS
    log(f"llama.cpp quantize {os.path.basename(src)} -> {kind}")
    tmp = dst + ".tmp"
    if llama_cpp.llama_model_quantize(src.encode(), tmp.encode(), ctypes.byref(p)) != 0:
        return False
    os.replace(tmp, dst)
    return True


def summarize(rounds):
    """Median and [min, max] of (prefill, decode) tokens/s rounds."""
    out = {}
    for i, key in enumerate(("prefill_tok_s", "decode_tok_s")):
        v = [r[i] for r in rounds]
        out[key] = round(float(np.median(v)), 2)
        out[key.replace("_tok_s", "_spread")] = [round(min(v), 2), round(max(v), 2)]
    return out


def compile_artifact(llmc, model, art, extra):
    """Compiles unless a newer artifact exists; returns seconds or None."""
    newest = max(os.path.getmtime(model), os.path.getmtime(llmc))
    if os.path.exists(art) and os.path.getmtime(art) > newest:
        return None
    log(f"llmc compile {os.path.basename(model)} {' '.join(extra)}")
    t0 = time.perf_counter()
    subprocess.run([llmc, "compile", model, "-o", art] + extra, check=True)
    return round(time.perf_counter() - t0, 1)


def decode_bytes(manifest):
    """Weight bytes one decode token reads: all but the embedding table,
    of which one row (in its stored type) is read."""
    m = manifest["model"]
    total = manifest["weights"]["bytes"]
    if m.get("tied_embeddings"):
        return total
    for t in manifest["weights"]["tensors"]:
        if "tok_embeddings" in t["name"] or "token_embd" in t["name"]:
            return total - t["bytes"] + t["bytes"] // m["vocab_size"]
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="1.1b")
    ap.add_argument("--schemes",
                    default="f32,w8,w4g32,w4g128,q8_0,q4_0,q4_k_m,gqsa-w4s50,"
                            "dgq-a8w4")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu", default="native",
                    help="comma-separated llmc --cpu targets, each timed in the "
                         "same rounds as llama.cpp (e.g. native,x86-64-v3)")
    ap.add_argument("--json")
    ap.add_argument("--llmc", default=os.path.join(ROOT, "build", "bin", "llmc"))
    ap.add_argument("--runtime", default=os.path.join(ROOT, "build", "lib", "libllmc_runtime.so"))
    a = ap.parse_args()
    threads = os.cpu_count()
    subprocess.run([sys.executable, os.path.join(HERE, "make_models.py"), a.workdir,
                    "--models", a.models], check=True, stdout=subprocess.DEVNULL)
    rt = Runtime(a.runtime)
    results = []
    for name in a.models.split(","):
        bin_path = os.path.join(a.workdir, name + ".bin")
        f32_gguf = os.path.join(a.workdir, name + ".f32.gguf")
        bw = host_bandwidth(a.llmc, bin_path)
        ggufs = {"f32": f32_gguf}
        schemes = a.schemes.split(",")
        needed = {ANCHOR.get(x) for x in schemes} | set(schemes)
        for kind in (k for k in GGUF_FTYPE if k in needed):
            path = os.path.join(a.workdir, f"{name}.{kind}.gguf")
            if quantize_gguf(f32_gguf, path, kind):
                ggufs[kind] = path
        for scheme in schemes:
            r = {"model": name, "scheme": scheme, "threads": threads,
                 "prompt_tokens": a.prompt, "decode_tokens": a.decode}
            if scheme in GGUF_FTYPE:
                if scheme not in ggufs:
                    r["llmc"] = "needs llama-cpp-python to make the GGUF file"
                    emit(r, results)
                    continue
                model, extra = ggufs[scheme], []
            else:
                model, extra = bin_path, ([] if scheme == "f32" else ["--quant", scheme])
            cpus = a.cpu.split(",")
            arts = {}
            for cpu in cpus:
                suffix = "" if cpu == "native" else "-" + cpu
                arts[cpu] = os.path.join(a.workdir, f"{name}-{scheme}{suffix}.llmc")
                compile_s = compile_artifact(a.llmc, model, arts[cpu],
                                             extra + ["--cpu", cpu])
                if compile_s is not None:
                    r.setdefault("compile_s", {})[cpu] = compile_s
            manifest = read_manifest(arts[cpus[0]])
            vocab = manifest["model"]["vocab_size"]
            nbytes = decode_bytes(manifest)
            r["llmc_weights_bytes_per_token"] = nbytes
            ours, theirs = {cpu: [] for cpu in cpus}, []
            anchor = ggufs.get(ANCHOR[scheme])
            # The bandwidth once per round too: on a shared VM it moved
            # between 34 and 78 GB/s within an hour (2026-12-07).
            bws = []
            for _ in range(a.runs):
                if bw:
                    fresh = host_bandwidth(a.llmc, bin_path, fresh=True)
                    if fresh:
                        bws.append(fresh)
                for cpu in cpus:
                    log(f"{name} {scheme}: llmc --cpu {cpu}")
                    ours[cpu].append(bench_llmc(rt, arts[cpu], vocab, a.prompt,
                                                a.decode, np.random.default_rng(0), 1))
                if anchor:
                    log(f"{name} {scheme}: llama.cpp {ANCHOR[scheme]}")
                    ref = bench_llama_cpp(anchor, vocab, a.prompt, a.decode,
                                          np.random.default_rng(0), threads, 1)
                    if ref:
                        theirs.append(ref)
            per_cpu = {cpu: summarize(v) for cpu, v in ours.items()}
            # The first --cpu is the row's figure; every one is listed.
            best = per_cpu[cpus[0]]
            r["llmc"] = dict(best, cpu=cpus[0])
            # Load + first token in a fresh process (the [cpu-perf] cold start).
            r["llmc"]["cold_start_ms"], r["llmc"]["cold_start_spread_ms"] = \
                cold_start_ms(a.runtime, arts[cpus[0]], vocab)
            if len(cpus) > 1:
                r["llmc_by_cpu"] = per_cpu
            ref_best = summarize(theirs) if theirs else None
            if ref_best:
                r["llama_cpp"] = dict(type=ANCHOR[scheme].upper(),
                                      bytes=os.path.getsize(anchor), **ref_best)
                r["ratio"] = {
                    "prefill": round(best["prefill_tok_s"] / ref_best["prefill_tok_s"], 3),
                    "decode": round(best["decode_tok_s"] / ref_best["decode_tok_s"], 3)}
                if len(cpus) > 1:
                    r["ratio_by_cpu"] = {
                        cpu: {k: round(v[k + "_tok_s"] / ref_best[k + "_tok_s"], 3)
                              for k in ("prefill", "decode")}
                        for cpu, v in per_cpu.items()}
            else:
                r["llama_cpp"] = "not installed (pip install llama-cpp-python)"
            if bws:
                roof = float(np.median(bws)) * 1e9 / nbytes
                r["roofline"] = {"bandwidth_gbs": round(float(np.median(bws)), 2),
                                 "bandwidth_spread_gbs": [round(min(bws), 2),
                                                          round(max(bws), 2)],
                                 "decode_tok_s": round(roof, 2),
                                 "llmc_fraction": round(best["decode_tok_s"] / roof, 3)}
                if ref_best:
                    r["roofline"]["llama_cpp_fraction"] = round(
                        ref_best["decode_tok_s"] / roof, 3)
            base = next((x for x in results if x["model"] == name and
                         x["scheme"] == "w4g128" and isinstance(x.get("llmc"), dict)),
                        None)
            if scheme == "dgq-a8w4" and base:
                r["vs_w4g128"] = {
                    "prefill": round(best["prefill_tok_s"] / base["llmc"]["prefill_tok_s"], 3),
                    "decode": round(best["decode_tok_s"] / base["llmc"]["decode_tok_s"], 3)}
            emit(r, results)
    save_json(results, a.json)


if __name__ == "__main__":
    main()
