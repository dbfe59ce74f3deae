"""Checks `llmc calibrate` statistics against the numpy reference model
(reference.py) run over the same windows of the same text: per site and
input feature, mean_square and absmax within 1e-3 (relative; llmc computes
in f32, the reference in f64), and each percentile p99 / p999 between the
exact value and one histogram bin (2^(1/4)) above it, never above absmax.
The layer-boundary sites (`hidden.<l>`) are checked the same way against
the reference's hidden states, each layer's mean cosine similarity of its
input and output within 1e-4, and `skip_plan` must list the layers by
block influence (1 - that cosine), least first.

usage: check_calibration.py --llama2c MODEL.bin --tokenizer TOK.bin
           --text FILE --stats STATS.json
Prints "sites: N checked over T tokens ok".
"""
import argparse
import json
import re
import sys

import numpy as np

import reference


def site_of(key, layers):
    """(layer, reference matmul name) of a weight key."""
    names = re.findall(r"layers\.(\d+)\.\w+\.(w[qkvo123])\.weight", key)
    if not names:
        return (None, "out")
    name = {"wk": "wq", "wv": "wq", "w3": "w1"}.get(names[0][1], names[0][1])
    return (int(names[0][0]), name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama2c", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()
    stats = json.load(open(a.stats))
    m = reference.load_llama2c(a.llama2c)
    tok = reference.Llama2CTokenizer(a.tokenizer, m.cfg["vocab"])
    ids = tok.encode(open(a.text, encoding="utf-8").read())
    if len(ids) != stats["tokens"]:
        print(f"FAIL tokens: llmc {stats['tokens']}, reference {len(ids)}")
        return 1
    layers = len(m.w["layers"])
    seen = {}  # (layer, name) -> list of [rows, features] arrays
    state = {"layer": -1}

    def hook(x, name):
        if name == "wq":
            state["layer"] = (state["layer"] + 1) % layers
        seen.setdefault((None if name == "out" else state["layer"], name),
                        []).append(np.abs(np.asarray(x, dtype=np.float64)))
        return x
    hidden = {}  # l -> list of [rows, dim] hidden states entering layer l
    cos = [[] for _ in range(layers)]

    def on_hidden(x, l):
        hidden.setdefault(("hidden", l), []).append(np.abs(x))
        if l > 0:
            a, b = state["prev"], x
            cos[l - 1].append((a * b).sum(1) / np.sqrt(
                (a * a).sum(1) * (b * b).sum(1)))
        state["prev"] = x
    ctx = stats["ctx"]
    for begin in range(0, len(ids), ctx):
        reference.forward(m, ids[begin:begin + ctx], hook, on_hidden=on_hidden)
    seen.update(hidden)
    bad = []
    want = [float(np.concatenate(c).mean()) for c in cos]
    got = {d["layer"]: d["cosine_similarity"] for d in stats.get("layers", [])}
    for l in range(layers):
        if l not in got or abs(got[l] - want[l]) > 1e-4:
            bad.append(f"layer {l} cosine: llmc {got.get(l)}, "
                       f"reference {want[l]:.6f}")
    plan = sorted(range(layers), key=lambda l: 1 - got.get(l, 0))
    if stats.get("skip_plan") != plan:
        bad.append(f"skip_plan {stats.get('skip_plan')}, expected {plan}")
    for s in stats["sites"]:
        key = s["keys"][0]
        where = (("hidden", int(key[7:])) if key.startswith("hidden.")
                 else site_of(key, layers))
        if where not in seen:
            bad.append(f"site {s['site']} ({s['keys'][0]}): no reference matmul")
            continue
        x = np.concatenate(seen[where])
        if x.shape != (s["rows"], s["features"]):
            bad.append(f"site {s['site']}: {s['rows']}x{s['features']} observed, "
                       f"reference {x.shape}")
            continue
        ms, mx = (x ** 2).mean(axis=0), x.max(axis=0)

        def close(got, want, what):
            got = np.asarray(got)
            err = np.abs(got - want) / np.maximum(np.abs(want), 1e-6)
            if err.max() > 1e-3:
                bad.append(f"site {s['site']} {what}: rel err {err.max():.2e}")
        close(s["mean_square"], ms, "mean_square")
        close(s["absmax"], mx, "absmax")
        srt = np.sort(x, axis=0)
        for p, field in ((0.99, "p99"), (0.999, "p999")):
            exact = srt[int(np.ceil(p * x.shape[0])) - 1]
            got = np.asarray(s[field])
            ok = ((got >= exact * (1 - 1e-3) - 1e-7) &
                  (got <= np.maximum(exact * 2 ** 0.25 * (1 + 1e-3), 1e-7)) &
                  (got <= mx * (1 + 1e-3)))
            if not ok.all():
                j = int(np.argmin(ok))
                bad.append(f"site {s['site']} {field}[{j}] = {got[j]:.4g}, "
                           f"exact {exact[j]:.4g}")
    if bad:
        print("FAIL\n  " + "\n  ".join(bad[:10]))
        return 1
    print(f"sites: {len(stats['sites'])} checked over {len(ids)} tokens ok")
    print("layer cosine: " + ", ".join(f"{c:.4f}" for c in want) +
          f"; skip plan {plan} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
