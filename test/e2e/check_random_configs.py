"""Random-weight models that stress the CPU lowering, checked against the
numpy reference (reference.py) through the runtime's C API (ctypes):

- GQA ratios 1, 2, 4, 8; head_dim 32, 64 and 128; odd hidden sizes (172);
  rope theta 10000 and 500000, interleaved (llama2.c) and half (HF) RoPE;
  tied and untied embeddings; Qwen2 q/k/v biases; a Mistral sliding window;
- prompts of 1, 7 and 300 tokens: every prefill row, then decode steps;
- prefill followed by decode equals token-by-token decode from position 0.

usage: check_random_configs.py LLMC RUNTIME_LIB WORKDIR [--only NAME]
"""
import ctypes
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np

import reference

CONFIGS = [
    # name, format, dim, hidden, layers, heads, kv, vocab, head_dim, theta, tied
    ("gqa1-odd-hidden", "llama2c", 64, 172, 2, 4, 4, 97, None, 1e4, False),
    ("gqa2-tied", "llama2c", 128, 172, 2, 4, 2, 128, None, 1e4, True),
    ("gqa4", "llama2c", 128, 96, 2, 8, 2, 64, None, 1e4, False),
    ("gqa8", "llama2c", 256, 128, 1, 8, 1, 64, None, 1e4, True),
    ("hf-hd64-theta500k-tied", "hf", 256, 172, 2, 4, 2, 96, 64, 5e5, True),
    ("hf-hd128-gqa2", "hf", 256, 160, 1, 2, 1, 80, 128, 1e4, False),
    ("hf-qkv-bias", "hf-bias", 128, 96, 2, 4, 2, 64, 32, 1e6, False),
    # Mistral: a 40-position sliding window (the 300-token prompt and its
    # decode steps see only the last 40 positions).
    ("hf-mistral-window40", "hf-window", 128, 96, 2, 4, 2, 64, 32, 1e4, False),
]
WINDOW = 40
SEQ = 320
PROMPTS = (1, 7, 300)
DECODE = 3


def llama2c_bytes(rng, dim, hidden, layers, heads, kv, vocab, tied):
    hd = dim // heads
    out = [struct.pack("7i", dim, hidden, layers, heads, kv,
                       vocab if tied else -vocab, SEQ)]

    def w(*shape, fan=None, base=0.0):
        s = 1.0 / np.sqrt(fan) if fan else 0.1
        out.append((base + s * rng.standard_normal(shape)).astype("<f4").tobytes())

    w(vocab, dim, fan=1)
    w(layers, dim, base=1.0)
    w(layers, heads * hd, dim, fan=dim)
    w(layers, kv * hd, dim, fan=dim)
    w(layers, kv * hd, dim, fan=dim)
    w(layers, dim, heads * hd, fan=heads * hd)
    w(layers, dim, base=1.0)
    w(layers, hidden, dim, fan=dim)
    w(layers, dim, hidden, fan=hidden)
    w(layers, hidden, dim, fan=dim)
    w(dim, base=1.0)
    out.append(np.zeros(SEQ * hd, "<f4").tobytes())  # legacy freq_cis
    if not tied:
        w(vocab, dim, fan=dim)
    return b"".join(out)


def write_hf(directory, rng, dim, hidden, layers, heads, kv, vocab, hd, theta,
             tied, bias=False, window=None):
    from safetensors.numpy import save_file
    os.makedirs(directory, exist_ok=True)
    arch = "Qwen2ForCausalLM" if bias else \
        "MistralForCausalLM" if window else "LlamaForCausalLM"
    cfg = {"architectures": [arch],
           "hidden_size": dim,
           "intermediate_size": hidden, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv,
           "head_dim": hd, "vocab_size": vocab, "max_position_embeddings": SEQ,
           "rms_norm_eps": 1e-5, "rope_theta": theta,
           "tie_word_embeddings": tied}
    if window:
        cfg["sliding_window"] = window
    json.dump(cfg, open(os.path.join(directory, "config.json"), "w"))

    def w(*shape, fan=None, base=0.0):
        s = 1.0 / np.sqrt(fan) if fan else 0.1
        return (base + s * rng.standard_normal(shape)).astype(np.float32)

    t = {"model.embed_tokens.weight": w(vocab, dim, fan=1),
         "model.norm.weight": w(dim, base=1.0)}
    if not tied:
        t["lm_head.weight"] = w(vocab, dim, fan=dim)
    for l in range(layers):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = w(dim, base=1.0)
        t[p + "post_attention_layernorm.weight"] = w(dim, base=1.0)
        t[p + "self_attn.q_proj.weight"] = w(heads * hd, dim, fan=dim)
        t[p + "self_attn.k_proj.weight"] = w(kv * hd, dim, fan=dim)
        t[p + "self_attn.v_proj.weight"] = w(kv * hd, dim, fan=dim)
        t[p + "self_attn.o_proj.weight"] = w(dim, heads * hd, fan=heads * hd)
        if bias:
            t[p + "self_attn.q_proj.bias"] = w(heads * hd)
            t[p + "self_attn.k_proj.bias"] = w(kv * hd)
            t[p + "self_attn.v_proj.bias"] = w(kv * hd)
        t[p + "mlp.gate_proj.weight"] = w(hidden, dim, fan=dim)
        t[p + "mlp.up_proj.weight"] = w(hidden, dim, fan=dim)
        t[p + "mlp.down_proj.weight"] = w(dim, hidden, fan=hidden)
    save_file(t, os.path.join(directory, "model.safetensors"))


class Runtime:
    def __init__(self, lib):
        self.lib = ctypes.CDLL(lib)
        L = self.lib
        L.llmc_status_message.restype = ctypes.c_char_p
        L.llmc_status_message.argtypes = [ctypes.c_void_p]
        L.llmc_status_free.argtypes = [ctypes.c_void_p]
        for f in ("llmc_artifact_load", "llmc_session_create",
                  "llmc_session_forward", "llmc_session_forward_last"):
            getattr(L, f).restype = ctypes.c_void_p
        L.llmc_artifact_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        L.llmc_session_create.argtypes = [ctypes.c_void_p, ctypes.c_int32,
                                          ctypes.POINTER(ctypes.c_void_p)]
        for f in (L.llmc_session_forward, L.llmc_session_forward_last):
            f.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32),
                          ctypes.c_int32,
                          ctypes.POINTER(ctypes.POINTER(ctypes.c_float))]
        L.llmc_session_free.argtypes = [ctypes.c_void_p]
        L.llmc_session_reset.argtypes = [ctypes.c_void_p]
        L.llmc_artifact_free.argtypes = [ctypes.c_void_p]

    def check(self, status):
        if status:
            msg = self.lib.llmc_status_message(status).decode()
            self.lib.llmc_status_free(status)
            raise RuntimeError(msg)

    def load(self, path):
        a = ctypes.c_void_p()
        self.check(self.lib.llmc_artifact_load(path.encode(), ctypes.byref(a)))
        return a

    def session(self, artifact):
        s = ctypes.c_void_p()
        self.check(self.lib.llmc_session_create(artifact, 0, ctypes.byref(s)))
        return s

    def forward(self, session, tokens, vocab, last_only=False):
        """Logits of every position of `tokens` (or of the last only)."""
        arr = (ctypes.c_int32 * len(tokens))(*tokens)
        out = ctypes.POINTER(ctypes.c_float)()
        fn = self.lib.llmc_session_forward_last if last_only else \
            self.lib.llmc_session_forward
        self.check(fn(session, arr, len(tokens), ctypes.byref(out)))
        rows = 1 if last_only else len(tokens)
        return np.ctypeslib.as_array(out, shape=(rows, vocab)).copy()


def compare(what, got, ref):
    tol = 1e-4 * max(1.0, float(np.max(np.abs(ref))))
    diff = float(np.max(np.abs(got - ref)))
    if not diff <= tol:
        raise AssertionError(f"{what}: max abs diff {diff:.3e} > {tol:.3e}")
    return diff


OPT_LEVELS = ("-O0", "-O3")


def check_artifact(rt, llmc, work, name, path, opt, ref, vocab, rng,
                   prompts=PROMPTS, compare=compare):
    """Compiles `path` at `opt` and compares every row with the reference
    (each prompt's prefill then DECODE steps, the last-row prefill, and for
    short prompts token-by-token decode); returns the largest difference."""
    art = os.path.join(work, name + opt + ".llmc")
    subprocess.run([llmc, "compile", path, opt, *COMPILE_ARGS, "-o", art],
                   check=True)
    a = rt.load(art)
    worst = 0.0
    what = f"{name} {opt}"
    try:
        for P in prompts:
            toks = [int(t) for t in rng.integers(0, vocab, P + DECODE)]
            expect = reference.forward(ref, toks)
            s = rt.session(a)
            got = [rt.forward(s, toks[:P], vocab)]
            for t in toks[P:]:
                got.append(rt.forward(s, [t], vocab))
            got = np.concatenate(got)
            worst = max(worst, compare(f"{what} prompt {P} + decode", got, expect))
            rt.lib.llmc_session_free(s)
            # Only the last row, as generation asks for it.
            s = rt.session(a)
            last = rt.forward(s, toks[:P], vocab, last_only=True)
            rt.lib.llmc_session_free(s)
            worst = max(worst, compare(f"{what} prompt {P} last row", last[0],
                                       expect[P - 1]))
            if P <= 7:
                s = rt.session(a)
                one = np.concatenate([rt.forward(s, [t], vocab) for t in toks])
                rt.lib.llmc_session_free(s)
                worst = max(worst, compare(f"{what} token-by-token", one, got))
    finally:
        rt.lib.llmc_artifact_free(a)
    return worst


# Extra `llmc compile` arguments (--target vulkan: the same matrix on the
# Vulkan backend).
COMPILE_ARGS = []


def main():
    args = sys.argv[1:]
    if "--target" in args:
        i = args.index("--target")
        COMPILE_ARGS.extend(args[i:i + 2])
        del args[i:i + 2]
    llmc, runtime_lib, work = args[:3]
    only = args[4] if len(args) > 4 and args[3] == "--only" else None
    os.makedirs(work, exist_ok=True)
    rt = Runtime(runtime_lib)
    failures = 0
    for (name, fmt, dim, hidden, layers, heads, kv, vocab, hd, theta,
         tied) in CONFIGS:
        if only and name != only:
            continue
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        if fmt == "llama2c":
            path = os.path.join(work, name + ".bin")
            open(path, "wb").write(llama2c_bytes(rng, dim, hidden, layers, heads,
                                                 kv, vocab, tied))
            ref = reference.load_llama2c(path)
        else:
            path = os.path.join(work, name)
            write_hf(path, rng, dim, hidden, layers, heads, kv, vocab, hd,
                     theta, tied, bias=fmt == "hf-bias",
                     window=WINDOW if fmt == "hf-window" else None)
            ref = reference.load_hf(path)
        worst = 0.0
        try:
            # The reference path (-O0) and the optimized one (-O3: fusion,
            # flash attention with its split decode), both against numpy.
            for opt in OPT_LEVELS:
                worst = max(worst, check_artifact(rt, llmc, work, name, path, opt,
                                                  ref, vocab, rng))
            print(f"{name}: ok ({' and '.join(OPT_LEVELS)}: prompts {PROMPTS} + "
                  f"{DECODE} decode steps, last-row prefill, token-by-token; "
                  f"max abs diff {worst:.2e})")
        except (AssertionError, RuntimeError) as e:
            print(f"{name}: FAIL {e}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
