#!/usr/bin/env python3
"""Writes the GGUF reference models of test/data/gguf/: each Hugging Face
reference checkpoint of test/data/hf whose architecture llama.cpp defines,
converted by llama.cpp's own converter (convert_hf_to_gguf.py, float32), so
the tensor layout, permutations, norm shifts and metadata are llama.cpp's,
not our reading of them. check_gguf_arch.py compares llmc on these files
with transformers' logits of the same checkpoint (CI needs no torch).

Run by hand where torch, transformers, sentencepiece and a llama.cpp source
tree are available, e.g. the one vendored in llama-cpp-python's sdist:

    pip download llama-cpp-python --no-binary :all: --no-deps -d /tmp/lcp
    tar xzf /tmp/lcp/llama_cpp_python-*.tar.gz -C /tmp/lcp
    /opt/refenv/bin/python test/e2e/make_gguf_references.py \\
        /tmp/lcp/llama_cpp_python-*/vendor/llama.cpp test/data/hf test/data/gguf

The tiny checkpoints have no tokenizer, so the converter is run with its
vocabulary step replaced by `_set_vocab_none` (tokenizer.ggml.model =
"none"); where it needs a file for other reasons (Gemma 3 counts
tokenizer.json's vocabulary to trim the embedding table, GPT-2 reads n_ctx)
a copy of the checkpoint gets a stand-in with the same vocabulary size.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

# Reference cases llama.cpp can convert (its architecture in the comment).
CASES = [
    "llama-rope-llama3",   # llama (Q/K permuted for interleaved pairs)
    "qwen3",               # qwen3
    "qwen3-moe-all",       # qwen3moe
    "gemma",               # gemma (norms stored as 1 + w)
    "gemma2-head-dim-scale",  # gemma2 (no query_pre_attn_scalar in GGUF)
    "gemma3-6-layers",     # gemma3 (llama.cpp assumes 5 sliding : 1 global)
    "phi3-longrope-short", # phi3 (rope_factors_short/long)
    "phi3-longrope-long",
    "phi3-partial-rotary",
    "gpt2",                # gpt2
    "olmo2",               # olmo2
    "deepseek-v2-lite",    # deepseek2 (kv_b split into k_b / v_b)
    "deepseek-v2",
]

# The converter with its vocabulary step disabled (see above).
WRAPPER = r'''
import sys, os
src = sys.argv[1]
sys.path.insert(0, os.path.join(src, "gguf-py")); sys.path.insert(0, src)
import conversion, conversion.base as base
import convert_hf_to_gguf as c
def subclasses(cls):
    for s in cls.__subclasses__():
        yield s; yield from subclasses(s)
get = conversion.get_model_class
def without_vocab(name, mmproj=False):
    cls = get(name, mmproj)
    for k in [base.ModelBase, *subclasses(base.ModelBase)]:
        if "set_vocab" in k.__dict__:
            k.set_vocab = lambda self: self._set_vocab_none()
    return cls
c.get_model_class = without_vocab
sys.argv = ["convert_hf_to_gguf.py", *sys.argv[2:]]
c.main()
'''


def staged(case_dir, work):
    """A copy of the checkpoint with what the converter reads besides it."""
    d = os.path.join(work, os.path.basename(case_dir))
    os.makedirs(d)
    for f in os.listdir(case_dir):
        os.symlink(os.path.abspath(os.path.join(case_dir, f)), os.path.join(d, f))
    cfg = json.load(open(os.path.join(case_dir, "config.json")))
    if cfg["model_type"] == "gpt2":
        cfg["n_ctx"] = cfg["n_positions"]
        os.remove(os.path.join(d, "config.json"))
        json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    if cfg["model_type"].startswith("gemma3"):
        vocab = {f"t{i}": i for i in range(cfg["vocab_size"])}
        json.dump({"model": {"vocab": vocab}, "added_tokens": []},
                  open(os.path.join(d, "tokenizer.json"), "w"))
    return d


def main():
    llama_cpp, data, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        wrapper = os.path.join(work, "convert.py")
        open(wrapper, "w").write(WRAPPER)
        for case in CASES:
            d = staged(os.path.join(data, case), work)
            target = os.path.join(out, case + ".gguf")
            p = subprocess.run([sys.executable, wrapper, llama_cpp, d,
                                "--outtype", "f32", "--outfile", target],
                               capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"{case}: conversion failed\n{p.stderr[-2000:]}")
            print(f"{case}: {os.path.getsize(target)} bytes")


if __name__ == "__main__":
    main()
