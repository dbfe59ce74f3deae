"""CPU benchmark: prefill and decode tokens/s of llmc against llama.cpp
(llama-cpp-python) on the same float32 weights, plus the decode bandwidth
roofline (measured memory bandwidth / bytes read per token). Prints one JSON
object per model and writes them all to --json.

usage: bench_cpu.py [--models stories260K,110m,1.1b] [--workdir DIR]
                    [--prompt 512] [--decode 128] [--json out.json]

Token ids are random (speed does not depend on them). stories260K's context
is 512 positions, so its prompt is shortened to fit prompt + decode.
"""
import argparse
import ctypes
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from check_random_configs import Runtime  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


_MEASURED = {}


def host_bandwidth(llmc, model_bin, fresh=False):
    """GB/s measured by `llmc roofline --hardware host --remeasure`, once
    per benchmark run (again with `fresh`): a shared machine's bandwidth
    changes from day to day, so the roofline is measured in the same run as
    the figures it judges."""
    if llmc in _MEASURED and not fresh:
        return _MEASURED[llmc]
    out = subprocess.run([llmc, "roofline", model_bin, "--hardware", "host",
                          "--remeasure"], capture_output=True, text=True)
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                         os.path.expanduser("~/.cache"), "llmc", "host-hardware.json")
    try:
        _MEASURED[llmc] = float(json.load(open(cache))["host"]["bandwidth"]) / 1e9
        return _MEASURED[llmc]
    except (OSError, KeyError, ValueError):
        log("cannot read measured bandwidth:", out.stderr[-500:])
        return None


def emit(result, results):
    """Prints one model's JSON line and keeps it for save_json."""
    print(json.dumps(result), flush=True)
    results.append(result)


def save_json(results, path):
    if path:
        json.dump(results, open(path, "w"), indent=1)


def read_manifest(path):
    """The artifact's JSON manifest (offset and size at bytes 16..32)."""
    with open(path, "rb") as f:
        f.seek(16)
        offset, size = struct.unpack("<QQ", f.read(16))
        f.seek(offset)
        return json.loads(f.read(size))


def timed(fn):
    """(wall seconds, CPU seconds of this process) of fn()."""
    c0, t0 = os.times(), time.perf_counter()
    fn()
    c1, t1 = os.times(), time.perf_counter()
    return t1 - t0, (c1.user - c0.user) + (c1.system - c0.system)


def best_of(runs, fn):
    """Fastest of `runs` timings (the machine is shared; noise only slows)."""
    return min((timed(fn) for _ in range(runs)), key=lambda r: r[0])


def roofline_prediction(llmc, model_bin, phase, tokens, kv_len, workdir):
    """tokens/s `llmc roofline --hardware host` predicts for a phase."""
    out = os.path.join(workdir, "roofline.json")
    args = [llmc, "roofline", model_bin, "--hardware", "host", "--phase", phase,
            "--json", out]
    args += ["--seq", str(tokens)] if phase == "prefill" else ["--kv-len", str(kv_len)]
    if subprocess.run(args, capture_output=True).returncode != 0:
        return None
    t = json.load(open(out))["time_s"]
    return tokens / t if t > 0 else None


def settle_weights(rt, artifact):
    """Makes the weight placement the runtime chose final before timing: by
    default the first forward starts copying the weights into huge pages in
    the background (runtime/src/WeightMemory.cpp), and a phase timed while
    that copy runs shares the cores with it. LLMC_WEIGHT_MEMORY=mapped keeps
    the mapping, as the runtime does."""
    if os.environ.get("LLMC_WEIGHT_MEMORY") == "mapped":
        return
    f = rt.lib.llmc_artifact_set_weight_memory
    f.argtypes = [ctypes.c_void_p, ctypes.c_int]
    f.restype = ctypes.c_void_p
    status = f(artifact, 1)  # LLMC_WEIGHTS_HUGE_PAGES: copies now
    if status:  # unsupported (GPU artifacts): the mapping serves
        rt.lib.llmc_status_free(status)


def bench_llmc(rt, artifact, vocab, prompt, decode, rng, runs):
    """(prefill tok/s, decode tok/s, prefill CPU/wall, decode CPU/wall), each
    phase timed on its own: the best of `runs` prefills, and the decode
    steps after a prefill (best of max(1, runs - 1))."""
    a = rt.load(artifact)
    toks = [int(t) for t in rng.integers(3, vocab, prompt)]
    sess = [rt.session(a)]

    def prefill():
        rt.lib.llmc_session_reset(sess[0])
        return rt.forward(sess[0], toks, vocab, last_only=True)

    def decode_steps():
        nxt = int(np.argmax(prefill()[-1]))

        def steps():
            n = nxt
            for _ in range(decode):
                n = int(np.argmax(rt.forward(sess[0], [n], vocab)[-1]))
        return timed(steps)

    # Warm up with a full-size prefill (pages in the weights, starts the
    # threads, fills the allocator's cache), as llama.cpp preallocates its
    # compute buffers when the context is created.
    prefill()
    settle_weights(rt, a)
    p_wall, p_cpu = best_of(runs, prefill)
    d_wall, d_cpu = min((decode_steps() for _ in range(max(1, runs - 1))),
                        key=lambda r: r[0])
    rt.lib.llmc_session_free(sess[0])
    rt.lib.llmc_artifact_free(a)
    return prompt / p_wall, decode / d_wall, p_cpu / p_wall, d_cpu / d_wall


_COLD_START = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from check_random_configs import Runtime
rt = Runtime(sys.argv[3])
t0 = time.perf_counter()
a = rt.load(sys.argv[1])
s = rt.session(a)
rt.forward(s, [1, 450, 2000, 300, 500, 600, 700, 800], int(sys.argv[4]), last_only=True)
print(time.perf_counter() - t0)
"""


def cold_start_ms(runtime_lib, artifact, vocab, runs=3):
    """Load + first token (an 8-token prompt's logits) of `artifact` in a
    fresh process each time, page cache warm (a first run warms it):
    (median ms, [min, max])."""
    args = [sys.executable, "-c", _COLD_START, artifact,
            os.path.join(ROOT, "test", "e2e"), runtime_lib, str(vocab)]
    subprocess.run(args, check=True, capture_output=True)
    ms = sorted(1000 * float(subprocess.run(args, check=True, capture_output=True,
                                            text=True).stdout)
                for _ in range(runs))
    return round(ms[len(ms) // 2], 1), [round(ms[0], 1), round(ms[-1], 1)]


def bench_llama_cpp(gguf_path, vocab, prompt, decode, rng, threads, runs):
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(model_path=gguf_path, n_ctx=(prompt + decode + 64 + 255) // 256 * 256,
                n_batch=prompt, n_ubatch=prompt, n_threads=threads,
                n_threads_batch=threads, verbose=False)
    toks = [int(t) for t in rng.integers(3, vocab, prompt)]
    extra = [int(t) for t in rng.integers(3, vocab, decode)]

    def prefill():
        llm.reset()
        llm.eval(toks)

    def decode_steps():
        prefill()

        def steps():
            # Decode speed does not depend on which token is fed.
            for t in extra:
                llm.eval([t])
        return timed(steps)

    prefill()  # warm up, as for llmc
    p_wall, _ = best_of(runs, prefill)
    d_wall, _ = min((decode_steps() for _ in range(max(1, runs - 1))),
                    key=lambda r: r[0])
    return prompt / p_wall, decode / d_wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="stories260K,110m,1.1b")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--json")
    ap.add_argument("--runs", type=int, default=3,
                    help="timings per figure; the fastest is kept")
    ap.add_argument("--llmc", default=os.path.join(ROOT, "build", "bin", "llmc"))
    ap.add_argument("--runtime", default=os.path.join(ROOT, "build", "lib", "libllmc_runtime.so"))
    a = ap.parse_args()
    threads = os.cpu_count()
    subprocess.run([sys.executable, os.path.join(HERE, "make_models.py"), a.workdir,
                    "--models", a.models], check=True, stdout=subprocess.DEVNULL)
    rt = Runtime(a.runtime)
    results = []
    for name in a.models.split(","):
        gguf_path = os.path.join(a.workdir, name + ".f32.gguf")
        if name == "stories260K":
            src = os.path.join(ROOT, "..", "shared", "models", "stories260K")
            bin_path = os.path.join(src, "stories260K.bin")
            if not os.path.exists(bin_path):
                log("skip stories260K: ../shared/models not found")
                continue
        else:
            bin_path = os.path.join(a.workdir, name + ".bin")
        art = os.path.join(a.workdir, name + ".llmc")
        log(f"{name}: compiling")
        t0 = time.perf_counter()
        subprocess.run([a.llmc, "compile", bin_path, "-o", art], check=True)
        compile_s = time.perf_counter() - t0
        manifest = read_manifest(art)
        m = manifest["model"]
        vocab, seq = m["vocab_size"], m["max_seq_len"]
        prompt = min(a.prompt, seq - a.decode)
        weight_bytes = manifest["weights"]["bytes"]
        kv = manifest["kv_cache"]["shape"]
        # Decode reads every weight once per token except the embedding
        # table (one row; all of it when it is also the classifier), plus
        # the KV prefix (average length over the decode steps).
        read_bytes = weight_bytes
        if not m.get("tied_embeddings"):
            emb = [t for t in manifest["weights"]["tensors"] if t["shape"] == [vocab, m["dim"]]]
            if emb:
                read_bytes -= emb[0]["bytes"] - 4 * m["dim"]
        kv_bytes = 4 * kv[0] * 2 * kv[2] * kv[4] * (prompt + a.decode // 2)
        bw = host_bandwidth(a.llmc, bin_path)
        log(f"{name}: llmc prefill {prompt}, decode {a.decode}")
        lp, ld, pu, du = bench_llmc(rt, art, vocab, prompt, a.decode,
                                    np.random.default_rng(0), a.runs)
        log(f"{name}: llama.cpp")
        ref = bench_llama_cpp(gguf_path, vocab, prompt, a.decode,
                              np.random.default_rng(0), threads, a.runs)
        r = {"model": name, "threads": threads, "prompt_tokens": prompt,
             "decode_tokens": a.decode, "weights_bytes": weight_bytes,
             "compile_s": round(compile_s, 2),
             "llmc": {"prefill_tok_s": round(lp, 2), "decode_tok_s": round(ld, 2),
                      "prefill_cores_busy": round(pu, 2),
                      "decode_cores_busy": round(du, 2)}}
        if ref:
            r["llama_cpp"] = {"prefill_tok_s": round(ref[0], 2),
                              "decode_tok_s": round(ref[1], 2)}
            r["ratio"] = {"prefill": round(lp / ref[0], 3), "decode": round(ld / ref[1], 3)}
        else:
            r["llama_cpp"] = "not installed (pip install llama-cpp-python)"
        if bw:
            roof = bw * 1e9 / (read_bytes + kv_bytes)
            r["roofline"] = {"bandwidth_gbs": round(bw, 2),
                             "bytes_per_decode_token": read_bytes + kv_bytes,
                             "decode_tok_s": round(roof, 2),
                             "llmc_decode_fraction": round(ld / roof, 3)}
        # The analytical model against the compiled code (validation of the
        # roofline analysis on this machine).
        pp = roofline_prediction(a.llmc, bin_path, "prefill", prompt, 0, a.workdir)
        pd = roofline_prediction(a.llmc, bin_path, "decode", 1, prompt + a.decode // 2,
                                 a.workdir)
        if pp and pd:
            r["roofline_analysis"] = {
                "predicted_prefill_tok_s": round(pp, 2),
                "predicted_decode_tok_s": round(pd, 2),
                "llmc_prefill_fraction": round(lp / pp, 3),
                "llmc_decode_fraction": round(ld / pd, 3)}
        emit(r, results)
    save_json(results, a.json)


if __name__ == "__main__":
    main()
