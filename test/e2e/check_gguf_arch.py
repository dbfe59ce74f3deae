#!/usr/bin/env python3
"""GGUF files of the newer architectures against transformers' logits.

Each Hugging Face reference model of test/data/hf whose architecture llmc
reads from GGUF is rewritten as GGUF the way llama.cpp's converter lays it
out: tensor names from the gguf package's own TensorNameMap for that
architecture, per-expert MoE weights stacked into ffn_*_exps, metadata under
the architecture's keys (no weight permutation: Qwen keeps Hugging Face's
half rotation). `llmc compile` of the GGUF must then reproduce the
reference logits (prefill 32 + 8 decode steps, 1e-4 x max|logit|).

usage: check_gguf_arch.py LLMC RUNTIME_LIB DATA_DIR WORKDIR
"""
import json
import os
import sys

import numpy as np

from check_hf_reference import compare, run_case
from check_random_configs import Runtime

# Reference case -> GGUF architecture.
CASES = {"qwen3": "QWEN3", "qwen3-moe-all": "QWEN3MOE"}


def to_gguf(model_dir, out, arch_name):
    import gguf
    from safetensors.numpy import load_file
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    arch = gguf.MODEL_ARCH[arch_name]
    layers = cfg["num_hidden_layers"]
    names = gguf.get_tensor_name_map(arch, layers)
    w = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[arch])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(layers)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_key_length(cfg["head_dim"])
    w.add_value_length(cfg["head_dim"])
    w.add_rope_freq_base(cfg["rope_parameters"]["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    experts = cfg.get("num_experts") or cfg.get("num_local_experts")
    if experts:
        w.add_expert_count(experts)
        w.add_expert_used_count(cfg["num_experts_per_tok"])
        w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    tensors = load_file(os.path.join(model_dir, "model.safetensors"))
    # Per-expert weights stacked into one [experts, ...] tensor per layer.
    stacked = {}
    for name in sorted(tensors):
        parts = name.split(".")
        if ".mlp.experts." in name:
            key = ".".join(parts[:5] + parts[6:])  # drop the expert index
            stacked.setdefault(key, []).append((int(parts[5]), tensors[name]))
            continue
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"no GGUF name for {name}")
        w.add_tensor(new, tensors[name])
    for key, parts in stacked.items():
        new = names.get_name(key, try_suffixes=(".weight",))
        if new is None:
            raise SystemExit(f"no GGUF name for {key}")
        w.add_tensor(new, np.stack([t for _, t in sorted(parts, key=lambda p: p[0])]))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    llmc, runtime_lib, data, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    rt = Runtime(runtime_lib)
    failures = 0
    for case, arch in CASES.items():
        d = os.path.join(data, case)
        meta = json.load(open(os.path.join(d, "reference.json")))
        ref = np.load(os.path.join(d, "logits.npy"))
        path = os.path.join(work, case + ".gguf")
        to_gguf(d, path, arch)
        try:
            worst = 0.0
            for opt in ("-O0", "-O3"):
                got = run_case(rt, llmc, path, work, f"{case}-gguf", opt,
                               meta["tokens"], meta["prefill"], ref.shape[1])
                worst = max(worst, compare(f"{case} gguf {opt}", got, ref))
            print(f"{case} gguf ({arch.lower()}): ok (-O0 -O3 vs transformers "
                  f"{meta['transformers']}; max abs diff {worst:.2e})")
        except AssertionError as e:
            print(f"{case} gguf: FAIL {e}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
