#!/usr/bin/env python3
"""Imports Hugging Face and GGUF models built by the reference writers, for
every supported architecture and dtype, and checks that:
  - `llmc import` succeeds and `llmc-opt` verifies the IR (with the expected
    config in the llm.model attribute);
  - every tensor `llmc inspect --dump` reads back equals what was written
    (GGUF Q8_0/Q4_0/Q4_1 against gguf's reference dequantization).
Prints one `ok <case>` line per case.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import modelgen  # noqa: E402


def run(*cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)}\n{p.stderr}")
    return p.stdout


def check(args, case, model, expected, want_attrs, want_ops=()):
    out = os.path.join(args.tmp, case + ".mlir")
    run(args.llmc, "import", model, "-o", out)
    text = run(args.llmc_opt, out)  # verifies
    for attr in want_attrs:
        if attr not in text:
            raise SystemExit(f"FAIL {case}: '{attr}' not in the imported IR")
    for op in want_ops:
        if op not in text:
            raise SystemExit(f"FAIL {case}: no '{op}' in the imported IR")
    dump = os.path.join(args.tmp, case + ".dump")
    listing = run(args.llmc, "inspect", model, "--dump", dump)
    names = [l.split()[0] for l in listing.splitlines()[1:]]
    if sorted(names) != sorted(expected):
        raise SystemExit(f"FAIL {case}: tensors {sorted(set(names) ^ set(expected))}")
    for name, want in expected.items():
        got = np.fromfile(os.path.join(dump, name + ".f32"), dtype="<f4")
        if got.size != want.size or not np.array_equal(got, want.reshape(-1)):
            diff = np.max(np.abs(got - want.reshape(-1))) if got.size == want.size else "size"
            raise SystemExit(f"FAIL {case}: tensor {name} differs (max {diff})")
    print(f"ok {case}: {len(expected)} tensors equal")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llmc", required=True)
    ap.add_argument("--llmc-opt", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    os.makedirs(args.tmp, exist_ok=True)
    d = lambda n: os.path.join(args.tmp, n)

    for arch, dtype in [("LlamaForCausalLM", "F32"), ("LlamaForCausalLM", "F16"),
                        ("LlamaForCausalLM", "BF16"), ("MistralForCausalLM", "F16"),
                        ("Qwen2ForCausalLM", "BF16"), ("MixtralForCausalLM", "F32")]:
        case = f"hf-{arch}-{dtype}"
        exp = modelgen.write_hf(d(case), arch, dtype)
        attrs = ["style half", "n_layers = 2", "n_kv_heads = 2"]
        ops = []
        if arch == "MistralForCausalLM":
            attrs.append("sliding_window = 64")
        if arch == "Qwen2ForCausalLM":
            ops.append("bias(")
        if arch == "MixtralForCausalLM":
            ops += ["llm.moe", "routing topk_softmax", "n_experts = 4"]
        if dtype != "F32":
            attrs.append({"F16": "xf16>", "BF16": "xbf16>"}[dtype])
        check(args, case, d(case), exp, attrs, ops)

    exp = modelgen.write_hf(d("hf-sharded"), "LlamaForCausalLM", "F32", shards=3)
    check(args, "hf-sharded", d("hf-sharded"), exp, ["n_layers = 2"])
    exp = modelgen.write_hf(d("hf-tied"), "LlamaForCausalLM", "F32",
                            tie_word_embeddings=True)
    check(args, "hf-tied", d("hf-tied"), exp, ["tied_embeddings = true"])
    exp = modelgen.write_hf(d("hf-llama3-rope"), "LlamaForCausalLM", "F32",
                            rope_theta=500000.0,
                            rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                          "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                          "original_max_position_embeddings": 8192})
    check(args, "hf-llama3-rope", d("hf-llama3-rope"), exp,
          ["#llm.rope_scaling<llama3, factor = 8.000000e+00", "theta = 5.000000e+05"])
    exp = modelgen.write_hf(d("hf-linear-rope"), "LlamaForCausalLM", "F32",
                            rope_scaling={"type": "linear", "factor": 2.0})
    check(args, "hf-linear-rope", d("hf-linear-rope"), exp,
          ["#llm.rope_scaling<linear, factor = 2.000000e+00>"])

    for dtype in ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1"]:
        case = f"gguf-llama-{dtype}"
        path = d(case + ".gguf")
        exp = modelgen.write_gguf(path, "llama", dtype)
        attrs = ["style interleaved", "format = \"gguf\""]
        ops = []
        if dtype.startswith("Q"):
            scheme = "gguf_" + dtype.lower()
            attrs.append(f"scheme = {scheme}, granularity = block")
            ops += ["llm.qlinear", "llm.dequantize"]
        check(args, case, path, exp, attrs, ops)
    # ggml's other block formats: every value `llmc inspect --dump` decodes
    # equals the gguf package's dequantization (random valid blocks: gguf
    # cannot quantize K-quants); the IR runs them all as stored
    # (llm.qlinear; the embedding gather's llm.dequantize).
    for dtype in ["Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]:
        case = f"gguf-llama-{dtype}"
        path = d(case + ".gguf")
        exp = modelgen.write_gguf(path, "llama", dtype, small=modelgen.K_SMALL)
        check(args, case, path, exp,
              [f"scheme = gguf_{dtype.lower()}, granularity = block"],
              ["llm.dequantize", "llm.qlinear"])
    path = d("gguf-qwen2.gguf")
    exp = modelgen.write_gguf(path, "qwen2", "F16", bias=True, tied=True)
    check(args, "gguf-qwen2", path, exp, ["style half", "tied_embeddings = true"], ["bias("])
    path = d("gguf-mixtral.gguf")
    exp = modelgen.write_gguf(path, "llama", "Q8_0", experts=4)
    check(args, "gguf-mixtral-exps", path, exp, ["n_experts = 4"], ["llm.moe"])
    print("all import cases passed")


if __name__ == "__main__":
    main()
