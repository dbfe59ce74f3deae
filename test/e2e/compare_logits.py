"""Compares two `llmc run --dump-logits` files (float32 rows of vocab).

usage: compare_logits.py A.f32 B.f32 --vocab N [--tol 1e-4]
Prints "logits: R rows x N, max abs diff D ok" or exits 1 naming the row.
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
    args = ap.parse_args()
    a = np.fromfile(args.a, dtype="<f4")
    b = np.fromfile(args.b, dtype="<f4")
    if a.size != b.size or a.size % args.vocab or a.size == 0:
        print(f"logits: sizes differ or are not rows of {args.vocab}: "
              f"{a.size} vs {b.size} values")
        return 1
    a, b = a.reshape(-1, args.vocab), b.reshape(-1, args.vocab)
    rows = np.abs(a - b).max(axis=1)
    worst = float(rows.max())
    if not worst <= args.tol:
        r = int(rows.argmax())
        print(f"logits: row {r} differs by {worst:.3e} > {args.tol:.0e}")
        return 1
    print(f"logits: {a.shape[0]} rows x {args.vocab}, max abs diff {worst:.2e} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
