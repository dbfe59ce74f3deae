"""GGUF models with Q8_0 / Q4_0 / Q4_1, K-quant and Q5_0 / Q5_1 / IQ4_NL
blocks (written by the `gguf` package; random valid blocks where it cannot
quantize), dense and MoE, compiled and run through the runtime C API,
against the numpy reference fed with gguf's own dequantization of the same
tensors.

Linears (and MoE experts) on blocks run as stored with 8-bit activations
(llama.cpp's q8_0 activation blocks), so their reference quantizes each
matmul input the same way (reference.quantize_q8_blocks); the integer dot
products are exact, leaving only float rounding.

usage: check_gguf_quant.py LLMC RUNTIME_LIB WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "import"))
import modelgen  # noqa: E402
import reference  # noqa: E402
from check_random_configs import Runtime, compare  # noqa: E402


# The K-quants run as stored on 8-bit activations (KQuantDot.cpp), in the
# mixes llama.cpp's presets write, at widths that hold whole 256-element
# super-blocks: Q4_K_M (Q4_K, attn_v / ffn_down in Q6_K), Q5_K_M (Q5_K with
# Q6_K), Q3_K_M (Q3_K with Q5_K / Q4_K), Q2_K (with Q3_K). Tied tables of
# 264 rows (interleaved by 8 rows, not 64) are read by the embedding gather
# and the classifier from the same interleaved super-blocks; a mix of the
# low-bit formats also compiles for x86-64-v3 (AVX2 without VNNI). Q5_0,
# Q5_1 and IQ4_NL run the same way, 8 blocks of 32 to a super-block: alone,
# tied (264 rows), and mixed on x86-64-v3.
K_SMALL = modelgen.K_SMALL
Q4_K_M = {"attn_v": "Q6_K", "ffn_down": "Q6_K"}
Q5_K_M = Q4_K_M  # the same layers in Q6_K
Q3_K_M = {"attn_v": "Q5_K", "ffn_down": "Q4_K"}
LOW_BIT_MIX = {"attn_q": "Q3_K", "attn_v": "Q5_K", "ffn_down": "Q3_K"}
BLOCK32_MIX = {"attn_q": "Q5_1", "attn_v": "IQ4_NL", "ffn_down": "IQ4_NL",
               "ffn_up": "Q5_1"}
# (name, base type, per-tensor types, tied, --cpu, shape): the tied tables
# have 264 rows, the others 256.
# Three layers: the middle ones are outlined into one function called per
# layer (--llm-outline-layers), its weights passed in as their blocks.
SMALL3 = dict(modelgen.SMALL, layers=3)
K_SMALL3 = dict(K_SMALL, layers=3)
K_TIED = dict(K_SMALL, vocab=264)
K_STORED = [("Q4_K_M", "Q4_K", Q4_K_M, False, None, K_SMALL3),
            ("Q4_K_M tied Q6_K table", "Q4_K", dict(Q4_K_M, token_embd="Q6_K"),
             True, None, K_TIED),
            ("Q6_K", "Q6_K", None, False, None, K_SMALL),
            ("Q4_K_M --cpu x86-64-v3", "Q4_K", Q4_K_M, False, "x86-64-v3",
             K_SMALL3),
            ("Q5_K_M tied Q5_K table", "Q5_K", Q5_K_M, True, None, K_TIED),
            ("Q3_K_M tied Q3_K table", "Q3_K", Q3_K_M, True, None, K_TIED),
            ("Q2_K tied Q2_K table", "Q2_K", {"attn_v": "Q3_K"}, True, None,
             K_TIED),
            ("Q2_K/Q3_K/Q5_K --cpu x86-64-v3", "Q2_K", LOW_BIT_MIX, False,
             "x86-64-v3", K_SMALL3),
            ("Q5_0", "Q5_0", None, False, None, K_SMALL3),
            ("Q5_1 tied Q5_1 table", "Q5_1", None, True, None, K_TIED),
            ("IQ4_NL tied IQ4_NL table", "IQ4_NL", None, True, None, K_TIED),
            ("Q5_0/Q5_1/IQ4_NL --cpu x86-64-v3", "Q5_0", BLOCK32_MIX, False,
             "x86-64-v3", K_SMALL3),
            ("IQ4_NL/Q5_0", "IQ4_NL", {"ffn_down": "Q5_0"},
             False, None, K_SMALL3)]
# Mixtral-style MoE layers (4 experts, top 2) whose stacked experts run as
# stored: Q4_K gate/up with Q6_K down (llm.moe's down_quant, as Q4_K_M
# writes ffn_down_exps), IQ4_NL; the router in F32.
MOE = [("MoE Q4_K experts, Q6_K down", "Q4_K",
        {"ffn_down_exps": "Q6_K", "ffn_gate_inp": "F32"}, K_SMALL3),
       ("MoE IQ4_NL experts", "IQ4_NL", {"ffn_gate_inp": "F32"}, K_SMALL)]
# Rows of whole blocks of 32 but not of 256 (hidden 64): no kernel reads
# them interleaved, so they are decoded per call (exact f32 weights).
NARROW = [("Q5_0 rows of 64", "Q5_0"), ("IQ4_NL rows of 64", "IQ4_NL")]


def reference_model(expected, c=modelgen.SMALL, a8=None):
    """The reference of a modelgen.write_gguf model; MoE layers (Mixtral's
    routing, top 2) quantize their experts' inputs with `a8`."""
    d, h = c["hidden"], c["heads"]
    w = {"embed": expected["token_embd.weight"], "norm": expected["output_norm.weight"]}
    w["out"] = expected.get("output.weight", w["embed"])
    w["layers"] = []
    for l in range(c["layers"]):
        b = f"blk.{l}."
        moe = b + "ffn_gate_inp.weight" in expected
        w["layers"].append({k: expected[b + g + ".weight"] for k, g in (
            ("attn_norm", "attn_norm"), ("wq", "attn_q"), ("wk", "attn_k"), ("wv", "attn_v"),
            ("wo", "attn_output"), ("ffn_norm", "ffn_norm")) + (() if moe else (
            ("w1", "ffn_gate"), ("w3", "ffn_up"), ("w2", "ffn_down")))})
        if moe:
            w["layers"][-1]["moe"] = dict(
                router=expected[b + "ffn_gate_inp.weight"],
                w1=expected[b + "ffn_gate_exps.weight"],
                w3=expected[b + "ffn_up_exps.weight"],
                w2=expected[b + "ffn_down_exps.weight"],
                top_k=2, renorm=True, act_quant=a8)
    cfg = dict(dim=d, hidden=c["inter"], layers=c["layers"], heads=h, kv_heads=c["kv"],
               vocab=c["vocab"], seq=256, head_dim=d // h, eps=1e-5, theta=10000.0,
               rope="interleaved")
    return reference.Model(cfg, w)


def compare_a8(what, got, ref_a8, ref_float):
    """Logits on 8-bit activations against the reference quantizing the same
    way. Both round x / d to the nearest integer, so an activation within
    float rounding of a tie may round the other way in one of them (a
    "flip"): from there that row, and through the KV cache later ones,
    differ by far less than 8-bit activations themselves change the logits.
    Every row must match to 1e-4 x max|logit| or, past a flip, to 1/5 of
    that row's 8-bit effect (|ref_a8 - ref_float|); at least half the rows
    must match exactly. Returns (max diff of the exact rows, flipped rows)."""
    tol = 1e-4 * max(1.0, float(np.max(np.abs(ref_a8))))
    diff = np.max(np.abs(got - ref_a8), axis=1)
    effect = np.max(np.abs(ref_a8 - ref_float), axis=1)
    exact = diff <= tol
    if not (np.all(exact | (diff <= 0.2 * effect)) and
            np.count_nonzero(exact) * 2 >= len(diff)):
        raise AssertionError(
            f"{what}: max abs diff per row {np.array2string(diff, precision=2)}"
            f" > {tol:.3e} (8-bit effect {np.array2string(effect, precision=2)})")
    return float(np.max(diff[exact])), int(np.count_nonzero(~exact))


def closest_tie(ref, toks, a8):
    """How close the reference's 8-bit activations come to a rounding tie:
    min over every quantized value of | |x / d - floor(x / d)| - 1/2 |."""
    closest = [1.0]

    def watched(x, name=None):
        y = x.reshape(-1, 32).astype(np.float32)
        d = np.abs(y).max(axis=1, keepdims=True) / np.float32(127)
        y = y * np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
        closest[0] = min(closest[0], float(np.min(np.abs(y - np.floor(y) - 0.5))))
        return a8(x, name)
    reference.forward(ref, toks, watched)
    return closest[0]


def tokens(ref, seed, a8):
    """12 random tokens; on 8-bit activations, the first sequence (of 20
    seeds from `seed`) whose reference activations stay 1e-4 away from a
    rounding tie, where float noise in the reference's own float64 path
    could round the other way than llmc's f32 path (compare_a8 bounds what
    is left)."""
    V = ref.cfg["vocab"]
    for k in range(20 if a8 else 1):
        toks = [int(t) for t in np.random.default_rng(seed + 100 * k).integers(0, V, 12)]
        if not a8 or closest_tie(ref, toks, a8) > 1e-4:
            break
    return toks


def run_model(rt, llmc, path, art, name, ref, compile_args=(), a8=None,
              note="", seed=1):
    """Compiles `path`, prefills 9 tokens and decodes 3, compares every row
    with the reference; prints one line, returns 1 on a mismatch."""
    subprocess.run([llmc, "compile", path, "-o", art, *compile_args], check=True)
    V = ref.cfg["vocab"]
    toks = tokens(ref, seed, a8)
    a = rt.load(art)
    s = rt.session(a)
    got = np.concatenate([rt.forward(s, toks[:9], V)] +
                         [rt.forward(s, [t], V) for t in toks[9:]])
    rt.lib.llmc_session_free(s)
    rt.lib.llmc_artifact_free(a)
    try:
        flips = 0
        if a8:
            diff, flips = compare_a8(f"gguf {name}", got,
                                     reference.forward(ref, toks, a8),
                                     reference.forward(ref, toks))
        else:
            diff = compare(f"gguf {name}", got, reference.forward(ref, toks))
        print(f"gguf {name}: ok ({note}9-token prefill + 3 decode steps; max abs "
              f"diff {diff:.2e}" + (", 8-bit activations" if a8 else "") +
              (f"; {flips} rows past a rounding flip" if flips else "") + ")")
        return 0
    except AssertionError as e:
        print(f"gguf {name}: FAIL {e}")
        return 1


def main():
    llmc, lib, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    rt = Runtime(lib)
    failures = 0
    # Q8_0 / Q4_0 twice: for this CPU (vpdpbusd where it has AVX-VNNI) and
    # for x86-64-v3 (AVX2, no VNNI: the portable byte dot products).
    for dtype, cpu in (("Q8_0", None), ("Q4_0", None), ("Q4_1", None),
                       ("Q8_0", "x86-64-v3"), ("Q4_0", "x86-64-v3")):
        path = os.path.join(work, f"llama-{dtype}.gguf")
        shape = SMALL3
        expected = modelgen.write_gguf(path, "llama", dtype, seed=3,
                                       small=shape)
        art = os.path.join(work, f"llama-{dtype}-{cpu or 'native'}.llmc")
        a8 = reference.quantize_q8_blocks if dtype in ("Q8_0", "Q4_0") else None
        failures += run_model(rt, llmc, path, art,
                              dtype + (f" --cpu {cpu}" if cpu else ""),
                              reference_model(expected, shape),
                              ["--cpu", cpu] if cpu else [], a8)
    for i, (name, dtype, mix, tied, cpu, shape) in enumerate(K_STORED):
        path = os.path.join(work, f"llama-kstored-{i}.gguf")
        expected = modelgen.write_gguf(path, "llama", dtype, seed=5, small=shape,
                                       dtypes=mix, tied=tied)
        failures += run_model(rt, llmc, path,
                              os.path.join(work, f"llama-kstored-{i}.llmc"), name,
                              reference_model(expected, shape),
                              ["--cpu", cpu] if cpu else [],
                              reference.quantize_q8_blocks,
                              note="run as stored; ", seed=2)
    for i, (name, dtype, mix, shape) in enumerate(MOE):
        path = os.path.join(work, f"llama-moe-{i}.gguf")
        expected = modelgen.write_gguf(path, "llama", dtype, experts=4, seed=5,
                                       small=shape, dtypes=mix)
        failures += run_model(rt, llmc, path,
                              os.path.join(work, f"llama-moe-{i}.llmc"), name,
                              reference_model(expected, shape,
                                              reference.quantize_q8_blocks),
                              a8=reference.quantize_q8_blocks,
                              note="run as stored; ", seed=2)
    for i, (name, dtype) in enumerate(NARROW):
        path = os.path.join(work, f"llama-narrow-{i}.gguf")
        expected = modelgen.write_gguf(path, "llama", dtype, seed=5, small=SMALL3)
        failures += run_model(rt, llmc, path,
                              os.path.join(work, f"llama-narrow-{i}.llmc"), name,
                              reference_model(expected, SMALL3),
                              note="decoded per call; ", seed=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
