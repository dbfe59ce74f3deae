"""An independent numpy Llama, written from the checkpoint formats (llama2.c's
run.c layout and Hugging Face's modeling_llama conventions), not from llmc's
code. Used as the reference for llmc's generated logits and text.

Weights are held under canonical names; `forward` computes the logits of a
whole token sequence at once with full causal attention (no KV cache), so
it checks llmc's cache handling rather than sharing its structure.
"""
import json
import os
import struct

import numpy as np


class Model:
    def __init__(self, cfg, w):
        self.cfg = cfg  # dim, hidden, layers, heads, kv_heads, vocab, seq,
        #                 head_dim, eps, theta, rope ("interleaved"|"half")
        self.w = w


def load_llama2c(path):
    """llama2.c checkpoint: 7 int32 header fields then float32 arrays."""
    data = open(path, "rb").read()
    dim, hidden, layers, heads, kv, vocab, seq = struct.unpack("7i", data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hd = dim // heads
    arr = np.frombuffer(data, dtype=np.float32, offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = arr[pos:pos + n].reshape(shape)
        pos += n
        return out

    w = {"embed": take(vocab, dim)}
    attn_norm = take(layers, dim)
    wq = take(layers, heads * hd, dim)
    wk = take(layers, kv * hd, dim)
    wv = take(layers, kv * hd, dim)
    wo = take(layers, dim, heads * hd)
    ffn_norm = take(layers, dim)
    w1 = take(layers, hidden, dim)
    w2 = take(layers, dim, hidden)
    w3 = take(layers, hidden, dim)
    w["norm"] = take(dim)
    take(seq, hd // 2)  # legacy freq_cis_real
    take(seq, hd // 2)  # legacy freq_cis_imag
    w["out"] = w["embed"] if shared else take(vocab, dim)
    w["layers"] = [dict(attn_norm=attn_norm[l], wq=wq[l], wk=wk[l], wv=wv[l],
                        wo=wo[l], ffn_norm=ffn_norm[l], w1=w1[l], w2=w2[l],
                        w3=w3[l]) for l in range(layers)]
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv,
               vocab=vocab, seq=seq, head_dim=hd, eps=1e-5, theta=10000.0,
               rope="interleaved")
    return Model(cfg, w)


def load_hf(directory):
    """Hugging Face Llama directory (config.json + model.safetensors)."""
    from safetensors.numpy import load_file
    c = json.load(open(os.path.join(directory, "config.json")))
    t = load_file(os.path.join(directory, "model.safetensors"))
    t = {k: v.astype(np.float32) for k, v in t.items()}
    heads = c["num_attention_heads"]
    hd = c.get("head_dim") or c["hidden_size"] // heads
    w = {"embed": t["model.embed_tokens.weight"], "norm": t["model.norm.weight"]}
    w["out"] = t["model.embed_tokens.weight"] if c.get("tie_word_embeddings") \
        else t["lm_head.weight"]
    w["layers"] = []
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        L = dict(
            attn_norm=t[p + "input_layernorm.weight"],
            wq=t[p + "self_attn.q_proj.weight"], wk=t[p + "self_attn.k_proj.weight"],
            wv=t[p + "self_attn.v_proj.weight"], wo=t[p + "self_attn.o_proj.weight"],
            ffn_norm=t[p + "post_attention_layernorm.weight"],
            # Qwen2 has q/k/v biases.
            bq=t.get(p + "self_attn.q_proj.bias"), bk=t.get(p + "self_attn.k_proj.bias"),
            bv=t.get(p + "self_attn.v_proj.bias"))
        L.update(hf_ffn(c, t, l))
        w["layers"].append(L)
    cfg = dict(dim=c["hidden_size"], hidden=c["intermediate_size"],
               layers=c["num_hidden_layers"], heads=heads,
               kv_heads=c.get("num_key_value_heads", heads), vocab=c["vocab_size"],
               seq=c["max_position_embeddings"], head_dim=hd,
               eps=c.get("rms_norm_eps", 1e-6), theta=c.get("rope_theta", 10000.0),
               rope="half")
    # Mistral (and Qwen2 with use_sliding_window): position i sees keys
    # i - window + 1 .. i.
    arch = c["architectures"][0]
    if (arch.startswith("Mistral") or c.get("use_sliding_window")) and \
            c.get("sliding_window"):
        cfg["window"] = c["sliding_window"]
    return Model(cfg, w)


def hf_ffn(c, t, l):
    """A layer's feed-forward weights: a dense MLP (w1 gate, w3 up, w2
    down) or, for Mixtral (block_sparse_moe.experts.E.w1/w3/w2, softmax over
    the top k) and Qwen2-MoE (mlp.experts.E.*_proj, softmax then top k,
    renormalised with norm_topk_prob; mlp.shared_expert scaled by
    sigmoid(shared_expert_gate · x); dense layers by mlp_only_layers and
    decoder_sparse_step), a "moe" entry."""
    p = f"model.layers.{l}."
    arch = c["architectures"][0]
    if arch == "MixtralForCausalLM":
        E = c["num_local_experts"]
        e = [p + f"block_sparse_moe.experts.{i}." for i in range(E)]
        return {"moe": dict(
            router=t[p + "block_sparse_moe.gate.weight"],
            w1=np.stack([t[n + "w1.weight"] for n in e]),
            w3=np.stack([t[n + "w3.weight"] for n in e]),
            w2=np.stack([t[n + "w2.weight"] for n in e]),
            top_k=c["num_experts_per_tok"], renorm=True)}
    if arch == "Qwen2MoeForCausalLM":
        step = c.get("decoder_sparse_step", 1)
        if l not in c.get("mlp_only_layers", []) and (l + 1) % step == 0:
            E = c["num_experts"]
            e = [p + f"mlp.experts.{i}." for i in range(E)]
            m = dict(router=t[p + "mlp.gate.weight"],
                     w1=np.stack([t[n + "gate_proj.weight"] for n in e]),
                     w3=np.stack([t[n + "up_proj.weight"] for n in e]),
                     w2=np.stack([t[n + "down_proj.weight"] for n in e]),
                     top_k=c["num_experts_per_tok"],
                     renorm=c.get("norm_topk_prob", False))
            if c.get("shared_expert_intermediate_size"):
                s = p + "mlp.shared_expert."
                m.update(shared_w1=t[s + "gate_proj.weight"],
                         shared_w3=t[s + "up_proj.weight"],
                         shared_w2=t[s + "down_proj.weight"],
                         shared_gate=t[p + "mlp.shared_expert_gate.weight"])
            return {"moe": m}
    return dict(w1=t[p + "mlp.gate_proj.weight"], w2=t[p + "mlp.down_proj.weight"],
                w3=t[p + "mlp.up_proj.weight"])


def swiglu_ffn(h, w1, w3, w2):
    g = h @ w1.T
    return ((g / (1 + np.exp(-g))) * (h @ w3.T)) @ w2.T


def moe_ffn(h, m):
    """Mixture of experts, token by token as the Hugging Face modules
    describe it: probabilities = softmax(router logits); the top_k experts
    (stable order: ties go to the lower index); renorm: their probabilities
    divided by their sum (Mixtral, norm_topk_prob); each expert's SwiGLU
    output weighted by them; plus the shared expert (times sigmoid of its
    gate) when there is one."""
    # act_quant (experts stored as GGUF q8_0 / q4_0 blocks): the experts'
    # matmul inputs quantized as llama.cpp's q8_0 activation blocks.
    aq = m.get("act_quant") or (lambda a: a)
    logits = h @ m["router"].T
    if m.get("on_logits"):
        m["on_logits"](logits)
    out = np.zeros_like(h)
    hq = aq(h)
    for t in range(h.shape[0]):
        p = np.exp(logits[t] - logits[t].max())
        p /= p.sum()
        top = np.argsort(-logits[t], kind="stable")[:m["top_k"]]
        wts = p[top] / p[top].sum() if m["renorm"] else p[top]
        for wt, e in zip(wts, top):
            g = hq[t] @ m["w1"][e].T
            act = (g / (1 + np.exp(-g))) * (hq[t] @ m["w3"][e].T)
            out[t] += wt * (aq(act) @ m["w2"][e].T)
    if "shared_w1" in m:
        s = swiglu_ffn(h, m["shared_w1"], m["shared_w3"], m["shared_w2"])
        if m.get("shared_gate") is not None:
            s = s / (1 + np.exp(-(h @ m["shared_gate"].reshape(1, -1).T)))
        out += s
    return out


def rmsnorm(x, g, eps):
    ms = np.mean(x.astype(np.float64) ** 2, axis=-1, keepdims=True)
    return (x / np.sqrt(ms + eps) * g).astype(np.float32)


def rope(x, positions, hd, theta, style):
    """x: [T, H, hd]. interleaved pairs (2i, 2i+1); half pairs (i, i+hd/2)."""
    inv = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    ang = positions[:, None].astype(np.float64) * inv[None, :]  # [T, hd/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if style == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out
    a, b = x[..., :hd // 2], x[..., hd // 2:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def quantize_q8_blocks(x, name=None):
    """Activations as llama.cpp quantizes them for q8_0 / q4_0 dot products
    (ggml's quantize_row_q8_0): per block of 32, scale d = max|x| / 127 and
    x ~ d * round(x / d) (round half to even here, as the vector path does;
    the scale is kept in f32)."""
    shape = x.shape
    b = x.reshape(-1, 32).astype(np.float32)
    d = np.abs(b).max(axis=1, keepdims=True) / np.float32(127)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    return (np.rint(b * inv) * d).reshape(shape).astype(np.float64)


def quantize_kv_int8(x):
    """int8 per (token, head) row of x [T, heads, hd] as llmc's
    --kv-cache=int8 stores it: d = max|x| / 127 (f32), rint(x / d) * d."""
    x32 = x.astype(np.float32)
    d = np.abs(x32).max(axis=-1, keepdims=True) / np.float32(127)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    return (np.rint(x32 * inv) * d).astype(np.float64)


def forward(m, tokens, act_quant=None, kv_quant=None, on_hidden=None):
    """Logits [T, vocab] of every position of `tokens` (float64 math).
    `act_quant(x, name)`, if given, is applied to the input of the matmul
    with weight `name` ("wq" for q/k/v, "wo", "w1" for gate/up, "w2",
    "out"), e.g. quantize_q8_blocks for models on GGUF q8_0 / q4_0.
    `on_hidden(x, l)` sees the hidden state entering layer l (l = layers:
    the last layer's output)."""
    c, w = m.cfg, m.w
    aq = act_quant or (lambda a, name: a)
    T, hd, H, KV = len(tokens), c["head_dim"], c["heads"], c["kv_heads"]
    x = w["embed"][np.asarray(tokens)].astype(np.float64)
    pos = np.arange(T)
    mask = np.triu(np.full((T, T), -np.inf), k=1)
    if c.get("window"):
        mask += np.tril(np.full((T, T), -np.inf), k=-c["window"])
    for l, L in enumerate(w["layers"]):
        if on_hidden:
            on_hidden(x, l)
        h = aq(rmsnorm(x, L["attn_norm"], c["eps"]).astype(np.float64), "wq")
        def proj(w, b):
            y = h @ L[w].T
            return y + L[b] if L.get(b) is not None else y
        q = proj("wq", "bq").reshape(T, H, hd)
        k = proj("wk", "bk").reshape(T, KV, hd)
        v = proj("wv", "bv").reshape(T, KV, hd)
        q = rope(q, pos, hd, c["theta"], c["rope"])
        k = rope(k, pos, hd, c["theta"], c["rope"])
        if kv_quant:
            k, v = kv_quant(k), kv_quant(v)
        group = H // KV
        k = np.repeat(k, group, axis=1)  # head h uses kv head h // group
        v = np.repeat(v, group, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        p = s / s.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", p, v).reshape(T, H * hd)
        x = x + aq(o, "wo") @ L["wo"].T
        h = rmsnorm(x, L["ffn_norm"], c["eps"]).astype(np.float64)
        if "moe" in L:
            # The router reads h in float; the experts quantize their inputs
            # themselves (the layer's act_quant).
            x = x + moe_ffn(h, L["moe"])
            continue
        h = aq(h, "w1")
        g = h @ L["w1"].T
        u = h @ L["w3"].T
        x = x + aq((g / (1 + np.exp(-g))) * u, "w2") @ L["w2"].T
    if on_hidden:
        on_hidden(x, len(w["layers"]))
    x = aq(rmsnorm(x, w["norm"], c["eps"]).astype(np.float64), "out")
    return (x @ w["out"].T).astype(np.float32)


def greedy(m, prompt, n, stop=(1, 2), act_quant=None, kv_quant=None):
    """Greedy generation of up to n tokens after `prompt`; a generated BOS or
    EOS ends it. Returns (generated ids, logits of every fed position)."""
    seq = list(prompt)
    out = []
    for _ in range(n):
        logits = forward(m, seq, act_quant, kv_quant)
        nxt = int(np.argmax(logits[-1]))
        if nxt in stop:
            break
        out.append(nxt)
        if len(out) == n:
            break
        seq.append(nxt)
    return out, forward(m, seq, act_quant, kv_quant)


class Llama2CTokenizer:
    """llama2.c tokenizer.bin: max_token_length, then (score, len, bytes)."""

    def __init__(self, path, vocab):
        data = open(path, "rb").read()
        off = 4
        self.pieces, self.scores = [], []
        for _ in range(vocab):
            score, n = struct.unpack_from("fi", data, off)
            off += 8
            self.pieces.append(data[off:off + n])
            off += n
            self.scores.append(score)
        self.ids = {p: i for i, p in enumerate(self.pieces)}

    def encode(self, text):
        """BOS, a dummy-prefix space when text is non-empty, then greedy
        highest-score pair merges (byte fallback as <0xXX> + 3)."""
        toks = [1]
        if not text:
            return toks
        ids = [self.ids[b" "]]
        for ch in text:
            b = ch.encode("utf-8")
            if b in self.ids:
                ids.append(self.ids[b])
            else:
                ids.extend(x + 3 for x in b)
        while True:
            best, at = -1e10, -1
            for i in range(len(ids) - 1):
                m = self.pieces[ids[i]] + self.pieces[ids[i + 1]]
                if m in self.ids and self.scores[self.ids[m]] > best:
                    best, at = self.scores[self.ids[m]], i
            if at < 0:
                break
            ids[at:at + 2] = [self.ids[self.pieces[ids[at]] + self.pieces[ids[at + 1]]]]
        return toks + ids

    def piece(self, prev, tok):
        p = self.pieces[tok]
        if prev == 1 and p.startswith(b" "):
            p = p[1:]
        if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
            p = bytes([int(p[3:5], 16)])
        return p
