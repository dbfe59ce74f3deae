"""Checks `llmc perplexity --json` against the numpy reference model
(reference.py): same tokenization (BOS first), same windows of --ctx
tokens, perplexity = exp(mean NLL of every next token inside a window).

usage: check_perplexity.py --llama2c MODEL.bin --tokenizer TOK.bin
           --text FILE --json LLMC.json [--tol 1e-4] [--quant w8 ...]
Prints "perplexity: llmc P, reference R, relative diff D ok".
"""
import argparse
import json
import sys

import numpy as np

import reference
from check_generation import quantize_model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama2c", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--quant")
    ap.add_argument("--quant-asymmetric", action="store_true")
    ap.add_argument("--quant-clip", action="store_true")
    a = ap.parse_args()
    got = json.load(open(a.json))
    m = reference.load_llama2c(a.llama2c)
    act_quant = (quantize_model(m, a.quant, a.quant_asymmetric, a.quant_clip)
                 if a.quant else None)
    tok = reference.Llama2CTokenizer(a.tokenizer, m.cfg["vocab"])
    ids = tok.encode(open(a.text, encoding="utf-8").read())
    ctx = got["ctx"]
    nll, n = 0.0, 0
    for begin in range(0, len(ids), ctx):
        win = ids[begin:begin + ctx]
        if len(win) < 2:
            break
        logits = reference.forward(m, win, act_quant).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        nll -= sum(logp[i, win[i + 1]] for i in range(len(win) - 1))
        n += len(win) - 1
    ref = float(np.exp(nll / n))
    if got["tokens"] != len(ids) or got["scored"] != n:
        print(f"FAIL token counts: llmc {got['tokens']}/{got['scored']}, "
              f"reference {len(ids)}/{n}")
        return 1
    rel = abs(got["perplexity"] - ref) / ref
    ok = rel <= a.tol
    print(f"perplexity: llmc {got['perplexity']:.4f}, reference {ref:.4f}, "
          f"relative diff {rel:.1e} {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
