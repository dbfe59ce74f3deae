#!/usr/bin/env python3
"""Small valid inputs for each fuzz target, so the fuzzers start from the
formats' real structure. Usage: make_seeds.py OUTDIR"""
import json
import os
import struct
import sys

import numpy as np


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload):
    return gguf_string(key) + struct.pack("<I", vtype) + payload


def tiny_gguf(tokenizer=True):
    d, f, v = 8, 8, 6
    kvs = [kv("general.architecture", 8, gguf_string("llama")),
           kv("llama.embedding_length", 4, struct.pack("<I", d)),
           kv("llama.block_count", 4, struct.pack("<I", 1)),
           kv("llama.feed_forward_length", 4, struct.pack("<I", f)),
           kv("llama.context_length", 4, struct.pack("<I", 16)),
           kv("llama.attention.head_count", 4, struct.pack("<I", 2)),
           kv("llama.attention.head_count_kv", 4, struct.pack("<I", 1))]
    if tokenizer:
        toks = ["<unk>", "<s>", "</s>", "\u2581a", "b", "\u2581"]
        kvs += [kv("tokenizer.ggml.model", 8, gguf_string("llama")),
                kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, len(toks)) +
                   b"".join(gguf_string(t) for t in toks)),
                kv("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, len(toks)) +
                   b"".join(struct.pack("<f", -i) for i in range(len(toks))))]
    shapes = {"token_embd.weight": (v, d), "output_norm.weight": (d,),
              "blk.0.attn_norm.weight": (d,), "blk.0.ffn_norm.weight": (d,),
              "blk.0.attn_q.weight": (d, d), "blk.0.attn_k.weight": (4, d),
              "blk.0.attn_v.weight": (4, d), "blk.0.attn_output.weight": (d, d),
              "blk.0.ffn_gate.weight": (f, d), "blk.0.ffn_up.weight": (f, d),
              "blk.0.ffn_down.weight": (d, f)}
    infos, data, off = b"", b"", 0
    for name, shape in shapes.items():
        ne = list(reversed(shape))
        infos += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(
            struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", 0, off)
        blob = np.ones(shape, dtype="<f4").tobytes()
        blob += b"\0" * (-len(blob) % 32)
        data += blob
        off += len(blob)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(shapes), len(kvs)) + b"".join(kvs) + infos
    head += b"\0" * (-len(head) % 32)
    return head + data


def tiny_llama2c():
    dim, hidden, layers, heads, kvh, vocab, seq = 8, 8, 1, 2, 1, 6, 4
    n = (vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * (dim // 2) * dim + 3 * hidden * dim)
         + dim + seq * (dim // heads))
    return struct.pack("<7i", dim, hidden, layers, heads, kvh, vocab, seq) + \
        np.full(n, 0.5, dtype="<f4").tobytes()


def tiny_safetensors():
    header = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
              "b": {"dtype": "BF16", "shape": [4], "data_offsets": [16, 24]},
              "__metadata__": {"format": "pt"}}
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"\0" * 24


def tiny_tokenizers():
    tok = struct.pack("<i", 8)
    for i, piece in enumerate([b"<unk>", b"<s>", b"</s>", b" ", b"a", b" a", b"<0x0A>"]):
        tok += struct.pack("<fi", float(i), len(piece)) + piece
    hf = json.dumps({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3},
                               "merges": ["a b"]},
                     "pre_tokenizer": {"type": "ByteLevel"},
                     "added_tokens": [{"id": 4, "content": "<s>", "special": True}]}).encode()
    return [b"\0" + tok, b"\1" + hf, b"\2" + tiny_gguf()]


def main(out):
    seeds = {"gguf": [tiny_gguf(), tiny_gguf(False)], "llama2c": [tiny_llama2c()],
             "safetensors": [tiny_safetensors()], "tokenizer": tiny_tokenizers()}
    for target, blobs in seeds.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for i, blob in enumerate(blobs):
            open(os.path.join(d, f"seed{i}"), "wb").write(blob)


if __name__ == "__main__":
    main(sys.argv[1])
