"""Early-exit benchmark: what heads after layers 1 and 3 of stories260K (5
layers; shared final norm and classifier, KV policy propagate) buy and cost
per confidence metric and threshold.

Per (metric, threshold), with the baseline (no exits) measured in the same
run:
  - average layers run per one-token step and the exits per layer, from
    `llmc perplexity --stepwise` over the evaluation text;
  - perplexity on test/data/stories260K-eval.txt, stepwise (each token a
    decode step, as generation runs it), with the delta vs the full model;
  - greedy top-1 agreement with the full model over --agree-tokens tokens
    the full model generated (4 prompts; each position's prediction with
    the full model's own history, so one disagreement does not derail the
    rest);
  - decode tokens/s of `llmc run --stats` (fastest of --runs) and the
    speed-up vs the baseline.

Thresholds are probabilities for max-prob and margin (exit when >= T) and
nats for entropy (exit when <= T).

usage: bench_early_exit.py [--model DIR] [--metrics max-prob,margin,entropy]
                           [--thresholds 0.5,0.7,0.8,0.9,0.95]
                           [--layers 1,3] [--runs 3] [--json F]
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


def decode_speed(artifact, runs):
    best = 0.0
    for _ in range(runs):
        r = run(["run", artifact, "--prompt", PROMPTS[0], "-n", "200",
                 "--stats"])
        m = re.search(r"decode: \d+ tokens in [\d.]+ s \(([\d.]+) tok/s\)",
                      r.stderr)
        best = max(best, float(m.group(1)))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(
        os.path.dirname(ROOT), "shared", "models", "stories260K"))
    ap.add_argument("--metrics", default="max-prob,margin,entropy")
    ap.add_argument("--thresholds", default="0.5,0.7,0.8,0.9,0.95")
    ap.add_argument("--layers", default="1,3")
    ap.add_argument("--agree-tokens", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    model = os.path.join(a.model, "stories260K.bin")
    tok = os.path.join(a.model, "tok512.bin")
    if not os.path.exists(model):
        sys.exit(f"{model} not found (the benchmark needs ../shared/models)")
    text = os.path.join(ROOT, "test", "data", "stories260K-eval.txt")
    tty = sys.stderr.isatty()
    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full.llmc")
        run(["compile", model, "--tokenizer", tok, "-o", full])
        # The full model's greedy text: what agreement is measured on.
        per = a.agree_tokens // len(PROMPTS)
        gen = os.path.join(tmp, "generated.txt")
        with open(gen, "w") as f:
            for p in PROMPTS:
                f.write(run(["run", full, "--prompt", p, "-n", str(per)]).stdout)
        base_speed = decode_speed(full, a.runs)
        base = perplexity(full, full, text, tmp)
        rows = []
        configs = [(m, float(t)) for m in a.metrics.split(",")
                   for t in a.thresholds.split(",")]
        for i, (metric, thr) in enumerate(configs):
            if tty:
                print(f"\r[{i + 1}/{len(configs)}] {metric} {thr}   ",
                      end="", file=sys.stderr, flush=True)
            art = os.path.join(tmp, "exit.llmc")
            opts = f"layers={a.layers} metric={metric} threshold={thr}"
            run(["compile", model, "--tokenizer", tok, "--early-exit", opts,
                 "-o", art])
            ev = perplexity(art, full, text, tmp)
            ag = perplexity(art, full, gen, tmp)
            speed = decode_speed(art, a.runs)
            rows.append({
                "metric": metric, "threshold": thr, "kv_policy": "propagate",
                "exits": ev["exits"], "average_layers": ev["average_layers"],
                "perplexity": ev["perplexity"],
                "perplexity_delta_percent":
                    100 * (ev["perplexity"] / base["perplexity"] - 1),
                "mean_kl": ev["mean_kl"],
                "agreement_percent": ag["top1_agreement_percent"],
                "agreement_tokens": ag["scored"],
                "decode_tok_s": speed, "speedup": speed / base_speed})
        if tty:
            print(file=sys.stderr)
    out = {"model": "stories260K", "layers": a.layers,
           "baseline": {"perplexity": base["perplexity"],
                        "decode_tok_s": base_speed, "layers": 5},
           "rows": rows}
    text_out = json.dumps(out, indent=2)
    print(text_out)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text_out + "\n")


if __name__ == "__main__":
    main()
