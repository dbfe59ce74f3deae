"""Writes the llm-dialect IR of a Llama of a given shape, without weights.

usage: make_shape_ir.py OUT.mlir [--shape 1.1b | --dim D --hidden H
                        --layers L --heads NH --kv-heads NKV --vocab V
                        --seq S]

The IR is what `llmc import` produces for a llama2.c checkpoint of that
shape (llm.param per weight, embedding, per layer RMSNorm / Q, K, V
projections / RoPE / GQA attention on the KV cache / output projection /
residual / RMSNorm / SwiGLU FFN / residual, final norm on the last
num_logits rows, classifier). Compiling it needs no weights, so backends'
kernels can be checked at full size (e.g. TinyLlama-1.1B's shape) without a
4 GB checkpoint.
"""
import argparse

SHAPES = {
    "1.1b": dict(dim=2048, hidden=5632, layers=22, heads=32, kv_heads=4,
                 vocab=32000, seq=2048),
    "stories260k": dict(dim=64, hidden=172, layers=5, heads=8, kv_heads=4,
                        vocab=512, seq=512),
}


def emit(c):
    dim, hid, L, H, KV, V, S = (c[k] for k in ("dim", "hidden", "layers",
                                               "heads", "kv_heads", "vocab",
                                               "seq"))
    hd = dim // H
    kvd = KV * hd
    cache = f"!llm.kv_cache<{L}x{S}x{KV}x{hd}, f32>"
    t = lambda n: f"tensor<?x{n}xf32>"  # noqa: E731
    out = []
    w = out.append
    w(f'module attributes {{llm.model = {{arch = "llama", dim = {dim} : i64, '
      f'format = "llama2c", head_dim = {hd} : i64, hidden_dim = {hid} : i64, '
      f'max_seq_len = {S} : i64, n_heads = {H} : i64, n_kv_heads = {KV} : i64, '
      f'n_layers = {L} : i64, path = "shape.bin", tied_embeddings = false, '
      f'vocab_size = {V} : i64}}}} {{')
    w(f"  func.func @forward(%tokens: tensor<?xi32>, %pos: index, "
      f"%cache: {cache}, %nlog: index) -> ({t(V)}, {cache}) {{")

    def param(name, shape):
        v = f"%w{len(out)}"
        w(f'    {v} = llm.param "{name}" : tensor<{"x".join(map(str, shape))}xf32>')
        return v

    emb = param("tok_embeddings.weight", (V, dim))
    w(f"    %x0 = llm.embedding {emb}[%tokens] : tensor<{V}x{dim}xf32>, "
      f"tensor<?xi32> -> {t(dim)}")
    x, kv = "%x0", "%cache"
    rope = (f"style interleaved {{head_dim = {hd} : i64, "
            f"theta = 1.000000e+04 : f64}}")
    norm = "{eps = 1.000000e-05 : f64}"

    def linear(dst, src, weight, n_in, n_out):
        w(f"    {dst} = llm.linear {src}, {weight} : {t(n_in)}, "
          f"tensor<{n_out}x{n_in}xf32> -> {t(n_out)}")

    for i in range(L):
        p = f"layers.{i}."
        an = param(p + "attention_norm.weight", (dim,))
        wq = param(p + "attention.wq.weight", (dim, dim))
        wk = param(p + "attention.wk.weight", (kvd, dim))
        wv = param(p + "attention.wv.weight", (kvd, dim))
        wo = param(p + "attention.wo.weight", (dim, dim))
        fn = param(p + "ffn_norm.weight", (dim,))
        w1 = param(p + "feed_forward.w1.weight", (hid, dim))
        w3 = param(p + "feed_forward.w3.weight", (hid, dim))
        w2 = param(p + "feed_forward.w2.weight", (dim, hid))
        s = f"_{i}"
        w(f"    %n{s} = llm.rms_norm {x}, {an} {norm} : {t(dim)}, tensor<{dim}xf32>")
        linear(f"%q{s}", f"%n{s}", wq, dim, dim)
        linear(f"%k{s}", f"%n{s}", wk, dim, kvd)
        linear(f"%v{s}", f"%n{s}", wv, dim, kvd)
        w(f"    %kr{s} = llm.rope %k{s}, %pos {rope} : {t(kvd)}")
        w(f"    %qr{s} = llm.rope %q{s}, %pos {rope} : {t(dim)}")
        w(f"    %att{s}, %kv{s} = llm.attention %qr{s}, %kr{s}, %v{s}, {kv}[%pos] "
          f"{{causal, layer = {i} : i64, num_heads = {H} : i64, "
          f"num_kv_heads = {KV} : i64}} : {t(dim)}, {t(kvd)}, {cache}")
        linear(f"%o{s}", f"%att{s}", wo, dim, dim)
        w(f"    %h{s} = llm.add {x}, %o{s} : {t(dim)}")
        w(f"    %fn{s} = llm.rms_norm %h{s}, {fn} {norm} : {t(dim)}, tensor<{dim}xf32>")
        linear(f"%g{s}", f"%fn{s}", w1, dim, hid)
        linear(f"%u{s}", f"%fn{s}", w3, dim, hid)
        w(f"    %sw{s} = llm.swiglu %g{s}, %u{s} : {t(hid)}, {t(hid)} -> {t(hid)}")
        linear(f"%d{s}", f"%sw{s}", w2, hid, dim)
        w(f"    %x{i + 1} = llm.add %h{s}, %d{s} : {t(dim)}")
        x, kv = f"%x{i + 1}", f"%kv{s}"
    final = param("norm.weight", (dim,))
    cls = param("output.weight", (V, dim))
    w("    %c0 = arith.constant 0 : index")
    w(f"    %rows = tensor.dim {x}, %c0 : {t(dim)}")
    w("    %first = arith.subi %rows, %nlog : index")
    w(f"    %last = tensor.extract_slice {x}[%first, 0] [%nlog, {dim}] [1, 1] : "
      f"{t(dim)} to {t(dim)}")
    w(f"    %fin = llm.rms_norm %last, {final} {norm} : {t(dim)}, tensor<{dim}xf32>")
    linear("%logits", "%fin", cls, dim, V)
    w(f"    return %logits, {kv} : {t(V)}, {cache}")
    w("  }")
    w("}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", choices=sorted(SHAPES))
    for k in ("dim", "hidden", "layers", "heads", "kv-heads", "vocab", "seq"):
        ap.add_argument("--" + k, type=int)
    a = ap.parse_args()
    c = dict(SHAPES[a.shape]) if a.shape else {}
    for k in ("dim", "hidden", "layers", "heads", "kv_heads", "vocab", "seq"):
        if getattr(a, k) is not None:
            c[k] = getattr(a, k)
    missing = [k for k in SHAPES["1.1b"] if k not in c]
    if missing:
        ap.error("missing " + ", ".join(missing))
    with open(a.out, "w") as f:
        f.write(emit(c))


if __name__ == "__main__":
    main()
