"""Random-weight mixture-of-experts models (Mixtral and Qwen2-MoE, as
Hugging Face directories written with safetensors and as GGUF files written
with the gguf package), compiled at -O0 and -O3 and run through the runtime
C API, against the numpy reference (reference.moe_ffn: token by token, as
the Hugging Face modules describe routing).

Each model: prompts of 1, 7 and 40 tokens (prefill: many tokens per expert)
then 3 decode steps (one token: the matrix-vector path), the last-row
prefill, and token-by-token decode equal to prefill.

With --routing: `llmc calibrate` on a MoE model against the reference's
expert choices (per-layer expert counts, co-occurrence of consecutive
layers' choices).

With --cache (after --routing, same WORKDIR): the routing model compiled
with an expert placement runs with expert caches of 25 % and 50 % of the
paged experts, with and without prefetch: logits bit-identical to
all-mapped execution, measured residency within the cache.

usage: check_moe.py LLMC RUNTIME_LIB WORKDIR [--only NAME | --routing | --cache]
"""
import ctypes
import functools
import json
import os
import subprocess
import sys
import zlib

import numpy as np

import reference
import check_random_configs
from check_random_configs import DECODE, Runtime, compare

DIM, HEADS, KV, HD, VOCAB, SEQ = 64, 4, 2, 16, 96, 128
PROMPTS = (1, 7, 40)

# name, format, layers, experts, top_k, expert hidden, shared hidden,
# extra config
MODELS = [
    ("mixtral-hf", "mixtral", 2, 8, 2, 96, 0, {}),
    ("mixtral-hf-f16", "mixtral-f16", 2, 4, 2, 64, 0, {}),
    # Qwen2-MoE: softmax over all 8, top 4 not renormalised, a gated shared
    # expert; layer 1 keeps a dense MLP (mlp_only_layers).
    ("qwen2moe-hf", "qwen2moe", 3, 8, 4, 32, 80, {"mlp_only_layers": [1]}),
    # Renormalised top 2; every second layer sparse (decoder_sparse_step).
    ("qwen2moe-hf-norm-step2", "qwen2moe", 2, 6, 2, 48, 64,
     {"norm_topk_prob": True, "decoder_sparse_step": 2}),
    # Stacked [experts, ...] tensors (llama.cpp's ffn_*_exps).
    ("mixtral-gguf", "gguf-llama", 2, 8, 2, 96, 0, {}),
    # llama.cpp's quantized ffn_*_exps: q8_0 / q4_0 experts run on their
    # blocks with 8-bit activations (the reference quantizes the experts'
    # inputs the same way), q4_1 through f32.
    ("mixtral-gguf-q8_0", "gguf-llama", 2, 4, 2, 64, 0, {"experts": "Q8_0"}),
    ("mixtral-gguf-q4_0", "gguf-llama", 2, 4, 2, 64, 0, {"experts": "Q4_0"}),
    ("mixtral-gguf-q4_1", "gguf-llama", 2, 4, 2, 64, 0, {"experts": "Q4_1"}),
    ("qwen2moe-gguf-f16", "gguf-qwen2moe", 2, 4, 2, 48, 64, {}),
]


def weights(rng, *shape, fan=None, base=0.0):
    s = 1.0 / np.sqrt(fan) if fan else 0.1
    return (base + s * rng.standard_normal(shape)).astype(np.float32)


def canonical(rng, layers, E, K, F, S, dense_layers, dense_hidden=96,
              vocab=VOCAB):
    """Reference weights (reference.Model layout, float32)."""
    w = {"embed": weights(rng, vocab, DIM, fan=1),
         "norm": weights(rng, DIM, base=1.0),
         "out": weights(rng, vocab, DIM, fan=DIM), "layers": []}
    for l in range(layers):
        L = dict(attn_norm=weights(rng, DIM, base=1.0),
                 ffn_norm=weights(rng, DIM, base=1.0),
                 wq=weights(rng, HEADS * HD, DIM, fan=DIM),
                 wk=weights(rng, KV * HD, DIM, fan=DIM),
                 wv=weights(rng, KV * HD, DIM, fan=DIM),
                 wo=weights(rng, DIM, HEADS * HD, fan=HEADS * HD))
        if l in dense_layers:
            L.update(w1=weights(rng, dense_hidden, DIM, fan=DIM),
                     w3=weights(rng, dense_hidden, DIM, fan=DIM),
                     w2=weights(rng, DIM, dense_hidden, fan=dense_hidden))
        else:
            # A wide router spread: well-separated top-k choices.
            m = dict(router=weights(rng, E, DIM, fan=DIM / 4),
                     w1=weights(rng, E, F, DIM, fan=DIM),
                     w3=weights(rng, E, F, DIM, fan=DIM),
                     w2=weights(rng, E, DIM, F, fan=F), top_k=K)
            if S:
                m.update(shared_w1=weights(rng, S, DIM, fan=DIM),
                         shared_w3=weights(rng, S, DIM, fan=DIM),
                         shared_w2=weights(rng, DIM, S, fan=S),
                         shared_gate=weights(rng, 1, DIM, fan=DIM))
            L["moe"] = m
        w["layers"].append(L)
    return w


def write_hf(directory, arch, w, E, K, F, S, extra, f16):
    from safetensors.numpy import save_file
    os.makedirs(directory, exist_ok=True)
    cfg = {"architectures": [arch], "hidden_size": DIM,
           "intermediate_size": 96, "num_hidden_layers": len(w["layers"]),
           "num_attention_heads": HEADS, "num_key_value_heads": KV,
           "head_dim": HD, "vocab_size": VOCAB, "max_position_embeddings": SEQ,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": False, "num_experts_per_tok": K}
    if arch == "MixtralForCausalLM":
        # Mixtral's intermediate_size is the experts' hidden size.
        cfg.update(num_local_experts=E, sliding_window=None,
                   intermediate_size=F)
    else:
        cfg.update(num_experts=E, moe_intermediate_size=F,
                   shared_expert_intermediate_size=S)
    cfg.update(extra)
    json.dump(cfg, open(os.path.join(directory, "config.json"), "w"))
    t = {"model.embed_tokens.weight": w["embed"], "model.norm.weight": w["norm"],
         "lm_head.weight": w["out"]}
    for l, L in enumerate(w["layers"]):
        p = f"model.layers.{l}."
        t.update({p + "input_layernorm.weight": L["attn_norm"],
                  p + "post_attention_layernorm.weight": L["ffn_norm"],
                  p + "self_attn.q_proj.weight": L["wq"],
                  p + "self_attn.k_proj.weight": L["wk"],
                  p + "self_attn.v_proj.weight": L["wv"],
                  p + "self_attn.o_proj.weight": L["wo"]})
        if arch == "Qwen2MoeForCausalLM":
            for n, size in (("q", HEADS * HD), ("k", KV * HD), ("v", KV * HD)):
                t[p + f"self_attn.{n}_proj.bias"] = np.full(size, 0.01 * (l + 1), np.float32)
        m = L.get("moe")
        if m is None:
            t.update({p + "mlp.gate_proj.weight": L["w1"],
                      p + "mlp.up_proj.weight": L["w3"],
                      p + "mlp.down_proj.weight": L["w2"]})
        elif arch == "MixtralForCausalLM":
            t[p + "block_sparse_moe.gate.weight"] = m["router"]
            for e in range(E):
                q = p + f"block_sparse_moe.experts.{e}."
                t.update({q + "w1.weight": m["w1"][e], q + "w3.weight": m["w3"][e],
                          q + "w2.weight": m["w2"][e]})
        else:
            t[p + "mlp.gate.weight"] = m["router"]
            for e in range(E):
                q = p + f"mlp.experts.{e}."
                t.update({q + "gate_proj.weight": m["w1"][e],
                          q + "up_proj.weight": m["w3"][e],
                          q + "down_proj.weight": m["w2"][e]})
            if S:
                q = p + "mlp.shared_expert."
                t.update({q + "gate_proj.weight": m["shared_w1"],
                          q + "up_proj.weight": m["shared_w3"],
                          q + "down_proj.weight": m["shared_w2"],
                          p + "mlp.shared_expert_gate.weight": m["shared_gate"]})
    if f16:
        t = {k: v.astype(np.float16) for k, v in t.items()}
    save_file({k: np.ascontiguousarray(v) for k, v in t.items()},
              os.path.join(directory, "model.safetensors"))


def byte_tokenizer(g):
    """A llama (SentencePiece-style) vocabulary of control tokens and the
    256 byte-fallback pieces: any text encodes, byte by byte."""
    g.add_tokenizer_model("llama")
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    g.add_token_list(pieces)
    g.add_token_scores([0.0] * len(pieces))
    g.add_token_types([2, 3, 3] + [6] * 256)
    g.add_bos_token_id(1)
    g.add_eos_token_id(2)


def write_gguf(path, arch, w, E, K, F, S, f16, experts_type=None,
               tokenizer=None):
    """llama.cpp naming; stacked expert tensors, optionally quantized by the
    gguf package to `experts_type` (w's experts are replaced by gguf's
    dequantization of what it stored). `llama` keeps Q/K as given
    (llama.cpp's interleaved RoPE pairs), `qwen2moe` rotates halves."""
    import gguf
    from gguf import quants
    g = gguf.GGUFWriter(path, arch)
    g.add_context_length(SEQ)
    g.add_embedding_length(DIM)
    g.add_block_count(len(w["layers"]))
    # llama (Mixtral): the experts' hidden size is feed_forward_length.
    g.add_feed_forward_length(F if arch == "llama" else 96)
    g.add_head_count(HEADS)
    g.add_head_count_kv(KV)
    g.add_key_length(HD)
    g.add_value_length(HD)
    g.add_layer_norm_rms_eps(1e-5)
    g.add_rope_freq_base(10000.0)
    g.add_rope_dimension_count(HD)
    g.add_expert_count(E)
    g.add_expert_used_count(K)
    if arch == "qwen2moe":
        g.add_expert_feed_forward_length(F)
        g.add_expert_shared_feed_forward_length(S)
    if tokenizer:
        tokenizer(g)

    def add(name, x):
        g.add_tensor(name, x.astype(np.float16) if f16 and x.ndim >= 2 else x)

    def add_experts(name, m, key):
        if not experts_type:
            return add(name, m[key])
        qt = gguf.GGMLQuantizationType[experts_type]
        q = quants.quantize(m[key], qt)
        g.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
        m[key] = quants.dequantize(q, qt).reshape(m[key].shape).astype(np.float32)

    add("token_embd.weight", w["embed"])
    add("output_norm.weight", w["norm"])
    add("output.weight", w["out"])
    for l, L in enumerate(w["layers"]):
        b = f"blk.{l}."
        for n, k in (("attn_norm", "attn_norm"), ("ffn_norm", "ffn_norm"),
                     ("attn_q", "wq"), ("attn_k", "wk"), ("attn_v", "wv"),
                     ("attn_output", "wo")):
            add(b + n + ".weight", L[k])
        m = L["moe"]
        add(b + "ffn_gate_inp.weight", m["router"])
        add_experts(b + "ffn_gate_exps.weight", m, "w1")
        add_experts(b + "ffn_up_exps.weight", m, "w3")
        add_experts(b + "ffn_down_exps.weight", m, "w2")
        if experts_type in ("Q8_0", "Q4_0"):
            m["act_quant"] = reference.quantize_q8_blocks
        if S:
            add(b + "ffn_gate_shexp.weight", m["shared_w1"])
            add(b + "ffn_up_shexp.weight", m["shared_w3"])
            add(b + "ffn_down_shexp.weight", m["shared_w2"])
            # A vector in GGUF.
            add(b + "ffn_gate_inp_shexp.weight", m["shared_gate"].reshape(DIM))
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()


def stored_f16(w):
    """The reference weights as an f16 file stores them (2-D and up)."""
    def cast(v):
        if isinstance(v, np.ndarray) and v.ndim >= 2:
            return v.astype(np.float16).astype(np.float32)
        return v
    out = {k: cast(v) for k, v in w.items() if k != "layers"}
    # The shared expert's gate is written as a vector (kept f32).
    out["layers"] = [{k: ({kk: vv if kk == "shared_gate" else cast(vv)
                           for kk, vv in v.items()}
                          if isinstance(v, dict) else cast(v))
                      for k, v in L.items()} for L in w["layers"]]
    return out


def build(work, name, fmt, layers, E, K, F, S, extra, rng):
    """Writes the model; returns (path, reference.Model)."""
    dense = set(extra.get("mlp_only_layers", []))
    step = extra.get("decoder_sparse_step", 1)
    dense |= {l for l in range(layers) if (l + 1) % step}
    w = canonical(rng, layers, E, K, F, S, dense)
    for L in w["layers"]:
        if "moe" in L:
            L["moe"]["renorm"] = fmt.startswith("mixtral") or \
                fmt == "gguf-llama" or bool(extra.get("norm_topk_prob"))
    cfg = dict(dim=DIM, hidden=96, layers=layers, heads=HEADS, kv_heads=KV,
               vocab=VOCAB, seq=SEQ, head_dim=HD, eps=1e-5, theta=10000.0,
               rope="half")
    if fmt.startswith("gguf"):
        path = os.path.join(work, name + ".gguf")
        arch = "llama" if fmt == "gguf-llama" else "qwen2moe"
        f16 = name.endswith("f16")
        write_gguf(path, arch, w, E, K, F, S, f16, extra.get("experts"))
        if arch == "llama":
            cfg["rope"] = "interleaved"
        return path, reference.Model(cfg, stored_f16(w) if f16 else w)
    path = os.path.join(work, name)
    arch = "MixtralForCausalLM" if fmt.startswith("mixtral") else "Qwen2MoeForCausalLM"
    write_hf(path, arch, w, E, K, F, S, extra, f16=fmt.endswith("f16"))
    # The reference reads the files back on its own (reference.load_hf).
    return path, reference.load_hf(path)


def compare_rows(what, got, ref, quantized):
    """compare(), except that with 8-bit activations (q8_0 / q4_0 experts) up
    to 3 rows may differ by up to 1e-2 of the logit scale: an activation a
    hair from a rounding midpoint (reference and kernel differ in the last
    bits of the hidden state) rounds to the neighbouring step in one block.
    A wrong expert, weight or block offset moves logits by O(1)."""
    if not quantized:
        return compare(what, got, ref)
    scale = max(1.0, float(np.max(np.abs(ref))))
    rows = np.abs(got - ref).reshape(-1, ref.shape[-1]).max(axis=1)
    loose = np.where(rows > 1e-4 * scale)[0]
    if len(loose) > 3 or rows.max() > 1e-2 * scale:
        raise AssertionError(f"{what}: {len(loose)} rows off, max abs diff "
                             f"{rows.max():.3e} (scale {scale:.2f})")
    return float(rows.max())


def check_artifact(rt, llmc, work, name, path, opt, ref, rng):
    quantized = any(L.get("moe", {}).get("act_quant") for L in ref.w["layers"])
    return check_random_configs.check_artifact(
        rt, llmc, work, name, path, opt, ref, VOCAB, rng, prompts=PROMPTS,
        compare=functools.partial(compare_rows, quantized=quantized))


def top(logits, k):
    return np.argsort(-logits, axis=1, kind="stable")[:, :k]


def check_routing(llmc, work):
    """`llmc calibrate` on a 3-layer top-2-of-8 MoE against the reference:
    per layer how often each expert is chosen, and the co-occurrence of
    consecutive layers' choices, over the same windows."""
    E, K, layers, vocab = 8, 2, 3, 259
    rng = np.random.default_rng(7)
    w = canonical(rng, layers, E, K, 32, 0, set(), vocab=vocab)
    for L in w["layers"]:
        L["moe"]["renorm"] = True
    path = os.path.join(work, "routing.gguf")
    write_gguf(path, "llama", w, E, K, 32, 0, False, tokenizer=byte_tokenizer)
    here = os.path.dirname(os.path.abspath(__file__))
    text = open(os.path.join(here, "..", "data", "stories260K-calib.txt"),
                encoding="utf-8").read()[:3000]
    text_path = os.path.join(work, "routing.txt")
    open(text_path, "w", encoding="utf-8").write(text)
    stats_path = os.path.join(work, "routing.json")
    out = subprocess.run([llmc, "calibrate", path, "--text", text_path,
                          "--ctx", "96", "-o", stats_path],
                         check=True, capture_output=True, text=True).stdout
    print(out, end="")
    stats = json.load(open(stats_path))
    p = subprocess.run([llmc, "tokenize", "--no-bos", "--tokenizer", path, "--",
                        text], check=True, capture_output=True, text=True)
    ids = [1] + [int(x) for x in p.stdout.split()]
    cfg = dict(dim=DIM, hidden=96, layers=layers, heads=HEADS, kv_heads=KV,
               vocab=vocab, seq=SEQ, head_dim=HD, eps=1e-5, theta=10000.0,
               rope="interleaved")
    ref = reference.Model(cfg, w)
    chosen = [[] for _ in range(layers)]
    for l, L in enumerate(w["layers"]):
        L["moe"]["on_logits"] = lambda x, l=l: chosen[l].append(top(x, K))
    ctx = stats["ctx"]
    for begin in range(0, len(ids), ctx):
        reference.forward(ref, ids[begin:begin + ctx])
    chosen = [np.concatenate(c) for c in chosen]
    routing = stats.get("routing", [])
    bad = []
    if stats["tokens"] != len(ids) or len(routing) != layers:
        bad.append(f"{stats['tokens']} tokens / {len(routing)} MoE layers, "
                   f"expected {len(ids)} / {layers}")
    worst = 0
    for l, r in enumerate(routing):
        counts = np.bincount(chosen[l].ravel(), minlength=E)
        diff = int(np.abs(np.asarray(r["counts"]) - counts).sum())
        if r["layer"] != l or r["top_k"] != K or r["tokens"] != len(ids):
            bad.append(f"layer entry {r['layer']}: top_k {r['top_k']}, "
                       f"tokens {r['tokens']}")
        if abs(sum(r["frequency"]) - K) > 1e-9:
            bad.append(f"layer {l}: frequencies sum to {sum(r['frequency'])}")
        if l + 1 < layers:
            co = np.zeros((E, E), np.int64)
            for a, b in zip(chosen[l], chosen[l + 1]):
                for i in a:
                    for j in b:
                        co[i, j] += 1
            if r.get("next_layer") != l + 1:
                bad.append(f"layer {l}: next_layer {r.get('next_layer')}")
            diff += int(np.abs(np.asarray(r["co_occurrence"]) - co).sum())
        elif "co_occurrence" in r:
            bad.append(f"layer {l}: the last MoE layer has co-occurrence")
        worst = max(worst, diff)
        # A choice flipped by a near tie (f32 kernels, f64 reference) moves
        # a few counts; anything else moves many.
        if diff > 4 * K * K:
            bad.append(f"layer {l}: counts differ by {diff}")
    if bad:
        print("routing: FAIL " + "; ".join(bad))
        return 1
    print(f"routing: ok ({layers} MoE layers, {len(ids)} tokens in windows of "
          f"{ctx}: expert counts and co-occurrence equal the reference's, "
          f"largest count difference {worst})")
    return 0


class ExpertStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "capacity_bytes", "paged_bytes", "pinned_bytes", "resident_bytes",
        "peak_resident_bytes", "bytes_loaded", "uses", "hits", "demand_loads",
        "prefetches", "prefetches_used", "predictions", "predictions_right",
        "tokens")]


def check_cache(llmc, runtime_lib, work):
    """The routing model (check_routing wrote it and its statistics)
    compiled with a placement that leaves most experts on storage, run with
    expert caches of 25 % and 50 % of the paged experts, with and without
    prefetch: every logit bit-identical to all-mapped execution, and the
    measured residency never above the cache."""
    rt = Runtime(runtime_lib)
    L = rt.lib
    L.llmc_artifact_set_expert_cache.restype = ctypes.c_void_p
    L.llmc_artifact_set_expert_cache.argtypes = [ctypes.c_void_p, ctypes.c_uint64,
                                                 ctypes.c_int]
    L.llmc_artifact_expert_stats.restype = ctypes.c_void_p
    L.llmc_artifact_expert_stats.argtypes = [ctypes.c_void_p,
                                             ctypes.POINTER(ExpertStats)]
    model = os.path.join(work, "routing.gguf")
    stats = os.path.join(work, "routing.json")
    art = os.path.join(work, "paged.llmc")
    p = subprocess.run([llmc, "compile", model, "-o", art, "--place-experts",
                        f"tiers=host=48KiB,storage stats={stats}"],
                       check=True, capture_output=True, text=True)
    print(p.stderr, end="")
    rng = np.random.default_rng(3)
    prompt = [1] + [int(t) for t in rng.integers(3, 259, 39)]

    def run(capacity, prefetch):
        a = rt.load(art)
        try:
            if capacity is not None:
                rt.check(L.llmc_artifact_set_expert_cache(a, capacity, prefetch))
            s = rt.session(a)
            rows = [rt.forward(s, prompt, 259)]
            tok = int(np.argmax(rows[-1][-1]))
            for _ in range(24):
                rows.append(rt.forward(s, [tok], 259))
                tok = int(np.argmax(rows[-1][-1]))
            L.llmc_session_free(s)
            st = ExpertStats()
            rt.check(L.llmc_artifact_expert_stats(a, ctypes.byref(st)))
            return np.concatenate(rows), st
        finally:
            L.llmc_artifact_free(a)

    base, _ = run(None, 0)
    _, everything = run(1 << 40, 0)
    paged = everything.paged_bytes
    bad = 0
    for frac in (0.25, 0.5):
        for prefetch in (0, 1):
            cap = int(paged * frac)
            got, st = run(cap, prefetch)
            what = f"cache {int(frac * 100)}% ({cap} bytes), prefetch {'on' if prefetch else 'off'}"
            ok = np.array_equal(got.view(np.uint32), base.view(np.uint32))
            fits = st.peak_resident_bytes <= cap and st.resident_bytes <= cap
            print(f"{what}: {'bit-identical' if ok else 'DIFFERENT'} logits "
                  f"({got.shape[0]} rows); hit rate {st.hits}/{st.uses}, "
                  f"{st.demand_loads} demand loads, {st.prefetches} prefetches "
                  f"({st.prefetches_used} used); peak resident "
                  f"{st.peak_resident_bytes} <= {cap}: {'ok' if fits else 'FAIL'}")
            bad += (not ok) + (not fits) + (st.demand_loads == 0) + \
                (prefetch and st.prefetches == 0)
    # A cache too small for one expert, and an artifact without placement.
    a = rt.load(art)
    status = L.llmc_artifact_set_expert_cache(a, 4096, 1)
    msg = L.llmc_status_message(status).decode() if status else "accepted"
    print(f"4096-byte cache: {msg}")
    bad += "cannot hold one expert" not in msg
    L.llmc_artifact_free(a)
    plain = os.path.join(work, "plain.llmc")
    subprocess.run([llmc, "compile", model, "-o", plain], check=True)
    a = rt.load(plain)
    status = L.llmc_artifact_set_expert_cache(a, 1 << 20, 1)
    msg = L.llmc_status_message(status).decode() if status else "accepted"
    print(f"no placement: {msg}")
    bad += "has no expert placement" not in msg
    L.llmc_artifact_free(a)
    print("expert cache: " + ("FAIL" if bad else "ok"))
    return 1 if bad else 0


def main():
    if len(sys.argv) > 4 and sys.argv[4] == "--cache":
        return check_cache(*sys.argv[1:4])
    if len(sys.argv) > 4 and sys.argv[4] == "--routing":
        os.makedirs(sys.argv[3], exist_ok=True)
        return check_routing(sys.argv[1], sys.argv[3])
    llmc, runtime_lib, work = sys.argv[1:4]
    only = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--only" else None
    os.makedirs(work, exist_ok=True)
    rt = Runtime(runtime_lib)
    failures = 0
    for name, fmt, layers, E, K, F, S, extra in MODELS:
        if only and name != only:
            continue
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        path, ref = build(work, name, fmt, layers, E, K, F, S, extra, rng)
        try:
            worst = max(check_artifact(rt, llmc, work, name, path, opt, ref, rng)
                        for opt in ("-O0", "-O3"))
            print(f"{name}: ok ({E} experts, top {K}{', shared expert' if S else ''}; "
                  f"-O0 and -O3: prompts {PROMPTS} + {DECODE} decode steps, "
                  f"last-row prefill, token-by-token; max abs diff {worst:.2e})")
        except (AssertionError, RuntimeError, subprocess.CalledProcessError) as e:
            print(f"{name}: FAIL {e}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
