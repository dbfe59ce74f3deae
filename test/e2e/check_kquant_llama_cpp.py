"""Files made by llama.cpp's own quantizer (llama_model_quantize) in the
K-quant presets people download (Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K: each
mixes its base format with higher-bit ones for the classifier and some
attn_v / ffn_down) and the Q5_0, Q5_1 and IQ4_NL presets, run by llmc (the super-blocks as stored) and by
llama.cpp (llama-cpp-python) on the same prompt. Both are compared with a
float32 forward on the gguf package's dequantization of the same file:
llmc must be as close to it as llama.cpp is (each quantizes activations to
8 bits: llmc per 32, llama.cpp per 256), and the two engines close to each
other.

usage: check_kquant_llama_cpp.py LLMC RUNTIME_LIB WORKDIR
"""
import ctypes
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
sys.path.insert(0, os.path.join(HERE, "..", "import"))
import make_models  # noqa: E402
import reference  # noqa: E402
from check_gguf_quant import reference_model  # noqa: E402
from check_random_configs import Runtime  # noqa: E402

# Widths that hold whole super-blocks of 256; 2 layers, so layer 1 is one of
# llama.cpp's "more bits" layers (Q6_K attn_v / ffn_down).
SHAPE = dict(dim=256, hidden=768, layers=2, heads=4, kv=2, vocab=512, seq=256)
PROMPT, DECODE = 24, 8


# llama.cpp's LLAMA_FTYPE_MOSTLY_* of each preset.
PRESETS = {"Q2_K": 10, "Q3_K_M": 12, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18,
           "Q5_0": 8, "Q5_1": 9, "IQ4_NL": 25}


def quantize(src, dst, ftype):
    import llama_cpp
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 1
    if llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p)) != 0:
        raise SystemExit(f"llama.cpp could not quantize {src}")


def dequantized(path):
    """{name: float32 array} of a GGUF file, by the gguf package."""
    import gguf
    from gguf import quants
    out, types = {}, {}
    for t in gguf.GGUFReader(path).tensors:
        shape = [int(s) for s in reversed(t.shape)]
        out[t.name] = quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    return out, types


def llama_cpp_logits(path, toks, V):
    from llama_cpp import Llama
    llm = Llama(model_path=path, n_ctx=256, n_threads=1, type_k=0, type_v=0,
                logits_all=True, verbose=False)
    llm.eval(toks[:PROMPT])
    for t in toks[PROMPT:]:
        llm.eval([t])
    return np.array(llm.scores[:len(toks)], dtype=np.float32).reshape(len(toks), V)


def check_preset(llmc, rt, work, f32, preset, toks):
    """Quantizes `f32` to `preset` with llama.cpp, runs it in llmc and in
    llama.cpp; prints two lines, returns whether both bars hold."""
    q = os.path.join(work, f"kq.{preset}.gguf")
    quantize(f32, q, PRESETS[preset])
    weights, types = dequantized(q)
    print(f"llama.cpp {preset}: " +
          ", ".join(f"{n} {k}" for k, n in sorted(types.items())))
    c = dict(hidden=SHAPE["dim"], inter=SHAPE["hidden"], layers=SHAPE["layers"],
             heads=SHAPE["heads"], kv=SHAPE["kv"], vocab=SHAPE["vocab"])
    V = SHAPE["vocab"]
    ref = reference.forward(reference_model(weights, c), toks)

    art = os.path.join(work, f"kq.{preset}.llmc")
    subprocess.run([llmc, "compile", q, "-o", art], check=True)
    a = rt.load(art)
    s = rt.session(a)
    ours = np.concatenate([rt.forward(s, toks[:PROMPT], V)] +
                          [rt.forward(s, [t], V) for t in toks[PROMPT:]])
    rt.lib.llmc_session_free(s)
    rt.lib.llmc_artifact_free(a)
    theirs = llama_cpp_logits(q, toks, V)

    scale = float(np.max(np.abs(ref)))
    err_ours = float(np.max(np.abs(ours - ref))) / scale
    err_theirs = float(np.max(np.abs(theirs - ref))) / scale
    between = float(np.max(np.abs(ours - theirs))) / scale
    top1 = float(np.mean(np.argmax(ours, 1) == np.argmax(theirs, 1)))
    ok = err_ours <= max(1.5 * err_theirs, 1e-3) and between <= 0.05
    print(f"kquant llama.cpp {preset}: {'ok' if ok else 'FAIL'} (max |logit error| "
          f"/ max |logit| over {PROMPT} prompt + {DECODE} decode positions: llmc "
          f"{err_ours:.2e}, llama.cpp {err_theirs:.2e}; llmc vs llama.cpp "
          f"{between:.2e}, same top-1 at {top1:.0%})")
    return ok


def main():
    llmc, lib, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    bin_path = os.path.join(work, "kq.bin")
    f32 = os.path.join(work, "kq.f32.gguf")
    make_models.write_llama2c(bin_path, SHAPE, np.random.default_rng(7))
    make_models.write_gguf(f32, reference.load_llama2c(bin_path))
    toks = [int(t) for t in
            np.random.default_rng(3).integers(3, SHAPE["vocab"], PROMPT + DECODE)]
    rt = Runtime(lib)
    ok = [check_preset(llmc, rt, work, f32, p, toks) for p in PRESETS]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
