"""Compiles stories260K for a CPU with a feature this host lacks and checks
that `llmc run` and the --emit exe executable both refuse it, naming the
missing feature, with a non-zero exit and no text generated."""
import argparse
import os
import subprocess
import sys

# (target CPU, a feature it has, its /proc/cpuinfo flag)
CANDIDATES = [
    ("skylake-avx512", "avx512f", "avx512f"),
    ("znver3", "sse4a", "sse4a"),
    ("sapphirerapids", "avxvnni", "avx_vnni"),
    ("znver4", "avx512bf16", "avx512_bf16"),
    # Zen 5 has all of the above (sse4a, AVX-512, AVX-VNNI, BF16).
    ("sapphirerapids", "avx512fp16", "avx512_fp16"),
]


def host_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    flags = host_flags()
    pick = next((c for c in CANDIDATES if c[2] not in flags), None)
    if pick is None:
        print("this host has every candidate feature; nothing to refuse")
        return 1
    cpu, feature, _ = pick
    base = ["llmc", "compile", args.model, "--tokenizer", args.tokenizer,
            "--cpu", cpu]
    art = os.path.join(args.work, cpu + ".llmc")
    exe = os.path.join(args.work, cpu + "-chat")
    for cmd in (base + ["-o", art], base + ["--emit", "exe", "-o", exe]):
        subprocess.run(cmd, check=True)
    for what, cmd in (("artifact", ["llmc", "run", art, "-n", "4"]),
                      ("executable", [exe, "-n", "4"])):
        r = subprocess.run(cmd, capture_output=True, text=True)
        message = r.stderr.strip()
        if r.returncode == 0 or feature not in message or r.stdout:
            print(f"{what} for --cpu {cpu} was not refused as expected "
                  f"(exit {r.returncode}, stdout {r.stdout!r}): {message}")
            return 1
        print(f"{what} refused: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
