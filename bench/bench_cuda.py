"""CUDA backend benchmark: decode and prefill tokens/s on the GPU the driver
sees, next to the memory-bandwidth roofline of a decode step (every weight
byte and the KV cache read once per token) and the CPU backend measured in
the same run.

Models: stories260K from ../shared/models, and TinyLlama-1.1B's shape with
synthetic weights (bench/make_models.py; f32, 4.4 GB). Each is compiled with
--target cuda for the device's architecture.

Without a CUDA device it prints {"skipped": "no CUDA device ..."} and exits
2 (the build and CI machines have none; docs/cuda.md).

usage: bench_cuda.py [--models stories260k,1.1b] [--prompt 128] [--decode 128]
                     [--bandwidth BYTES_PER_S | --hardware PRESET]
                     [--runs 3] [--json F]
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
# Device names to data/hardware.json presets (bandwidth for the roofline).
PRESETS = [("H100 PCIe", "nvidia-h100-pcie"), ("H100", "nvidia-h100-sxm"),
           ("A100-SXM4-40GB", "nvidia-a100-40gb"), ("A100", "nvidia-a100-80gb"),
           ("RTX 4090", "nvidia-rtx-4090"), ("L40", "nvidia-l40")]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r


def manifest(path):
    with open(path, "rb") as f:
        head = f.read(32)
        off, size = struct.unpack_from("<QQ", head, 16)
        f.seek(off)
        return json.loads(f.read(size))


def measure(llmc, model, device, arch, prompt, decode, workdir):
    """`llmc bench` of a model on a device: prefill and decode tok/s."""
    out = os.path.join(workdir, "bench.json")
    run([llmc, "bench", model, "--device", device, "--cuda-arch", arch,
         "--prompt-tokens", str(prompt), "--decode", str(decode),
         "--json", out])
    with open(out) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llmc", default=os.path.join(ROOT, "build", "bin", "llmc"))
    ap.add_argument("--models", default="stories260k,1.1b")
    ap.add_argument("--workdir", default="/tmp/llmc-bench-cuda")
    ap.add_argument("--prompt", type=int, default=128, help="prompt tokens")
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bandwidth", type=float)
    ap.add_argument("--hardware")
    ap.add_argument("--json")
    args = ap.parse_args()

    devices = run([args.llmc, "run", "--list-devices"]).stdout
    gpu = re.search(r"cuda:0\s+(.*) \((sm_\d+), (\d+) MiB", devices)
    if not gpu:
        why = [l for l in devices.splitlines() if l.startswith("cuda")]
        print(json.dumps({"skipped": "no CUDA device: " + (why[0] if why else "?")}))
        return 2
    name, arch = gpu.group(1), gpu.group(2)
    bandwidth = args.bandwidth
    if not bandwidth:
        with open(os.path.join(ROOT, "data", "hardware.json")) as f:
            presets = json.load(f)
        preset = args.hardware or next((p for key, p in PRESETS if key in name), None)
        if preset not in presets:
            sys.exit(f"no bandwidth for '{name}': pass --bandwidth or --hardware")
        bandwidth = presets[preset]["bandwidth"]

    os.makedirs(args.workdir, exist_ok=True)
    models = {}
    for m in args.models.split(","):
        if m == "stories260k":
            models[m] = os.path.join(SHARED, "stories260K", "stories260K.bin")
        else:
            path = os.path.join(args.workdir, f"{m}.bin")
            if not os.path.exists(path):
                run([sys.executable, os.path.join(HERE, "make_models.py"),
                     args.workdir, "--models", m])
            models[m] = path
    results = []
    for m, path in models.items():
        art = os.path.join(args.workdir, f"{m}-cuda.llmc")
        run([args.llmc, "compile", path, "--target", "cuda", "--cuda-arch",
             arch, "-o", art])
        best = {}
        for device in ("cpu", "cuda"):
            measure(args.llmc, path, device, arch, 8, 4, args.workdir)  # warm-up
            for _ in range(args.runs):
                r = measure(args.llmc, path, device, arch, args.prompt,
                            args.decode, args.workdir)
                if device not in best or r["decode_tok_s"] > best[device]["decode_tok_s"]:
                    best[device] = r
        man = manifest(art)
        weight_bytes = man["weights"]["bytes"]
        info = man["model"]
        # KV read per decode step: layers x (K + V) x kv_heads x head_dim x
        # the mean context of the decode steps, in f32.
        ctx = args.prompt + args.decode // 2
        kv_bytes = (info["n_layers"] * 2 * info["n_kv_heads"] *
                    info["head_dim"] * ctx * 4)
        roofline = bandwidth / (weight_bytes + kv_bytes)
        cu, cpu = best["cuda"], best["cpu"]
        results.append({
            "model": m, "weight_bytes": weight_bytes,
            "cuda": {"decode_tok_s": round(cu["decode_tok_s"], 1),
                     "prefill_tok_s": round(cu["prefill_tok_s"], 1)},
            "cpu": {"decode_tok_s": round(cpu["decode_tok_s"], 1),
                    "prefill_tok_s": round(cpu["prefill_tok_s"], 1)},
            "decode_roofline_tok_s": round(roofline, 1),
            "decode_ratio_to_roofline": round(cu["decode_tok_s"] / roofline, 3),
            "decode_ratio_to_cpu": round(cu["decode_tok_s"] / cpu["decode_tok_s"], 3),
        })
    out = {"device": name, "arch": arch, "bandwidth_bytes_per_s": bandwidth,
           "decode_tokens": args.decode, "results": results}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
