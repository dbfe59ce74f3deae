#!/usr/bin/env python3
"""Writes the Hugging Face reference models of test/data/hf/: for each
architecture a tiny random checkpoint saved by transformers' own
`save_pretrained`, and its float32 eager logits at every position of a
fixed token sequence. CI compares llmc against these files
(check_hf_reference.py); it never needs torch.

Run by hand where torch and transformers are installed (not in CI):

    python -m venv /opt/refenv && /opt/refenv/bin/pip install torch transformers
    /opt/refenv/bin/python test/e2e/make_hf_references.py test/data/hf

Optionally, with transformers 4.x importable from the directory given by
--transformers4 (pip install --target DIR "transformers<5" "huggingface_hub<1"),
each case also gets `config-transformers4.json`: the same config as 4.x
writes it (rope_theta / rope_scaling / torch_dtype instead of 5.x's
rope_parameters / dtype), so both styles are checked against one set of
logits.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

TOKENS = 40   # 32 prefill positions, then 8 decode steps
PREFILL = 32
VOCAB = 128

COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96,
              num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16, max_position_embeddings=64,
              rms_norm_eps=1e-5, tie_word_embeddings=False)

PHI3 = dict(COMMON, pad_token_id=0, eos_token_id=1, rope_parameters=dict(
    rope_type="longrope", rope_theta=10000.0,
    short_factor=[1.0, 1.1, 1.3, 1.6, 2.0, 2.5, 3.1, 3.8],
    long_factor=[1.0, 1.5, 2.5, 4.0, 6.0, 9.0, 13.0, 18.0]))

# Gemma 3: linear scaling on the global layers' base, another local base.
GEMMA3_ROPE = {
    "full_attention": dict(rope_type="linear", rope_theta=1000000.0,
                           factor=8.0),
    "sliding_attention": dict(rope_type="default", rope_theta=10000.0)}

# DeepSeek-V2's attention sizes: a 32-wide KV latent, heads of 16 + 8
# (RoPE) query/key and 12 value elements.
MLA = dict(COMMON, num_key_value_heads=4, kv_lora_rank=32, qk_nope_head_dim=16,
           qk_rope_head_dim=8, v_head_dim=12)

# name -> (config class, kwargs). Each exercises what sets its family apart;
# sizes stay tiny (a few hundred KB of float32 weights).
CASES = {
    # Llama 3.1-style wavelength-dependent RoPE scaling.
    "llama-rope-llama3": ("LlamaConfig", dict(
        COMMON, rope_parameters=dict(
            rope_type="llama3", rope_theta=500000.0, factor=8.0,
            low_freq_factor=1.0, high_freq_factor=4.0,
            original_max_position_embeddings=16))),
    "llama-rope-linear": ("LlamaConfig", dict(
        COMMON, rope_parameters=dict(rope_type="linear", rope_theta=10000.0,
                                     factor=4.0))),
    # Qwen3: per-head RMSNorm on q and k before RoPE, tied embeddings.
    "qwen3": ("Qwen3Config", dict(
        COMMON, tie_word_embeddings=True,
        rope_parameters=dict(rope_type="default", rope_theta=1000000.0))),
    # Qwen3-MoE: 4 experts, top 2, renormalised, no shared expert; layer 1
    # keeps a dense MLP.
    "qwen3-moe": ("Qwen3MoeConfig", dict(
        COMMON, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
        norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[1])),
    # ... every layer MoE, as the released models (and llama.cpp's qwen3moe
    # GGUF, which has no dense layers) have it.
    "qwen3-moe-all": ("Qwen3MoeConfig", dict(
        COMMON, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
        norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[])),
    # Gemma: (1 + w) norms, GeGLU (tanh), sqrt(dim) embedding scale.
    "gemma": ("GemmaConfig", dict(
        COMMON, tie_word_embeddings=True, hidden_activation="gelu_pytorch_tanh",
        rope_parameters=dict(rope_type="default", rope_theta=10000.0))),
    # Gemma 2: (1 + w) norms, pre/post norms, GeGLU (tanh), sqrt(dim)
    # embedding scale, query_pre_attn_scalar, attention and final logit soft
    # caps (small, so they bite), sliding-window layer 0 / global layer 1.
    "gemma2": ("Gemma2Config", dict(
        COMMON, num_hidden_layers=3, tie_word_embeddings=True,
        query_pre_attn_scalar=24, attn_logit_softcapping=3.0,
        final_logit_softcapping=4.0, sliding_window=8,
        hidden_activation="gelu_pytorch_tanh")),
    # Gemma 3 (text): q/k norms, local/global RoPE bases, linear scaling on
    # global layers, 2 sliding layers then a global one.
    "gemma3": ("Gemma3TextConfig", dict(
        COMMON, num_hidden_layers=3, tie_word_embeddings=True,
        query_pre_attn_scalar=16, sliding_window=8,
        layer_types=["sliding_attention", "sliding_attention",
                     "full_attention"],
        rope_parameters=GEMMA3_ROPE)),
    # Gemma 2 as the 2B/9B ship it (query_pre_attn_scalar = head_dim): the
    # scale llama.cpp assumes, as GGUF does not record it.
    "gemma2-head-dim-scale": ("Gemma2Config", dict(
        COMMON, num_hidden_layers=2, tie_word_embeddings=True,
        query_pre_attn_scalar=16, attn_logit_softcapping=3.0,
        final_logit_softcapping=4.0, sliding_window=8,
        hidden_activation="gelu_pytorch_tanh")),
    # Gemma 3's shipped layer pattern (5 sliding layers, then a global
    # one), which llama.cpp assumes for gemma3 GGUF files.
    "gemma3-6-layers": ("Gemma3TextConfig", dict(
        COMMON, num_hidden_layers=6, tie_word_embeddings=True,
        query_pre_attn_scalar=16, sliding_window=8,
        layer_types=["sliding_attention"] * 5 + ["full_attention"],
        rope_parameters=GEMMA3_ROPE)),
    # Phi-3: fused qkv_proj and gate_up_proj, LongRoPE. The prompt fits in
    # original_max_position_embeddings (short factors) ...
    "phi3-longrope-short": ("Phi3Config", dict(
        PHI3, max_position_embeddings=256, original_max_position_embeddings=64)),
    # ... or outgrows it (long factors), with a 12-position sliding window.
    "phi3-longrope-long": ("Phi3Config", dict(
        PHI3, original_max_position_embeddings=16, sliding_window=12)),
    # Phi-4-mini's form: RoPE over 3/4 of each head (12 of 16 elements;
    # LongRoPE factors for the 6 rotated pairs).
    "phi3-partial-rotary": ("Phi3Config", dict(
        PHI3, original_max_position_embeddings=64, partial_rotary_factor=0.75,
        rope_parameters=dict(
            rope_type="longrope", rope_theta=10000.0, partial_rotary_factor=0.75,
            short_factor=[1.0, 1.2, 1.5, 2.0, 2.6, 3.3],
            long_factor=[1.0, 2.0, 4.0, 8.0, 12.0, 16.0]))),
    # GPT-2: LayerNorm with bias, learned positions, ungated GELU (tanh)
    # MLP, biases everywhere, Conv1D [in, out] weights, tied classifier.
    "gpt2": ("GPT2Config", dict(
        vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=64,
        n_inner=96, activation_function="gelu_new")),
    # DeepSeek-V2-Lite's form: multi-head latent attention (kv_lora_rank
    # latent + a decoupled RoPE key, interleaved pairs), q_proj without a
    # low-rank query, a dense first layer, then routed experts (softmax,
    # top 2 of 8, unnormalised) beside a shared expert.
    "deepseek-v2-lite": ("DeepseekV2Config", dict(
        MLA, q_lora_rank=None,
        n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1,
        moe_intermediate_size=32, first_k_dense_replace=1,
        topk_method="greedy", routed_scaling_factor=1.0,
        rope_parameters=dict(rope_type="default", rope_theta=10000.0))),
    # DeepSeek-V2's form: + a low-rank query (q_a_proj, q_a_layernorm,
    # q_b_proj), group-limited top-k (2 of 4 groups), routed scaling and
    # YaRN RoPE with mscale folded into the attention scale.
    "deepseek-v2": ("DeepseekV2Config", dict(
        MLA, q_lora_rank=48,
        n_routed_experts=8, num_experts_per_tok=3, n_shared_experts=2,
        moe_intermediate_size=24, first_k_dense_replace=1,
        topk_method="group_limited_greedy", n_group=4, topk_group=2,
        routed_scaling_factor=1.5,
        rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=4.0,
                             original_max_position_embeddings=16,
                             beta_fast=32, beta_slow=1, mscale=0.707,
                             mscale_all_dim=0.707))),
    # DeepSeek-V2's attention alone (every layer dense): what the GPU
    # backends run (their llm.moe has no lowering).
    "deepseek-v2-mla": ("DeepseekV2Config", dict(
        MLA, q_lora_rank=48,
        first_k_dense_replace=2,
        rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=4.0,
                             original_max_position_embeddings=16,
                             mscale=1.0, mscale_all_dim=0.5))),
    # OLMo 2: post-norms only, q/k norms over all heads.
    "olmo2": ("Olmo2Config", dict(
        COMMON, rope_parameters=dict(rope_type="default",
                                     rope_theta=500000.0))),
}


def randomize(model, torch, gen):
    """Random weights large enough that every feature moves the logits:
    projections ~ N(0, 1/fan_in), norms 1 + N(0, 0.2) (their (1 + w) form
    for Gemma: N(0, 0.2) stored), embeddings N(0, 1)."""
    kind = type(model).__name__.lower()
    gemma, gpt2 = "gemma" in kind, "gpt2" in kind
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or ".ln_" in name:
                base = 0.0 if gemma or name.endswith(".bias") else 1.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=gen))
            elif "embed" in name or ".wte." in name or ".wpe." in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:  # linear biases
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:  # Conv1D (GPT-2) stores [in, out]
                fan_in = p.shape[0] if gpt2 else p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def transformers4_config(directory, case, cfg5, tf4):
    """The config as transformers 4.x writes it, from 4.x itself."""
    cls, kwargs = CASES[case]
    kw = dict(kwargs)
    rp = kw.pop("rope_parameters", None)
    if rp is not None:
        if "full_attention" in rp:  # Gemma 3: global scaling + local base
            full, local = rp["full_attention"], rp["sliding_attention"]
            kw["rope_theta"] = full["rope_theta"]
            kw["rope_local_base_freq"] = local["rope_theta"]
            if full["rope_type"] != "default":
                kw["rope_scaling"] = {k: v for k, v in full.items()
                                      if k != "rope_theta"}
        elif rp["rope_type"] == "longrope":  # 4.x Phi-3: exactly 3 fields
            kw["rope_theta"] = rp["rope_theta"]
            kw["rope_scaling"] = {"type": "longrope",
                                  "short_factor": rp["short_factor"],
                                  "long_factor": rp["long_factor"]}
        else:
            kw["rope_theta"] = rp["rope_theta"]
            if rp["rope_type"] != "default":
                kw["rope_scaling"] = {k: v for k, v in rp.items()
                                      if k != "rope_theta"}
    code = ("import json, sys, transformers as t\n"
            "kw = json.loads(sys.argv[2])\n"
            "c = getattr(t, sys.argv[1])(**kw)\n"
            "c.architectures = json.loads(sys.argv[3])\n"
            "c.torch_dtype = 'float32'\n"
            "print(transformers_version := t.__version__, file=sys.stderr)\n"
            "print(c.to_json_string())\n")
    env = dict(os.environ, PYTHONPATH=tf4)
    out = subprocess.run([sys.executable, "-c", code, cls, json.dumps(kw),
                          json.dumps(cfg5["architectures"])],
                         capture_output=True, text=True, env=env, check=True)
    path = os.path.join(directory, "config-transformers4.json")
    with open(path, "w") as f:
        f.write(out.stdout)
    return out.stderr.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--only")
    ap.add_argument("--transformers4", help="directory holding transformers 4.x")
    args = ap.parse_args()

    import numpy as np
    import torch
    import transformers

    for case, (cls, kwargs) in CASES.items():
        if args.only and case != args.only:
            continue
        config = getattr(transformers, cls)(**kwargs)
        gen = torch.Generator().manual_seed(sum(map(ord, case)))
        model = transformers.AutoModelForCausalLM.from_config(
            config, attn_implementation="eager", dtype=torch.float32)
        model.eval()
        randomize(model, torch, gen)
        tokens = torch.randint(0, VOCAB, (1, TOKENS), generator=gen)
        with torch.no_grad():
            logits = model(tokens, use_cache=False).logits[0].float().numpy()
        d = os.path.join(args.out, case)
        shutil.rmtree(d, ignore_errors=True)
        model.save_pretrained(d, safe_serialization=True)
        for extra in ("generation_config.json",):
            if os.path.exists(os.path.join(d, extra)):
                os.remove(os.path.join(d, extra))
        np.save(os.path.join(d, "logits.npy"), logits.astype(np.float32))
        meta = {"tokens": tokens[0].tolist(), "prefill": PREFILL,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
                "forward": "AutoModelForCausalLM eager float32, all positions"}
        if args.transformers4:
            cfg5 = json.load(open(os.path.join(d, "config.json")))
            meta["transformers4"] = transformers4_config(d, case, cfg5,
                                                         args.transformers4)
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(f"{case}: {cls}, logits {logits.shape}, "
              f"max |logit| {np.abs(logits).max():.2f}")


if __name__ == "__main__":
    main()
