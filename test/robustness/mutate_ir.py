#!/usr/bin/env python3
"""Malformed-IR smoke test: llmc-opt must answer every broken input with a
diagnostic, never a crash, an assertion or an LLVM fatal error.

Deterministically mutates seed .mlir files (drop/duplicate/swap tokens and
lines, perturb numbers, shapes, element types and enum keywords, truncate)
and feeds all mutants to one llmc-opt process with -split-input-file. A
crashing batch is bisected to name the mutant that crashed.
Usage: mutate_ir.py --llmc-opt PATH [--count N] [--seed S] SEED.mlir...
"""
import argparse
import random
import re
import subprocess
import sys

TOKEN_RE = re.compile(r"%[\w.#]+|[!#]?[\w.]+|\d+|[^\s\w]")
NUMBERS = ["0", "-1", "1", "3", "7", "64", "9223372036854775807",
           "99999999999999999999", "1.5", "-0.0", "nan"]
KEYWORDS = ["interleaved", "half", "none", "tanh", "topk_softmax", "device",
            "host", "storage", "max_prob", "entropy", "margin", "symmetric",
            "asymmetric", "gguf_q4_0", "gguf_q8_0", "block", "group", "channel",
            "causal", "f16", "i8", "i4", "i1", "index", "?", "*", "x", "<", ">"]
TYPES = ["tensor<?x64xf32>", "tensor<64xf32>", "tensor<f32>", "tensor<*xf32>",
         "tensor<0x64xf32>", "tensor<64x64xi4>", "!llm.kv_cache<1x1x1x2, f32>",
         "index", "i32", "memref<4xf32>", "tensor<?x?xf32>"]


def strip(text):
    return "\n".join(l for l in text.splitlines()
                     if not l.lstrip().startswith("//"))


def mutate(rng, text):
    lines = text.splitlines()
    kind = rng.randrange(9)
    if kind == 0 and lines:  # drop a line
        del lines[rng.randrange(len(lines))]
        return "\n".join(lines)
    if kind == 1 and lines:  # duplicate a line
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "\n".join(lines)
    if kind == 2:  # truncate
        return text[:rng.randrange(len(text))]
    tokens = list(TOKEN_RE.finditer(text))
    if not tokens:
        return text
    m = tokens[rng.randrange(len(tokens))]
    a, b = m.span()
    if kind == 3:  # drop a token
        return text[:a] + text[b:]
    if kind == 4:  # duplicate a token
        return text[:a] + m.group() + " " + text[a:]
    if kind == 5:  # replace a number
        nums = [t for t in tokens if re.fullmatch(r"\d+", t.group())]
        if nums:
            m = rng.choice(nums)
            a, b = m.span()
        return text[:a] + rng.choice(NUMBERS) + text[b:]
    if kind == 6:  # replace a type
        types = list(re.finditer(r"tensor<[^>]*>|!llm\.kv_cache<[^>]*>", text))
        if types:
            m = rng.choice(types)
            a, b = m.span()
        return text[:a] + rng.choice(TYPES) + text[b:]
    if kind == 7:  # replace with a keyword
        return text[:a] + rng.choice(KEYWORDS) + text[b:]
    # swap two tokens
    n = tokens[rng.randrange(len(tokens))]
    if n.start() < a:
        m, n = n, m
        a, b = m.span()
    c, d = n.span()
    if c < b:
        return text
    return text[:a] + n.group() + text[b:c] + m.group() + text[d:]


def run(llmc_opt, mutants, passes=()):
    src = "\n// -----\n".join(mutants)
    p = subprocess.run([llmc_opt, "-split-input-file", *passes, "-", "-o", "/dev/null"],
                       input=src, capture_output=True, text=True, timeout=600)
    bad = (p.returncode not in (0, 1) or
           any(s in p.stderr for s in ("Assertion", "LLVM ERROR", "Stack dump",
                                       "PLEASE submit")))
    return bad, p


def bisect(llmc_opt, mutants, passes):
    while len(mutants) > 1:
        half = mutants[:len(mutants) // 2]
        mutants = half if run(llmc_opt, half, passes)[0] else mutants[len(half):]
    return mutants[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llmc-opt", required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--passes", default="",
                    help="space-separated llmc-opt pass flags to run as well")
    ap.add_argument("seeds", nargs="+")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sources = [strip(open(f, encoding="utf-8").read()) for f in args.seeds]
    mutants = []
    for _ in range(args.count):
        text = rng.choice(sources)
        for _ in range(rng.randint(1, 3)):
            text = mutate(rng, text)
        mutants.append(text.replace("// -----", ""))
    passes = args.passes.split()
    crashes = diagnosed = 0
    batch = 250
    for i in range(0, len(mutants), batch):
        chunk = mutants[i:i + batch]
        bad, p = run(args.llmc_opt, chunk, passes)
        diagnosed += p.stderr.count("error:")
        if bad:
            crashes += 1
            culprit = bisect(args.llmc_opt, chunk, passes)
            _, q = run(args.llmc_opt, [culprit], passes)
            print(f"CRASH (exit {q.returncode}) on:\n{culprit}\n--- stderr ---\n"
                  f"{q.stderr[-3000:]}")
    # Most mutants must be rejected, or the mutator is not exercising the
    # verifiers at all.
    print(f"{diagnosed} diagnostics", file=sys.stderr)
    if diagnosed < len(mutants) // 3:
        print(f"only {diagnosed} diagnostics for {len(mutants)} mutants")
        return 1
    print(f"{len(mutants)} mutants: {crashes} crashing batches")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
