#!/usr/bin/env python3
"""Compile-time benchmark: wall time, peak memory and code size of
`llmc compile` per model, with decoder layers outlined (the default) and
without (`--outline-layers=false`), and how the code grows with depth.

For each model and mode, `llmc compile -O3 --timings` runs in a fresh
process (the artifact cache is bypassed by writing a new output each time);
the benchmark measures its wall time and the child's peak RSS (wait4),
keeps llmc's own step table (LLVM IR optimization, machine code, packing,
...) and reads the artifact's code-section size from its manifest. The
models come from bench/make_models.py (random weights, the real shapes);
GGUF Q4_0 files are llama.cpp's own quantization of the F32 GGUF (as in
bench_quant.py). With a model and its 2-layer variant, the code bytes per
extra layer are reported. These compiles bypass the code cache
(`--code-cache=false`): they are cold compiles.

With --random 1.1b,7b, two Q4_0 GGUF files of random blocks per shape (seeds
1 and 2: the same architecture, other weights; make_models.py
--random-q4_0) are compiled in that order into an empty cache directory
(XDG_CACHE_HOME): the first is a cold compile that stores its code, the
second a warm one that reuses it and only packs its weights; each row says
whether llmc reported a code cache hit.

usage: bench_compile.py [--models 110m,1.1b-2l,1.1b] [--types f32,q4_0]
                        [--modes outlined,inlined] [--random 1.1b,7b]
                        [--workdir build/bench] [--json F]
Prints one JSON object per (model, type, mode).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_cpu import log, read_manifest, save_json  # noqa: E402
from bench_quant import quantize_gguf  # noqa: E402


def compile_once(llmc, model, out, outline, cache_dir=None):
    """(wall s, peak RSS MB, llmc's step table, code cache hit) of one
    `llmc compile`; the peak RSS is this child's own (wait4). Without
    `cache_dir` the code cache is off."""
    t0 = time.perf_counter()
    args = [llmc, "compile", model, "-O3", "--timings",
            f"--outline-layers={'true' if outline else 'false'}", "-o", out]
    env = dict(os.environ)
    if cache_dir:
        env["XDG_CACHE_HOME"] = cache_dir
    else:
        args.append("--code-cache=false")
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env)
    stderr = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"llmc compile {model} failed:\n{stderr[-2000:]}")
    steps = {}
    for line in stderr.splitlines():
        m = re.match(r"\s+([0-9.]+)\s+[0-9.]+%\s+(.*)$", line)
        if m:
            # Step names without the file they name.
            step = re.sub(r" /\S+", "", m.group(2))
            steps[re.sub(r"code cache hit \S+", "code cache hit", step)] = float(m.group(1))
    return wall, usage.ru_maxrss / 1024.0, steps, "code cache hit" in stderr


def code_bytes(artifact):
    m = read_manifest(artifact)
    code = m["target"].get("code_section", "")
    return sum(s["size"] for s in m["sections"] if s["name"] == code)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="110m,1.1b-2l,1.1b")
    ap.add_argument("--types", default="f32,q4_0")
    ap.add_argument("--modes", default="outlined,inlined")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--llmc", default=os.path.join(ROOT, "build", "bin", "llmc"))
    ap.add_argument("--random", default="",
                    help="shapes (1.1b, 7b) compiled cold then warm from random Q4_0 files")
    ap.add_argument("--json")
    a = ap.parse_args()
    models = [m for m in a.models.split(",") if m]
    subprocess.run([sys.executable, os.path.join(HERE, "make_models.py"), a.workdir,
                    "--models", ",".join(models), "--random-q4_0", a.random], check=True)
    results = []
    for name in filter(None, a.random.split(",")):
        with tempfile.TemporaryDirectory(prefix="llmc-cache-") as cache:
            for seed, state in (("rand", "cold"), ("rand2", "warm")):
                path = os.path.join(a.workdir, f"{name}.{seed}.q4_0.gguf")
                out = os.path.join(a.workdir, f"compile-{name}-{seed}.llmc")
                log(f"llmc compile {os.path.basename(path)} ({state})")
                wall, rss, steps, hit = compile_once(a.llmc, path, out, True, cache)
                packing = sum(v for k, v in steps.items() if k.startswith("writing"))
                r = {"model": name, "type": "q4_0 (random blocks)", "mode": state,
                     "compile_s": round(wall, 2), "peak_rss_mb": round(rss),
                     "code_cache_hit": hit, "packing_s": round(packing, 2),
                     "model_bytes": os.path.getsize(path),
                     "packing_gb_s": round(os.path.getsize(path) / packing / 1e9, 2)
                     if packing else None,
                     "code_bytes": code_bytes(out), "steps_s": steps}
                results.append(r)
                print(json.dumps(r), flush=True)
                os.remove(out)
    for name in models:
        f32 = os.path.join(a.workdir, f"{name}.f32.gguf")
        for kind in a.types.split(","):
            path = f32
            if kind != "f32":
                path = os.path.join(a.workdir, f"{name}.{kind}.gguf")
                if not os.path.exists(path) and not quantize_gguf(f32, path, kind):
                    log(f"skip {name} {kind}: llama.cpp's quantizer is unavailable")
                    continue
            for mode in a.modes.split(","):
                out = os.path.join(a.workdir, f"compile-{name}-{kind}-{mode}.llmc")
                if os.path.exists(out):
                    os.remove(out)
                log(f"llmc compile {os.path.basename(path)} ({mode})")
                wall, rss, steps, _ = compile_once(a.llmc, path, out,
                                                   mode == "outlined")
                r = {"model": name, "type": kind, "mode": mode,
                     "compile_s": round(wall, 2), "peak_rss_mb": round(rss),
                     "code_bytes": code_bytes(out), "steps_s": steps,
                     "model_bytes": os.path.getsize(path)}
                results.append(r)
                print(json.dumps(r), flush=True)
                os.remove(out)
    # Code growth per layer: a model against its 2-layer variant.
    layers = {"1.1b": 22, "1.1b-2l": 2}
    for r in results:
        if r["model"] != "1.1b":
            continue
        base = [b for b in results if b["model"] == "1.1b-2l" and
                b["type"] == r["type"] and b["mode"] == r["mode"]]
        if base:
            extra = (r["code_bytes"] - base[0]["code_bytes"]) / (layers["1.1b"] - 2)
            r["code_bytes_per_extra_layer"] = round(extra)
            print(json.dumps({"model": "1.1b vs 1.1b-2l", "type": r["type"],
                              "mode": r["mode"],
                              "code_bytes_per_extra_layer": round(extra)}),
                  flush=True)
    save_json(results, a.json)


if __name__ == "__main__":
    main()
