"""Compares two `llmc run --dump-logits` files (float32 rows of vocab).

usage: compare_logits.py A.f32 B.f32 --vocab N [--tol 1e-4] [--top1 F]
                         [--flips K --flip-tol T]
Prints "logits: R rows x N, max abs diff D ok" or exits 1 naming the row.
With --flips K, up to K rows may differ by more than --tol but at most T:
models on 8-bit activations (block kernels) compiled for two ISAs compute
the activations' float scaling in different orders, so a value within
float noise of a rounding tie can round the other way in one of them,
moving that row by one quantization step's worth (the integer dot
products themselves are exact).
With --top1 F (for approximations such as quantization) it checks instead
that the argmax agrees on at least a fraction F of the rows, and prints
"top-1 agreement: A of R rows ok" and the mean KL divergence.
"""
import argparse
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--top1", type=float)
    ap.add_argument("--flips", type=int, default=0)
    ap.add_argument("--flip-tol", type=float, default=0.0)
    args = ap.parse_args()
    a = np.fromfile(args.a, dtype="<f4")
    b = np.fromfile(args.b, dtype="<f4")
    if a.size != b.size or a.size % args.vocab or a.size == 0:
        print(f"logits: sizes differ or are not rows of {args.vocab}: "
              f"{a.size} vs {b.size} values")
        return 1
    a, b = a.reshape(-1, args.vocab), b.reshape(-1, args.vocab)
    if args.top1 is not None:
        agree = int((a.argmax(axis=1) == b.argmax(axis=1)).sum())
        def logp(x):
            x = x.astype(np.float64) - x.max(axis=1, keepdims=True)
            return x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        pa, pb = logp(a), logp(b)
        kl = float((np.exp(pa) * (pa - pb)).sum(axis=1).mean())
        ok = agree >= args.top1 * a.shape[0]
        print(f"top-1 agreement: {agree} of {a.shape[0]} rows "
              f"(need {args.top1:.0%}) {'ok' if ok else 'FAIL'}, "
              f"mean KL {kl:.2e}")
        return 0 if ok else 1
    rows = np.abs(a - b).max(axis=1)
    flipped = rows > args.tol
    exact = rows[~flipped]
    worst = float(exact.max()) if exact.size else 0.0
    if (np.count_nonzero(flipped) > args.flips or
            not np.all(rows <= max(args.tol, args.flip_tol))):
        r = int(rows.argmax())
        print(f"logits: row {r} differs by {float(rows[r]):.3e} > {args.tol:.0e} "
              f"({np.count_nonzero(flipped)} rows over, {args.flips} allowed "
              f"up to {args.flip_tol:.0e})")
        return 1
    flips = (f"; {np.count_nonzero(flipped)} rows past a rounding flip, max "
             f"{float(rows.max()):.2e}" if flipped.any() else "")
    print(f"logits: {a.shape[0]} rows x {args.vocab}, max abs diff {worst:.2e}"
          f"{flips} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
