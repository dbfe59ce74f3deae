"""Checks `llmc run` output against the numpy reference (reference.py):
the generated text byte for byte and the dumped logits of every position.

usage: check_generation.py --llama2c MODEL.bin --tokenizer TOK.bin
           --prompt TEXT -n N --text LLMC_STDOUT --logits LLMC_LOGITS.f32
"""
import argparse
import sys

import numpy as np

import reference


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama2c", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--prompt", default="")
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--logits", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()

    m = reference.load_llama2c(a.llama2c)
    tok = reference.Llama2CTokenizer(a.tokenizer, m.cfg["vocab"])
    prompt = tok.encode(a.prompt)
    gen, ref = reference.greedy(m, prompt, a.n)
    text = a.prompt.encode()
    prev = prompt[-1]
    for t in gen:
        text += tok.piece(prev, t)
        prev = t
    text += b"\n"

    got_text = open(a.text, "rb").read()
    if got_text != text:
        n = next((i for i, (x, y) in enumerate(zip(got_text, text)) if x != y),
                 min(len(got_text), len(text)))
        print(f"FAIL text differs at byte {n}:\n  llmc: {got_text[n:n+60]!r}\n"
              f"  reference: {text[n:n+60]!r}")
        return 1
    print(f"text: {len(text)} bytes identical ({len(gen)} generated tokens)")

    got = np.fromfile(a.logits, dtype="<f4")
    V = m.cfg["vocab"]
    if got.size != ref.size:
        print(f"FAIL logits: {got.size // V} rows dumped, reference has {ref.shape[0]}")
        return 1
    diff = float(np.max(np.abs(got.reshape(ref.shape) - ref)))
    status = "ok" if diff <= a.tol else "FAIL"
    print(f"logits: {ref.shape[0]} rows x {V}, max abs diff {diff:.2e} "
          f"(tolerance {a.tol:g}) {status}")
    return 0 if diff <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
