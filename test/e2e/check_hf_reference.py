#!/usr/bin/env python3
"""Compares llmc with Hugging Face transformers' own float32 forward, for
every reference model in test/data/hf/ (written by make_hf_references.py
with transformers' save_pretrained; no torch needed here).

For each case and optimisation level: `llmc compile` the directory, prefill
the first `prefill` tokens (logits of every row), then decode the rest one
token at a time, and require every logit within 1e-4 * max|logit| of the
reference. Where a case holds `config-transformers4.json` (the same config
as transformers 4.x writes it), the model is also compiled from that config
and must give the same logits.

usage: check_hf_reference.py LLMC RUNTIME_LIB DATA_DIR WORKDIR [--only CASE,...]
                             [--target vulkan] [--kv-cache int8 --tolerance R]
With --target the models are compiled for that backend (at -O2, the
transformers 5 configs only) and run on its device. With --kv-cache int8 the
KV cache is int8 (lossy), so logits must lie within R * max|logit| instead.
Prints one line per case; exits 1 if any case differs.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

from check_random_configs import Runtime

OPT_LEVELS = ("-O0", "-O3")
# Extra `llmc compile` arguments (--target, --kv-cache).
COMPILE_ARGS = []
# Allowed max abs difference, relative to max |logit|.
TOLERANCE = 1e-4


def run_case(rt, llmc, model_dir, work, name, opt, tokens, prefill, vocab):
    art = os.path.join(work, f"{name}{opt}.llmc")
    p = subprocess.run([llmc, "compile", model_dir, opt, *COMPILE_ARGS, "-o",
                        art], capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"{name} {opt}: compile failed\n{p.stderr}")
    a = rt.load(art)
    try:
        s = rt.session(a)
        rows = [rt.forward(s, tokens[:prefill], vocab)]
        for t in tokens[prefill:]:
            rows.append(rt.forward(s, [t], vocab))
        rt.lib.llmc_session_free(s)
    finally:
        rt.lib.llmc_artifact_free(a)
    return np.concatenate(rows)


def compare(what, got, ref):
    tol = TOLERANCE * float(np.max(np.abs(ref)))
    diff = np.abs(got - ref)
    worst = float(diff.max())
    if not worst <= tol:
        row = int(diff.max(axis=1).argmax())
        raise AssertionError(f"{what}: max abs diff {worst:.3e} > {tol:.3e} "
                             f"({TOLERANCE:g} x max|logit|), first at "
                             f"position {row}")
    return worst


def main():
    args = sys.argv[1:]
    global OPT_LEVELS, TOLERANCE
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1].split(",")
        del args[i:i + 2]
    if "--target" in args:
        i = args.index("--target")
        COMPILE_ARGS.extend(args[i:i + 2])
        OPT_LEVELS = ("-O2",)
        del args[i:i + 2]
    if "--kv-cache" in args:
        i = args.index("--kv-cache")
        COMPILE_ARGS.append("--kv-cache=" + args[i + 1])
        del args[i:i + 2]
    if "--tolerance" in args:
        i = args.index("--tolerance")
        TOLERANCE = float(args[i + 1])
        del args[i:i + 2]
    llmc, runtime_lib, data, work = args[:4]
    os.makedirs(work, exist_ok=True)
    rt = Runtime(runtime_lib)
    failures = 0
    for name in sorted(os.listdir(data)):
        d = os.path.join(data, name)
        if not os.path.isfile(os.path.join(d, "reference.json")) or \
                (only and name not in only):
            continue
        meta = json.load(open(os.path.join(d, "reference.json")))
        ref = np.load(os.path.join(d, "logits.npy"))
        tokens, prefill = meta["tokens"], meta["prefill"]
        vocab = ref.shape[1]
        variants = [("transformers5", d, OPT_LEVELS)]
        v4 = os.path.join(d, "config-transformers4.json")
        if os.path.exists(v4) and not COMPILE_ARGS:
            # Same weights, the 4.x config: a copy of the directory.
            alt = os.path.join(work, name + "-transformers4")
            shutil.rmtree(alt, ignore_errors=True)
            os.makedirs(alt)
            for f in os.listdir(d):
                if f.endswith(".safetensors"):
                    os.symlink(os.path.abspath(os.path.join(d, f)),
                               os.path.join(alt, f))
            shutil.copy(v4, os.path.join(alt, "config.json"))
            # The config reader is what differs: one opt level suffices.
            variants.append(("transformers4", alt, OPT_LEVELS[:1]))
        try:
            worst = 0.0
            for style, model_dir, levels in variants:
                for opt in levels:
                    got = run_case(rt, llmc, model_dir, work,
                                   f"{name}-{style}", opt, tokens, prefill,
                                   vocab)
                    worst = max(worst, compare(f"{name} ({style} config) {opt}",
                                               got, ref))
            print(f"{name}: ok ({' and '.join(v[0] for v in variants)} "
                  f"configs, {' '.join(OPT_LEVELS)}: prefill {prefill} + "
                  f"{len(tokens) - prefill} decode steps vs transformers "
                  f"{meta['transformers']}; max abs diff {worst:.2e}, "
                  f"max |logit| {np.abs(ref).max():.1f})", flush=True)
        except AssertionError as e:
            print(f"{name}: FAIL {e}", flush=True)
            failures += 1
    if failures:
        return 1
    print("all reference models match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
