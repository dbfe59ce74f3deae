#!/usr/bin/env python3
"""GGUF files of every architecture llmc reads from GGUF, against
transformers' logits.

test/data/gguf holds the Hugging Face reference checkpoints of test/data/hf
converted by llama.cpp's own converter (make_gguf_references.py): its
tensor names, Q/K permutations, Gemma's 1 + w norms, Phi-3's fused
projections and RoPE factor tensors, GPT-2's transposed Conv1D weights,
DeepSeek-V2's split k_b / v_b, and its metadata. `llmc compile` of each
must reproduce the logits transformers computed for the checkpoint it came
from (prefill 32 + 8 decode steps, 1e-4 x max|logit|, at -O0 and -O3).

usage: check_gguf_arch.py LLMC RUNTIME_LIB HF_DATA_DIR GGUF_DATA_DIR WORKDIR
"""
import json
import os
import sys

import numpy as np

from check_hf_reference import compare, run_case
from check_random_configs import Runtime


def architecture(path):
    """general.architecture of a GGUF file (read without the gguf package)."""
    import struct
    data = open(path, "rb").read(1 << 16)
    key = b"general.architecture"
    at = data.index(key) + len(key) + 4  # value type (string = 8)
    (n,) = struct.unpack_from("<Q", data, at)
    return data[at + 8:at + 8 + n].decode()


def main():
    llmc, runtime_lib, hf_data, gguf_data, work = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)
    rt = Runtime(runtime_lib)
    failures = 0
    for file in sorted(os.listdir(gguf_data)):
        case = file[:-len(".gguf")]
        d = os.path.join(hf_data, case)
        meta = json.load(open(os.path.join(d, "reference.json")))
        ref = np.load(os.path.join(d, "logits.npy"))
        path = os.path.join(gguf_data, file)
        arch = architecture(path)
        try:
            worst = 0.0
            for opt in ("-O0", "-O3"):
                got = run_case(rt, llmc, path, work, f"{case}-gguf", opt,
                               meta["tokens"], meta["prefill"], ref.shape[1])
                worst = max(worst, compare(f"{case} gguf {opt}", got, ref))
            print(f"{case} gguf ({arch}): ok (-O0 -O3 vs transformers "
                  f"{meta['transformers']}; max abs diff {worst:.2e})",
                  flush=True)
        except AssertionError as e:
            print(f"{case} gguf ({arch}): FAIL {e}", flush=True)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
