"""Benchmark models, each written twice with the same float32 weights: a
llama2.c checkpoint (what llmc compiles) and a GGUF F32 file (what llama.cpp
runs).

  stories260K   the real checkpoint from ../shared/models (converted to GGUF)
  110m          synthetic: dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000
  1.1b          synthetic: dim 2048, 22 layers, 32 heads, 4 KV heads, hidden 5632,
                vocab 32000 (TinyLlama-1.1B's shape)
  1.1b-2l       the 1.1b widths with 2 layers: the same kernels, compiled in
                seconds (for iterating on kernels; report the 1.1b figures)

Q4_0 GGUF files of random blocks, written directly (no float model first),
for shapes whose float32 checkpoint would not fit the disk (compile-time
benchmarks: speed does not depend on the values):

  NAME.rand.q4_0.gguf / NAME.rand2.q4_0.gguf   two seeds, same shape
                (NAME: 1.1b, or 7b = Llama-2-7B's shape: dim 4096, 32
                layers, 32 heads, hidden 11008, vocab 32000; ~3.8 GB)

Synthetic weights are seeded normal draws scaled by 1/sqrt(fan-in), so
activations stay in range; speed does not depend on the values.

usage: make_models.py OUTDIR [--models 110m,1.1b] [--shared ../shared/models]
                            [--random-q4_0 1.1b,7b]
"""
import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "e2e"))
import reference  # noqa: E402

SYNTHETIC = {
    "110m": dict(dim=768, hidden=2048, layers=12, heads=12, kv=12, vocab=32000, seq=1024),
    "1.1b": dict(dim=2048, hidden=5632, layers=22, heads=32, kv=4, vocab=32000, seq=2048),
    "1.1b-2l": dict(dim=2048, hidden=5632, layers=2, heads=32, kv=4, vocab=32000, seq=2048),
    "7b": dict(dim=4096, hidden=11008, layers=32, heads=32, kv=32, vocab=32000, seq=4096),
}


def write_llama2c(path, c, rng):
    """Streams a synthetic llama2.c checkpoint (untied classifier)."""
    dim, hidden, L, H, KV, V = (c[k] for k in ("dim", "hidden", "layers", "heads", "kv", "vocab"))
    hd = dim // H
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("7i", dim, hidden, L, H, KV, -V, c["seq"]))

        def w(shape, fan=None, base=0.0):
            n = int(np.prod(shape))
            s = 1.0 / np.sqrt(fan) if fan else 0.1
            step = 1 << 24
            for i in range(0, n, step):
                m = min(step, n - i)
                (base + s * rng.standard_normal(m, dtype=np.float32)).astype("<f4").tofile(f)

        w((V, dim), fan=1)
        w((L, dim), base=1.0)
        w((L, H * hd, dim), fan=dim)
        w((L, KV * hd, dim), fan=dim)
        w((L, KV * hd, dim), fan=dim)
        w((L, dim, H * hd), fan=H * hd)
        w((L, dim), base=1.0)
        w((L, hidden, dim), fan=dim)
        w((L, dim, hidden), fan=hidden)
        w((L, hidden, dim), fan=dim)
        w((dim,), base=1.0)
        np.zeros(c["seq"] * hd, "<f4").tofile(f)
        w((V, dim), fan=dim)
    os.replace(tmp, path)


def write_gguf(path, model, vocab_pieces=None, scores=None):
    """GGUF F32 of a reference.Model (llama arch, interleaved rope as in
    llama2.c/Meta checkpoints, which is what llama.cpp's llama arch expects)."""
    import gguf
    c, w = model.cfg, model.w
    tmp = path + ".tmp"
    g = gguf.GGUFWriter(tmp, "llama")
    add_llama_metadata(g, c["seq"], c["dim"], c["layers"], c["hidden"], c["heads"],
                       c["kv_heads"], c["head_dim"], c["eps"], c["theta"], file_type=0)
    if vocab_pieces is None:
        vocab_pieces, scores = synthetic_vocab(c["vocab"])
    add_llama_tokenizer(g, vocab_pieces, scores)
    g.add_tensor("token_embd.weight", np.ascontiguousarray(w["embed"]))
    g.add_tensor("output_norm.weight", np.ascontiguousarray(w["norm"]))
    g.add_tensor("output.weight", np.ascontiguousarray(w["out"]))
    for l, L in enumerate(w["layers"]):
        b = f"blk.{l}."
        for ours, theirs in (("attn_norm", "attn_norm"), ("wq", "attn_q"), ("wk", "attn_k"),
                             ("wv", "attn_v"), ("wo", "attn_output"), ("ffn_norm", "ffn_norm"),
                             ("w1", "ffn_gate"), ("w3", "ffn_up"), ("w2", "ffn_down")):
            g.add_tensor(b + theirs + ".weight", np.ascontiguousarray(L[ours]))
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file(progress=sys.stderr.isatty())
    g.close()
    os.replace(tmp, path)


def add_llama_metadata(g, seq, dim, layers, hidden, heads, kv_heads, head_dim, eps, theta,
                       file_type):
    """The llama architecture's hyperparameters (interleaved rope)."""
    g.add_context_length(seq)
    g.add_embedding_length(dim)
    g.add_block_count(layers)
    g.add_feed_forward_length(hidden)
    g.add_head_count(heads)
    g.add_head_count_kv(kv_heads)
    g.add_layer_norm_rms_eps(eps)
    g.add_rope_freq_base(theta)
    g.add_rope_dimension_count(head_dim)
    g.add_file_type(file_type)


def add_llama_tokenizer(g, pieces, scores):
    """A sentencepiece-style ("llama") vocabulary, <unk> <s> </s> first."""
    types = []
    for i, p in enumerate(pieces):
        if i < 3:
            types.append(3 if i else 2)  # unknown, control
        elif len(p) == 6 and p.startswith(b"<0x"):
            types.append(6)  # byte
        else:
            types.append(1)
    g.add_tokenizer_model("llama")
    g.add_token_list([p.decode("utf-8", "replace").replace(" ", "\u2581") for p in pieces])
    g.add_token_scores([float(x) for x in scores])
    g.add_token_types(types)
    g.add_bos_token_id(1)
    g.add_eos_token_id(2)
    g.add_unk_token_id(0)


def synthetic_vocab(V):
    """(pieces, scores) of a synthetic vocabulary: the specials, the 256
    byte pieces and words "\u2581t0", "\u2581t1", ... up to V."""
    pieces = [b"<unk>", b"<s>", b"</s>"] + [b"<0x%02X>" % i for i in range(256)]
    pieces += [("\u2581t%d" % i).encode() for i in range(V - len(pieces))]
    return pieces, [0.0] * V


def write_random_q4_0_gguf(path, c, rng):
    """A llama GGUF whose matrices are random Q4_0 blocks (f16 scale ~
    1/(8 sqrt(fan-in)), uniform nibbles) and norms ones, streamed one
    tensor at a time."""
    import gguf
    dim, hidden, L, H, KV, V = (c[k] for k in ("dim", "hidden", "layers", "heads", "kv", "vocab"))
    hd = dim // H
    tmp = path + ".tmp"
    g = gguf.GGUFWriter(tmp, "llama")
    add_llama_metadata(g, c["seq"], dim, L, hidden, H, KV, hd, 1e-5, 10000.0,
                       file_type=2)  # MOSTLY_Q4_0
    add_llama_tokenizer(g, *synthetic_vocab(V))
    tensors = [("token_embd.weight", (V, dim)), ("output_norm.weight", (dim,)),
               ("output.weight", (V, dim))]
    for l in range(L):
        b = f"blk.{l}."
        tensors += [(b + "attn_norm.weight", (dim,)), (b + "attn_q.weight", (dim, dim)),
                    (b + "attn_k.weight", (KV * hd, dim)), (b + "attn_v.weight", (KV * hd, dim)),
                    (b + "attn_output.weight", (dim, dim)), (b + "ffn_norm.weight", (dim,)),
                    (b + "ffn_gate.weight", (hidden, dim)), (b + "ffn_up.weight", (hidden, dim)),
                    (b + "ffn_down.weight", (dim, hidden))]

    def data(shape):
        if len(shape) == 1:
            return np.ones(shape, np.float32)
        rows, cols = shape
        blocks = rows * cols // 32
        scale = np.float16(1.0 / (8.0 * np.sqrt(cols)))
        d = np.full((blocks, 1), scale, np.float16).view(np.uint8)
        q = rng.integers(0, 256, (blocks, 16), dtype=np.uint8)
        return np.concatenate([d, q], axis=1).reshape(rows, cols // 32 * 18)

    for name, shape in tensors:
        if len(shape) == 1:
            g.add_tensor_info(name, shape, np.dtype(np.float32), 4 * shape[0])
        else:
            g.add_tensor_info(name, (shape[0], shape[1] // 32 * 18), np.dtype(np.uint8),
                              shape[0] * shape[1] // 32 * 18,
                              raw_dtype=gguf.GGMLQuantizationType.Q4_0)
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_ti_data_to_file()
    for i, (name, shape) in enumerate(tensors):
        g.write_tensor_data(data(shape))
        if sys.stderr.isatty():
            print(f"\rwriting {path}: {i + 1}/{len(tensors)} tensors", end="",
                  file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    g.close()
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--models", default="stories260K,110m,1.1b")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "shared", "models"))
    ap.add_argument("--random-q4_0", default="",
                    help="shapes (1.1b, 7b) to write as NAME.rand.q4_0.gguf and "
                         "NAME.rand2.q4_0.gguf (random Q4_0 blocks, seeds 1 and 2)")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for name in filter(None, a.random_q4_0.split(",")):
        for seed, suffix in ((1, "rand"), (2, "rand2")):
            path = os.path.join(a.outdir, f"{name}.{suffix}.q4_0.gguf")
            if not os.path.exists(path):
                print(f"writing {path}", file=sys.stderr)
                write_random_q4_0_gguf(path, SYNTHETIC[name], np.random.default_rng(seed))
            print(f"{name}: {path}")
    if not a.models:
        return
    for name in a.models.split(","):
        bin_path = os.path.join(a.outdir, name + ".bin")
        gguf_path = os.path.join(a.outdir, name + ".f32.gguf")
        if name == "stories260K":
            src = os.path.join(a.shared, "stories260K")
            if not os.path.exists(os.path.join(src, "stories260K.bin")):
                print(f"skip {name}: {src} not found", file=sys.stderr)
                continue
            bin_path = os.path.join(src, "stories260K.bin")
            if not os.path.exists(gguf_path):
                m = reference.load_llama2c(bin_path)
                tok = reference.Llama2CTokenizer(os.path.join(src, "tok512.bin"), m.cfg["vocab"])
                write_gguf(gguf_path, m, tok.pieces, tok.scores)
        else:
            if not os.path.exists(bin_path):
                print(f"writing {bin_path}", file=sys.stderr)
                write_llama2c(bin_path, SYNTHETIC[name], np.random.default_rng(1))
            if not os.path.exists(gguf_path):
                print(f"writing {gguf_path}", file=sys.stderr)
                write_gguf(gguf_path, reference.load_llama2c(bin_path))
        print(f"{name}: {bin_path} {gguf_path}")


if __name__ == "__main__":
    main()
