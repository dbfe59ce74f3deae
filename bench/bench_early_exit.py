"""Early-exit benchmark: what heads after layers 1 and 3 of stories260K (5
layers; shared final norm and classifier) buy and cost per KV policy
(propagate, recompute), confidence metric and threshold.

Per (policy, metric, threshold), with the baseline (no exits) measured in the same
run:
  - average layers run per one-token step and the exits per layer, from
    `llmc perplexity --stepwise` over the evaluation text;
  - perplexity on test/data/stories260K-eval.txt, stepwise (each token a
    decode step, as generation runs it), with the delta vs the full model;
  - greedy top-1 agreement with the full model over --agree-tokens tokens
    the full model generated (4 prompts; each position's prediction with
    the full model's own history, so one disagreement does not derail the
    rest);
  - decode tokens/s of `llmc run -n 400 --stats` and the speed-up vs the
    baseline: the median of --runs rounds, each round timing every
    configuration once (baseline included), so drift affects all alike.
    The artifacts stay in --artifacts; --speed-only re-times them without
    recompiling (a stories260K step is ~0.2 ms: time it on a quiet
    machine).

Thresholds are probabilities for max-prob and margin (exit when >= T) and
nats for entropy (exit when <= T).

With --speed-110m: decode tok/s of the 110M synthetic shape (`llmc bench`,
16-token prompt, 64 steps, best of --runs) without heads, with heads after
layers 3 and 7 at each max-prob threshold (random weights: never
confident, so this is the heads' cost), and with one head at threshold 0
after layer 3, 5 or 7 (every step exits: what skipping buys, propagation
included), for both KV policies.

usage: bench_early_exit.py [--model DIR] [--metrics max-prob,margin,entropy]
                           [--artifacts DIR] [--speed-only]
                           [--kv-policies propagate,recompute]
                           [--thresholds 0.5,0.7,0.8,0.9,0.95]
                           [--layers 1,3] [--runs 3] [--json F]
       bench_early_exit.py --speed-110m [--json F]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LLMC = os.path.join(ROOT, "build", "bin", "llmc")
PROMPTS = ["Once upon a time", "The little dog", "One day, Lily", "Tom and Sue"]


def run(args, **kw):
    r = subprocess.run([LLMC] + args, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit(f"llmc {' '.join(args)} failed:\n{r.stderr}")
    return r


def perplexity(artifact, ref, text, tmp):
    out = os.path.join(tmp, "ppl.json")
    run(["perplexity", artifact, "--text", text, "--ref", ref, "--stepwise",
         "--ctx", "256", "--json", out])
    with open(out) as f:
        return json.load(f)


def decode_speed(artifact):
    r = run(["run", artifact, "--prompt", PROMPTS[0], "-n", "400", "--stats"])
    m = re.search(r"decode: \d+ tokens in [\d.]+ s \(([\d.]+) tok/s\)",
                  r.stderr)
    return float(m.group(1))


def interleaved_speeds(artifacts, runs):
    """Median decode tok/s per artifact over `runs` rounds of one run each."""
    times = {a: [] for a in artifacts}
    for _ in range(runs):
        for a in artifacts:
            times[a].append(decode_speed(a))
    return {a: sorted(t)[len(t) // 2] for a, t in times.items()}


def bench_speed(model, prompt, decode, runs):
    """Best decode tok/s of `llmc bench` (random prompt, greedy steps)."""
    best = 0.0
    for _ in range(runs):
        r = run(["bench", model, "--prompt-tokens", str(prompt), "--decode",
                 str(decode)] + EXTRA)
        m = re.search(r"decode: \d+ tokens in [\d.]+ s \(([\d.]+) tok/s\)",
                      r.stdout + r.stderr)
        best = max(best, float(m.group(1)))
    return best


EXTRA = []


def speed_table(a):
    """The 110M synthetic shape (random weights: heads are never confident,
    so thresholds > 0 measure the heads' cost; threshold 0 forces every
    decode step out at the head, measuring what skipping buys)."""
    model = os.path.join(ROOT, "build", "bench", "110m.bin")
    if not os.path.exists(model):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench",
                        "make_models.py"), os.path.dirname(model), "--models",
                        "110m"], check=True)
    global EXTRA
    configs = [("none", None)]
    configs += [(f"max-prob {t}", f"layers=3,7 metric=max-prob threshold={t}")
                for t in a.thresholds.split(",")]
    configs += [(f"forced after {l}, {p}",
                 f"layers={l} threshold=0 kv-policy={p}")
                for p in a.kv_policies.split(",") for l in (3, 5, 7)]
    rows, base = [], None
    for label, opts in configs:
        EXTRA = ["--early-exit", opts] if opts else []
        speed = bench_speed(model, 16, 64, a.runs)
        base = base or speed
        rows.append({"config": label, "early_exit": opts,
                     "decode_tok_s": speed, "speedup": speed / base})
        print(f"110m {label}: {speed:.2f} tok/s ({speed / base:.2f}x)",
              file=sys.stderr, flush=True)
    EXTRA = []
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(
        os.path.dirname(ROOT), "shared", "models", "stories260K"))
    ap.add_argument("--metrics", default="max-prob,margin,entropy")
    ap.add_argument("--thresholds", default="0.5,0.7,0.8,0.9,0.95")
    ap.add_argument("--layers", default="1,3")
    ap.add_argument("--kv-policies", default="propagate,recompute")
    ap.add_argument("--agree-tokens", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--speed-110m", action="store_true",
                    help="only the 110M speed table (build/bench/110m.bin)")
    ap.add_argument("--artifacts", default=os.path.join(
        ROOT, "build", "bench", "early-exit"))
    ap.add_argument("--speed-only", action="store_true",
                    help="re-time the artifacts of a previous run (and "
                    "update --json's speeds)")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.speed_110m:
        out = {"model": "110m synthetic (dim 768, 12 layers, vocab 32000)",
               "rows": speed_table(a)}
        write(out, a.json)
        return
    model = os.path.join(a.model, "stories260K.bin")
    tok = os.path.join(a.model, "tok512.bin")
    if not os.path.exists(model):
        sys.exit(f"{model} not found (the benchmark needs ../shared/models)")
    text = os.path.join(ROOT, "test", "data", "stories260K-eval.txt")
    tty = sys.stderr.isatty()
    os.makedirs(a.artifacts, exist_ok=True)
    full = os.path.join(a.artifacts, "full.llmc")
    configs = [(p, m, float(t)) for p in a.kv_policies.split(",")
               for m in a.metrics.split(",")
               for t in a.thresholds.split(",")]

    def artifact(policy, metric, thr):
        return os.path.join(a.artifacts, f"{policy}-{metric}-{thr}.llmc")
    if a.speed_only:
        with open(a.json) as f:
            out = json.load(f)
        speeds = interleaved_speeds(
            [full] + [artifact(*c) for c in configs], a.runs)
        base_speed = speeds[full]
        out["baseline"]["decode_tok_s"] = base_speed
        for row in out["rows"]:
            sp = speeds[artifact(row["kv_policy"], row["metric"],
                                 row["threshold"])]
            row["decode_tok_s"], row["speedup"] = sp, sp / base_speed
        write(out, a.json)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(["compile", model, "--tokenizer", tok, "-o", full])
        # The full model's greedy text: what agreement is measured on.
        per = a.agree_tokens // len(PROMPTS)
        gen = os.path.join(tmp, "generated.txt")
        with open(gen, "w") as f:
            for p in PROMPTS:
                f.write(run(["run", full, "--prompt", p, "-n", str(per)]).stdout)
        base = perplexity(full, full, text, tmp)
        rows = []
        for i, (policy, metric, thr) in enumerate(configs):
            if tty:
                print(f"\r[{i + 1}/{len(configs)}] {policy} {metric} {thr}   ",
                      end="", file=sys.stderr, flush=True)
            art = artifact(policy, metric, thr)
            opts = (f"layers={a.layers} metric={metric} threshold={thr} "
                    f"kv-policy={policy}")
            run(["compile", model, "--tokenizer", tok, "--early-exit", opts,
                 "-o", art])
            ev = perplexity(art, full, text, tmp)
            ag = perplexity(art, full, gen, tmp)
            rows.append({
                "metric": metric, "threshold": thr, "kv_policy": policy,
                "exits": ev["exits"], "average_layers": ev["average_layers"],
                "perplexity": ev["perplexity"],
                "perplexity_delta_percent":
                    100 * (ev["perplexity"] / base["perplexity"] - 1),
                "mean_kl": ev["mean_kl"],
                "agreement_percent": ag["top1_agreement_percent"],
                "agreement_tokens": ag["scored"]})
        if tty:
            print(file=sys.stderr)
        speeds = interleaved_speeds([full] + [artifact(*c) for c in configs],
                                    a.runs)
        base_speed = speeds[full]
        for row, c in zip(rows, configs):
            row["decode_tok_s"] = speeds[artifact(*c)]
            row["speedup"] = row["decode_tok_s"] / base_speed
    out = {"model": "stories260K", "layers": a.layers,
           "baseline": {"perplexity": base["perplexity"],
                        "decode_tok_s": base_speed, "layers": 5},
           "rows": rows}
    write(out, a.json)


def write(out, path):
    text_out = json.dumps(out, indent=2)
    print(text_out)
    if path:
        with open(path, "w") as f:
            f.write(text_out + "\n")


if __name__ == "__main__":
    main()
