"""Builds small test models with the reference libraries (safetensors, gguf)
so the importer is checked against files nobody here hand-wrote.

Each builder returns {tensor name: float32 array of the stored values} so a
test can compare what llmc reads back.
"""
import json
import os

import numpy as np

# name, hidden, intermediate, layers, heads, kv heads, vocab
SMALL = dict(hidden=64, inter=96, layers=2, heads=4, kv=2, vocab=128)
# Widths that hold whole 256-element K-quant super-blocks.
K_SMALL = dict(hidden=256, inter=256, layers=2, heads=4, kv=2, vocab=256)


def hf_config(arch, **over):
    c = SMALL.copy()
    cfg = {
        "architectures": [arch],
        "hidden_size": c["hidden"],
        "intermediate_size": c["inter"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"],
        "num_key_value_heads": c["kv"],
        "vocab_size": c["vocab"],
        "max_position_embeddings": 256,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
    }
    if arch == "MistralForCausalLM":
        cfg["sliding_window"] = 64
    if arch == "MixtralForCausalLM":
        cfg["num_local_experts"] = 4
        cfg["num_experts_per_tok"] = 2
        cfg["sliding_window"] = None
    cfg.update(over)
    return cfg


def hf_tensors(cfg, rng):
    d, f = cfg["hidden_size"], cfg["intermediate_size"]
    h, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", d // h)
    v = cfg["vocab_size"]
    arch = cfg["architectures"][0]
    t = {"model.embed_tokens.weight": (v, d), "model.norm.weight": (d,)}
    if not cfg.get("tie_word_embeddings"):
        t["lm_head.weight"] = (v, d)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = (d,)
        t[p + "post_attention_layernorm.weight"] = (d,)
        t[p + "self_attn.q_proj.weight"] = (h * hd, d)
        t[p + "self_attn.k_proj.weight"] = (kv * hd, d)
        t[p + "self_attn.v_proj.weight"] = (kv * hd, d)
        t[p + "self_attn.o_proj.weight"] = (d, h * hd)
        if arch == "Qwen2ForCausalLM":
            t[p + "self_attn.q_proj.bias"] = (h * hd,)
            t[p + "self_attn.k_proj.bias"] = (kv * hd,)
            t[p + "self_attn.v_proj.bias"] = (kv * hd,)
        if arch == "MixtralForCausalLM":
            t[p + "block_sparse_moe.gate.weight"] = (cfg["num_local_experts"], d)
            for e in range(cfg["num_local_experts"]):
                q = p + f"block_sparse_moe.experts.{e}."
                t[q + "w1.weight"] = (f, d)
                t[q + "w2.weight"] = (d, f)
                t[q + "w3.weight"] = (f, d)
        else:
            t[p + "mlp.gate_proj.weight"] = (f, d)
            t[p + "mlp.up_proj.weight"] = (f, d)
            t[p + "mlp.down_proj.weight"] = (d, f)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in t.items()}


def stored(values, dtype):
    """What a float32 array becomes when stored as `dtype`, back as float32."""
    if dtype == "F32":
        return values
    if dtype == "F16":
        return values.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        bits = values.view(np.uint32)
        # Round to nearest even, as torch/safetensors writers do.
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        return (rounded.astype(np.uint32) << 16).view(np.float32)
    raise ValueError(dtype)


def to_storage(values, dtype):
    if dtype == "F32":
        return values
    if dtype == "F16":
        return values.astype(np.float16)
    if dtype == "BF16":
        return (stored(values, "BF16").view(np.uint32) >> 16).astype(np.uint16)
    raise ValueError(dtype)


def write_hf(directory, arch, dtype="F32", shards=1, seed=0, **over):
    """A Hugging Face model directory; returns {name: stored float32}."""
    from safetensors.numpy import save_file
    os.makedirs(directory, exist_ok=True)
    cfg = hf_config(arch, **over)
    rng = np.random.default_rng(seed)
    tensors = hf_tensors(cfg, rng)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f)
    names = sorted(tensors)
    expected = {k: stored(v, dtype) for k, v in tensors.items()}
    meta = {"format": "pt"}

    def encode(chunk):
        # safetensors' numpy API has no bf16: write bf16 as raw uint16 and
        # patch the dtype string in the header afterwards.
        return {k: to_storage(tensors[k], dtype) for k in chunk}

    files = []
    if shards == 1:
        files.append(("model.safetensors", names))
    else:
        per = (len(names) + shards - 1) // shards
        for i in range(shards):
            files.append((f"model-{i + 1:05d}-of-{shards:05d}.safetensors",
                          names[i * per:(i + 1) * per]))
        index = {"metadata": {}, "weight_map": {n: fn for fn, chunk in files for n in chunk}}
        with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f)
    for fn, chunk in files:
        path = os.path.join(directory, fn)
        save_file(encode(chunk), path, metadata=meta)
        if dtype == "BF16":
            patch_dtype(path, "U16", "BF16")
    return expected


def patch_dtype(path, old, new):
    """Rewrites a safetensors header's dtype strings. Data offsets are
    relative to the end of the header, so the header may change length."""
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    for k, v in header.items():
        if k != "__metadata__" and v["dtype"] == old:
            v["dtype"] = new
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(len(text).to_bytes(8, "little") + text + data[8 + n:])


GGUF_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 8, "BF16": 30}


# Where each ggml block format keeps its f16 scales (byte offsets in a
# block; ggml-common.h). The gguf package dequantizes these formats but
# cannot quantize the K-quants, so their test blocks are random bytes with
# sane scales.
BLOCK_SCALES = {"Q5_0": (0,), "Q5_1": (0, 2), "IQ4_NL": (0,), "Q2_K": (80, 82),
                "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,)}


def random_blocks(qt, shape, rng):
    """Random but valid blocks of ggml type `qt` for a tensor of `shape`."""
    import gguf
    block, nbytes = gguf.GGML_QUANT_SIZES[qt]
    n = int(np.prod(shape)) // block
    raw = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    for off in BLOCK_SCALES[qt.name]:
        scale = rng.uniform(0.0005, 0.005, n).astype(np.float16)
        raw[:, off:off + 2] = scale.view(np.uint8).reshape(n, 2)
    return raw.reshape(*shape[:-1], shape[-1] // block * nbytes)


def write_gguf(path, arch="llama", dtype="F32", experts=0, tied=False,
               bias=False, seed=0, tokenizer=None, small=None, dtypes=None):
    """A GGUF model; 2-D weights stored as `dtype` (or dtypes[infix] for
    names containing infix, as llama.cpp's Q4_K_M keeps attn_v / ffn_down
    in Q6_K), norms as F32. Returns {name: float32 values as stored
    (dequantized by gguf's reference)}."""
    import gguf
    from gguf import quants
    c = small or SMALL
    d, f, h, kv, v = c["hidden"], c["inter"], c["heads"], c["kv"], c["vocab"]
    hd = d // h
    w = gguf.GGUFWriter(path, arch)
    w.add_context_length(256)
    w.add_embedding_length(d)
    w.add_block_count(c["layers"])
    w.add_feed_forward_length(f)
    w.add_head_count(h)
    w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(hd)
    if experts:
        w.add_expert_count(experts)
        w.add_expert_used_count(2)
    if tokenizer:
        tokenizer(w)
    rng = np.random.default_rng(seed)
    shapes = {"token_embd.weight": (v, d), "output_norm.weight": (d,)}
    if not tied:
        shapes["output.weight"] = (v, d)
    for l in range(c["layers"]):
        b = f"blk.{l}."
        shapes.update({b + "attn_norm.weight": (d,), b + "ffn_norm.weight": (d,),
                       b + "attn_q.weight": (d, d), b + "attn_k.weight": (kv * hd, d),
                       b + "attn_v.weight": (kv * hd, d), b + "attn_output.weight": (d, d)})
        if bias:
            shapes.update({b + "attn_q.bias": (d,), b + "attn_k.bias": (kv * hd,),
                           b + "attn_v.bias": (kv * hd,)})
        if experts:
            shapes.update({b + "ffn_gate_inp.weight": (experts, d),
                           b + "ffn_gate_exps.weight": (experts, f, d),
                           b + "ffn_up_exps.weight": (experts, f, d),
                           b + "ffn_down_exps.weight": (experts, d, f)})
        else:
            shapes.update({b + "ffn_gate.weight": (f, d), b + "ffn_up.weight": (f, d),
                           b + "ffn_down.weight": (d, f)})
    expected = {}
    for name, shape in shapes.items():
        x = rng.standard_normal(shape).astype(np.float32)
        t = dtype if len(shape) >= 2 else "F32"
        for infix, override in (dtypes or {}).items():
            if infix in name and len(shape) >= 2:
                t = override
        if t in BLOCK_SCALES:
            qt = gguf.GGMLQuantizationType[t]
            q = random_blocks(qt, shape, rng)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
            expected[name] = quants.dequantize(q, qt).reshape(shape).astype(np.float32)
        elif t == "F32":
            w.add_tensor(name, x)
            expected[name] = x
        elif t == "F16":
            w.add_tensor(name, x.astype(np.float16))
            expected[name] = x.astype(np.float16).astype(np.float32)
        else:
            qt = gguf.GGMLQuantizationType[t]
            q = quants.quantize(x, qt)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
            expected[name] = quants.dequantize(q, qt).reshape(shape).astype(np.float32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return expected
