"""Vulkan backend benchmark: decode and prefill tokens/s of the Vulkan
backend on the device the loader finds (lavapipe in CI: a correctness
device that runs SPIR-V on the CPU, so its speed is not a bar) next to the
CPU backend on the same model, and the kernel dispatches per token (the
host code launches one kernel per op and loop nest; a decode step's count
is the figure fusion and kernel merging must bring down).

Model: stories260K from ../shared/models when present, else the built-in
demo is not used (it has no file) and the bench says so.

Each result: tok/s, its ratio to the CPU backend measured in the same run,
dispatches per forward call (prefill: the whole prompt; decode: one token),
and the command buffers recorded vs replayed.

usage: bench_vulkan.py [--model PATH --tokenizer PATH] [--decode 128]
                       [--prompt TEXT] [--runs 3] [--json F]
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models", "stories260K")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r


def measure(llmc, artifact, prompt, decode):
    """One generation with --stats: prefill and decode tok/s, device line."""
    r = run([llmc, "run", artifact, "--prompt", prompt, "-n", str(decode),
             "--stats"])
    pre = re.search(r"prefill: (\d+) tokens in ([\d.]+) s", r.stderr)
    dec = re.search(r"decode: (\d+) tokens in ([\d.]+) s", r.stderr)
    dev = re.search(r"(\d+) forward calls, (\d+) dispatches, command buffers "
                    r"recorded (\d+), replayed (\d+)", r.stderr)
    out = {"prefill_tokens": int(pre.group(1)),
           "prefill_s": float(pre.group(2)),
           "decode_tokens": int(dec.group(1)),
           "decode_s": float(dec.group(2))}
    if dev:
        out.update(forward_calls=int(dev.group(1)),
                   dispatches=int(dev.group(2)),
                   recorded=int(dev.group(3)), replayed=int(dev.group(4)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llmc", default=os.path.join(ROOT, "build", "bin", "llmc"))
    ap.add_argument("--model", default=os.path.join(SHARED, "stories260K.bin"))
    ap.add_argument("--tokenizer", default=os.path.join(SHARED, "tok512.bin"))
    ap.add_argument("--workdir", default="/tmp/llmc-bench-vulkan")
    ap.add_argument("--prompt", default="Once upon a time")
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"{args.model} not found (needs ../shared/models)")
    os.makedirs(args.workdir, exist_ok=True)
    devices = run([args.llmc, "run", "--list-devices"]).stdout
    vk = re.search(r"vulkan:0\s+(.*) \((?:CPU|discrete GPU|integrated GPU|"
                   r"virtual GPU|other),", devices)
    if not vk:
        sys.exit(f"no Vulkan device:\n{devices}")
    arts = {}
    for target in ("cpu", "vulkan"):
        arts[target] = os.path.join(args.workdir, target + ".llmc")
        run([args.llmc, "compile", args.model, "--tokenizer", args.tokenizer,
             "--target", target, "-o", arts[target]])
        # Warm-up (pipeline creation, page faults) not timed.
        measure(args.llmc, arts[target], args.prompt, 4)
    best = {}
    for target in ("cpu", "vulkan"):
        for _ in range(args.runs):
            m = measure(args.llmc, arts[target], args.prompt, args.decode)
            m["decode_tok_s"] = m["decode_tokens"] / m["decode_s"]
            m["prefill_tok_s"] = m["prefill_tokens"] / m["prefill_s"]
            if target not in best or m["decode_tok_s"] > best[target]["decode_tok_s"]:
                best[target] = m
    cpu, gpu = best["cpu"], best["vulkan"]
    calls = gpu.get("forward_calls", 1)
    # Prefill is one call; the others are decode steps.
    result = {
        "model": os.path.basename(args.model),
        "vulkan_device": vk.group(1),
        "decode_tokens": args.decode,
        "cpu": {"decode_tok_s": round(cpu["decode_tok_s"], 1),
                "prefill_tok_s": round(cpu["prefill_tok_s"], 1)},
        "vulkan": {"decode_tok_s": round(gpu["decode_tok_s"], 1),
                   "prefill_tok_s": round(gpu["prefill_tok_s"], 1),
                   "decode_ratio_to_cpu": round(gpu["decode_tok_s"] / cpu["decode_tok_s"], 3),
                   "prefill_ratio_to_cpu": round(gpu["prefill_tok_s"] / cpu["prefill_tok_s"], 3),
                   "dispatches_per_forward": round(gpu.get("dispatches", 0) / calls, 1),
                   "command_buffers_recorded": gpu.get("recorded"),
                   "command_buffers_replayed": gpu.get("replayed")},
        "note": "lavapipe runs SPIR-V on the CPU: a correctness device, not a "
                "speed bar",
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
